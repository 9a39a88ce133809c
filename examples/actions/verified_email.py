"""Post-login action: refuse the login while the user's email address is unverified.

The login then fails with ``access_denied`` and this reason; later actions do not run.
"""


async def on_execute_post_login(event, api):
    if not event.user.email_verified:
        api.access.deny("Please verify your email address before logging in.")
