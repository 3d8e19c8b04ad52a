"""The dashboard driven through Pilot: every action by its key and by the command palette.

Each test asserts on what the widgets show *after* the change came back through the watch,
polling with a bounded `until`; nothing waits on a bare sleep.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers import pause_and_cut_report, stop_process, until
from rich.console import Console
from rich.text import Text
from textual import events
from textual.app import App
from textual.command import Command, CommandList, CommandPalette
from textual.keys import _character_to_key
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Button, Input, Label, Static

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, EtcdClient, LeaseNotFound, candidate_key
from election_tui.model import SEGMENT_MEANINGS, display
from election_tui.sim import Candidate, State
from election_tui.ui.actions import ACTIONS as UI_ACTIONS
from election_tui.ui.app import ElectionApp
from election_tui.ui.drill_chart import SERIES, DrillChart
from election_tui.ui.help import HelpScreen
from election_tui.ui.linetable import LineTable
from election_tui.ui.modals import DrillScreen, LaunchScreen, ProclaimScreen, ReportScreen
from election_tui.ui.status import StatusLine
from election_tui.ui.theme import remembered_theme, settings_path
from election_tui.ui.timeline import Timeline

SIZE = (120, 32)
VIA = ["key", "palette"]

# action -> (key, command palette title)
ACTIONS = {
    "launch": ("n", "Launch candidates"),
    "proclaim": ("p", "Proclaim"),
    "resign": ("r", "Resign"),
    "expire": ("e", "Let lease expire"),
    "crash": ("x", "Crash (revoke lease)"),
    "pause_keepalive": ("z", "Pause / resume keep-alive (simulated partition)"),
    "blackhole": ("b", "Network partition: cut / heal connection"),
    "rejoin": ("j", "Rejoin"),
    "remove": ("delete", "Remove candidate"),
    "filter": ("slash", "Filter"),
    "sort": ("o", "Sort elections"),
    "pause_view": ("space", "Freeze / unfreeze view"),
    "drill": ("d", "Run a drill"),
    "quit": ("q", "Quit"),  # Textual's own palette command, bound to our action_quit
}

Driver = tuple[ElectionApp, Pilot[int]]


# --- bounded waiting and reading the screen ---------------------------------------------------


def cell(app: ElectionApp, name: bytes, column: str) -> str | None:
    """The plain text of an elections-table cell, or None while the row is not shown."""
    if name not in app.elections:
        return None
    return app.elections.cell(name, column).plain


def rows(table: LineTable[Any], column: str) -> list[str]:
    """The plain texts of one column of a table, top to bottom."""
    return table.column_texts(column)


def timeline_text(app: ElectionApp) -> str:
    return app.query_one(Timeline).text()


def fleet_states(app: ElectionApp) -> list[str]:
    return rows(app.fleet_table, "state")


def plain(renderable: object) -> str:
    """What a widget's content reads as, whatever renderable it is (a Table, Text…)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return " ".join(console.export_text().split())


def status_text(app: ElectionApp) -> str:
    content = app.query_one(StatusLine).content
    return content.plain if isinstance(content, Text) else str(content)


def leader_of(app: ElectionApp, name: bytes) -> Candidate | None:
    """Our candidate that etcd has made leader of `name` (the model agrees with its key)."""
    view = app.session.state.election(name)
    if view is None or view.leader is None:
        return None
    for cand in app.session.fleet:
        if cand.key == view.leader.key and cand.state is State.LEADER:
            return cand
    return None


# --- driving the app ----------------------------------------------------------------------------


# What each running app told its user (notifications), in order.
NOTES: weakref.WeakKeyDictionary[ElectionApp, list[str]] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def running(etcd: EmbeddedEtcd, prefix: bytes) -> AsyncIterator[Driver]:
    app = ElectionApp(
        ClientConfig(endpoints=tuple(etcd.endpoints)), prefix=prefix, clock=time.monotonic, wall=time.time
    )
    notes = NOTES.setdefault(app, [])

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification.message)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), what="first load")
        yield app, pilot
        await app.shutdown_session()


async def type_text(driver: Driver, text: str) -> None:
    """Type `text` as key events into the focused widget.

    `pilot.press` waits for the app to go idle after every key, ~0.1 s each with the palette
    searching as you type; a person types faster than that, so send the keys, then wait once.
    """
    app, pilot = driver
    assert app._driver is not None
    for char in text:
        app._driver.send_message(events.Key(char if char.isalnum() else _character_to_key(char), char))
    await pilot.pause()


