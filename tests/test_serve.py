"""`election-tui serve` for a room: the page's font size, and the dashboard command it runs."""

from __future__ import annotations

import shlex

from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request

from election_tui.cli.serve import dashboard_command, server_class
from election_tui.etcd import ClientConfig


async def _client(font_size: int) -> TestClient[Request, Application]:
    server = server_class(font_size)("true", title="election-tui")
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    return client


async def test_a_page_opened_without_a_font_size_is_sent_to_ours() -> None:
    client = await _client(28)
    try:
        page = await client.get("/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"].endswith("?fontsize=28")
        chosen = await client.get("/?fontsize=12", allow_redirects=False)
        assert chosen.status == 200 and 'data-font-size="12"' in await chosen.text()  # the viewer's wins
        followed = await client.get("/")
        assert 'data-font-size="28"' in await followed.text()
    finally:
        await client.close()


async def test_the_default_font_size_needs_no_redirect() -> None:
    client = await _client(16)
    try:
        page = await client.get("/", allow_redirects=False)
        assert page.status == 200
    finally:
        await client.close()


def test_each_browser_s_dashboard_gets_the_pace_and_theme() -> None:
    argv = shlex.split(
        dashboard_command(ClientConfig(("127.0.0.1:2379",)), prefix="demo/", pace=1.5, theme="projector")
    )
    assert argv[argv.index("--pace") + 1] == "1.5" and argv[argv.index("--theme") + 1] == "projector"
    assert argv[argv.index("--prefix") + 1] == "demo/"
