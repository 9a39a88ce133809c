"""Runnable examples: the premium scenario on FastAPI and Starlette, a WebSocket endpoint,
post-login actions, and the demo that ties them to the bundled issuer (``scripts/demo``)."""
