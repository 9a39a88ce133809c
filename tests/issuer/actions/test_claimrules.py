import pytest

from issuer.actions._claimrules import check_json_value, claim_refusal


@pytest.mark.parametrize("name", ["sub", "iss", "aud", "exp", "permissions", "gty", "nonce", "azp"])
def test_reserved_claims_are_refused(name: str) -> None:
    assert claim_refusal(name) == f"{name!r} is a reserved claim"


@pytest.mark.parametrize(
    "name",
    ["https://auth0.com/x", "https://tenant.auth0.com/x", "http://webtask.io/y", "auth0.io/z"],
)
def test_auth0_namespaces_are_refused(name: str) -> None:
    refusal = claim_refusal(name)
    assert refusal is not None
    assert "reserved namespace" in refusal


@pytest.mark.parametrize(
    "name", ["https://myapp.example.com/premium", "plan", "https://notauth0.com/x"]
)
def test_ordinary_claims_are_allowed(name: str) -> None:
    assert claim_refusal(name) is None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "x"}, {"a": object()}, b"bytes"])
def test_non_json_values_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="claim"):
        check_json_value(value, where="claim")


def test_json_values_pass() -> None:
    check_json_value({"a": [1, 2.5, None, True, "x", {"b": []}]}, where="claim")