async def invoke(driver: Driver, action: str, via: str) -> None:
    """Run an action by its key, or by typing its title into the command palette."""
    app, pilot = driver
    key, title = ACTIONS[action]
    if via == "key":
        await pilot.press(key)
        return
    await pilot.press("ctrl+p")
    palette = await until(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, what="the command palette"
    )
    await type_text(driver, title)

    def top_hit() -> bool:
        commands = palette.query_one(CommandList)
        if commands.highlighted is None or not commands.option_count:
            return False
        option = commands.get_option_at_index(commands.highlighted)
        return isinstance(option, Command) and str(option.hit.text) == title

    await until(pilot, top_hit, what=f"{title!r} as the palette's top hit")
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette), what="the palette to close")


async def launch(
    driver: Driver, name: str, value: str = "v", ttl: int = 5, count: int = 1, via: str = "key"
) -> list[Candidate]:
    """Fill the launch modal and submit it; returns the candidates it started."""
    app, pilot = driver
    before = {c.id for c in app.session.fleet}
    await invoke(driver, "launch", via)
    screen = await until(
        pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen, what="launch modal"
    )
    for field, text in (("name", name), ("value", value), ("ttl", str(ttl)), ("count", str(count))):
        screen.query_one(f"#{field}", Input).value = text
    await pilot.pause()
    assert not screen.query_one("#ok", Button).disabled
    await pilot.click("#ok")
    await until(pilot, lambda: not isinstance(app.screen, LaunchScreen), what="launch modal to close")
    return [c for c in app.session.fleet if c.id not in before]


async def launched(
    driver: Driver, name: str, count: int, value: str = "v", ttl: int = 5, modal: bool = False
) -> tuple[bytes, list[Candidate]]:
    """Launch `count` candidates in election `name` and wait until the screen shows them all.

    Through the modal if asked; else as the modal's callback does (quicker: the launch tests
    cover the modal), so each action's test spends its time on that action.
    """
    app, pilot = driver
    full = app.prefix + name.encode()
    if modal:
        cands = await launch(driver, name, value, ttl, count)
    else:
        cands = app.session.launch(full, value, ttl, count)
    await until(pilot, lambda: cell(app, full, "cands") == str(count), what=f"{count} candidates of {name}")
    await until(pilot, lambda: leader_of(app, full), what=f"a leader of {name}")
    return full, cands


async def select(driver: Driver, cand: Candidate) -> None:
    """Put the fleet table's cursor on `cand`, as a user would: focus the table, arrow to the row."""
    app, pilot = driver
    app.fleet_table.focus()

    def selected() -> bool:
        app.fleet_table.select(cand)  # a no-op until a frame has drawn its row
        return app.fleet_table.selected() is cand

    await until(pilot, selected, what=f"candidate #{cand.id} selected")


async def select_leader(driver: Driver, name: bytes) -> Candidate:
    """Our candidate leading `name`, with the fleet table's cursor on it (the target of actions)."""
    leader = leader_of(driver[0], name)
    assert leader is not None
    await select(driver, leader)
    return leader


async def highlight_election(driver: Driver, name: bytes) -> None:
    """Focus Elections and put its cursor on `name`, as a user would with the arrow keys."""
    app, pilot = driver
    app.elections.focus()
    await until(pilot, lambda: name in app.elections, what=f"{name!r} listed")
    app.elections.cursor_row = list(app.elections.keys).index(name)
    await until(pilot, lambda: app.queue.election == name, what=f"the queue of {name!r}")


async def highlight_in_queue(driver: Driver, key: bytes) -> None:
    """Focus the Queue and put its cursor on the candidate with `key`."""
    app, pilot = driver
    app.queue.focus()
    await until(pilot, lambda: key in app.queue, what="the candidate in the queue")
    app.queue.select(key)
    await until(pilot, lambda: app.queue.selected_key() == key, what="the queue cursor on it")


def queue_values(app: ElectionApp) -> list[str]:
    return rows(app.queue, "value")


