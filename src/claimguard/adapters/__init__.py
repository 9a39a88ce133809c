"""Framework adapters' parts: the MCP SDK's user and per-tool guards behind
:mod:`claimguard.mcp`.

Built on :mod:`claimguard.asgi`; the only layer that imports the MCP SDK.
"""
