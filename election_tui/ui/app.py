"""The Textual dashboard: follows the live session, renders once per frame; actions go to etcd."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.driver import Driver
from textual.events import Resize
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Input, Static

from .. import _exits
from ..etcd import ClientConfig, EtcdClient, EtcdError
from ..live import Feed, LaunchRequest, LiveSession, MemberControl, MemberError, MemberInfo
from ..model import display
from ..sim import Candidate, CandidateError
from .actions import ACTIONS, BY_NAME, bindings, candidate_keys_hint, member_keys_hint
from .cluster_panel import ClusterTable, panel_title
from .drill_chart import DrillChart
from .drivers import TerminalLost, sturdy_driver
from .elections import SORTABLE, ElectionsTable
from .fleet_panel import FleetTable
from .help import HelpScreen
from .linetable import LineTable
from .modals import DrillRequest, DrillScreen, LaunchScreen, ProclaimScreen, ReportScreen
from .queue import QueueTable
from .selection import NOT_CANDIDATES, Target, member_refusal, refusal
from .status import StatusLine
from .swimlanes import Swimlanes, span_text
from .theme import DEFAULT_THEME, OUR_THEMES, remember_theme, remembered_theme
from .timeline import Timeline

FRAME = 1 / 20  # redraw at most 20 times a second, however many events arrive
TICK = 0.25  # countdowns
NARROW = 120
_TABLES = ("elections", "queue", "fleet", "cluster")  # ids of the tables whose rows actions act on
# Every way out revokes our leases first, within this many seconds (an unreachable etcd cannot
# make it wait longer); the rest of the exit must fit in _exits.GRACE too.
REVOKE_BUDGET = 1.0
CLOSE_BUDGET = 0.3  # closing the client's channels
LAST_RESORT_REVOKE = 0.25  # the watchdog's own try, when the loop never got to revoke


class ElectionApp(App[int]):
    """Who leads, who waits, how long each lease has left, and what just happened."""

    CSS_PATH = "app.tcss"
    TITLE = "election-tui"
    BINDINGS = [
        *bindings(),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        config: ClientConfig,
        *,
        prefix: bytes = b"",
        demo: bool = False,
        embedded: bool = False,
        pace: float = 0.0,
        theme: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        members: MemberControl | None = None,
    ) -> None:
        super().__init__()
        self.members = members  # the embedded cluster's members, ours to break (None: attached)
        self.config = config
        self.prefix = prefix
        self.demo = demo
        self.embedded = embedded  # the etcd is ours and throwaway: say so
        self.pace = pace  # seconds a drill pauses after each step, so a room can follow
        self._asked_theme = theme  # None: the one remembered from last time
        self.activity = ""  # what runs now (a drill's step), on the status line
        self.clock = clock
        self.wall = wall
        self.client: EtcdClient | None = None
        self.live: LiveSession | None = None
        self.feed: Feed | None = None
        self.view_paused = False
        self.filter_text = ""
        self.selected: bytes | None = None
        self._active_table: str = "elections"  # the table whose highlighted row actions act on
        self._session_closed = False

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Container(id="main"):
            with Vertical(classes="panel", id="elections-panel") as panel:
                panel.border_title = "Elections"
                yield ElectionsTable(id="elections")
                yield Static(self._empty_hint(), id="empty-hint")
            # A cluster of several members to break starts on the Cluster panel; `c` switches.
            many = self.members is not None and len(self.members) > 1
            with ContentSwitcher(id="side", initial="cluster-panel" if many else "queue-panel"):
                with Vertical(classes="panel", id="queue-panel") as panel:
                    panel.border_title = "Queue"
                    yield QueueTable(id="queue")
                with Vertical(classes="panel", id="cluster-panel") as panel:
                    panel.border_title = "Cluster"
                    yield ClusterTable(id="cluster")
            with Vertical(classes="panel", id="fleet-panel") as panel:
                panel.border_title = f"Our candidates  ({candidate_keys_hint()})"
                yield FleetTable(id="fleet")
            with Vertical(classes="panel", id="timeline-panel") as panel:
                panel.border_title = "Timeline"
                yield Timeline(id="timeline")
                yield Swimlanes(id="lanes")  # `w` shows who led when in the Timeline's place
        bar = Input(
            placeholder="filter: elections, queue, timeline, ours (enter keeps, escape clears)",
            id="filter-bar",
            compact=True,
        )
        bar.can_focus = False  # until / opens it: the tables get the focus first
        yield bar
        yield Footer(compact=True)

    @property
    def elections(self) -> ElectionsTable:
        return self.query_one(ElectionsTable)

    @property
    def queue(self) -> QueueTable:
        return self.query_one(QueueTable)

    @property
    def fleet_table(self) -> FleetTable:
        return self.query_one(FleetTable)

    @property
    def cluster_table(self) -> ClusterTable:
        return self.query_one(ClusterTable)

    @property
    def cluster_shown(self) -> bool:
        return self.query_one("#side", ContentSwitcher).current == "cluster-panel"

    @property
    def lanes(self) -> Swimlanes:
        return self.query_one(Swimlanes)

    @property
    def session(self) -> LiveSession:
        assert self.live is not None, "the session starts on mount"
        return self.live

    def _empty_hint(self) -> Text:
        where = f"under {display(self.prefix, 40)!s} " if self.prefix else ""
        text = Text(f"No elections {where}yet. ", style="bold")
        text.append("Press n to launch candidates (or start with --demo), ? for help.")
        if self.embedded:
            text.append("\nThis etcd is embedded and throwaway: it goes, with its data, when you quit.")
        else:
            text.append("\nAny client's election shows up here, e.g. `etcdctl elect NAME VALUE`.")
        return text

    def get_driver_class(self) -> type[Driver]:
        return sturdy_driver(super().get_driver_class())

    def on_resize(self, event: Resize) -> None:
        self.screen.set_class(event.size.width < NARROW, "narrow")

    async def on_mount(self) -> None:
        self.screen.set_class(self.size.width < NARROW, "narrow")
        for extra in OUR_THEMES:
            self.register_theme(extra)
        self.theme = self._asked_theme or remembered_theme() or DEFAULT_THEME
        self.watch(self, "theme", remember_theme, init=False)  # the palette's "Change theme" too
        self.watch(self.screen, "focused", self._focus_moved)
        self.client = EtcdClient(self.config)
        self.live = LiveSession(
            self.client, self.prefix, clock=self.clock, wall=self.wall, members=self.members
        )
        self.feed = self.live.follow()
        self.live.start()
        self._show_status()
        self.set_interval(FRAME, self._frame)
        self.set_interval(TICK, self._tick)
        self.run_worker(self._after_first_load(), group="actions")

    async def _after_first_load(self) -> None:
        await self.session.loaded.wait()
        # Tens of thousands of long-lived objects were just made: keep the garbage collector
        # from re-scanning them all in the middle of later frames.
        gc.freeze()
        if self.demo:
            self.session.launch_demo()

    # -- frames -----------------------------------------------------------------------------

    def _frame(self) -> None:
        """Render what changed since the last frame, once."""
        # Not while shutting down: the screens may be gone already (a direct `_shutdown`).
        if self.view_paused or self.live is None or self.feed is None or not self.is_running:
            return
        changes = self.feed.take()
        if not changes:
            return
        with self.batch_update():
            state = self.live.state
            if changes.reset or changes.elections:
                ttl = self.live.ttls(self.clock())
                self.elections.sync(state, None if changes.reset else changes.elections, ttl, self.wall())
                if self.selected is None:
                    self.selected = self.elections.selected_name()
            if (
                changes.reset
                or changes.fleet
                or (self.selected is not None and self.selected in changes.elections)
            ):
                self._show_queue()
            if changes.timeline:
                numbers = {c.key: c.id for c in self.live.fleet if c.key is not None}
                self.query_one(Timeline).add(changes.timeline, numbers)
            if changes.fleet or (changes.elections and self._ours_in(changes.elections)):
                self.fleet_table.sync(self.live.fleet, state)
            if (changes.reset or changes.cluster) and self.cluster_shown:
                self._show_cluster()
            self._show_counts()
            self._show_status()
            self.query_one("#empty-hint").display = self.elections.row_count == 0 and not len(self.live.fleet)

    def _tick(self) -> None:
        if self.view_paused or self.live is None or self.feed is None or not self.is_running:
            return
        ttl = self.live.ttls(self.clock())
        self.elections.tick(ttl, self.wall())
        queue = [] if self.cluster_shown else self.queue.leases()  # only what is on screen
        if queue:
            self.queue.tick(ttl)
        self.fleet_table.tick()
        self.feed.show_leases(self.elections.visible_leases() + queue)
        if self.lanes.display:  # "now" moves: a lane repaints when a cell of it changes
            self._show_lanes()

    def _show_queue(self) -> None:
        live = self.session
        view = live.state.election(self.selected) if self.selected is not None else None
        # Ours whatever their state: a lost candidate whose key etcd still holds is still ours.
        ours = {c.key: c for c in live.fleet if c.key is not None}
        self.queue.show(view, ours, live.ttls(self.clock()))
        self._show_counts()

    def _show_cluster(self) -> None:
        info = self.session.cluster
        self.cluster_table.sync(info)
        switch = f"{BY_NAME['cluster'].shown_key} queue"
        self.query_one("#cluster-panel").border_title = panel_title(info, switch, member_keys_hint())

    def _show_counts(self) -> None:
        """Panel titles say how many rows each has (and how many the filter hides)."""
        live = self.session

        def count(shown: int, total: int) -> str:
            return f"{shown}" if shown == total else f"{shown} of {total}"

        elections = self.elections.row_count
        self.query_one(
            "#elections-panel"
        ).border_title = f"Elections ({count(elections, live.state.election_count())})"
        # Text, not a str: a title string is markup, and an election's name is etcd's bytes.
        queue = Text(
            f"Queue · {display(self.selected, 40)} ({self.queue.row_count})" if self.selected else "Queue"
        )
        if self.members is not None:  # a cluster of ours to break: say where its panel is
            queue.append(f"  ({BY_NAME['cluster'].shown_key} cluster)")
        self.query_one("#queue-panel").border_title = queue
        self.query_one(
            "#fleet-panel"
        ).border_title = f"Our candidates ({count(self.fleet_table.row_count, len(live.fleet))})  ({candidate_keys_hint()})"
        panel = self.query_one("#timeline-panel")
        if self.lanes.display:
            panel.border_title, panel.border_subtitle = self._lanes_title(), self.lanes.legend()
            return
        panel.border_subtitle = None
        title = f"Timeline ({len(self.query_one(Timeline))})"
        history = live.cluster.history
        # How far back it reaches (dim lines: replayed); a fresh etcd's empty history says nothing.
        if history is not None and history.done and not (history.empty and history.stopped is None):
            title += f" · {history.text}"
        panel.border_title = title

    def _ours_in(self, elections: set[bytes]) -> bool:
        """Whether one of our candidates campaigns in one of `elections` (its row may show a new value)."""
        return any(c.name in elections for c in self.session.fleet)

    def _show_status(self) -> None:
        live = self.session
        self.query_one(StatusLine).show(
            live.cluster,
            paused=self.view_paused,
            filter_text=self.filter_text,
            ours=len(live.fleet),
            activity=self.activity,
        )

    @on(LineTable.Highlighted, "#elections")
    def _election_highlighted(self, event: LineTable.Highlighted) -> None:
        name = event.key if isinstance(event.key, bytes) else None
        if name != self.selected and self.is_running:
            self.selected = name
            if self.live is not None:
                self._show_queue()
                if self.lanes.display:
                    self._show_lanes()

    # -- actions ----------------------------------------------------------------------------

    def _focus_moved(self, focused: Widget | None) -> None:
        # Remembered, so an action from the palette (which takes the focus) acts on the same row.
        if focused is not None and focused.id in _TABLES:
            self._active_table = focused.id

    def target(self) -> Target | None:
        """The highlighted row of the table in use: the one rule every action follows."""
        live = self.session
        table = self._active_table
        if table == "fleet":
            cand = self.fleet_table.selected()
            return Target(cand.key, cand.value, cand) if cand is not None else None
        if table == "queue":
            key = self.queue.selected_key()
            found = live.state.candidate(key) if key is not None else None
        else:
            name = self.elections.selected_name()
            found = live.state.leader(name) if name is not None else None
        if found is None:
            return None
        return Target(found.key, found.value, live.fleet.by_key(found.key))

    def _ours(self, action: str) -> Candidate | None:
        """Our candidate that `action` acts on, or None after telling the user why not."""
        if self._active_table == "cluster":
            self.notify(NOT_CANDIDATES, severity="warning")
            return None
        target = self.target()
        reason = refusal(BY_NAME[action], target)
        if reason is not None:
            self.notify(reason, severity="warning")
            return None
        assert target is not None and target.ours is not None
        return target.ours

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notify, with markup off: our messages carry values and errors from etcd."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _act(self, action: Awaitable[object] | Callable[[], object], done: str = "") -> None:
        """Run an action against etcd; an error becomes a notification, never a crash."""

        async def run() -> None:
            try:
                if callable(action):
                    action()
                else:
                    await action
            except (EtcdError, CandidateError) as err:
                self.notify(str(err), title="Action failed", severity="error", timeout=8)
                return
            if done:
                self.notify(done, timeout=3)

        self.run_worker(run(), group="actions")

    def action_launch(self) -> None:
        default = display(self.selected, 200) if self.selected is not None else "demo/e1"

        def launched(request: LaunchRequest | None) -> None:
            if request is None:
                return
            try:
                cands = self.session.launch(
                    self.prefix + request.name.encode(), request.value, request.ttl, request.count
                )
            except (EtcdError, CandidateError) as err:
                self.notify(str(err), title="Launch failed", severity="error")
                return
            self.fleet_table.sync(self.session.fleet, self.session.state)
            self.fleet_table.select(cands[-1])
            self.notify(f"launched {len(cands)} candidate(s) on {request.name}", timeout=3)

        self.push_screen(LaunchScreen(default.removeprefix(display(self.prefix, 200))), launched)

    def action_proclaim(self) -> None:
        cand = self._ours("proclaim")
        if cand is None:
            return
        live = self.session

        def proclaim(value: str | None) -> None:
            if value is not None:
                self._act(live.proclaim(cand, value), f"#{cand.id} proclaimed")

        self.push_screen(ProclaimScreen(display(cand.value, 200)), proclaim)

    def action_resign(self) -> None:
        if (cand := self._ours("resign")) is not None:
            self._act(self.session.resign(cand), f"#{cand.id} resigned")

    def action_expire(self) -> None:
        if (cand := self._ours("expire")) is not None:
            live = self.session
            self._act(
                lambda: live.let_expire(cand), f"#{cand.id} stops renewing: its lease expires in ≈{cand.ttl}s"
            )

    def action_crash(self) -> None:
        if (cand := self._ours("crash")) is not None:
            self._act(self.session.crash(cand), f"#{cand.id} crashed: lease revoked")

    def action_pause_keepalive(self) -> None:
        if (cand := self._ours("pause_keepalive")) is not None:
            live = self.session
            verb = "resumed" if cand.paused else "paused (partition)"
            self._act(lambda: live.toggle_pause(cand), f"#{cand.id} keep-alive {verb}")

    def action_blackhole(self) -> None:
        if (cand := self._ours("blackhole")) is None:
            return
        if cand.link is None:  # said here, with the key to use instead
            self.notify(
                f"#{cand.id} cannot be cut off alone: {cand.no_link}. z pauses its keep-alive instead",
                severity="warning",
                timeout=8,
            )
            return
        done = (
            f"#{cand.id} healed: its connection passes bytes again and reconnects"
            if cand.cut
            else f"#{cand.id} cut off (network: blackhole): it gives its lease up within ≈{cand.ttl}s; b heals"
        )
        self._act(self.session.toggle_blackhole(cand), done)

    def action_rejoin(self) -> None:
        if (cand := self._ours("rejoin")) is not None:
            live = self.session
            self._act(lambda: live.rejoin(cand), f"#{cand.id} rejoins with a new lease")

    def action_remove(self) -> None:
        if (cand := self._ours("remove")) is not None:
            self._act(self.session.remove(cand), f"#{cand.id} removed")

    # -- etcd members (an embedded cluster's; the panel shows what their Status says) ---------

    def action_cluster(self) -> None:
        """Switch the Queue's place between the Queue and the Cluster panel."""
        side = self.query_one("#side", ContentSwitcher)
        if side.current == "cluster-panel":
            side.current = "queue-panel"
            if self._active_table == "cluster":
                self.elections.focus()
            self._show_queue()
        else:
            side.current = "cluster-panel"
            self._show_cluster()
            self.cluster_table.focus()

    def action_swimlanes(self) -> None:
        """Switch the Timeline's place between the Timeline and who led when (the swimlanes)."""
        lanes, timeline = self.lanes, self.query_one(Timeline)
        lanes.display = not lanes.display
        timeline.display = not lanes.display
        self.screen.set_class(lanes.display, "lanes")  # at 80x24 the lanes take more rows
        if timeline.has_focus:
            self.elections.focus()
        if lanes.display:
            self._show_lanes()
        self._show_counts()

    def _show_lanes(self) -> None:
        live = self.session
        numbers = {c.key: c.id for c in live.fleet if c.key is not None}
        self.lanes.show(live.terms, live.beliefs, self.wall(), selected=self.selected, numbers=numbers)

    def _lanes_title(self) -> str:
        shown = sum(not stale for _, stale in self.lanes.rows)
        key = BY_NAME["swimlanes"].shown_key
        return f"Who led when · last {span_text(self.lanes.span)} ({shown})  ({key} timeline)"

    def _member(self, action: str) -> MemberInfo | None:
        """The highlighted member of the Cluster table in use, or None after saying why not."""
        member = self.cluster_table.selected() if self.cluster_shown else None
        reason = member_refusal(
            BY_NAME[action], member, in_use=self._active_table == "cluster", shown=self.cluster_shown
        )
        if reason is not None:
            self.notify(reason, severity="warning")
            return None
        return member

    def _member_act(self, work: Awaitable[object], doing: str, done: str) -> None:
        """A member action on its thread: its progress and outcome as notifications."""

        async def run() -> None:
            self.notify(doing, timeout=3)
            try:
                await work
            except MemberError as err:
                self.notify(str(err), title="Member action failed", severity="error", timeout=8)
                return
            self.notify(done, timeout=4)

        self.run_worker(run(), group="members")

    def action_kill_member(self) -> None:
        if (member := self._member("kill_member")) is not None:
            name = display(member.name.encode(), 40)
            self._member_act(self.session.kill_member(member), f"killing {name}…", f"{name} killed (SIGKILL)")

    def action_pause_member(self) -> None:
        if (member := self._member("pause_member")) is not None:
            name = display(member.name.encode(), 40)
            verb = "resuming" if member.process == "paused" else "pausing"
            self._member_act(
                self.session.toggle_pause_member(member),
                f"{verb} {name}…",
                f"{name} {verb.removesuffix('ing')}d",
            )

    def action_restart_member(self) -> None:
        if (member := self._member("restart_member")) is not None:
            name = display(member.name.encode(), 40)
            self._member_act(
                self.session.restart_member(member),
                f"restarting {name}…",
                f"{name} restarted (the panel shows when it knows a raft leader)",
            )

    def action_filter(self) -> None:
        """k9s' `/`: a filter that applies as you type, to every panel."""
        bar = self.query_one("#filter-bar", Input)
        bar.display = bar.can_focus = True
        bar.value = self.filter_text
        bar.focus()

    @on(Input.Changed, "#filter-bar")
    def _filter_typed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#filter-bar")
    def _filter_kept(self) -> None:
        self._close_filter_bar()

    def _close_filter_bar(self) -> None:
        bar = self.query_one("#filter-bar", Input)
        bar.display = bar.can_focus = False  # hidden, it must never take the focus (or keys)
        self.elections.focus()

    def _apply_filter(self, text: str) -> None:
        if self.live is None or text == self.filter_text:
            return
        self.filter_text = text
        self.elections.filter_text = self.queue.filter_text = self.fleet_table.filter_text = text
        self.query_one(Timeline).set_filter(text)
        self.lanes.filter_text = text
        if self.lanes.display:
            self._show_lanes()
        state, ttl = self.live.state, self.live.ttls(self.clock())
        self.elections.sync(state, None, ttl, self.wall())
        self._show_queue()
        self.fleet_table.sync(self.live.fleet, state)
        self._show_counts()
        self._show_status()

    def key_escape(self) -> None:
        bar = self.query_one("#filter-bar", Input)
        if bar.display:  # escape in the filter bar clears it
            bar.value = ""
            self._apply_filter("")
            self._close_filter_bar()

    def action_sort(self) -> None:
        """Sort Elections by the next column (a click on a header sorts by that one)."""
        columns = list(SORTABLE)
        current = self.elections.sort[0]
        self._sort(columns[(columns.index(current) + 1) % len(columns)])

    @on(LineTable.HeaderClicked, "#elections")
    def _header_clicked(self, event: LineTable.HeaderClicked) -> None:
        self._sort(event.column)

    def _sort(self, column: str) -> None:
        if self.live is None:
            return
        self.elections.sort_by(column)
        self.elections.sync(self.live.state, None, self.live.ttls(self.clock()), self.wall())
        by, descending = self.elections.sort
        self.notify(f"elections sorted by {by}{' (descending)' if descending else ''}", timeout=2)

    def action_pause_view(self) -> None:
        self.view_paused = not self.view_paused
        self._show_status()

    def action_drill(self) -> None:
        from ..drill import shipped_scenarios

        def chosen(request: DrillRequest | None) -> None:
            if request is not None:
                self.pace = request.pace  # the next drill offers the same pace
                self.run_worker(self._run_drill(request), group="drill", exclusive=True)

        self.push_screen(DrillScreen(shipped_scenarios(), self.pace), chosen)

    def _say(self, activity: str) -> None:
        self.activity = activity
        if self.live is not None:
            self._show_status()

    async def _run_drill(self, request: DrillRequest) -> None:
        from ..drill import ScenarioError, format_text, load_scenario, run_drill, to_json

        name = request.scenario
        try:
            scenario = load_scenario(name if not name.endswith(".toml") else Path(name))
        except (ScenarioError, OSError) as err:
            self.notify(str(err), title="Bad drill file", severity="error")
            return
        assert self.client is not None
        step = "starting"

        def progress(line: str) -> None:
            # The step stays on screen while its events pass, so the room sees where the drill is.
            nonlocal step
            if line.startswith("step "):
                step, event = line, ""
            else:
                event = line.strip()
            self._say(f"drill {scenario.name}: {step}" + (f" · {event}" if event else ""))

        progress(step)
        try:
            report = await run_drill(
                self.client,
                scenario,
                on_progress=progress,
                on_removal=self.session.state.expect_removal,  # the timeline says why keys went
                on_transition=self.session.candidate_changed,  # the swimlanes its stale beliefs
                election_prefix=self.prefix,
                pace=request.pace,
                members=self.members,
            )
        except ScenarioError as err:  # e.g. a member drill on an attached cluster: refused at once
            self.notify(str(err), title="Drill refused", severity="error", timeout=10)
            return
        except EtcdError as err:
            self.notify(str(err), title="Drill failed", severity="error")
            return
        finally:
            self._say("")
        width = max(40, min(100, self.size.width - 10))  # the report dialog's inside, whole lines
        stem = f"drill-{scenario.name}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(self.wall()))}"
        files = {
            f"{stem}.txt": format_text(report) + "\n",
            f"{stem}.json": json.dumps(to_json(report), indent=2),
        }
        await self.push_screen(
            ReportScreen(
                f"Drill report · {scenario.name}",
                format_text(report, width=width),
                files,
                picture=DrillChart(report, id="drill-chart"),
            )
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        await self.quit_session(0)

    async def quit_session(self, code: int) -> None:
        """Revoke our leases, then exit with `code` (0 asked for; 129 the terminal went away)."""
        await self.shutdown_session()
        self.exit(code, return_code=code)

    async def on_terminal_lost(self, message: TerminalLost) -> None:
        self.log.warning(f"quitting: {message.why}")
        await self.quit_session(_exits.HANGUP_EXIT)

    async def shutdown_session(self) -> None:
        """Revoke every lease we created, then close the client (idempotent, bounded in time)."""
        if self._session_closed:
            return
        self._session_closed = True
        if self.feed is not None:
            self.feed.close()
        if self.live is not None:
            if len(self.live.fleet):
                self.notify(f"revoking {len(self.live.fleet.lease_ids())} lease(s)…", timeout=2)
            try:
                await asyncio.wait_for(self.live.close(), REVOKE_BUDGET)
            except (TimeoutError, EtcdError) as err:
                self.log.error(f"leases may remain until their TTL: {err!r}")
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.aclose(), CLOSE_BUDGET)
            except TimeoutError:
                self.log.error("the etcd client did not close in time")

    def revoke_left_now(self) -> None:
        """The watchdog's last resort, on its own thread: revoke our leases over a new connection.

        Only when the orderly revoke never started (the loop was stuck before it); if it ran, it
        had its bounded chance, and an etcd that did not answer then will not answer now.
        """
        if self._session_closed or self.live is None:
            return
        try:
            lease_ids = sorted(self.live.fleet.lease_ids())
        except RuntimeError:  # changed under our feet: the loop is alive and quitting after all
            return
        if lease_ids:
            asyncio.run(_revoke(self.config, lease_ids, LAST_RESORT_REVOKE))

    async def on_unmount(self) -> None:
        await self.shutdown_session()

    # -- command palette --------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            yield SystemCommand(
                action.title, f"{action.help} ({action.shown_key})", getattr(self, f"action_{action.name}")
            )


