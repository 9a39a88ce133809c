"""The issuer's copy of claimguard's claims-to-scopes rule gives what claimguard gives."""

import random
from typing import Any

import pytest

from claimguard import Claims, Namespaces
from claimguard.verification._claims import AmbiguousClaim
from issuer.tokens._claimscopes import AmbiguousNamespaces, claim_scopes

NAMESPACES = ["https://myapp.example.com/", "https://other.example"]
_NAMES = ["scope", "permissions", "sub", "premium", "roles", "tier", "roles:admin", "", "a b"]
_VALUES: list[Any] = [
    True, False, None, 0, 7, -1, 2.0, 2.5, float("inf"), float("nan"), "gold", "", "a b",
    "claim:x", ["admin", "", "a b", 3, None, "claim:y"], [], {"k": "v"}, "read:messages openid",
    "claim:admin read", ["read:a", "claim:b", "x y"],
]  # fmt: skip


def random_payload(rng: random.Random) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(_NAMES)
        where = rng.choice(["", "https://myapp.example.com/", "https://other.example/", "x/"])
        if name in ("scope", "permissions") and rng.random() < 0.5:
            where = ""
        payload[where + name] = rng.choice(_VALUES)
    return payload


@pytest.mark.parametrize("namespaces", [[], NAMESPACES[:1], NAMESPACES])
def test_the_rule_matches_claimguard_over_many_payloads(namespaces: list[str]) -> None:
    rng = random.Random(16)
    for _ in range(3000):
        payload = random_payload(rng)
        try:
            expected: frozenset[str] | None = Claims(payload, Namespaces(namespaces)).scopes
        except AmbiguousClaim:
            expected = None
        try:
            got: frozenset[str] | None = claim_scopes(payload, namespaces)
        except AmbiguousNamespaces:
            got = None
        assert got == expected, payload
