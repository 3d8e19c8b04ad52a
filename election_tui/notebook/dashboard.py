"""The scripting API: `dash = await notebook.start()` on the kernel's own loop, and its handles.

Everything runs on the loop the kernel already has (top-level `await` in cells); nothing here
calls `asyncio.run`. Actions go through the `LiveSession`, like the TUI's, so the timeline says
why a key went; their effects reach every widget through the watch.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..drill import DrillReport, ScenarioError, load_scenario, run_drill
from ..embedded import EmbeddedEtcd
from ..etcd import (
    BlockingEtcdClient,
    BytesLike,
    ClientConfig,
    EtcdClient,
    EtcdError,
    InvalidArgument,
    election_name,
    to_bytes,
    validate_ttl,
)
from ..live import FIELD_LABELS, LAUNCH_CHECKS, MAX_COUNT, MAX_VALUE_BYTES, LaunchRequest, LiveSession
from ..live import parse_launch as parse_checked
from ..model import ElectionView, display
from ..sim import Candidate as SimCandidate
from ..sim import CandidateError, State
from .html import DrillResult, ElectionList, candidate_html

LOAD_TIMEOUT = 30.0  # the first read of the prefix

_current: Dashboard | None = None


class Candidate:
    """One of our simulated candidates, as a script holds it.

    Every action goes through the dashboard's live session (so the timeline says *why* the key
    went) and on to etcd; `state` is the candidate's own belief, `leads` what etcd's watch says.
    """

    def __init__(self, dash: Dashboard, sim: SimCandidate) -> None:
        self._dash = dash
        self.sim = sim

    # -- what it is -------------------------------------------------------------------------

    @property
    def id(self) -> int:
        return self.sim.id

    @property
    def name(self) -> bytes:
        """The full election name (the dashboard's prefix included)."""
        return self.sim.name

    @property
    def value(self) -> bytes:
        return self.sim.value

    @property
    def state(self) -> State:
        return self.sim.state

    @property
    def lease(self) -> int:
        return self.sim.lease_id

    @property
    def key(self) -> bytes | None:
        return self.sim.key

    @property
    def paused(self) -> bool:
        return self.sim.paused

    @property
    def cut(self) -> bool:
        """Its own connection is black-holed (`blackhole()`), until `heal()`."""
        return self.sim.cut

    @property
    def leads(self) -> bool:
        """Whether etcd's leader of this election (as the watch shows it) is this candidate's key."""
        leader = self._dash.session.state.leader(self.sim.name)
        return leader is not None and leader.key == self.sim.key

    def __repr__(self) -> str:
        lease = f" lease={self.lease:x}" if self.lease else ""
        paused = " paused" if self.paused else " cut off" if self.cut else ""
        return (
            f"<Candidate #{self.id} {display(self.name, 40)!r} value={display(self.value, 24)!r} "
            f"{self.state.value}{paused}{lease}>"
        )

    def _repr_html_(self) -> str:
        return candidate_html(self.sim, leads=self.leads)

    # -- actions ----------------------------------------------------------------------------

    async def resign(self) -> None:
        """Resign (or withdraw from the queue), then revoke the lease: the next one leads at once."""
        await self._dash.session.resign(self.sim)

    def let_expire(self) -> None:
        """Stop renewing: the key dies with the lease after the TTL (etcd notices, not us)."""
        self._dash.session.let_expire(self.sim)

    async def crash(self) -> None:
        """The lease is revoked at once, no resign: like a supervisor reaping a dead process."""
        await self._dash.session.crash(self.sim)

    def pause(self) -> None:
        """The simulator's partition: keep-alives stop; the leader goes stale, learns it lost later."""
        if self.sim.paused:
            raise CandidateError(f"candidate #{self.id} is already paused")
        self._dash.session.toggle_pause(self.sim)

    def resume(self) -> None:
        """Heal the partition: renew again, or learn the lease is gone."""
        if not self.sim.paused:
            raise CandidateError(f"candidate #{self.id} is not paused")
        self._dash.session.toggle_pause(self.sim)

    async def blackhole(self) -> None:
        """A real partition: its own connection to etcd drops every byte, both ways.

        Unlike `pause()`, nothing inside the candidate is told: its client hears no answer, gives
        the lease up one TTL after the last renewal etcd answered (no later than etcd expires it),
        so a leader goes from leader straight to lost, and the next one leads. Raises
        CandidateError for a candidate without a link of its own (the message says why).
        """
        if self.sim.cut:
            raise CandidateError(f"candidate #{self.id} is already cut off")
        await self._dash.session.toggle_blackhole(self.sim)

    async def heal(self) -> None:
        """End the network partition: its client reconnects; a lease that survived is renewed again."""
        if not self.sim.cut:
            raise CandidateError(f"candidate #{self.id} is not cut off")
        await self._dash.session.toggle_blackhole(self.sim)

    def rejoin(self) -> None:
        """A candidate that left campaigns again with a new lease."""
        self._dash.session.rejoin(self.sim)

    async def proclaim(self, value: BytesLike) -> None:
        await self._dash.session.proclaim(self.sim, value)

    async def remove(self) -> None:
        """Forget the candidate, revoking its lease."""
        await self._dash.session.remove(self.sim)

    async def wait_for(self, *states: State | str, timeout: float = 10.0) -> State:
        """Wait (bounded) until the candidate is in one of `states` (names or `State`s)."""
        wanted = tuple(State(s) if isinstance(s, str) else s for s in states)
        return await self.sim.wait_for(*wanted, timeout=timeout)


class Dashboard:
    """A live session on one cluster, the widgets that follow it, and our candidates.

    Display it (`dash` alone in a cell) to get a live widget; each display is a widget with a
    feed of its own. `await dash.close()` revokes every lease it created and stops its etcd.
    """

    def __init__(self, client: EtcdClient, session: LiveSession, *, etcd: EmbeddedEtcd | None = None) -> None:
        self.client = client
        self.session = session
        self.etcd = etcd
        self.prefix = session.prefix
        self.closed = False
        self._handles: dict[int, Candidate] = {}
        self._widgets: list[Any] = []  # DashboardWidget; Any keeps anywidget out of this module's types
        self._changed = asyncio.Event()
        session.fleet.subscribe(lambda _c, _t: self._poke())

    def _poke(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- candidates -------------------------------------------------------------------------

    def _handle(self, sim: SimCandidate) -> Candidate:
        handle = self._handles.get(sim.id)
        if handle is None:
            handle = self._handles[sim.id] = Candidate(self, sim)
        return handle

    def full_name(self, name: BytesLike) -> bytes:
        """`name` inside the dashboard's prefix (what the widget and the TUI show)."""
        return self.prefix + election_name(name)

    def launch(self, name: BytesLike, value: BytesLike, ttl: int = 5, count: int = 1) -> list[Candidate]:
        """Start `count` simulated candidates in election `name` (values `value-1`… when several)."""
        self._require_open()
        check_launch(name, value, ttl, count)
        return [self._handle(c) for c in self.session.launch(self.full_name(name), value, ttl, count)]

    def candidates(self, name: BytesLike | None = None) -> list[Candidate]:
        """Our candidates, all or those of election `name`, in launch order."""
        full = self.full_name(name) if name is not None else None
        return [self._handle(c) for c in self.session.fleet if full is None or c.name == full]

    def candidate(self, candidate_id: int) -> Candidate:
        sim = self.session.fleet.get(candidate_id)
        if sim is None:
            raise KeyError(f"no candidate #{candidate_id} (removed, or not ours)")
        return self._handle(sim)

    def _our_leader(self, full: bytes, other_than: Candidate | None) -> Candidate | None:
        kv = self.session.state.leader(full)
        if kv is None:
            return None
        sim = self.session.fleet.by_key(kv.key)
        if sim is None or sim.state is not State.LEADER:
            return None
        if other_than is not None and sim is other_than.sim:
            return None
        return self._handle(sim)

    async def wait_leader(
        self, name: BytesLike, timeout: float = 10.0, *, other_than: Candidate | None = None
    ) -> Candidate:
        """Our candidate that leads `name`, once etcd's watch and the candidate itself agree.

        `other_than`: wait for a new leader, not this one (after a failure you just caused).
        """
        full = self.full_name(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := self._our_leader(full, other_than)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                kv = self.session.state.leader(full)
                who = f"etcd's leader is {display(kv.value, 40)!r} (not ours)" if kv else "no leader"
                raise TimeoutError(
                    f"none of our candidates leads {display(full, 60)!r} after {timeout} s: {who}"
                )
            changed = self._changed
            # A transition wakes us at once; the watch side is re-checked every 50 ms.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))
        return found

    # -- what etcd says ---------------------------------------------------------------------

    def elections(self) -> ElectionList:
        """Every election under the prefix now, as the watch shows it (displays as a table)."""
        state = self.session.state
        views: list[ElectionView] = [v for n in state.names() if (v := state.election(n)) is not None]
        return ElectionList(views)

    async def drill(
        self, scenario: str | Path = "crash", *, on_progress: Callable[[str], None] | None = None
    ) -> DrillResult:
        """Run a shipped drill (resign, expiry, crash, partition, network-partition…) or a .toml file."""
        self._require_open()
        loaded = load_scenario(Path(scenario) if str(scenario).endswith(".toml") else str(scenario))
        report: DrillReport = await run_drill(
            self.client,
            loaded,
            on_progress=on_progress,
            on_removal=self.session.state.expect_removal,
            on_transition=self.session.candidate_changed,
            election_prefix=self.prefix,
        )
        return DrillResult(report)

    # -- views ------------------------------------------------------------------------------

    def widget(self) -> Any:
        """A new live widget with a feed of its own (what displaying `dash` shows)."""
        from .widget import DashboardWidget

        self._require_open()
        made = DashboardWidget(self)
        self._widgets.append(made)
        return made

    def _forget(self, widget: Any) -> None:
        with contextlib.suppress(ValueError):
            self._widgets.remove(widget)

    @property
    def widgets(self) -> list[Any]:
        return list(self._widgets)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.closed:
            return {"text/plain": repr(self)}
        return self.widget()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        where = "embedded etcd" if self.etcd is not None else str(self.client.endpoint)
        state = "closed" if self.closed else f"{len(self.session.state.names())} election(s)"
        return (
            f"<Dashboard {where} prefix={display(self.prefix, 40)!r} {state}, {len(self.session.fleet)} ours>"
        )

    # -- the message path from the page (the same one the widget's buttons use) --------------

    async def perform(self, message: dict[str, Any]) -> str:
        """Carry out one action message as the widget's buttons send it; the notice to show.

        Raises `ActionError` with a message for the user when the action cannot be done.
        """
        action = message.get("action")
        if action == "launch":
            name, value, ttl, count = parse_launch(message)
            cands = self.launch(name, value, ttl, count)
            return f"launched {len(cands)} candidate(s) on {display(self.full_name(name), 60)}"
        raw_id = message.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int):
            raise ActionError(f"{action!r} needs a candidate id, not {raw_id!r}")
        try:
            cand = self.candidate(raw_id)
        except KeyError as err:
            raise ActionError(str(err.args[0])) from None
        try:
            if action == "resign":
                await cand.resign()
                return f"#{cand.id} resigned"
            if action == "expire":
                cand.let_expire()
                return f"#{cand.id} stops renewing: its lease expires in ≈{cand.sim.ttl} s"
            if action == "crash":
                await cand.crash()
                return f"#{cand.id} crashed: lease revoked"
            if action == "pause":
                cand.pause()
                return f"#{cand.id} keep-alive paused (partition)"
            if action == "resume":
                cand.resume()
                return f"#{cand.id} keep-alive resumed"
            if action == "blackhole":
                await cand.blackhole()
                return f"#{cand.id} cut off (network: blackhole)"
            if action == "heal":
                await cand.heal()
                return f"#{cand.id} healed: its connection reconnects"
            if action == "rejoin":
                cand.rejoin()
                return f"#{cand.id} rejoins with a new lease"
            if action == "remove":
                await cand.remove()
                return f"#{cand.id} removed"
        except (CandidateError, EtcdError) as err:
            raise ActionError(str(err)) from None
        raise ActionError(f"unknown action {action!r}")

    # -- lifetime ---------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self.closed:
            raise RuntimeError("this dashboard is closed: run `dash = await notebook.start()` again")

    async def close(self) -> None:
        """Stop the widgets, revoke every lease we created, close the client, stop our etcd."""
        global _current
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self._at_exit)
        if _current is self:
            _current = None
        for widget in list(self._widgets):
            await widget.aclose()
        try:
            await asyncio.wait_for(self.session.close(), 10)
        finally:
            await self.client.aclose()
            if self.etcd is not None:
                await asyncio.to_thread(self.etcd.stop)

    def _at_exit(self) -> None:
        """The kernel is going without `close()`: revoke our leases from a loop of our own.

        An embedded etcd needs nothing: its own atexit stop removes it whole, leases and data.
        """
        if self.closed or self.etcd is not None:
            return
        leases = self.session.fleet.lease_ids()
        if not leases:
            return
        with contextlib.suppress(Exception), BlockingEtcdClient(self.client.config) as blocking:
            for lease in leases:
                with contextlib.suppress(EtcdError):
                    blocking.lease_revoke(lease)


class ActionError(Exception):
    """An action the page asked for could not be done; the message says why, for the user."""


def check_launch(name: BytesLike, value: BytesLike, ttl: object, count: object) -> None:
    """Refuse what etcd or the fleet would refuse, with the form's words."""
    try:
        election_name(name)
        if len(to_bytes(value)) > MAX_VALUE_BYTES:
            raise InvalidArgument("the value is over etcd's 1.5 MiB request limit")
        validate_ttl(ttl)
    except InvalidArgument as err:
        raise ActionError(str(err)) from None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ActionError(f"how many: a whole number from 1 to {MAX_COUNT}, not {count!r}")


def parse_launch(message: dict[str, Any]) -> tuple[str, str, int, int]:
    """The launch form's fields (strings from the page), by the rules every view shares."""
    fields = {field: message.get(field, "") for field in LAUNCH_CHECKS}
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in fields.values()):
        raise ActionError("the launch form's fields must be text")
    parsed = parse_checked({k: str(v) for k, v in fields.items()})
    if not isinstance(parsed, LaunchRequest):
        raise ActionError("; ".join(f"{FIELD_LABELS[field]}: {problem}" for field, problem in parsed.items()))
    return parsed.name, parsed.value, parsed.ttl, parsed.count


