"""The HTTP layer: credentials from a request, challenges, the middleware, decorators,
requirements, step-up and the protected-resource metadata.

Built on :mod:`claimguard.verification`; the only layer that imports Starlette.
"""
