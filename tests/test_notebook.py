"""The notebook view's Python side against a real etcd: every button's message path, two views.

A message here is the very dict the page's `model.send(...)` delivers to the widget's custom
message handler; the widget's rows are compared with what etcd itself answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("anywidget", reason="the notebook extra is not installed: pip install -e '.[notebook]'")

from helpers import eventually

from election_tui import notebook
from election_tui.etcd import EtcdClient, KeyValue, LeaderKey, LeaseInfo, NoLeaderError, candidate_key
from election_tui.model import display
from election_tui.notebook import html
from election_tui.notebook.widget import FRAME, DashboardWidget
from election_tui.sim import State

WAIT = 10.0


@pytest.fixture
async def dash(endpoints: list[str], prefix: bytes) -> AsyncIterator[notebook.Dashboard]:
    d = await notebook.start(endpoints=endpoints, prefix=prefix.decode())
    yield d
    await d.close()


def press(widget: DashboardWidget, content: dict[str, Any]) -> None:
    """What the comm delivers when the page calls `model.send(content)`."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def election_row(widget: DashboardWidget, name: bytes) -> dict[str, Any] | None:
    return next((r for r in widget.elections if r["id"] == name.hex()), None)


def leader_text(widget: DashboardWidget, name: bytes) -> str | None:
    row = election_row(widget, name)
    return None if row is None else row["leader"]


async def server_leader(client: EtcdClient, name: bytes) -> bytes | None:
    try:
        return (await client.leader(name)).value
    except NoLeaderError:
        return None


async def shows_server_leader(widget: DashboardWidget, client: EtcdClient, name: bytes) -> bytes | None:
    """Wait until the widget's row for `name` shows what `Leader(name)` answers; return it."""

    async def agree() -> bool:
        value = await server_leader(client, name)
        row = election_row(widget, name)
        if value is None:
            return row is None or row["leader"] is None
        return row is not None and row["leader"] == display(value, 48)

    await eventually(agree, timeout=WAIT, what="the widget shows etcd's leader")
    return await server_leader(client, name)


async def key_gone(client: EtcdClient, key: bytes) -> None:
    async def gone() -> bool:
        return await client.get(key) is None

    await eventually(gone, timeout=WAIT, what="etcd deletes the old leader's key")


def kinds(widget: DashboardWidget) -> list[str]:
    return [e["kind"] for e in widget.timeline]


async def launched(
    dash: notebook.Dashboard, widget: DashboardWidget, name: str, count: int, ttl: int = 5
) -> None:
    press(widget, {"action": "launch", "name": name, "value": "v", "ttl": str(ttl), "count": str(count)})
    await widget.settled()
    await dash.wait_leader(name, timeout=WAIT)


