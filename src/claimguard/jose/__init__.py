"""JOSE: compact JWS, JWKs and the JWKS fetched from an issuer (discovery, fetch, key log).

The bottom layer: parsing and keys, no claims, no HTTP framework.
"""
