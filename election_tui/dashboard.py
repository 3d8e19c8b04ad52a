"""The dashboard's live session, without Textual: watch -> model, lease TTLs, cluster status, fleet.

Data flows one way. The watch feeds the pure `ElectionState`; the UI takes what changed once per
frame (`take_changes`) and renders it. User actions go to etcd through the fleet; their effects
come back through the watch like any other client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from .etcd import (
    EtcdClient,
    EtcdError,
    WatchCompacted,
    WatchDisconnected,
    WatchEvents,
    WatchProgress,
    WatchResumed,
)
from .etcd.client import to_bytes
from .model import ElectionState, LeaseClock, TimelineEntry
from .sim import Candidate, Fleet

ConnectionState = Literal["connecting", "connected", "reconnecting", "stale"]


@dataclass(frozen=True, slots=True)
class MemberInfo:
    name: str
    endpoint: str
    up: bool
    is_leader: bool = False


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What the status line shows."""

    endpoint: str
    connection: ConnectionState = "connecting"
    revision: int = 0
    leader_member: str | None = None
    members: tuple[MemberInfo, ...] = ()
    error: str | None = None
    version: str = ""


@dataclass(slots=True)
class PendingChanges:
    """Changes accumulated between two frames."""

    reset: bool = False
    elections: set[bytes] = field(default_factory=set)
    timeline: list[TimelineEntry] = field(default_factory=list)
    cluster: bool = False
    fleet: bool = False

    def __bool__(self) -> bool:
        return self.reset or bool(self.elections) or bool(self.timeline) or self.cluster or self.fleet


DEMO_ELECTIONS = (("demo/payments", 3, 6), ("demo/scheduler", 2, 8), ("demo/reports", 2, 5))


