from issuer._hashing import hash_secret, verify_secret


def test_a_hash_verifies_only_its_secret() -> None:
    hashed = hash_secret("correct horse")
    assert hashed.startswith("scrypt$")
    assert "correct horse" not in hashed
    assert verify_secret("correct horse", hashed)
    assert not verify_secret("correct horse!", hashed)


def test_salts_differ_and_malformed_hashes_never_verify() -> None:
    assert hash_secret("same") != hash_secret("same")
    assert not verify_secret("x", "scrypt$bad")
    assert not verify_secret("x", "md5$1$1$1$AA$AA")