async def start(
    endpoints: ClientConfig | Sequence[str] | str | None = None,
    prefix: str = "",
    demo: bool = False,
    members: int = 1,
) -> Dashboard:
    """Open a live dashboard on `endpoints`, or on a throwaway embedded etcd when None.

    Closes the dashboard a previous `start()` opened first (re-running the setup cell leaves no
    second etcd behind). `demo` launches a few candidates on three elections.
    """
    global _current
    if _current is not None:
        await _current.close()
    etcd: EmbeddedEtcd | None = None
    if endpoints is None:
        etcd = EmbeddedEtcd(members)
        await asyncio.to_thread(etcd.start)
        endpoints = etcd.endpoints
    try:
        client = EtcdClient(endpoints)
    except BaseException:
        if etcd is not None:
            await asyncio.to_thread(etcd.stop)
        raise
    session = LiveSession(client, prefix.encode())
    session.start()
    dash = Dashboard(client, session, etcd=etcd)
    try:
        async with asyncio.timeout(LOAD_TIMEOUT):
            await session.loaded.wait()
    except TimeoutError:
        error = session.error or session.cluster.error
        await dash.close()
        raise TimeoutError(
            f"no answer from etcd within {LOAD_TIMEOUT:.0f} s: {error or 'connecting'}"
        ) from None
    except BaseException:
        await dash.close()
        raise
    atexit.register(dash._at_exit)
    _current = dash
    if demo:
        for sim in session.launch_demo():
            dash._handle(sim)
    return dash


def current() -> Dashboard | None:
    """The dashboard the last `start()` opened, if still open."""
    return _current


__all__ = [
    "ActionError",
    "Candidate",
    "Dashboard",
    "ScenarioError",
    "check_launch",
    "current",
    "parse_launch",
    "start",
]
