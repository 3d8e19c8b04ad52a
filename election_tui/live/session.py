"""The live session: watch -> model, lease TTLs, cluster status, our candidates; many views.

Data flows one way. The watch feeds the pure `ElectionState`; each view follows through a
`Feed` of its own and renders what changed once per frame. User actions go to etcd through
the session (so the timeline can say why a key went); their effects come back through the
watch like any other client's. No Textual here, no notebook: both views sit on top.

On start, before the views see anything, the session replays etcd's retained history up to
its first read (`history.py`), bounded by `HistoryLimits`; the same watch then goes on live.
The timeline's entries also fold into `terms` (who led when), and our stale leaders' beliefs
into `beliefs`, for the swimlanes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import replace
from types import TracebackType

from ..etcd import (
    Backoff,
    BytesLike,
    EtcdClient,
    EtcdError,
    InvalidArgument,
    KeepAlive,
    LeaseInfo,
    Member,
    Status,
    TransientError,
    Watch,
    WatchCompacted,
    WatchDisconnected,
    WatchEvents,
    WatchItem,
    WatchProgress,
    WatchResumed,
    may_be_candidate_key,
    to_bytes,
)
from ..model import (
    BLACKHOLED,
    PAUSED,
    BeliefLog,
    CandidateKey,
    ElectionState,
    LeaseClock,
    ShownTTL,
    TermBook,
    TimelineEntry,
    TTLLookup,
)
from ..sim import Candidate, Fleet, State, Transition
from .cluster import ClusterInfo, MemberInfo, agreed_leader, probe_members, quorum_of
from .feed import Feed
from .history import HistoryLimits, HistoryReplay, HistoryStart, NoHistory, find_start, no_history
from .members import ATTACHED, MemberControl, MemberError, ProcessState
from .snapshot import PAGE, Snapshot, read_candidates

DEMO_ELECTIONS = (("demo/payments", 3, 6), ("demo/scheduler", 2, 8), ("demo/reports", 2, 5))
# Candidates that may hold a link of their own at once (so each can be cut off from etcd alone):
# a demonstration cuts one or two; each link is a channel and a proxy, so not one per candidate.
OWN_LINKS = 32
_TTL_BATCH = 200  # most leases asked for in one round, however many views show


class LiveSession:
    """One live session on one cluster; `async with`, or `start()` and `await close()`.

    Closing revokes every lease the session's candidates created. `history` bounds the replay of
    etcd's retained revisions on start (None: none, the first read is a bare baseline). `members`:
    the control of the embedded cluster this process started, if it did (else members are read-only).
    `links`: how many of our candidates at a time get a link of their own, which `toggle_blackhole`
    can cut (on a cluster off loopback, none can: the proxy is loopback only).
    """

    def __init__(
        self,
        client: EtcdClient,
        prefix: bytes = b"",
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        status_every: float = 2.0,
        page: int = PAGE,
        history: HistoryLimits | None = HistoryLimits(),  # noqa: B008 (frozen: shared safely)
        members: MemberControl | None = None,
        links: int = OWN_LINKS,
    ) -> None:
        self.client = client
        self.members = members
        self.prefix = prefix
        self.state = ElectionState()
        self.terms = TermBook()
        self.beliefs = BeliefLog()
        self.leases = LeaseClock()
        self.fleet = Fleet(client, links=links)
        self.fleet.subscribe(self.candidate_changed)
        self._feeds: list[Feed] = []
        self.cluster = ClusterInfo(endpoint=str(client.endpoint), embedded=members is not None)
        self._probe_now = asyncio.Event()  # a member action asks for fresh answers at once
        self.clock = clock
        self.wall = wall
        self.status_every = status_every
        self.page = page  # keys per Range of a full read
        self.history = history
        self.loaded = asyncio.Event()
        self.error: EtcdError | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ttl_every = 0.25
        self._vouched = wall()  # the last time etcd proved we were in touch (an answer, an event)

    # -- views ------------------------------------------------------------------------------

    def follow(self) -> Feed:
        """A new view's own feed of changes; the view closes it when it goes."""
        feed = Feed(self._feeds.remove)
        self._feeds.append(feed)
        return feed

    @property
    def shown_leases(self) -> list[int]:
        """Every lease some view has on screen, each once, in the order the views gave them."""
        return list(dict.fromkeys(lease for feed in self._feeds for lease in feed.leases))

    def candidate_changed(self, candidate: Candidate, transition: Transition) -> None:
        """A transition of one of our candidates, or of a drill's run beside the session (subscribe
        its fleet): a stale leader's belief feeds the swimlanes whoever launched it."""
        key = candidate.key
        if key is not None:  # a stale leader believes it leads past its key: the swimlanes mark it
            if transition.state is State.STALE:
                self.beliefs.stale(candidate.name, key, self.wall())
            elif not transition.state.believes_leader:
                self.beliefs.learned(key, self.wall())
        self._mark(fleet=True)

    def _leaders(self) -> list[tuple[bytes, CandidateKey | None]]:
        return [(name, self.state.leader(name)) for name in self.state.names()]

    def _mark(self, *, cluster: bool = False, fleet: bool = False) -> None:
        for feed in self._feeds:
            feed.mark(cluster=cluster, fleet=fleet)

    def _set_cluster(self, **changes: object) -> None:
        self.cluster = replace(self.cluster, **changes)  # type: ignore[arg-type]
        self._mark(cluster=True)
        self._know()

    def _know(self) -> None:
        """Whether the swimlanes may draw the present as known: the watch is live and no member
        count says the quorum is lost. Unknown from the last proof of contact on, not from when
        we noticed: what came after it is not proven."""
        info = self.cluster
        if info.connection == "connected" and info.quorum is not False:
            self._vouched = max(self._vouched, self.wall())
            self.terms.sees(self._vouched)
        else:
            self.terms.blind(self._vouched)

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> LiveSession:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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
        backoff = Backoff(first=0.25, cap=2.0)
        history = self.history  # read once, on start: a later re-read reconciles instead
        while True:
            try:
                snapshot = await read_candidates(
                    self.client, self.prefix, page=self.page, progress=self._loading
                )
                start = await self._history_start(snapshot.revision, history) if history else None
            except TransientError as err:
                self._set_cluster(connection="reconnecting", error=str(err), loading=None)
                await backoff.sleep()
                continue
            except EtcdError as err:
                self._fail(err)
                return
            backoff.reset()
            history = None
            self._set_cluster(connection="connected", revision=snapshot.revision, error=None, loading=None)
            try:
                if start is not None:
                    replay = self._replayer(snapshot, *start)
                    del snapshot, start  # the replay holds them while it needs them
                    if await self._replay(replay):
                        continue  # it went on live, until a compaction: re-read and reconcile
                else:
                    first = not self.loaded.is_set()
                    changes = self.state.load(snapshot.kvs, snapshot.revision, self.wall())
                    del snapshot  # the model holds what it needs of the values
                    if first:  # no history: who led before this read is not known
                        self.terms.begin(self._leaders(), self.state.revision, history=False)
                        self.terms.live(self.state.revision, self.wall())
                    self._take(changes.elections, changes.timeline, reset=True)
                    self._set_cluster(revision=self.state.revision)
                    self.loaded.set()
                async with self._watch(self.state.revision + 1) as watch:
                    await self._follow(watch)
            except EtcdError as err:
                self._fail(err)
                return

    def _watch(self, start: int) -> Watch:
        # Only keys that could be a candidate's reach the model: the watch drops the others'
        # events (and values) as they arrive.
        return self.client.watch_prefix(self.prefix, start, key_filter=may_be_candidate_key)

    async def _follow(self, watch: Watch) -> None:
        """Apply the watch live until it is compacted (then the caller re-reads)."""
        async for item in watch:
            if isinstance(item, (WatchEvents, WatchProgress)):
                self._vouched = self.wall()
            if isinstance(item, WatchEvents):
                changes = self.state.apply(item.events, item.revision, self.wall())
                self._take(changes.elections, changes.timeline)
                self.cluster = replace(self.cluster, revision=self.state.revision)
            elif isinstance(item, WatchProgress):
                # Also what a response of dropped events becomes, thousands a second:
                # like events, it is drawn with the next frame that has news.
                self.state.apply((), item.revision, self.wall())
                self.cluster = replace(self.cluster, revision=self.state.revision)
            elif isinstance(item, WatchCompacted):
                return  # history is gone: re-read and reconcile
            else:
                self._watch_state(item)

    def _watch_state(self, item: WatchItem) -> None:
        if isinstance(item, WatchDisconnected):
            self._set_cluster(connection="reconnecting", error=item.error)
        elif isinstance(item, WatchResumed):
            self._set_cluster(connection="connected", error=None)

    # -- history on start -------------------------------------------------------------------

    async def _history_start(
        self, present: int, limits: HistoryLimits
    ) -> tuple[HistoryStart, HistoryLimits, float] | None:
        """Where the replay begins (None: no history, and the status says why); see history.py.

        A transient error is raised, for the first read to be tried again.
        """
        deadline = asyncio.get_running_loop().time() + limits.seconds
        try:
            async with asyncio.timeout_at(deadline):
                start = await find_start(
                    self.client,
                    self.prefix,
                    present,
                    limits,
                    page=self.page,
                    on_progress=lambda info: self._set_cluster(history=info),
                )
        except TimeoutError:
            self._set_cluster(history=no_history(present, f"the bound of {limits.seconds:g} s"))
            return None
        except NoHistory as err:
            self._set_cluster(history=no_history(present, str(err)))
            return None
        except TransientError:
            raise
        except EtcdError as err:
            self._set_cluster(history=no_history(present, str(err)))
            return None
        self._set_cluster(history=start.info)
        return start, limits, deadline

    def _replayer(
        self, present: Snapshot, start: HistoryStart, limits: HistoryLimits, deadline: float
    ) -> HistoryReplay:
        replay = HistoryReplay(
            self.state,
            start,
            present,
            limits,
            deadline=deadline,
            wall=self.wall,
            on_progress=lambda info: self._set_cluster(history=info),
            on_changes=lambda changes: self.terms.add(changes.timeline),
            on_watch=self._watch_state,
        )
        replay.begin()
        self.terms.begin(self._leaders(), start.info.first - 1, history=True)
        return replay

    async def _replay(self, replay: HistoryReplay) -> bool:
        """Replay the history, show it, then go on live on the same watch.

        Views see nothing until the model is at the present. False: the replay stopped short
        (the present read was taken as the truth), and the caller watches from after it.
        """
        async with self._watch(replay.info.first) as watch:
            end = await replay.run(watch)  # which lets go of the reads it held
            if not end.usable:
                self.terms.restart(self._leaders())
            self.terms.live(replay.info.until, self.wall(), read=replay.info.read)
            self._take(self.state.names(), self.state.timeline, reset=True, terms=False)
            self._set_cluster(revision=self.state.revision)
            self.loaded.set()
            if not end.usable:
                return False
            if end.live:
                changes = self.state.apply(end.live, end.revision, self.wall())
                self._take(changes.elections, changes.timeline)
                self._set_cluster(revision=self.state.revision)
            await self._follow(watch)
        return True

    def _loading(self, read: int, total: int) -> None:
        self._set_cluster(loading=(read, total))

    def _take(
        self,
        elections: Iterable[bytes],
        timeline: Iterable[TimelineEntry],
        reset: bool = False,
        *,
        terms: bool = True,  # False: the replay fed the terms as it went
    ) -> None:
        elections, timeline = tuple(elections), tuple(timeline)
        if terms:
            self.terms.add(timeline)
        for feed in self._feeds:
            feed.add(elections, timeline, reset=reset)

    def _fail(self, err: EtcdError) -> None:
        self.error = err
        self._set_cluster(connection="stale", error=str(err))

    # -- cluster status ---------------------------------------------------------------------

    async def _status_loop(self) -> None:
        roster: list[Member] = []
        while True:
            self._probe_now.clear()
            status: Status | None = None
            asked = self.wall()
            try:
                status = await self.client.status(timeout=self.status_every)
            except EtcdError as err:
                if self.cluster.connection == "connected":
                    self._set_cluster(connection="stale", error=str(err))
                elif self.cluster.error != str(err):
                    # Not connected yet (the first read retries for long): say why meanwhile,
                    # e.g. a refused TLS handshake, rather than "connecting" in silence.
                    self._set_cluster(error=str(err))
            known = {m.id for m in roster}
            if status is not None and (
                status.member_id not in known or (status.leader and status.leader not in known)
            ):
                with contextlib.suppress(EtcdError):  # the names we had still serve meanwhile
                    roster = await self.client.member_list()
            # Every member is asked even when ours did not answer: a dead cluster shows dead.
            members = await probe_members(self.client, roster, self._process)
            leader = agreed_leader(members)
            changes: dict[str, object] = {
                "members": members,
                "quorum": quorum_of(members),
                "leader_member": next((m.name for m in members if m.member_id == leader), None)
                if leader
                else None,
            }
            if status is not None and changes["quorum"] is not False:
                self._vouched = max(self._vouched, asked)
            if status is not None:
                connection = self.cluster.connection
                if connection == "stale" and self.error is None:
                    connection = "connected"
                changes.update(
                    endpoint=str(self.client.endpoint),
                    version=status.version,
                    connection=connection,
                    error=None if connection == "connecting" else self.cluster.error,
                )
            self._set_cluster(**changes)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probe_now.wait(), self.status_every)

    def _process(self, endpoint: str) -> ProcessState | None:
        index = self.members.index_of(endpoint) if self.members is not None else None
        return self.members.process(index) if self.members is not None and index is not None else None

    # -- lease countdowns -------------------------------------------------------------------

    async def _ttl_loop(self) -> None:
        while True:
            await self.refresh_ttls(self.shown_leases)
            await asyncio.sleep(self.ttl_every)

    async def refresh_ttls(self, leases: Iterable[int]) -> None:
        """Ask the server for the TTL of the leases on screen, each at most once a second.

        Our own live leases are skipped: their keep-alives know better (see `ttls`).
        """
        own = self._own_keepalives()
        now = self.clock()
        due = self.leases.due((lease for lease in leases if lease not in own), now)[:_TTL_BATCH]
        if not due:
            return
        self.leases.asked(due, now)
        answers = await asyncio.gather(*(self._time_to_live(lease) for lease in due), return_exceptions=True)
        for lease, answer in zip(due, answers, strict=True):
            if not isinstance(answer, BaseException):
                info, answered = answer
                self.leases.observe(lease, info.ttl, now, info.granted_ttl, answered=answered)

    async def _time_to_live(self, lease: int) -> tuple[LeaseInfo, float]:
        """One answer and when it came: the pair dates the server's whole-second answer."""
        info = await self.client.lease_time_to_live(lease)
        return info, self.clock()

    def _own_keepalives(self) -> dict[int, KeepAlive]:
        """Our candidates' leases whose keep-alive still vouches for them (not lost)."""
        own: dict[int, KeepAlive] = {}
        for candidate in self.fleet:
            keepalive = candidate.keepalive
            if keepalive is not None and not keepalive.lost and not candidate.state.terminal:
                own[keepalive.lease_id] = keepalive
        return own

    def ttls(self, now: float) -> TTLLookup:
        """What TTL cells draw at `now`: ours from their keep-alives, the rest by `LeaseClock.shown`."""
        own = self._own_keepalives()
        shown = self.leases.shown

        def lookup(lease: int) -> ShownTTL | None:
            keepalive = own.get(lease)
            if keepalive is not None:
                return ShownTTL.kept_alive(keepalive.remaining(), keepalive.granted_ttl)
            return shown(lease, now)

        return lookup

    # -- actions (they go to etcd; their effects come back through the watch) ----------------

    def launch(self, name: BytesLike, value: BytesLike, ttl: int, count: int = 1) -> list[Candidate]:
        """Start `count` candidates (values numbered when several); an empty value is refused."""
        if not to_bytes(value):
            raise InvalidArgument("a value is needed: it is what the leader proclaims")
        if count == 1:
            return [self.fleet.launch(name, value, ttl)]
        return self.fleet.launch_many(name, value, count, ttl)

    def launch_demo(self) -> list[Candidate]:
        out: list[Candidate] = []
        for name, count, ttl in DEMO_ELECTIONS:
            out += self.launch(self.prefix + name.encode(), name.rsplit("/", 1)[-1], ttl, count)
        return out

    @contextlib.contextmanager
    def _hinted(self, candidate: Candidate, reason: str) -> Iterator[None]:
        """The one rule for why a key of ours went: said before acting, withdrawn if refused.

        Before: the deletion can come back through the watch before the action's call returns.
        Withdrawn when the action raises (refused, or failed), so a refused action leaves no
        trace and the reason said before it (a partition's) holds again.
        """
        key = candidate.key
        if key is None:
            yield
            return
        previous = self.state.removal_hint(key)
        self.state.expect_removal(key, reason)
        try:
            yield
        except BaseException:
            self.state.withdraw_removal(key, reason, previous)
            raise

    async def resign(self, candidate: Candidate) -> None:
        with self._hinted(candidate, "resigned"):
            await candidate.resign()

    def let_expire(self, candidate: Candidate) -> None:
        with self._hinted(candidate, "expired"):
            candidate.let_expire()

    async def crash(self, candidate: Candidate) -> None:
        with self._hinted(candidate, "revoked"):
            await candidate.revoke()

    def toggle_pause(self, candidate: Candidate) -> None:
        """The simulator's partition: withhold (or send again) the keep-alive, inside the process."""
        if candidate.paused:
            candidate.resume()
            self._unhint(candidate)
        else:
            with self._hinted(candidate, PAUSED):
                candidate.pause()
        self._mark(fleet=True)  # the pause mark, which no transition announces

    async def toggle_blackhole(self, candidate: Candidate) -> bool:
        """A real partition of one candidate: blackhole its link, or heal it; True when cut now.

        A candidate without a link of its own is refused by `Candidate.blackhole` (it says why).
        """
        if candidate.cut:
            await candidate.heal()
            self._unhint(candidate)
            self._mark(fleet=True)  # no transition says so: our views show the mark go
            return False
        with self._hinted(candidate, BLACKHOLED):
            await candidate.blackhole()
        self._mark(fleet=True)
        return True

    def _unhint(self, candidate: Candidate) -> None:
        """A healed candidate still alive keeps its key: a later removal is not the partition's."""
        if candidate.key is not None and not candidate.state.terminal:
            self.state.forget_removal(candidate.key)

    def rejoin(self, candidate: Candidate) -> None:
        candidate.rejoin()

    async def proclaim(self, candidate: Candidate, value: BytesLike) -> None:
        await candidate.proclaim(value)

    async def remove(self, candidate: Candidate) -> None:
        if candidate.state.terminal:
            await self.fleet.remove(candidate)
        else:
            with self._hinted(candidate, "resigned"):
                await self.fleet.remove(candidate)
        self._mark(fleet=True)

    # -- members of an embedded cluster (actions go to their processes; etcd says the rest) ---

    def _member_index(self, member: MemberInfo) -> tuple[MemberControl, int]:
        if self.members is None:
            raise MemberError(f"{member.name}: {ATTACHED}")
        index = self.members.index_of(member.endpoint)
        if index is None:
            raise MemberError(f"{member.name} is not a member of the embedded cluster")
        return self.members, index

    async def _poked(self, action: Awaitable[None]) -> None:
        try:
            await action
        finally:
            self._probe_now.set()  # the panel shows what etcd says now, not in 2 s

    async def kill_member(self, member: MemberInfo) -> None:
        """SIGKILL one member of our embedded cluster."""
        control, index = self._member_index(member)
        await self._poked(control.kill(index))

    async def toggle_pause_member(self, member: MemberInfo) -> bool:
        """SIGSTOP a running member, SIGCONT a paused one; True when it is paused now."""
        control, index = self._member_index(member)
        paused = control.process(index) == "paused"
        await self._poked(control.resume(index) if paused else control.pause(index))
        return not paused

    async def restart_member(self, member: MemberInfo) -> None:
        """Start one member again on its data (stopping it first if it runs or is paused)."""
        control, index = self._member_index(member)
        await self._poked(control.restart(index))