async def _revoke(config: ClientConfig, lease_ids: list[int], budget: float) -> None:
    client = EtcdClient(config)
    try:
        async with asyncio.timeout(budget):
            await asyncio.gather(*(client.lease_revoke(i) for i in lease_ids), return_exceptions=True)
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(budget):
                await client.aclose()


def run_dashboard(
    config: ClientConfig,
    *,
    prefix: str = "",
    demo: bool = False,
    embedded: bool = False,
    pace: float = 0.0,
    theme: str | None = None,
    members: MemberControl | None = None,
) -> int:
    """Run the app as this process's main; every way out revokes our leases first.

    q and Ctrl+C exit 0, and so do SIGTERM and SIGINT; SIGHUP or a terminal that went away exits
    129. A way out that gets stuck ends the process anyway (`_exits`: 128 + the signal's number).
    """
    app = ElectionApp(
        config, prefix=prefix.encode(), demo=demo, embedded=embedded, pace=pace, theme=theme, members=members
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:  # in signal context: hand over to the loop, no more
            code = _exits.HANGUP_EXIT if signum == signal.SIGHUP else 0
            loop.call_soon_threadsafe(app.call_later, app.quit_session, code)

        with _exits.quit_signals(on_signal), _exits.last_resort(app.revoke_left_now):
            try:
                await app.run_async()
            finally:
                await app.shutdown_session()  # also when Textual ended the app by itself
        return app.return_code or 0

    return asyncio.run(main())
