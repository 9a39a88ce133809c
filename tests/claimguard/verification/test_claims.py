from __future__ import annotations

import pytest

from claimguard import Claims, ConfigurationError, Namespaces

NS = "https://myapp.example.com/"


def test_scope_string_gives_one_scope_per_word() -> None:
    claims = Claims({"scope": "openid  read:messages write:messages"})
    assert claims.scopes == {"openid", "read:messages", "write:messages"}


def test_permissions_give_one_scope_per_item() -> None:
    claims = Claims({"permissions": ["read:reports", "delete:users", 7, "has space"]})
    assert claims.scopes == {"read:reports", "delete:users"}


@pytest.mark.parametrize(
    ("value", "scopes"),
    [
        (True, {"claim:premium"}),
        (False, set()),
        (None, set()),
        ("gold", {"claim:premium:gold"}),
        (3, {"claim:premium:3"}),
        (2.0, {"claim:premium:2"}),
        (2.5, {"claim:premium:2.5"}),
        (["a", "b", 1, ""], {"claim:premium:a", "claim:premium:b"}),
        ({"tier": "gold"}, set()),
    ],
)
def test_namespaced_claim_becomes_scopes_by_the_one_rule(value: object, scopes: set[str]) -> None:
    claims = Claims({NS + "premium": value}, Namespaces(NS))
    assert claims.scopes == scopes
    assert claims.custom == {"premium": value}


def test_custom_holds_every_namespaced_claim_under_its_short_name() -> None:
    payload = {NS + "roles": ["admin"], NS + "plan": {"tier": 1}, "sub": "u1"}
    claims = Claims(payload, Namespaces([NS]))
    assert dict(claims.custom) == {"roles": ["admin"], "plan": {"tier": 1}}
    assert claims.subject == "u1"
    assert claims.scopes == {"claim:roles:admin"}


def test_claims_outside_the_namespaces_are_not_custom() -> None:
    claims = Claims({"https://other.example.com/premium": True}, Namespaces(NS))
    assert claims.custom == {}
    assert claims.scopes == frozenset()


def test_namespace_without_trailing_slash_means_the_same_prefix() -> None:
    claims = Claims({NS + "premium": True}, Namespaces("https://myapp.example.com"))
    assert claims.custom == {"premium": True}


def test_several_namespaces_are_read() -> None:
    ns = Namespaces([NS, "https://billing.example.com/"])
    claims = Claims({NS + "premium": True, "https://billing.example.com/plan": "pro"}, ns)
    assert claims.scopes == {"claim:premium", "claim:plan:pro"}


def test_same_short_name_under_two_namespaces_is_refused() -> None:
    ns = Namespaces([NS, "https://billing.example.com/"])
    with pytest.raises(ValueError, match="two namespaces"):
        Claims({NS + "plan": "a", "https://billing.example.com/plan": "b"}, ns)


@pytest.mark.parametrize(
    "namespaces",
    [
        [NS, NS],
        [NS, NS + "sub/"],
        [""],
        ["https://has space.example/"],
    ],
)
def test_bad_namespace_configuration_is_refused_at_construction(namespaces: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        Namespaces(namespaces)


def test_lookup_finds_short_and_full_namespaced_names() -> None:
    claims = Claims({NS + "premium": True, "email": "a@example.com"}, Namespaces(NS))
    assert claims.lookup("premium") == (True, True)
    assert claims.lookup(NS + "premium") == (True, True)
    assert claims.lookup("missing") == (False, None)


def test_with_a_namespace_a_plain_lookalike_claim_is_not_found() -> None:
    # A plain "premium" is exactly the lookalike that namespacing exists to keep out.
    payload = {"premium": True, "email": "a@example.com", "https://other.example/premium": True}
    claims = Claims(payload, Namespaces(NS))
    assert claims.lookup("premium") == (False, None)
    assert claims.lookup("email") == (False, None)
    assert claims.lookup("https://other.example/premium") == (False, None)


def test_plain_claims_count_without_namespaces_or_with_the_fallback() -> None:
    payload = {"premium": True, NS + "tier": "gold"}
    assert Claims(payload).lookup("premium") == (True, True)
    fallback = Claims(payload, Namespaces(NS, fallback_to_plain_claims=True))
    assert fallback.lookup("premium") == (True, True)
    assert fallback.lookup("tier") == (True, "gold")


def test_namespaced_claim_wins_over_a_plain_one_with_the_fallback() -> None:
    payload = {"tier": "bronze", NS + "tier": "gold"}
    claims = Claims(payload, Namespaces(NS, fallback_to_plain_claims=True))
    assert claims.lookup("tier") == (True, "gold")


@pytest.mark.parametrize("field", ["scope", "permissions"])
def test_scope_words_spelled_like_claim_scopes_are_never_granted(field: str) -> None:
    words = ["claim:admin", "claim:roles:admin", "admin"]
    claims = Claims({field: " ".join(words) if field == "scope" else words}, Namespaces(NS))
    assert claims.scopes == {"admin"}


def test_claims_is_a_read_only_mapping() -> None:
    claims = Claims({"sub": "u1", "scope": "a"})
    assert dict(claims) == {"sub": "u1", "scope": "a"}
    assert len(claims) == 2
    with pytest.raises(TypeError):
        claims["sub"] = "other"  # type: ignore[index]


def test_a_short_name_with_a_colon_gives_no_scope_it_could_pose_as() -> None:
    # "roles:admin": true must not read as the item "admin" of a "roles" claim.
    claims = Claims({NS + "roles:admin": True, NS + "tier:gold": "x"}, Namespaces(NS))
    assert claims.scopes == frozenset()
    assert claims.custom == {"roles:admin": True, "tier:gold": "x"}
