"""A real browser: JupyterLab + Debian's chromium (Playwright) on the notebook widget, and serve.

Open a notebook, run its cells, see the elections render, click Crash on the leader's row, see
the next candidate lead in the page and in etcd. Then `election-tui serve` renders the dashboard.
PNG screenshots go to the test's tmp dir, and to screenshots/ with SAVE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, free_port, jupyter_lab, missing, notebook_file, run_cells, serve

pytest.importorskip("anywidget", reason="the notebook extra is not installed: pip install -e '.[notebook]'")

from helpers import wait_until

from election_tui.etcd import BlockingEtcdClient

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
WAIT_MS = 30_000


def shot(page: Any, tmp_path: Path, name: str, selector: str | None = None) -> None:
    path = tmp_path / name
    (page.locator(selector).first if selector else page).screenshot(path=str(path))
    assert path.stat().st_size > 5_000
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        shutil.copy(path, SHOTS / name)


@pytest.mark.timeout(240)
def test_crash_on_the_leaders_row_in_jupyterlab_hands_over_in_the_page_and_in_etcd(
    tmp_path: Path, endpoints: list[str], prefix: bytes
) -> None:
    from playwright.sync_api import expect

    name = prefix + b"web"
    notebook_file(
        tmp_path / "live.ipynb",
        [
            "from election_tui import notebook\n"
            f"dash = await notebook.start(endpoints={endpoints!r}, prefix={prefix.decode()!r})\n"
            "dash",
            "cands = dash.launch('web', 'w', ttl=5, count=3)\nleader = await dash.wait_leader('web')\nleader",
        ],
    )
    with BlockingEtcdClient(endpoints) as etcd, jupyter_lab(tmp_path) as url, chromium() as page:
        run_cells(page, url, "live.ipynb", 2)
        election = page.locator(f".etui-elections tr[data-id='{name.hex()}']")
        try:
            expect(election).to_have_count(1, timeout=60_000)
        except AssertionError:
            page.screenshot(path=str(tmp_path / "failed.png"))
            shown = page.inner_text(".jp-Notebook")[:3000]
            raise AssertionError(f"no election row; the notebook shows: {shown}") from None
        leader_row = page.locator(".etui-fleet tr[data-state='leader']")
        expect(leader_row).to_have_count(1, timeout=WAIT_MS)
        expect(page.locator(".etui-fleet tr[data-state='campaigning']")).to_have_count(2, timeout=WAIT_MS)
        old = leader_row.get_attribute("data-value")
        assert old and etcd.leader(name).value.decode() == old
        expect(election).to_have_attribute("data-leader", old, timeout=WAIT_MS)
        expect(page.locator(".etui-queue tr.leader")).to_have_count(1, timeout=WAIT_MS)
        page.wait_for_timeout(300)  # let the TTL bars draw a few frames for the picture
        shot(page, tmp_path, "notebook-widget.png", ".jp-Cell-outputArea")

        leader_row.locator("button[data-action='crash']").click()

        expect(page.locator(".etui-fleet tr[data-state='revoked']")).to_have_count(1, timeout=WAIT_MS)
        new_row = page.locator(".etui-fleet tr[data-state='leader']")
        expect(new_row).to_have_count(1, timeout=WAIT_MS)
        new = new_row.get_attribute("data-value")
        assert new and new != old
        expect(election).to_have_attribute("data-leader", new, timeout=WAIT_MS)
        assert etcd.leader(name).value.decode() == new  # the page shows what etcd says
        expect(page.locator(".etui-events .k-revoked")).to_have_count(1, timeout=WAIT_MS)
        expect(page.locator(".etui-events .k-elected").first).to_contain_text("elected")
        shot(page, tmp_path, "notebook-failover.png", ".jp-Cell-outputArea")
        leases = set(etcd.leases())
    # JupyterLab shut its kernel down without `dash.close()`: the kernel revoked its leases at exit.
    with BlockingEtcdClient(endpoints) as etcd:
        wait_until(lambda: not etcd.get_prefix(name + b"/").kvs, timeout=10, what="no key of the kernel left")
        assert leases  # (there were some while it ran)


@pytest.mark.timeout(120)
def test_election_tui_serve_renders_the_dashboard_in_the_browser(tmp_path: Path) -> None:
    received: list[bytes | str] = []

    def saw(text: str) -> bool:
        return any((text.encode() in f) if isinstance(f, bytes) else (text in f) for f in received)

    with serve(free_port()) as url, chromium() as page:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(frame)))
        page.goto(url)
        page.wait_for_selector(".xterm-screen", timeout=WAIT_MS)
        # textual-serve draws on a canvas: what reached the page is the app's rendered screen.
        deadline_ms = WAIT_MS
        while not (saw("Elections") and saw("Our candidates") and saw("demo/payments")) and deadline_ms > 0:
            page.wait_for_timeout(100)
            deadline_ms -= 100
        assert saw("Elections") and saw("demo/payments"), "the dashboard never reached the browser"
        page.wait_for_timeout(500)  # a few frames for the picture
        shot(page, tmp_path, "serve.png")