# --- launch and its modal -----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
async def test_launch_shows_the_election_its_leader_and_the_queue(
    etcd: EmbeddedEtcd, prefix: bytes, via: str
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        cands = await launch(driver, "e1", value="hello", ttl=5, count=3, via=via)
        assert len(cands) == 3
        name = prefix + b"e1"
        await until(pilot, lambda: cell(app, name, "cands") == "3", what="3 candidates in the table")
        leader = await until(pilot, lambda: leader_of(app, name), what="a leader")
        await until(pilot, lambda: cell(app, name, "leader") == leader.value.decode(), what="leader value")
        assert cell(app, name, "name") == display(name, 32)  # the full key name, cut to the column
        await until(pilot, lambda: app.queue.row_count == 3, what="3 rows in the queue")
        assert sorted(queue_values(app)) == ["hello-1", "hello-2", "hello-3"]
        assert queue_values(app)[0] == leader.value.decode()
        assert all(who.startswith("ours #") for who in rows(app.queue, "who"))


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("name", "   "),
        ("ttl", "0"),
        ("ttl", "abc"),
        ("ttl", "²"),
        ("count", "٣"),
        ("ttl", "-5"),
        ("count", "99999999999999999999"),
        ("value", ""),
    ],
    ids=[
        "blank-name",
        "ttl-zero",
        "ttl-not-a-number",
        "ttl-superscript-digit",
        "count-arabic-digit",
        "ttl-negative",
        "count-overflow",
        "empty-value",
    ],
)
async def test_launch_modal_refuses_bad_input_inline(
    etcd: EmbeddedEtcd, prefix: bytes, field: str, typed: str
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        await invoke(driver, "launch", "key")
        screen = await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        screen.query_one("#name", Input).value = "e1"
        box = screen.query_one(f"#{field}", Input)
        box.value = ""
        box.focus()
        await pilot.press(*typed)  # typed like a person would
        assert box.value == typed
        error = screen.query_one(f"#{field}-error", Label)
        await until(pilot, lambda: str(error.content).strip(), what="an inline error")
        assert screen.query_one("#ok", Button).disabled
        await pilot.press("enter")  # submitting anyway does nothing
        await pilot.pause(0.2)
        assert app.screen is screen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen), what="the modal to close")
        assert len(app.session.fleet) == 0
        assert app.fleet_table.row_count == 0
    async with EtcdClient(etcd.endpoints) as client:
        assert (await client.get_prefix(prefix)).kvs == ()


# --- actions on a candidate -------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
async def test_proclaim_changes_the_leader_value(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2)
        leader = await select_leader(driver, name)
        await until(pilot, lambda: cell(app, name, "leader") == leader.value.decode())
        await invoke(driver, "proclaim", via)
        screen = await until(pilot, lambda: isinstance(app.screen, ProclaimScreen) and app.screen)
        assert screen.query_one("#value", Input).value == leader.value.decode()
        screen.query_one("#value", Input).value = "announced"
        await pilot.pause()
        await pilot.click("#ok")
        await until(pilot, lambda: cell(app, name, "leader") == "announced", what="the proclaimed value")
        await until(pilot, lambda: "proclaimed" in timeline_text(app), what="a proclaimed entry")
        assert leader_of(app, name) is leader  # same leader, same term
        assert cell(app, name, "terms") == "1"
        await until(
            pilot,
            lambda: app.fleet_table.cell(leader.id, "value").plain == "announced",
            what="our candidates showing the proclaimed value",
        )


@pytest.mark.parametrize("via", VIA)
async def test_resign_hands_over_to_the_next_candidate(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 3)
        old = await select_leader(driver, name)
        await invoke(driver, "resign", via)
        await until(pilot, lambda: "resigned" in timeline_text(app), what="a resigned entry")
        new = await until(
            pilot, lambda: (c := leader_of(app, name)) is not None and c is not old and c, what="a new leader"
        )
        await until(
            pilot, lambda: cell(app, name, "leader") == new.value.decode(), what="the new leader's value"
        )
        await until(pilot, lambda: cell(app, name, "cands") == "2")
        await until(pilot, lambda: app.queue.row_count == 2)
        assert old.value.decode() not in queue_values(app)
        assert "resigned" in fleet_states(app)


