"""``examples/several_issuers.py``: two bundled issuers and the API that trusts both, on real
uvicorn, with users logging in at each through the authorization code flow and PKCE."""

from __future__ import annotations

import asyncio

import pytest

from examples import several_issuers


def test_main_prints_each_call_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert several_issuers.main([]) == 0
    out = capsys.readouterr().out
    urls = dict(line.split(maxsplit=2)[::2] for line in out.splitlines()[:2])
    assert urls["shop"] != urls["partner"]
    assert f"alice (shop)   GET /premium  200  {urls['shop']}" in out
    assert f"bob (partner)  POST /orders  200  {urls['partner']}" in out


def test_each_token_is_taken_by_its_own_issuer_only() -> None:
    with several_issuers.running() as servers:
        rows = asyncio.run(several_issuers.tour(servers))
        shop, partner = servers.shop.url, servers.partner.url
    assert {(who, call): status for who, call, status, _ in rows} == several_issuers.EXPECTED
    accepted = {who: by for who, _, status, by in rows if status == 200}
    assert accepted == {"alice (shop)": shop, "bob (partner)": partner}
