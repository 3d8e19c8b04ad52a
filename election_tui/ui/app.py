"""The Textual dashboard: renders the live session once per frame; actions go to etcd."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.driver import Driver
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer

from .. import _exits
from ..config import ConnectionConfig
from ..dashboard import Dashboard
from ..etcd import EtcdClient, EtcdError
from ..model import display
from ..sim import Candidate, CandidateError
from .drivers import TerminalLost, sturdy_driver
from .elections import ElectionsTable
from .fleet_panel import FleetTable
from .linetable import LineTable
from .modals import DrillScreen, FilterScreen, LaunchRequest, LaunchScreen, ProclaimScreen, ReportScreen
from .queue import QueueTable
from .status import StatusLine
from .timeline import Timeline

FRAME = 1 / 20  # redraw at most 20 times a second, however many events arrive
TICK = 0.25  # countdowns
NARROW = 120
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
        Binding("n", "launch", "Launch"),
        Binding("p", "proclaim", "Proclaim"),
        Binding("r", "resign", "Resign"),
        Binding("e", "expire", "Expire"),
        Binding("x", "crash", "Crash"),
        Binding("z", "pause_keepalive", "Pause"),
        Binding("j", "rejoin", "Rejoin", show=False),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "filter", "Filter", show=False),
        Binding("space", "pause_view", "Freeze", show=False),
        Binding("d", "drill", "Drill"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        prefix: bytes = b"",
        demo: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config = config
        self.prefix = prefix
        self.demo = demo
        self.clock = clock
        self.wall = wall
        self.client: EtcdClient | None = None
        self.dash: Dashboard | None = None
        self.view_paused = False
        self.filter_text = ""
        self.selected: bytes | None = None
        self._session_closed = False

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Container(id="main"):
            with Vertical(classes="panel", id="elections-panel") as panel:
                panel.border_title = "Elections"
                yield ElectionsTable(id="elections")
            with Vertical(classes="panel", id="queue-panel") as panel:
                panel.border_title = "Queue"
                yield QueueTable(id="queue")
            with Vertical(classes="panel", id="fleet-panel") as panel:
                panel.border_title = "Our candidates  (n launch · r resign · e expire · x crash · z pause)"
                yield FleetTable(id="fleet")
            with Vertical(classes="panel", id="timeline-panel") as panel:
                panel.border_title = "Timeline"
                yield Timeline(id="timeline")
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
    def session(self) -> Dashboard:
        assert self.dash is not None, "the session starts on mount"
        return self.dash

    def get_driver_class(self) -> type[Driver]:
        return sturdy_driver(super().get_driver_class())

    def on_resize(self, event: Resize) -> None:
        self.screen.set_class(event.size.width < NARROW, "narrow")

    async def on_mount(self) -> None:
        self.screen.set_class(self.size.width < NARROW, "narrow")
        self.client = self.config.client()
        self.dash = Dashboard(self.client, self.prefix, clock=self.clock, wall=self.wall)
        self.dash.start()
        self._show_status()
        self.set_interval(FRAME, self._frame)
        self.set_interval(TICK, self._tick)
        if self.demo:
            self.run_worker(self._launch_demo(), group="actions")

    async def _launch_demo(self) -> None:
        await self.session.loaded.wait()
        self.session.launch_demo()

    # -- frames -----------------------------------------------------------------------------

    def _frame(self) -> None:
        """Render what changed since the last frame, once."""
        # Not while shutting down: the screens may be gone already (a direct `_shutdown`).
        if self.view_paused or self.dash is None or not self.is_running:
            return
        changes = self.dash.take_changes()
        if not changes:
            return
        with self.batch_update():
            state = self.dash.state
            if changes.reset or changes.elections:
                self.elections.sync(state, None if changes.reset else changes.elections)
                if self.selected is None:
                    self.selected = self.elections.selected_name()
            if (
                changes.reset
                or changes.fleet
                or (self.selected is not None and self.selected in changes.elections)
            ):
                self._show_queue()
            if changes.timeline:
                self.query_one(Timeline).add(changes.timeline)
            if changes.fleet:
                self.fleet_table.sync(self.dash.fleet)
            self._show_status()
        if changes.reset:
            # Tens of thousands of long-lived objects were just made: keep the garbage
            # collector from re-scanning them all in the middle of later frames.
            gc.freeze()

    def _tick(self) -> None:
        if self.view_paused or self.dash is None or not self.is_running:
            return
        now, wall = self.clock(), self.wall()
        dash = self.dash
        self.elections.tick(dash.leases, dash.granted, now, wall)
        self.queue.tick(dash.leases, dash.granted, now)
        self.fleet_table.tick()
        dash.visible_leases = self.elections.visible_leases() + self.queue.leases()

    def _show_queue(self) -> None:
        dash = self.session
        view = dash.state.election(self.selected) if self.selected is not None else None
        ours = {c.key: c for c in dash.fleet if c.key is not None and not c.state.terminal}
        self.queue.show(view, ours)
        panel = self.query_one("#queue-panel")
        panel.border_title = f"Queue · {display(self.selected, 40)}" if self.selected else "Queue"

    def _show_status(self) -> None:
        dash = self.session
        self.query_one(StatusLine).show(
            dash.cluster, paused=self.view_paused, filter_text=self.filter_text, ours=len(dash.fleet)
        )

    @on(LineTable.Highlighted, "#elections")
    def _election_highlighted(self, event: LineTable.Highlighted) -> None:
        name = event.key if isinstance(event.key, bytes) else None
        if name != self.selected and self.is_running:
            self.selected = name
            if self.dash is not None:
                self._show_queue()

    # -- actions ----------------------------------------------------------------------------

    def _target(self) -> Candidate | None:
        """The candidate an action is for: the highlighted row of ours, queue or fleet panel."""
        dash = self.session
        if self.queue.has_focus and (key := self.queue.selected_key()) is not None:
            for cand in dash.fleet:
                if cand.key == key:
                    return cand
        selected = self.fleet_table.selected()
        if selected is None:
            self.notify("No simulated candidate selected: launch one with n", severity="warning")
        return selected

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
            self.fleet_table.sync(self.session.fleet)
            self.fleet_table.select(cands[-1])
            self.notify(f"launched {len(cands)} candidate(s) on {request.name}", timeout=3)

        self.push_screen(LaunchScreen(default.removeprefix(display(self.prefix, 200))), launched)

    def action_proclaim(self) -> None:
        cand = self._target()
        if cand is None:
            return

        def proclaim(value: str | None) -> None:
            if value is not None:
                self._act(cand.proclaim(value), f"#{cand.id} proclaimed")

        self.push_screen(ProclaimScreen(display(cand.value, 200)), proclaim)

    def action_resign(self) -> None:
        if (cand := self._target()) is not None:
            self._act(self.session.resign(cand), f"#{cand.id} resigned")

    def action_expire(self) -> None:
        if (cand := self._target()) is not None:
            dash = self.session
            self._act(
                lambda: dash.let_expire(cand), f"#{cand.id} stops renewing: its lease expires in ≈{cand.ttl}s"
            )

    def action_crash(self) -> None:
        if (cand := self._target()) is not None:
            self._act(self.session.crash(cand), f"#{cand.id} crashed: lease revoked")

    def action_pause_keepalive(self) -> None:
        if (cand := self._target()) is not None:
            dash = self.session
            verb = "resumed" if cand.paused else "paused (partition)"
            self._act(lambda: dash.toggle_pause(cand), f"#{cand.id} keep-alive {verb}")

    def action_rejoin(self) -> None:
        if (cand := self._target()) is not None:
            self._act(cand.rejoin, f"#{cand.id} rejoins with a new lease")

    def action_remove(self) -> None:
        if (cand := self._target()) is not None:
            self._act(self.session.remove(cand), f"#{cand.id} removed")

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is None or self.dash is None:
                return
            self.filter_text = text
            self.elections.filter_text = text
            self.elections.sync(self.dash.state, None)
            self._show_status()

        self.push_screen(FilterScreen(self.filter_text), apply)

    def action_pause_view(self) -> None:
        self.view_paused = not self.view_paused
        self._show_status()

    def action_drill(self) -> None:
        from ..drill import shipped_scenarios

        def chosen(name: str | None) -> None:
            if name:
                self.run_worker(self._run_drill(name), group="drill", exclusive=True)

        self.push_screen(DrillScreen(shipped_scenarios()), chosen)

    async def _run_drill(self, name: str) -> None:
        from ..drill import ScenarioError, format_text, load_scenario, run_drill

        try:
            scenario = load_scenario(name if not name.endswith(".toml") else Path(name))
        except (ScenarioError, OSError) as err:
            self.notify(str(err), title="Bad drill file", severity="error")
            return
        self.notify(f"drill {scenario.name!r} running…", timeout=4)
        assert self.client is not None
        try:
            report = await run_drill(
                self.client,
                scenario,
                on_progress=lambda line: self.log(line),
                on_removal=self.session.state.expect_removal,  # the timeline says why keys went
                election_prefix=self.prefix,
            )
        except EtcdError as err:
            self.notify(str(err), title="Drill failed", severity="error")
            return
        await self.push_screen(ReportScreen(f"Drill report · {scenario.name}", format_text(report)))

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
        if self.dash is not None:
            if len(self.dash.fleet):
                self.notify(f"revoking {len(self.dash.fleet.lease_ids())} lease(s)…", timeout=2)
            try:
                await asyncio.wait_for(self.dash.close(), REVOKE_BUDGET)
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
        if self._session_closed or self.dash is None:
            return
        try:
            lease_ids = sorted(self.dash.fleet.lease_ids())
        except RuntimeError:  # changed under our feet: the loop is alive and quitting after all
            return
        if lease_ids:
            asyncio.run(_revoke(self.config, lease_ids, LAST_RESORT_REVOKE))

    async def on_unmount(self) -> None:
        await self.shutdown_session()

    # -- command palette --------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help, action in (
            ("Launch candidates", "Start one or more simulated candidates (n)", self.action_launch),
            ("Proclaim", "Publish a new value as the selected leader (p)", self.action_proclaim),
            ("Resign", "The selected candidate resigns and revokes its lease (r)", self.action_resign),
            ("Let lease expire", "Stop renewing: the key dies with the lease (e)", self.action_expire),
            ("Crash (revoke lease)", "The lease goes at once, no resign (x)", self.action_crash),
            (
                "Pause / resume keep-alive",
                "Simulate a partition of the selected candidate (z)",
                self.action_pause_keepalive,
            ),
            ("Rejoin", "A departed candidate campaigns again with a new lease (j)", self.action_rejoin),
            (
                "Remove candidate",
                "Forget the selected candidate, revoking its lease (delete)",
                self.action_remove,
            ),
            ("Filter elections", "Show only elections whose name contains a text (/)", self.action_filter),
            ("Freeze / unfreeze view", "Stop redrawing to read the screen (space)", self.action_pause_view),
            ("Run a drill", "Run a failover drill and show its report (d)", self.action_drill),
        ):
            yield SystemCommand(title, help, action)


async def _revoke(config: ConnectionConfig, lease_ids: list[int], budget: float) -> None:
    client = config.client()
    try:
        async with asyncio.timeout(budget):
            await asyncio.gather(*(client.lease_revoke(i) for i in lease_ids), return_exceptions=True)
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(budget):
                await client.aclose()


def run_dashboard(config: ConnectionConfig, *, prefix: str = "", demo: bool = False) -> int:
    """Run the app as this process's main; every way out revokes our leases first.

    q and Ctrl+C exit 0, and so do SIGTERM and SIGINT; SIGHUP or a terminal that went away exits
    129. A way out that gets stuck ends the process anyway (`_exits`: 128 + the signal's number).
    """
    app = ElectionApp(config, prefix=prefix.encode(), demo=demo)

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