class Dashboard:
    """One live session on one cluster; `await close()` revokes every lease it created."""

    def __init__(
        self,
        client: EtcdClient,
        prefix: bytes = b"",
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        status_every: float = 2.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.state = ElectionState()
        self.leases = LeaseClock()
        self.fleet = Fleet(client)
        self.fleet.subscribe(lambda _c, _t: self._mark(fleet=True))
        self.cluster = ClusterInfo(endpoint=str(client.endpoint))
        self.clock = clock
        self.wall = wall
        self.status_every = status_every
        self.loaded = asyncio.Event()
        self.error: EtcdError | None = None
        self._pending = PendingChanges()
        self._tasks: list[asyncio.Task[None]] = []
        self.visible_leases: list[int] = []  # the UI says which leases are on screen
        self.granted: dict[int, int] = {}  # lease -> granted TTL, for the bars
        self.ttl_every = 0.25

    # -- frames -----------------------------------------------------------------------------

    def take_changes(self) -> PendingChanges:
        """What changed since the last frame (and forget it)."""
        pending, self._pending = self._pending, PendingChanges()
        return pending

    def _mark(self, *, cluster: bool = False, fleet: bool = False) -> None:
        self._pending.cluster |= cluster
        self._pending.fleet |= fleet

    def _set_cluster(self, **changes: object) -> None:
        self.cluster = replace(self.cluster, **changes)  # type: ignore[arg-type]
        self._mark(cluster=True)

    # -- lifetime ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._watch_loop(), name="dashboard-watch"),
            asyncio.create_task(self._status_loop(), name="dashboard-status"),
            asyncio.create_task(self._ttl_loop(), name="dashboard-ttl"),
        ]

    async def close(self) -> None:
        """Stop watching and revoke every lease of ours (on every exit path of the app)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, EtcdError):
                await task
        self._tasks = []
        await self.fleet.close()

    # -- the watch --------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            try:
                snapshot = await self.client.get_prefix(self.prefix, timeout=30.0)
            except EtcdError as err:
                if not _transient(err):
                    self._fail(err)
                    return
                self._set_cluster(connection="reconnecting", error=str(err))
                await asyncio.sleep(0.5)
                continue
            changes = self.state.load(snapshot.kvs, snapshot.revision, self.wall())
            self._take(changes.elections, changes.timeline, reset=True)
            self._set_cluster(connection="connected", revision=self.state.revision, error=None)
            self.loaded.set()
            try:
                async with self.client.watch_prefix(self.prefix, snapshot.revision + 1) as watch:
                    async for item in watch:
                        if isinstance(item, WatchEvents):
                            changes = self.state.apply(item.events, item.revision, self.wall())
                            self._take(changes.elections, changes.timeline)
                            self.cluster = replace(self.cluster, revision=self.state.revision)
                        elif isinstance(item, WatchProgress):
                            self.state.apply((), item.revision, self.wall())
                            self._set_cluster(revision=self.state.revision)
                        elif isinstance(item, WatchDisconnected):
                            self._set_cluster(connection="reconnecting", error=item.error)
                        elif isinstance(item, WatchResumed):
                            self._set_cluster(connection="connected", error=None)
                        elif isinstance(item, WatchCompacted):
                            break  # history is gone: re-read and reconcile
            except EtcdError as err:
                self._fail(err)
                return

    def _take(
        self, elections: Iterable[bytes], timeline: Iterable[TimelineEntry], reset: bool = False
    ) -> None:
        pending = self._pending
        pending.reset |= reset
        pending.elections.update(elections)
        pending.timeline.extend(timeline)

    def _fail(self, err: EtcdError) -> None:
        self.error = err
        self._set_cluster(connection="stale", error=str(err))

    # -- cluster status ---------------------------------------------------------------------

    async def _status_loop(self) -> None:
        names: dict[int, str] = {}
        while True:
            try:
                status = await self.client.status(timeout=self.status_every)
                if status.leader not in names:
                    names = {m.id: m.name for m in await self.client.member_list()}
                members = await self._members(names, status.leader)
                connection = self.cluster.connection
                if connection == "stale" and self.error is None:
                    connection = "connected"
                self._set_cluster(
                    endpoint=str(self.client.endpoint),
                    leader_member=names.get(status.leader, format(status.leader, "x")),
                    version=status.version,
                    members=members,
                    connection=connection,
                    error=None if connection == "connecting" else self.cluster.error,
                )
            except EtcdError as err:
                if self.cluster.connection == "connected":
                    self._set_cluster(connection="stale", error=str(err))
                elif self.cluster.error != str(err):
                    # Not connected yet (the first read retries for long): say why meanwhile,
                    # e.g. a refused TLS handshake, rather than "connecting" in silence.
                    self._set_cluster(error=str(err))
            await asyncio.sleep(self.status_every)

    async def _members(self, names: dict[int, str], leader: int) -> tuple[MemberInfo, ...]:
        if len(self.client.endpoints) < 2:
            return ()

        async def probe(i: int) -> MemberInfo:
            endpoint = str(self.client.endpoints[i])
            try:
                status = await self.client.status(i, timeout=1.0)
            except EtcdError:
                return MemberInfo(endpoint, endpoint, up=False)
            name = names.get(status.member_id, endpoint)
            return MemberInfo(name, endpoint, up=True, is_leader=status.member_id == leader)

        return tuple(await asyncio.gather(*(probe(i) for i in range(len(self.client.endpoints)))))

    # -- lease countdowns -------------------------------------------------------------------

    async def _ttl_loop(self) -> None:
        while True:
            await self.refresh_ttls(self.visible_leases)
            await asyncio.sleep(self.ttl_every)

    async def refresh_ttls(self, leases: Iterable[int]) -> None:
        """Ask the server for the TTL of the leases on screen, each at most once a second."""
        now = self.clock()
        due = self.leases.due(leases, now)[:200]
        if not due:
            return
        self.leases.asked(due, now)
        answers = await asyncio.gather(
            *(self.client.lease_time_to_live(lease) for lease in due), return_exceptions=True
        )
        at = self.clock()
        for lease, answer in zip(due, answers, strict=True):
            if not isinstance(answer, BaseException):
                self.leases.observe(lease, answer.ttl, at)
                self.granted[lease] = answer.granted_ttl

    # -- actions (they go to etcd; their effects come back through the watch) ----------------

    def launch(self, name: str | bytes, value: str | bytes, ttl: int, count: int = 1) -> list[Candidate]:
        raw = to_bytes(value)
        if count == 1:
            return [self.fleet.launch(name, raw, ttl)]
        return [self.fleet.launch(name, raw + f"-{i + 1}".encode(), ttl) for i in range(count)]

    def launch_demo(self) -> list[Candidate]:
        out: list[Candidate] = []
        for name, count, ttl in DEMO_ELECTIONS:
            out += self.launch(self.prefix + name.encode(), name.rsplit("/", 1)[-1], ttl, count)
        return out

    def _hint(self, candidate: Candidate, reason: str) -> None:
        if candidate.key is not None:
            self.state.expect_removal(candidate.key, reason)

    async def resign(self, candidate: Candidate) -> None:
        self._hint(candidate, "resigned")
        await candidate.resign()

    def let_expire(self, candidate: Candidate) -> None:
        self._hint(candidate, "expired")
        candidate.let_expire()

    async def crash(self, candidate: Candidate) -> None:
        self._hint(candidate, "revoked")
        await candidate.revoke()

    def toggle_pause(self, candidate: Candidate) -> None:
        if candidate.paused:
            candidate.resume()
        else:
            self._hint(candidate, "lost")
            candidate.pause()

    async def remove(self, candidate: Candidate) -> None:
        if not candidate.state.terminal:
            self._hint(candidate, "resigned")
        await self.fleet.remove(candidate)
        self._mark(fleet=True)


def _transient(err: EtcdError) -> bool:
    from .etcd import EtcdTimeout, Unavailable

    return isinstance(err, (Unavailable, EtcdTimeout))
