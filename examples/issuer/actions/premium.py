"""Post-login action: mark premium users in their ID and access tokens."""

import logging

NAMESPACE = "https://myapp.example.com/"
logger = logging.getLogger(__name__)


async def on_execute_post_login(event, api):
    roles = event.user.app_metadata.get("roles", [])
    if "premium" in roles:
        api.id_token.add_claim({f"{NAMESPACE}premium": True})
        api.access_token.add_claim({f"{NAMESPACE}premium": True})
        logger.info("premium claim added for %s", event.user.email)
    else:
        print(f"{event.user.email} is not premium (roles: {list(roles)})")