@pytest.mark.parametrize("via", VIA)
async def test_let_expire_ends_the_term_after_the_ttl(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    ttl = 2
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2, ttl=ttl)
        old = await select_leader(driver, name)
        started = time.monotonic()
        await invoke(driver, "expire", via)
        await until(pilot, lambda: "expired" in timeline_text(app), timeout=ttl + 6, what="an expired entry")
        new = await until(
            pilot, lambda: (c := leader_of(app, name)) is not None and c is not old and c, what="a new leader"
        )
        took = time.monotonic() - started
        assert took >= ttl - 1, f"the lease went after {took:.1f} s: it was revoked, not left to expire"
        await until(pilot, lambda: cell(app, name, "leader") == new.value.decode())
        await until(pilot, lambda: "expired" in fleet_states(app), what="the candidate shown as expired")


@pytest.mark.parametrize("via", VIA)
async def test_crash_revokes_the_lease_at_once(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2, ttl=30)
        old = await select_leader(driver, name)
        await invoke(driver, "crash", via)
        await until(pilot, lambda: "revoked" in timeline_text(app), what="a revoked entry")
        new = await until(
            pilot, lambda: (c := leader_of(app, name)) is not None and c is not old and c, what="a new leader"
        )
        await until(pilot, lambda: cell(app, name, "leader") == new.value.decode())
        await until(pilot, lambda: "revoked" in fleet_states(app), what="the candidate shown as revoked")


@pytest.mark.parametrize("via", VIA)
async def test_paused_keepalive_makes_a_stale_leader_then_another_leads(
    etcd: EmbeddedEtcd, prefix: bytes, via: str
) -> None:
    ttl = 2
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2, ttl=ttl)
        old = await select_leader(driver, name)
        await invoke(driver, "pause_keepalive", via)
        await until(pilot, lambda: any("⏸" in s for s in fleet_states(app)), what="a paused keep-alive")
        # Its lease runs out while it still believes it leads: the split-brain window, shown.
        await until(pilot, lambda: any(s.startswith("stale") for s in fleet_states(app)), timeout=ttl + 6)
        new = await until(
            pilot, lambda: (c := leader_of(app, name)) is not None and c is not old and c, what="a new leader"
        )
        await until(pilot, lambda: cell(app, name, "leader") == new.value.decode())
        await until(pilot, lambda: "paused" in timeline_text(app), what="a 'paused' entry (keep-alive)")
        await until(
            pilot, lambda: "lost" in fleet_states(app), timeout=ttl + 6, what="the stale one learning"
        )


async def test_blackhole_cuts_the_leader_off_for_real_then_heals_and_it_rejoins(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    ttl = 2
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2, ttl=ttl)
        old = await select_leader(driver, name)
        await invoke(driver, "blackhole", "key")
        await until(pilot, lambda: any("✂" in s for s in fleet_states(app)), what="the cut mark")
        new = await until(
            pilot,
            lambda: (c := leader_of(app, name)) is not None and c is not old and c,
            timeout=ttl + 6,
            what="a new leader",
        )
        # A real partition: its client gave the lease up by itself, never `stale` (that is z's).
        assert old.state is State.LOST and State.STALE not in [t.state for t in old.history]
        await until(pilot, lambda: cell(app, name, "leader") == new.value.decode())
        await until(pilot, lambda: "blackholed" in timeline_text(app), what="a 'blackholed' entry")
        await invoke(driver, "blackhole", "palette")  # the same action heals
        await until(pilot, lambda: not old.cut, what="healed")
        await until(pilot, lambda: not any("✂" in s for s in fleet_states(app)), what="the mark gone")
        await invoke(driver, "rejoin", "key")
        await until(pilot, lambda: old.state is State.CAMPAIGNING and old.key in app.queue, what="rejoined")
        notes = NOTES[app]
        assert any("cut off (network: blackhole)" in n for n in notes)
        assert any("healed" in n for n in notes)


