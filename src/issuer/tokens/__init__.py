"""Token primitives: signing keys, JWKs, minting and verifying tokens, refresh tokens,
scopes, DPoP proofs."""
