"""OAuth 2.0 endpoints: authorize, the token endpoint's grants, codes, registration, userinfo."""
