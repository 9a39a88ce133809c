"""Verification: a token's claims checked against its issuer's rules and keys, DPoP proofs,
replay stores, profiles and the :class:`~claimguard.TokenVerifier`.

Built on :mod:`claimguard.jose`; knows nothing of ASGI.
"""
