"""SVG snapshots of the dashboard on a hand-made, frozen state: what a person would see.

The app runs against the shared etcd on an empty prefix; once it has loaded, its session's
background tasks are stopped and it is fed a pure `ElectionState` built from hand-made
KeyValues (fixed lease ids, revisions and times) with a frozen `clock` and `wall`, so each
render is byte-for-byte repeatable. Lease ids, ports and revisions of a live etcd never reach
the screen.

Snapshots live in tests/snapshots/. A mismatch fails and leaves the new render in pytest's tmp
dir; to accept renders on purpose (after a deliberate UI change, or a Textual upgrade):

    SNAPSHOT_UPDATE=1 .venv/bin/pytest tests/test_ui_snapshots.py
    # or, where a snapshot plugin declares it: --snapshot-update

(pytest-textual-snapshot would pull syrupy 4, which pins pytest below 9: hence this small
comparer.)
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import until
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, Event, EventType, KeyValue, candidate_key
from election_tui.live import ClusterInfo, LiveSession
from election_tui.model import BeliefLog, ElectionState, TermBook
from election_tui.ui.app import ElectionApp
from election_tui.ui.modals import LaunchScreen
from election_tui.ui.timeline import Timeline

SNAPSHOTS = Path(__file__).parent / "snapshots"
CLOCK = 5_000.0  # the frozen monotonic clock
WALL = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC, the frozen wall clock
BOUND = 10.0

# Fixed lease ids, written as etcd hands them out (16 hex digits).
L = {name: 0x694D_7A1B_2C3D_4E00 + i for i, name in enumerate("abcdefgh", start=1)}


# --- the comparer ---------------------------------------------------------------------------------


def _update_requested(config: pytest.Config) -> bool:
    declared = config.getoption("--snapshot-update", default=False)
    return bool(declared) or os.environ.get("SNAPSHOT_UPDATE", "") not in ("", "0")


def _normalise(svg: str) -> str:
    """Line endings and trailing blanks only: the render itself must be deterministic."""
    return "\n".join(line.rstrip() for line in svg.strip().splitlines()) + "\n"


def _screen_lines(svg: str) -> list[str]:
    """The text of an SVG render, one line per terminal row, for a readable diff on failure."""
    rows: dict[str, list[str]] = {}
    for y, text in re.findall(r'<text [^>]*y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(y, []).append(text.replace("&#160;", " "))
    return ["".join(parts) for _, parts in sorted(rows.items(), key=lambda item: float(item[0]))]


def assert_snapshot(request: pytest.FixtureRequest, tmp_path: Path, name: str, svg: str) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    actual = _normalise(svg)
    if _update_requested(request.config):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}: create it with SNAPSHOT_UPDATE=1 (then look at it)")
    expected = path.read_text(encoding="utf-8")
    if actual == expected:
        return
    new = tmp_path / f"{name}.svg"
    new.write_text(actual, encoding="utf-8")
    diff = "\n".join(
        difflib.unified_diff(
            _screen_lines(expected), _screen_lines(actual), "snapshot", "render", n=1, lineterm=""
        )
    )
    pytest.fail(
        f"{path.name} differs from the render (saved as {new}); screen text diff:\n"
        f"{diff or '(same text: styles or layout differ)'}\n"
        "If the change is intended, rerun with SNAPSHOT_UPDATE=1.",
        pytrace=False,
    )


# --- a hand-made state ----------------------------------------------------------------------------


def _put(name: bytes, lease: int, value: bytes, create: int, mod: int | None = None) -> Event:
    key = candidate_key(name, lease)
    return Event(EventType.PUT, KeyValue(key, value, create, mod or create, 1, lease))


def _delete(name: bytes, lease: int, rev: int) -> Event:
    return Event(EventType.DELETE, KeyValue(candidate_key(name, lease), b"", 0, rev, 0, 0))


PAY, SCHED, REPORTS, DAILY, EXT = (
    b"demo/payments",
    b"demo/scheduler",
    b"demo/reports",
    b"demo/reports/daily",
    b"ops/etcdctl",
)


def hand_made_state() -> ElectionState:
    """Five elections (one nested in another), a hand-over by resign, an expiry, a proclaim."""
    state = ElectionState()
    state.load([], 1, WALL - 600)
    joins = [
        (PAY, L["a"], b"pay-1"),
        (PAY, L["b"], b"pay-2"),
        (PAY, L["c"], b"pay-3"),
        (SCHED, L["d"], b"sched-a"),
        (SCHED, L["e"], b"sched-b"),
        (REPORTS, L["f"], b"[bold red]x[/]"),  # markup shows as typed
        (DAILY, L["g"], b"\x1b[31mdaily"),  # an escape sequence shows escaped
        (EXT, L["h"], b"\xff\xfebinary"),  # so do bytes that are not UTF-8
    ]
    for rev, (name, lease, value) in enumerate(joins, start=2):
        state.apply([_put(name, lease, value, rev)], rev, WALL - 600 + 10 * rev)
    state.expect_removal(candidate_key(PAY, L["a"]), "resigned")
    state.apply([_delete(PAY, L["a"], 10)], 10, WALL - 240)
    state.apply([_put(PAY, L["b"], b"pay-2 v2", 3, 11)], 11, WALL - 180)
    state.expect_removal(candidate_key(SCHED, L["d"]), "expired")
    state.apply([_delete(SCHED, L["d"], 12)], 12, WALL - 45)
    return state


def lanes_scene() -> tuple[ElectionState, TermBook, BeliefLog]:
    """Who led when over the last 2 minutes: the app looked 75 s ago, after a history (r2-r9).

    payments: a resign in the history, then an expiry seen live, then pay-3 partitioned: etcd
    expires its key (pay-4 leads) while pay-3 still believes it leads. scheduler: a crash with
    nobody waiting (no leader for 20 s). reports: a revoke in the history left a gap.
    """
    state, book, beliefs = ElectionState(), TermBook(), BeliefLog()
    state.load([], 1, WALL - 120)
    state.mark_history(9)
    book.begin([], 1, history=True)

    def at(when: float, event: Event, why: str | None = None) -> None:
        if why is not None:
            state.expect_removal(event.kv.key, why)
        book.add(state.apply([event], event.kv.mod_revision, when).timeline)

    history = [
        _put(PAY, L["a"], b"pay-1", 2),
        _put(PAY, L["b"], b"pay-2", 3),
        _put(SCHED, L["d"], b"sched-a", 4),
        _put(EXT, L["h"], b"\xff\xfebinary", 5),  # bytes that are not UTF-8 show escaped
        _delete(PAY, L["a"], 6),
        _put(REPORTS, L["f"], b"[bold red]x[/]", 7),  # markup shows as typed
        _delete(REPORTS, L["f"], 8),
        _put(REPORTS, L["g"], b"rep-2", 9),
    ]
    for event in history:
        at(0.0, event)
    book.live(9, WALL - 75)
    at(WALL - 70, _put(PAY, L["c"], b"pay-3", 10))
    at(WALL - 60, _delete(PAY, L["b"], 11), "expired")
    at(WALL - 55, _put(PAY, L["e"], b"pay-4", 12))
    at(WALL - 50, _delete(SCHED, L["d"], 13), "revoked")
    at(WALL - 30, _put(SCHED, L["a"], b"sched-b", 14))
    beliefs.stale(PAY, candidate_key(PAY, L["c"]), WALL - 26)  # its own clock: the lease ran out
    at(WALL - 25, _delete(PAY, L["c"], 15), "paused")
    return state, book, beliefs


def feed(dash: LiveSession, state: ElectionState, book: TermBook | None = None) -> None:
    """Hand the stopped session a state, lease countdowns and a cluster line, as its loops would."""
    dash.state = state
    if book is None:  # its terms, as a session that looked when the state was first loaded
        book = TermBook()
        book.begin([], 1, history=False)
        book.live(1, WALL - 600)
        book.add(state.timeline)
    dash.terms = book
    for i, lease in enumerate(sorted(L.values())):
        dash.leases.observe(lease, 3 + i, CLOCK, granted=10)
    dash.cluster = ClusterInfo(
        endpoint="127.0.0.1:2379",
        connection="connected",
        revision=12,
        leader_member="default",
        version="3.5.1",
    )
    for view in dash._feeds:  # drop what the real loops fed before the state was replaced
        view.take()
    dash._take(state.names(), state.timeline, reset=True, terms=False)
    dash._mark(cluster=True, fleet=True)


# --- rendering ------------------------------------------------------------------------------------


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Timeline stamps are local times: render them in UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _tables_measured(app: ElectionApp) -> bool:
    """Whether every DataTable has sized its columns to its rows.

    A DataTable measures new rows when it next goes idle; on a busy machine a frame can show
    rows in columns still as wide as their labels, and stay so for a while.
    """
    return all(
        not table._require_update_dimensions and not table._updated_cells
        for table in app.screen_stack[0].query(DataTable)
    )


async def _stable_svg(app: ElectionApp, pilot: Pilot[int]) -> str:
    """A render that no frame or tick changes any more (a countdown would, with a live clock)."""
    deadline = time.monotonic() + BOUND
    last = ""
    while True:
        await pilot.pause(0.3)  # over one tick and several frames
        svg = app.export_screenshot() if _tables_measured(app) else ""
        if svg and svg == last:
            return svg
        if time.monotonic() > deadline:
            raise AssertionError("the screen kept changing on a frozen clock")
        last = svg


def _app(etcd: EmbeddedEtcd, prefix: bytes) -> ElectionApp:
    return ElectionApp(
        ClientConfig(endpoints=tuple(etcd.endpoints)),
        prefix=prefix,
        clock=lambda: CLOCK,
        wall=lambda: WALL,
    )


async def _show_hand_made_state(app: ElectionApp, pilot: Pilot[int]) -> None:
    await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), "the first load")
    dash = app.session
    await dash.close()  # stop watching, polling status and TTLs: from here on, only our feed
    feed(dash, hand_made_state())
    await until(pilot, lambda: app.elections.row_count == 5, "five elections on screen")
    await until(pilot, lambda: app.queue.row_count == 2, "the payments queue")


SIZES = [(140, 45), (120, 32), (100, 30), (80, 24)]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_dashboard_snapshot(
    etcd: EmbeddedEtcd,
    prefix: bytes,
    utc: None,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    size: tuple[int, int],
) -> None:
    app = _app(etcd, prefix)
    async with app.run_test(size=size) as pilot:
        await _show_hand_made_state(app, pilot)
        assert app.screen.has_class("narrow") == (size[0] < 120)
        # The columns that tell the story are whole at every size; none scrolls sideways.
        assert {"name", "leader", "ttl"} <= set(app.elections.shown_columns)
        assert {"pos", "value", "who", "state"} <= set(app.queue.shown_columns)
        assert {"id", "value", "state"} <= set(app.fleet_table.shown_columns)
        for table in (app.elections, app.queue, app.fleet_table):
            assert table.virtual_size.width <= table.size.width, table.id
        timeline = app.query_one(Timeline)  # its lines are laid out to fit the panel
        assert 0 < timeline.virtual_size.width <= timeline.scrollable_content_region.width
        svg = await _stable_svg(app, pilot)
    assert_snapshot(request, tmp_path, f"dashboard_{size[0]}x{size[1]}", svg)


async def test_launch_modal_with_an_inline_error_snapshot(
    etcd: EmbeddedEtcd, prefix: bytes, utc: None, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    app = _app(etcd, prefix)
    async with app.run_test(size=(80, 24)) as pilot:
        await _show_hand_made_state(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen), "the launch modal")
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor is a coin toss between two renders
        app.screen.query_one("#ttl", Input).value = "0"
        svg = await _stable_svg(app, pilot)
    assert_snapshot(request, tmp_path, "launch_modal_ttl_error_80x24", svg)


@pytest.mark.parametrize("size", [(80, 24), (120, 32)], ids=["80x24", "120x32"])
async def test_swimlanes_snapshot(
    etcd: EmbeddedEtcd,
    prefix: bytes,
    utc: None,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    size: tuple[int, int],
) -> None:
    app = _app(etcd, prefix)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), "the first load")
        dash = app.session
        await dash.close()
        state, book, beliefs = lanes_scene()
        feed(dash, state, book)
        dash.beliefs = beliefs
        await until(pilot, lambda: app.elections.row_count == 4, "four elections on screen")
        await pilot.press("w")
        lanes = app.lanes
        await until(pilot, lambda: len(lanes.rows) == 5, "four lanes and a stale row")
        assert lanes.rows[0] == (PAY, False) and lanes.rows[1] == (PAY, True)
        assert lanes.size.height >= 6, "the lanes need room at 80x24 too"
        # A term led in the history and on into live time is one bar with one label, not two
        # (which would read as a hand-over): pay-2 from r6 to its expiry, sched-a to its crash.
        for name, value in ((PAY, "pay-2"), (SCHED, "sched-a")):
            assert (lanes.row_text(name) or "").count(value) == 1, lanes.row_text(name)
        svg = await _stable_svg(app, pilot)
    assert_snapshot(request, tmp_path, f"swimlanes_{size[0]}x{size[1]}", svg)


def test_the_comparer_reports_a_difference(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A changed render must fail (unless updating), naming the file and the changed text."""
    if _update_requested(request.config):
        pytest.skip("updating snapshots")
    name = "dashboard_80x24"
    expected = (SNAPSHOTS / f"{name}.svg").read_text(encoding="utf-8")
    changed = expected.replace("pay-2", "pay-9", 1)
    assert changed != expected
    with pytest.raises(pytest.fail.Exception, match=r"(?s)dashboard_80x24\.svg differs.*pay-9"):
        assert_snapshot(request, tmp_path, name, changed)
    assert (tmp_path / f"{name}.svg").read_text(encoding="utf-8") == _normalise(changed)
