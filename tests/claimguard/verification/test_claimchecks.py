"""The registered-claim rules agree with the verified-token cache's validity window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from claimguard import InvalidToken
from claimguard.verification._claimchecks import ClaimChecks
from claimguard.verification._tokencache import validity_window

times = st.integers(min_value=0, max_value=10_000)


@given(
    exp=times,
    nbf=st.none() | times,
    iat=st.none() | times,
    now=times,
    leeway=st.integers(min_value=0, max_value=300),
    max_age=st.none() | st.integers(min_value=1, max_value=5_000),
)
def test_the_time_rules_pass_exactly_inside_the_cached_window(
    exp: int, nbf: int | None, iat: int | None, now: int, leeway: int, max_age: int | None
) -> None:
    # A cache hit inside the window skips the rules, so the two must never disagree.
    checks = ClaimChecks(
        issuer="https://issuer.example/",
        audiences=frozenset({"api"}),
        leeway_seconds=leeway,
        max_token_age_seconds=max_age,
    )
    valid_from, valid_until = validity_window(
        exp=exp, nbf=nbf, iat=iat, leeway_seconds=leeway, max_age_seconds=max_age
    )
    try:
        checks.check_times(exp, nbf, iat, now)
    except InvalidToken:
        passed = False
    else:
        passed = True
    assert passed is (valid_from <= now < valid_until)