async def test_launch_message_campaigns_in_etcd_and_the_widget_shows_the_server_leader(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    await launched(dash, widget, "pay", 3)
    name = prefix + b"pay"

    async def three_stand() -> bool:  # each candidate campaigns on its own link: not all at once
        return len((await client.get_prefix(name + b"/", keys_only=True)).kvs) == 3

    await eventually(three_stand, timeout=WAIT, what="three keys in etcd")
    leader = await dash.wait_leader("pay")
    assert await shows_server_leader(widget, client, name) == leader.value
    assert widget.form_error == ""
    await eventually(lambda: len(widget.fleet) == 3, timeout=WAIT, what="three fleet rows")
    await eventually(lambda: len(widget.queue["rows"]) == 3, timeout=WAIT, what="three queue rows")
    queue = widget.queue["rows"]
    revs = [r["rev"] for r in queue]
    assert revs == sorted(revs) and queue[0]["leader"] and queue[0]["value"] == display(leader.value, 48)


@pytest.mark.parametrize(
    ("action", "reason"), [("resign", "resigned"), ("crash", "revoked"), ("expire", "expired")]
)
async def test_each_leaving_button_hands_over_in_etcd_and_the_timeline_says_why(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes, action: str, reason: str
) -> None:
    widget = dash.widget()
    await launched(dash, widget, "e", 2, ttl=2)
    name = prefix + b"e"
    leader = await dash.wait_leader("e")
    old_key = leader.key
    assert old_key is not None
    press(widget, {"action": action, "id": leader.id})
    await widget.settled()
    assert widget._notice is None or widget._notice["level"] == "info"

    await key_gone(client, old_key)
    new = await shows_server_leader(widget, client, name)
    assert new is not None and new != leader.value
    await eventually(lambda: reason in kinds(widget), timeout=WAIT, what=f"a {reason!r} timeline entry")
    row = next(r for r in widget.fleet if r["id"] == leader.id)
    assert row["state"] == reason and "rejoin" in row["actions"]


async def test_pause_makes_the_leader_stale_then_resume_teaches_it_that_it_lost(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    await launched(dash, widget, "p", 2, ttl=2)
    name = prefix + b"p"
    leader = await dash.wait_leader("p")
    press(widget, {"action": "pause", "id": leader.id})
    await widget.settled()
    await eventually(lambda: leader.state is State.STALE, timeout=WAIT, what="the paused leader goes stale")
    assert leader.key is not None
    await key_gone(client, leader.key)
    new = await shows_server_leader(widget, client, name)
    assert new is not None and new != leader.value

    def stale_row() -> bool:
        return any(r["ours"] == leader.id and r["stale"] and r.get("gone") for r in widget.queue["rows"])

    await eventually(stale_row, timeout=WAIT, what="the queue flags the stale believer")
    fleet_row = next(r for r in widget.fleet if r["id"] == leader.id)
    assert "resume" in fleet_row["actions"]
    press(widget, {"action": "resume", "id": leader.id})
    await widget.settled()
    assert leader.state is State.LOST
    await eventually(lambda: "paused" in kinds(widget), timeout=WAIT, what="a 'paused' timeline entry")


async def test_blackhole_sends_the_leader_straight_to_lost_and_heal_lets_it_rejoin(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    await launched(dash, widget, "n", 2, ttl=2)
    leader = await dash.wait_leader("n")

    def can_cut() -> bool:
        return any(r["id"] == leader.id and "blackhole" in r["actions"] for r in widget.fleet)

    await eventually(can_cut, timeout=WAIT, what="a Cut button for the leader")
    await leader.blackhole()  # the scripting API; the page's "Cut" button sends {"action": "blackhole"}
    assert leader.cut and "cut off" in repr(leader)
    assert await leader.wait_for("lost", "stale", timeout=WAIT) is State.LOST  # never stale
    new = await dash.wait_leader("n", other_than=leader, timeout=WAIT)
    assert await shows_server_leader(widget, client, prefix + b"n") == new.value
    await eventually(lambda: "blackholed" in kinds(widget), timeout=WAIT, what="a 'blackholed' entry")

    def cut_row() -> dict[str, Any] | None:
        return next((r for r in widget.fleet if r["id"] == leader.id and r["cut"]), None)

    row = await eventually(cut_row, timeout=WAIT, what="the row marked cut")
    assert "heal" in row["actions"] and "rejoin" not in row["actions"] and "resign" not in row["actions"]
    press(widget, {"action": "heal", "id": leader.id})
    await widget.settled()
    assert not leader.cut
    leader.rejoin()
    await leader.wait_for("campaigning", timeout=WAIT)
    with pytest.raises(notebook.ActionError, match="not cut off"):
        await dash.perform({"action": "heal", "id": leader.id})


async def test_rejoin_and_remove_buttons(dash: notebook.Dashboard, client: EtcdClient, prefix: bytes) -> None:
    widget = dash.widget()
    await launched(dash, widget, "r", 1)
    cand = dash.candidates("r")[0]
    await cand.crash()
    await eventually(
        lambda: election_row(widget, prefix + b"r") is None, timeout=WAIT, what="the election goes"
    )
    press(widget, {"action": "rejoin", "id": cand.id})
    await widget.settled()
    await dash.wait_leader("r", timeout=WAIT)
    assert await shows_server_leader(widget, client, prefix + b"r") == b"v"
    lease = cand.lease
    press(widget, {"action": "remove", "id": cand.id})
    await widget.settled()
    assert lease not in await client.leases()
    await eventually(lambda: not widget.fleet, timeout=WAIT, what="the fleet row goes")
    assert await shows_server_leader(widget, client, prefix + b"r") is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": " ", "ttl": "5", "count": "1"}, "election name"),
        ({"name": "x", "ttl": "abc", "count": "1"}, "TTL: a whole number from 1"),
        ({"name": "x", "ttl": "0", "count": "1"}, "TTL: a whole number from 1"),
        ({"name": "x", "ttl": "²", "count": "1"}, "TTL: a whole number from 1"),
        ({"name": "x", "ttl": "5", "count": "٣"}, "how many: a whole number from 1"),
        ({"name": "x", "ttl": "5", "count": "1000"}, "how many: a whole number from 1"),
        ({"name": "x", "ttl": "5", "count": "1", "value": ""}, "a value is needed"),
    ],
)
async def test_a_bad_launch_form_gets_an_inline_error_not_an_exception(
    dash: notebook.Dashboard, fields: dict[str, str], error: str
) -> None:
    widget = dash.widget()
    press(widget, {"action": "launch", "value": "v", **fields})
    await widget.settled()
    await eventually(lambda: error in widget.form_error, timeout=WAIT, what="the form error")
    assert widget.notice["level"] == "error"
    assert len(dash.session.fleet) == 0


async def test_an_action_on_an_unknown_or_finished_candidate_is_told_in_the_page(
    dash: notebook.Dashboard,
) -> None:
    widget = dash.widget()
    press(widget, {"action": "crash", "id": 999_999})
    await widget.settled()
    await eventually(lambda: "no candidate #999999" in widget.notice.get("text", ""), timeout=WAIT)
    await launched(dash, widget, "f", 1)
    cand = dash.candidates("f")[0]
    await cand.resign()
    press(widget, {"action": "crash", "id": cand.id})
    await widget.settled()
    await eventually(lambda: "resigned" in widget.notice.get("text", ""), timeout=WAIT)
    assert widget.notice["level"] == "error"


async def test_displaying_twice_gives_two_live_views_with_feeds_of_their_own(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    first, second = dash._repr_mimebundle_(), dash._repr_mimebundle_()
    ids = {bundle[0]["application/vnd.jupyter.widget-view+json"]["model_id"] for bundle in (first, second)}
    assert len(ids) == 2
    one, two = dash.widgets
    assert one._feed is not two._feed
    two.selected = (prefix + b"b").hex()  # each view selects on its own
    cands = dash.launch("a", "x", count=1) + dash.launch("b", "y", count=1)
    for cand in cands:
        await cand.wait_for(State.LEADER, timeout=WAIT)
    for widget in (one, two):
        for name in (b"a", b"b"):
            await shows_server_leader(widget, client, prefix + name)
    assert one.queue["id"] == (prefix + b"a").hex() and two.queue["id"] == (prefix + b"b").hex()
    await two.aclose()
    assert two._feed.closed and not one._feed.closed and dash.widgets == [one]


async def test_at_most_one_message_per_frame_and_only_the_visible_page(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    widget.limit = 5
    for i in range(12):
        lease = await client.lease_grant(30)
        await client.put(candidate_key(prefix + b"many/%02d" % i, lease.id), b"x", lease=lease.id)
    await eventually(lambda: widget.election_count == 12, timeout=WAIT, what="12 elections counted")
    assert len(widget.elections) == 5
    widget.offset = 10
    await eventually(
        lambda: [bytes.fromhex(r["id"])[-2:] for r in widget.elections] == [b"10", b"11"], timeout=WAIT
    )
    task, widget._task = widget._task, None  # frames by hand from here
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await dash.launch("one", "v")[0].wait_for(State.LEADER, timeout=WAIT)
    before = widget.stats.updates
    assert widget.render_frame() and widget.stats.updates == before + 1  # many traits, one message
    assert not widget.render_frame()  # nothing changed: nothing sent


async def test_the_frame_loop_sends_at_most_ten_updates_a_second_under_churn(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    lease = await client.lease_grant(30)
    key = candidate_key(prefix + b"churn", lease.id)
    await client.put(key, b"0", lease=lease.id)
    await eventually(lambda: widget.election_count == 1, timeout=WAIT)
    start, before = dash.session.clock(), widget.stats.updates
    for i in range(200):  # ~200 writes as fast as etcd takes them
        await client.put(key, b"%d" % i, lease=lease.id)
    await eventually(lambda: leader_text(widget, prefix + b"churn") == "199", timeout=WAIT)
    elapsed = dash.session.clock() - start
    assert widget.stats.updates - before <= elapsed / FRAME + 2


async def test_values_from_etcd_reach_the_page_as_escaped_cut_text(
    dash: notebook.Dashboard, client: EtcdClient, prefix: bytes
) -> None:
    widget = dash.widget()
    lease = await client.lease_grant(30)
    value = b"<img src=x onerror=alert(1)>\x1b[31m\xff" + b"z" * 500
    await client.put(candidate_key(prefix + b"evil", lease.id), value, lease=lease.id)
    await eventually(lambda: leader_text(widget, prefix + b"evil") is not None, timeout=WAIT)
    row = election_row(widget, prefix + b"evil")
    assert row is not None
    assert row["leader"] == display(value, 48)
    assert row["leader"].startswith("<img src=x onerror=alert(1)>\\x1b[31m\\xff") and row["leader"].endswith(
        "…"
    )
    assert len(row["leader"]) == 48


def test_html_cards_escape_what_etcd_says() -> None:
    kv = KeyValue(b"k/<b>", b"<script>alert(1)</script>\xff", 3, 4, 1, 0x10)
    card = html.key_value_html(kv)
    assert "<script>" not in card and "&lt;script&gt;" in card and "\\xff" in card
    assert "&lt;e&gt;" in html.leader_key_html(LeaderKey(b"<e>", b"<e>/10", 3, 0x10))
    assert "2 s of 5 s" in html.lease_info_html(LeaseInfo(0x10, 2, 5, (b"<k>",)))
    assert "&lt;k&gt;" in html.lease_info_html(LeaseInfo(0x10, 2, 5, (b"<k>",)))


async def test_load_ext_registers_the_formatters_and_drills_display_as_table_and_svg(
    dash: notebook.Dashboard,
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    formatter = shell.display_formatter
    assert formatter is not None
    notebook.load_ipython_extension(shell)
    try:
        data, _ = formatter.format(KeyValue(b"a", b"<i>", 1, 1, 1, 0))  # type: ignore[no-untyped-call]
        assert "&lt;i&gt;" in data["text/html"]
        report = await dash.drill("crash")
        assert report.ok, repr(report)
        shown = report._repr_html_()
        assert "<table" in shown and "<svg" in shown and shown.count("<rect") >= 4
        data, _ = formatter.format(report.report)  # type: ignore[no-untyped-call]
        assert "<svg" in data["text/html"]
        assert "candidates" in dash.elections()._repr_html_()
    finally:
        notebook.unload_ipython_extension(shell)


async def test_close_revokes_every_lease_and_start_again_closes_the_previous_dashboard(
    endpoints: list[str], client: EtcdClient, prefix: bytes
) -> None:
    first = await notebook.start(endpoints=endpoints, prefix=prefix.decode())
    widget = first.widget()
    cands = first.launch("c", "v", count=3)
    await first.wait_leader("c", timeout=WAIT)
    leases = {c.lease for c in cands}
    second = await notebook.start(endpoints=endpoints, prefix=prefix.decode())
    try:
        assert first.closed and not second.closed and notebook.current() is second
        assert widget.closed and widget._feed.closed
        assert not leases & set(await client.leases())
        assert not (await client.get_prefix(prefix, keys_only=True)).kvs
        with pytest.raises(RuntimeError, match="closed"):
            first.launch("c", "v")
    finally:
        await second.close()
    assert notebook.current() is None


def test_the_cli_and_the_tui_never_import_the_notebook_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, election_tui.cli.main, election_tui.ui.app, election_tui.cli.serve\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('election_tui.notebook', 'anywidget', 'ipykernel')))\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