async def test_blackhole_on_a_candidate_without_a_link_says_why_and_what_to_press(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        app.session.fleet.links = 0  # as on a cluster off loopback, or past the links on offer
        name, _ = await launched(driver, "e1", 1)
        await select_leader(driver, name)
        await invoke(driver, "blackhole", "key")
        note = await until(
            pilot, lambda: next((n for n in NOTES[app] if "cannot be cut off alone" in n), None)
        )
        assert "gives no candidate a link of its own" in note and "z pauses its keep-alive" in note


@pytest.mark.parametrize("via", VIA)
async def test_rejoin_campaigns_again_with_a_new_lease(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, cands = await launched(driver, "e1", 2, ttl=30)
        cand = cands[0]
        old_lease = cand.lease_id
        await select(driver, cand)
        await invoke(driver, "crash", "key")
        await until(pilot, lambda: cell(app, name, "cands") == "1", what="the crashed candidate gone")
        await invoke(driver, "rejoin", via)
        await until(pilot, lambda: cell(app, name, "cands") == "2", what="the candidate back in the table")
        await until(pilot, lambda: app.queue.row_count == 2, what="two candidates queued again")
        assert cand.lease_id not in (0, old_lease)
        assert format(cand.lease_id, "x")[-7:] in " ".join(rows(app.queue, "lease"))
        await until(pilot, lambda: "revoked" not in fleet_states(app), what="the fleet row updated")


@pytest.mark.parametrize("via", VIA)
async def test_remove_forgets_the_candidate_and_its_key(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, cands = await launched(driver, "e1", 2, ttl=30)
        gone = cands[-1]
        await select(driver, gone)
        await invoke(driver, "remove", via)
        await until(pilot, lambda: app.fleet_table.row_count == 1, what="one fleet row left")
        await until(pilot, lambda: cell(app, name, "cands") == "1", what="one candidate left")
        assert gone.value.decode() not in queue_values(app)
        assert gone not in list(app.session.fleet)


# --- view actions -------------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
async def test_the_filter_applies_as_you_type_to_every_panel(
    etcd: EmbeddedEtcd, prefix: bytes, via: str
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        alpha, _ = await launched(driver, "alpha", 1, value="va")
        beta, (beta_cand,) = await launched(driver, "beta", 1, value="vb")
        await until(pilot, lambda: "vb" in timeline_text(app), what="both in the timeline")
        assert app.elections.row_count == 2 and app.fleet_table.row_count == 2
        await invoke(driver, "filter", via)
        bar = app.query_one("#filter-bar", Input)
        await until(pilot, lambda: bar.has_focus, what="the filter bar")
        await type_text(driver, "alp")  # no Enter: it applies as you type
        await until(pilot, lambda: cell(app, beta, "name") is None, what="beta hidden")
        assert cell(app, alpha, "leader") == "va"
        assert app.fleet_table.column_texts("value") == ["va"]
        assert "va" in timeline_text(app) and "vb" not in timeline_text(app)
        assert "filter alp" in status_text(app)
        assert "Elections (1 of 2)" in str(app.query_one("#elections-panel").border_title)
        await pilot.press("enter")  # keeps the filter, closes the bar
        await until(pilot, lambda: not bar.display, what="the bar closed")
        # A change to a hidden election keeps it hidden; clearing the filter shows it again.
        await beta_cand.proclaim("w")
        await until(
            pilot, lambda: (c := app.session.state.leader(beta)) and c.value == b"w", what="beta's value"
        )
        assert cell(app, beta, "name") is None
        await pilot.press("slash")
        await until(pilot, lambda: bar.has_focus, what="the filter bar again")
        await pilot.press("escape")  # clears
        await until(pilot, lambda: cell(app, beta, "leader") == "w", what="beta shown again, up to date")
        assert "proclaimed" in timeline_text(app) and "filter" not in status_text(app)


async def test_the_timeline_names_our_candidates_by_number(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        _, cands = await launched(driver, "same", 2, value="same")
        names = [re.compile(rf"#{c.id}\b") for c in cands]
        await until(pilot, lambda: all(n.search(timeline_text(app)) for n in names), what="both named")


async def test_elections_sort_by_a_key_or_a_header_click(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        few, _ = await launched(driver, "a-few", 1)
        many, _ = await launched(driver, "b-many", 3)
        assert list(app.elections.keys) == [few, many]  # by name
        app.elections.focus()
        await pilot.press("o")  # the next column: the leader's value, "v" before "v-1"
        await until(pilot, lambda: app.elections.sorted_by == ("leader", False), what="by leader")
        assert list(app.elections.keys) == [few, many]
        x = app.elections.column_offset("leader")
        assert x is not None
        await pilot.click("#elections", offset=(x + 2, 0))  # the same header again: descending
        await until(pilot, lambda: app.elections.sorted_by == ("leader", True), what="descending")
        assert list(app.elections.keys) == [many, few]
        assert "Leader ▼" in "".join(seg.text for seg in app.elections.render_line(0))


@pytest.mark.parametrize("via", VIA)
async def test_freeze_stops_redraws_and_unfreezing_catches_up(
    etcd: EmbeddedEtcd, prefix: bytes, via: str
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, (cand,) = await launched(driver, "e1", 1)
        await until(pilot, lambda: cell(app, name, "leader") == "v")
        await invoke(driver, "pause_view", via)
        await until(pilot, lambda: "VIEW PAUSED" in status_text(app), what="the paused status")
        await cand.proclaim("while-frozen")  # as any client could, while nobody looks
        await until(pilot, lambda: (c := app.session.state.leader(name)) and c.value == b"while-frozen")
        await pilot.pause(0.5)  # ten frames
        assert cell(app, name, "leader") == "v"
        assert "proclaimed" not in timeline_text(app)
        await invoke(driver, "pause_view", via)
        await until(pilot, lambda: cell(app, name, "leader") == "while-frozen", what="the view catching up")
        assert "proclaimed" in timeline_text(app)
        assert "VIEW PAUSED" not in status_text(app)


@pytest.mark.parametrize("via", VIA)
async def test_drill_runs_under_the_prefix_and_shows_its_report(
    etcd: EmbeddedEtcd, prefix: bytes, via: str
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        await invoke(driver, "drill", via)
        screen = await until(pilot, lambda: isinstance(app.screen, DrillScreen) and app.screen)
        screen.query_one("#scenario", Input).value = "resign"  # the quick one: no TTL to wait out
        await pilot.pause()
        await pilot.click("#ok")

        def composed_report() -> ReportScreen | None:
            screen = app.screen
            return screen if isinstance(screen, ReportScreen) and screen.query("#report-body") else None

        report = await until(pilot, composed_report, timeout=30, what="the report, composed")
        body = str(report.query_one("#report-body", Static).content)
        assert body.startswith("drill resign")
        assert (prefix + b"drill/resign").decode() in body
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReportScreen), what="the report to close")
        await until(
            pilot, lambda: "elected" in timeline_text(app), what="the drill's elections in the timeline"
        )
        # The drill tells the model why each leader key went: its resigns read "resigned", not "left".
        await until(pilot, lambda: "resigned" in timeline_text(app), what="the drill's resigns named")


async def test_a_paced_drill_shows_its_running_step_and_its_report_can_be_saved(
    etcd: EmbeddedEtcd, prefix: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the report is saved in the current directory
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        await pilot.press("d")
        screen = await until(pilot, lambda: isinstance(app.screen, DrillScreen) and app.screen)
        await until(pilot, lambda: app.focused is screen.query_one("#scenario", Input), what="typing goes in")
        screen.query_one("#scenario", Input).value = "resign"
        screen.query_one("#pace", Input).value = "0.4"
        await pilot.pause()
        await pilot.click("#ok")
        await until(
            pilot,
            lambda: re.search(r"drill resign: step \d+/\d+", status_text(app)),
            what="the running step shown",
        )

        def shown() -> ReportScreen | None:
            # The screen is current before its widgets are mounted: wait for the body too.
            screen = app.screen
            return screen if isinstance(screen, ReportScreen) and screen.query("#report-body") else None

        report = await until(pilot, shown, timeout=30, what="the report")
        assert "drill resign" not in status_text(app)  # the step line goes with the drill
        body = str(report.query_one("#report-body", Static).content)
        assert max(len(line) for line in body.splitlines()) <= app.size.width - 10  # whole lines
        widget = report.query_one("#drill-chart", DrillChart)
        drawn = await until(
            pilot, lambda: plain(widget.render()) if widget.size.width else None, what="the chart laid out"
        )
        assert "#1 resign" in drawn and "#4 resign" in drawn and "hand-over" in drawn  # a bar each
        await pilot.press("s")
        await until(pilot, lambda: len(report.saved) == 2, what="two files saved")
        text, data = sorted(report.saved, key=lambda p: p.suffix != ".txt")
        assert text.parent == tmp_path and text.read_text().startswith("drill resign")
        saved = json.loads(data.read_text())
        assert saved["scenario"]["name"] == "resign" and saved["ok"] is True
        await pilot.press("s")  # again: new names, nothing overwritten
        await until(pilot, lambda: len(set(report.saved)) == 4, what="two more files")


async def test_the_drill_chart_legend_at_80x24_hides_no_bar_and_names_the_overlap() -> None:
    report = pause_and_cut_report()
    app: App[int] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ReportScreen("drill", "the report", picture=DrillChart(report, id="c")))
        await until(pilot, lambda: bool(app.screen.query("#c")), what="the chart mounted")
        widget = app.screen.query_one("#c", DrillChart)
        await until(pilot, lambda: widget.size.width, what="the chart laid out")
        console = Console(width=widget.size.width, record=True, file=io.StringIO())
        console.print(widget.render())
        lines = console.export_text().splitlines()
    legend = [i for i, line in enumerate(lines) if any(f"██ {name}" in line for name in SERIES)]
    bars = [i for i, line in enumerate(lines) if re.match(r"\s*#\d ", line)]
    assert len(legend) == 3 and len(bars) == 3, "\n".join(lines)
    assert max(legend) < min(bars)  # the legend sits above every bar, over none of them
    blackhole = next(line for line in lines if "#2 blackhole" in line)
    assert "█" in blackhole and "hand-over" not in blackhole and "detection" not in blackhole


# --- which row an action acts on --------------------------------------------------------------


async def test_an_action_in_elections_acts_on_the_highlighted_election_s_leader(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        first, _ = await launched(driver, "first", 2, ttl=30)
        second, _ = await launched(driver, "second", 2, ttl=30)
        kept, doomed = leader_of(app, first), leader_of(app, second)
        assert kept is not None and doomed is not None
        await select(driver, kept)  # the fleet cursor rests on the other election's leader
        await highlight_election(driver, second)
        await pilot.press("x")
        await until(pilot, lambda: doomed.state is State.REVOKED, what="the highlighted leader crashed")
        assert kept.state is State.LEADER and leader_of(app, first) is kept


async def test_an_external_candidate_in_the_queue_is_not_ours_to_crash(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    name = prefix + b"mixed"
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        proc = etcdctl_elect(etcd, name, "from-etcdctl")
        try:
            await until(pilot, lambda: cell(app, name, "leader") == "from-etcdctl", timeout=15)
            (ours,) = app.session.launch(name, "ours", 30)
            await until(pilot, lambda: ours.key is not None and cell(app, name, "cands") == "2")
            await select(driver, ours)  # the fleet cursor is on ours: it must not be the target
            await highlight_election(driver, name)
            external = app.session.state.leader(name)
            assert external is not None and external.value == b"from-etcdctl"
            await highlight_in_queue(driver, external.key)
            await pilot.press("x")
            await until(
                pilot,
                lambda: any("from-etcdctl is external: not ours to crash" in n for n in NOTES[app]),
                what="the refusal",
            )
            assert ours.state is State.CAMPAIGNING
            assert (await app.session.client.leader(name)).value == b"from-etcdctl"
        finally:
            stop_process(proc)


async def test_proclaim_is_refused_for_a_follower_before_any_typing(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, cands = await launched(driver, "e1", 2, ttl=30)
        follower = next(c for c in cands if c is not leader_of(app, name))
        await select(driver, follower)
        await pilot.press("p")
        await until(
            pilot,
            lambda: any("only a leader can proclaim" in n for n in NOTES[app]),
            what="the refusal",
        )
        assert not isinstance(app.screen, ProclaimScreen)


# --- what other clients write -------------------------------------------------------------------


def etcdctl_elect(etcd: EmbeddedEtcd, name: bytes, value: str) -> subprocess.Popen[bytes]:
    """`etcdctl elect NAME VALUE` in the background: it campaigns, leads, and resigns on SIGINT."""
    return subprocess.Popen(
        etcd.etcdctl_cmd("elect", name.decode(), value),
        env=etcd.etcdctl_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_an_etcdctl_elect_beside_the_app_shows_as_external(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    name = prefix + b"ext"
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        proc = etcdctl_elect(etcd, name, "from-etcdctl")
        try:
            await until(pilot, lambda: cell(app, name, "leader") == "from-etcdctl", timeout=15)
            await until(pilot, lambda: rows(app.queue, "who") == ["external"], what="an external candidate")
            assert len(app.session.fleet) == 0
            proc.send_signal(signal.SIGINT)  # etcdctl resigns and revokes its session's lease
            await until(pilot, lambda: proc.poll() is not None, timeout=10, what="etcdctl to exit")
            await until(pilot, lambda: cell(app, name, "name") is None, what="the election gone")
            assert app.queue.row_count == 0
        finally:
            stop_process(proc)


async def test_untrusted_values_are_shown_literally(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    markup = "[bold red]x[/]"
    escape = b"\x1b[31mred\x07"
    binary = b"\xff\xfe\x00ok"
    async with EtcdClient(etcd.endpoints) as client, running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "markup", 1, value=markup, modal=True)  # typed in the form
        await until(pilot, lambda: cell(app, name, "leader") == markup, what="markup shown as typed")
        assert markup in rows(app.fleet_table, "value")
        leases = []
        try:
            for election, value in ((b"esc", escape), (b"bin", binary)):
                lease = (await client.lease_grant(30)).id
                leases.append(lease)
                await client.put(candidate_key(prefix + election, lease), value, lease=lease)
            await until(
                pilot,
                lambda: cell(app, prefix + b"esc", "leader") == "\\x1b[31mred\\x07",
                what="escape sequences shown escaped",
            )
            await until(pilot, lambda: cell(app, prefix + b"bin", "leader") == "\\xff\\xfe\\x00ok")
            text = timeline_text(app)
            assert "\x1b" not in text and "\\x1b[31mred" in text
        finally:
            for lease in leases:
                with contextlib.suppress(LeaseNotFound):
                    await client.lease_revoke(lease)


async def test_title_is_literal(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    """An election's name in a panel title is etcd's bytes, never markup (a short test name keeps
    the prefix short enough for the whole name to fit the title)."""
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "[b]x", 1)
        assert len(display(name, 200)) < 40
        await highlight_election(driver, name)
        panel = app.query_one("#queue-panel")
        await until(
            pilot, lambda: f"{display(name)} (1)" in plain(panel.border_title), what="the name as typed"
        )


# --- quitting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
async def test_quit_revokes_every_lease_the_app_created(etcd: EmbeddedEtcd, prefix: bytes, via: str) -> None:
    app = ElectionApp(ClientConfig(endpoints=tuple(etcd.endpoints)), prefix=prefix)
    async with EtcdClient(etcd.endpoints) as client:
        async with app.run_test(size=SIZE) as pilot:
            driver = (app, pilot)
            await until(pilot, lambda: app.live is not None and app.live.loaded.is_set())
            await launched(driver, "e1", 2, ttl=60)
            ours = app.session.fleet.lease_ids()
            assert len(ours) == 2
            assert ours <= set(await client.leases())
            await invoke(driver, "quit", via)
            await until(pilot, lambda: app.return_code is not None, what="the app to exit")
        assert app.return_code == 0
        assert not ours & set(await client.leases())
        assert (await client.get_prefix(prefix)).kvs == ()


# --- help and orientation -------------------------------------------------------------------------


async def test_help_lists_every_action_and_state_and_escape_closes_it(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        await pilot.press("question_mark")
        screen = await until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, what="help")
        shown = " ".join(plain(w.content) for w in screen.query(Static))
        for action in UI_ACTIONS:
            assert action.help in shown, action.name
        for state in State:
            assert state.meaning in shown, state
        for meaning in SEGMENT_MEANINGS.values():  # the swimlanes' legend
            assert meaning in shown, meaning
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")


async def test_an_empty_start_says_what_to_do_until_the_first_election(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        hint = app.query_one("#empty-hint", Static)
        await until(pilot, lambda: hint.display, what="the hint")
        assert "Press n to launch" in plain(hint.content)
        assert "throwaway" not in plain(hint.content)  # this etcd is not the app's own
        await launched(driver, "e1", 1)
        await until(pilot, lambda: not hint.display, what="the hint gone")


# --- for a room: themes -------------------------------------------------------------------------


async def test_a_theme_asked_for_is_used_and_remembered_for_the_next_run(
    etcd: EmbeddedEtcd, prefix: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = ClientConfig(endpoints=tuple(etcd.endpoints))
    first = ElectionApp(config, prefix=prefix, theme="projector")
    async with first.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: first.theme == "projector", what="the projector theme")
        first.theme = "nord"  # as the palette's "Change theme" does
        await until(pilot, lambda: settings_path().is_file(), what="the choice saved")
        await first.shutdown_session()
    assert remembered_theme() == "nord"
    again = ElectionApp(config, prefix=prefix)  # no --theme: the remembered one
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.theme == "nord", what="the remembered theme")
        await again.shutdown_session()
