"""Post-login action: copy the user's roles into a namespaced ``roles`` claim.

With ``namespace="https://myapp.example.com/"`` claimguard turns the list into the scopes
``claim:roles:<role>``, so ``requires_claim("roles", includes="admin")`` guards an endpoint.
"""

NAMESPACE = "https://myapp.example.com/"


async def on_execute_post_login(event, api):
    roles = list(event.authorization.roles)
    api.access_token.set_custom_claim(f"{NAMESPACE}roles", roles)
    api.id_token.set_custom_claim(f"{NAMESPACE}roles", roles)
