"""History from etcd itself: the retained revisions before a view looked, replayed through the model.

etcd keeps every revision since its last compaction. A start reads the candidates at an old
revision S (the baseline) and replays the events of S+1 .. L through the model, L being the
revision of the present read; their entries are history (a revision and no time: etcd stores
none). The same watch then goes on live from L+1, so replay and live join with no gap and no
repeat: one ordered stream, cut at L by revision.

S is the newest `HistoryLimits.revisions` revisions back at most, or the compaction revision
if etcd compacted later than that. The baseline read at the window's start says which: a Range
there raises Compacted only if it was compacted away. Only then is the compaction revision
asked for, by a watch from that start, which etcd cancels at once with its `compact_revision`
before reading any event: one round trip, exact (a bisection of Ranges would take a dozen, and
Status does not say). A Range at the compaction revision itself still answers, and every
revision after it is whole.

The history phase is over when the watch proves it passed L (an event after L, or a progress
notification at or after L), or when the model equals the present read: nothing then differs
at L, and a key made and deleted in between that is still on its way is replayed as history
when it comes (etcd's own progress request cannot prove more on 3.4/3.5 before 3.5.13: it is
answered before the watch has caught up). A bound (events, seconds) or a compaction on the way
stops it short: the present read becomes the truth (`ElectionState.rebase`), entries replayed
so far stay, and the live watch starts from L + 1.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ..etcd import (
    SEP,
    Compacted,
    EtcdClient,
    EtcdError,
    Event,
    TransientError,
    WatchCompacted,
    WatchEvents,
    WatchItem,
    WatchProgress,
    may_be_candidate_key,
)
from ..model import Changes, ElectionState, Term, TermLog
from .snapshot import PAGE, Progress, Snapshot, read_candidates

ATTEMPTS = 3  # compactions that may overtake the baseline read before history is given up
SETTLE = 0.5  # a one-shot read waits this long for stragglers once the model is at the present

# What lies before the first revision replayed: nothing (it is revision 2, the first write),
# revisions etcd compacted, or revisions the window left out.
Older = Literal["none", "compacted", "window"]


class NoHistory(Exception):
    """No history can be replayed (e.g. etcd compacted past the present read meanwhile)."""


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history a start reads: the newest `revisions` at most (etcd reads no more to
    answer), `events` candidate events, and `seconds` for all of it."""

    revisions: int = 10_000
    events: int = 20_000
    seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.revisions < 0 or self.events < 0 or not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"history limits must be positive, not {self}")


@dataclass(frozen=True, slots=True)
class HistoryInfo:
    """Where a history read stands, for the status line and the timeline's title (`text`)."""

    first: int  # the first revision replayed; the baseline is the read at first - 1
    until: int  # the present read's revision: history is first..until
    older: Older
    window: int = 0  # HistoryLimits.revisions, to say what the window left out
    read: int = 0  # the newest revision replayed so far (first - 1 before any)
    events: int = 0  # candidate events replayed so far
    keys: tuple[int, int] | None = None  # while the baseline is read: (keys read, keys)
    done: bool = False
    stopped: str | None = None  # what stopped it short (or why none was read)

    @property
    def empty(self) -> bool:
        """Nothing to replay: etcd has no revision after the read yet (a fresh etcd: r2 > r1)."""
        return self.first > self.until

    @property
    def text(self) -> str:
        if self.empty and self.stopped is None:
            return f"no revisions after r{self.until} yet"
        if self.keys is not None:
            read, total = self.keys
            return f"reading history: keys at r{self.first - 1}: {read:,} / {total:,}…"
        replayed = max(self.read, self.first - 1)
        if not self.done:
            return f"reading history: r{replayed} of r{self.first}–r{self.until}, {self.events:,} events…"
        if self.stopped is not None:
            if replayed < self.first:
                return f"history not read: {self.stopped}"
            return (
                f"history r{self.first}–r{replayed} only (stopped by {self.stopped}); "
                f"r{replayed + 1}–r{self.until} not read"
            )
        if self.older == "compacted":
            return f"history from r{self.first}; older revisions were compacted"
        if self.older == "window":
            return f"history from r{self.first}; older revisions not read (the newest {self.window:,} only)"
        return f"history from r{self.first} (all of it)"


def no_history(until: int, reason: str) -> HistoryInfo:
    """The info of a start that read no history, and why."""
    return HistoryInfo(until + 1, until, "none", read=until, done=True, stopped=reason)


@dataclass(frozen=True, slots=True)
class HistoryStart:
    """Where a replay begins: the candidates at revision `info.first - 1`."""

    baseline: Snapshot
    info: HistoryInfo


async def compaction_revision(client: EtcdClient, prefix: bytes, below: int) -> int:
    """etcd's compaction revision, known to be above `below` (a Range there raised Compacted).

    A watch from `below` is cancelled with it at once, before etcd reads any event.
    """
    async with client.watch_prefix(prefix, below) as watch:
        async for item in watch:
            if isinstance(item, WatchCompacted):
                return item.compact_revision
            if isinstance(item, WatchEvents):
                raise NoHistory(f"etcd refused a read at r{below} as compacted, then watched from it")
    raise NoHistory("the watch that asks for the compaction revision ended without it")


async def find_start(
    client: EtcdClient,
    prefix: bytes,
    until: int,
    limits: HistoryLimits,
    *,
    page: int = PAGE,
    on_progress: Callable[[HistoryInfo], None] | None = None,
) -> HistoryStart:
    """The oldest retained revision within the window, and the candidates there (see the module doc).

    `on_progress` hears the baseline read's pages. Raises NoHistory when compactions keep
    overtaking the read, or reach past `until`.
    """
    oldest = max(1, until - limits.revisions)
    older: Older = "window" if oldest > 1 else "none"
    for _ in range(ATTEMPTS):
        info = HistoryInfo(oldest + 1, until, older, window=limits.revisions, read=oldest)
        try:
            baseline = await read_candidates(
                client, prefix, page=page, progress=_pages(info, on_progress), revision=oldest
            )
        except Compacted:
            oldest = await compaction_revision(client, prefix, oldest)
            older = "compacted"
            if oldest > until:
                raise NoHistory(f"etcd compacted past r{until} (to r{oldest}) while it was read") from None
            continue
        return HistoryStart(baseline, info)
    raise NoHistory(f"compactions overtook the read {ATTEMPTS} times")


def _pages(info: HistoryInfo, on_progress: Callable[[HistoryInfo], None] | None) -> Progress | None:
    """The baseline read's pages as history progress."""
    if on_progress is None:
        return None
    hear = on_progress
    return lambda read, total: hear(replace(info, keys=(read, total)))


def split_at(events: tuple[Event, ...], revision: int) -> tuple[tuple[Event, ...], tuple[Event, ...]]:
    """A batch's events up to `revision` and those after it (a batch is in revision order)."""
    for i, event in enumerate(events):
        if event.revision > revision:
            return events[:i], events[i:]
    return events, ()


def whole_revisions(events: tuple[Event, ...], most: int) -> tuple[Event, ...]:
    """The longest head of `events` of at most `most` events that splits no revision."""
    if len(events) <= most:
        return events
    cut = most
    while cut > 0 and events[cut].revision == events[cut - 1].revision:
        cut -= 1
    return events[:cut]


class _Catchup:
    """The candidates that still differ between the model and the present read; none: at the present.

    Checked per event's key, so a replay costs its events, not events x candidates. A key's
    create and mod revisions (and lease) name one version of it, value included.
    """

    def __init__(self, state: ElectionState, present: Snapshot, baseline: Snapshot) -> None:
        self._state = state
        self._want = {kv.key: (kv.create_revision, kv.mod_revision, kv.lease) for kv in present.kvs}
        self._differ: set[bytes] = set()
        self.check(self._want)
        self.check(kv.key for kv in baseline.kvs)

    def check(self, keys: Iterable[bytes]) -> None:
        for key in keys:
            have = self._state.candidate(key)
            got = (have.create_revision, have.mod_revision, have.lease) if have is not None else None
            if got == self._want.get(key):
                self._differ.discard(key)
            else:
                self._differ.add(key)

    @property
    def reached(self) -> bool:
        return not self._differ


EndReason = Literal["proven", "reached", "settled", "stopped"]


@dataclass(frozen=True, slots=True)
class ReplayEnd:
    """How a history phase ended; `live` holds the last batch's events after it, `revision` its header."""

    reason: EndReason
    live: tuple[Event, ...] = ()
    revision: int = 0

    @property
    def usable(self) -> bool:
        """Whether the watch may go on live (a stopped one is closed: its rest up to L is not wanted)."""
        return self.reason != "stopped"


class HistoryReplay:
    """Feeds one watch from `info.first` through the model until the present read's revision.

    `begin()` loads the baseline; `run(watch)` replays and returns how it ended. `deadline` is on
    the loop's clock; `settle` > 0 waits that long for stragglers once the model is at the
    present (a one-shot read that closes its watch; a session keeps its watch and needs none).
    """

    def __init__(
        self,
        state: ElectionState,
        start: HistoryStart,
        present: Snapshot,
        limits: HistoryLimits,
        *,
        deadline: float,
        wall: Callable[[], float] = time.time,
        settle: float = 0.0,
        on_progress: Callable[[HistoryInfo], None] | None = None,
        on_changes: Callable[[Changes], None] | None = None,
        on_watch: Callable[[WatchItem], None] | None = None,
    ) -> None:
        self.state = state
        self.info = start.info
        self._start: HistoryStart | None = start
        self._present: Snapshot | None = present  # let go of when the replay is over
        self._limits = limits
        self._deadline = deadline
        self._wall = wall
        self._settle = settle
        self.on_progress = on_progress
        self.on_changes = on_changes  # hears each apply's changes (the entries, as they come)
        self.on_watch = on_watch
        self._catchup: _Catchup | None = None

    def begin(self) -> None:
        """Load the baseline; changes up to the present read's revision are history from now on."""
        assert self._start is not None and self._present is not None, "begin() once"
        baseline = self._start.baseline
        self._start = None  # the model holds what it needs of the baseline
        self.state.load(baseline.kvs, self.info.first - 1, self._wall())
        self.state.mark_history(self.info.until)
        self._catchup = _Catchup(self.state, self._present, baseline)

    async def run(self, watch: AsyncIterator[WatchItem]) -> ReplayEnd:
        """Replay `watch` (its items from `info.first` on) until the history is over."""
        outer = asyncio.timeout_at(self._deadline)
        try:
            async with outer:
                return await self._consume(watch)
        except TimeoutError:
            if not outer.expired():
                raise
            return self._stop(f"the bound of {self._limits.seconds:g} s")
        finally:
            self._present = self._catchup = None

    async def _consume(self, items: AsyncIterator[WatchItem]) -> ReplayEnd:
        catchup = self._catchup
        assert catchup is not None, "begin() first"
        until = self.info.until
        while True:
            if catchup.reached:
                if not self._settle:
                    return self._end("reached")
                quiet = asyncio.timeout(self._settle)
                try:
                    async with quiet:
                        item = await anext(items)
                except TimeoutError:
                    if not quiet.expired():
                        raise
                    return self._end("settled")
            else:
                item = await anext(items)
            if isinstance(item, WatchEvents):
                past, live = split_at(item.events, until)
                room = self._limits.events - self.info.events
                allowed = whole_revisions(past, room)
                if allowed:
                    changes = self.state.apply(allowed, item.revision, self._wall())
                    catchup.check(e.kv.key for e in allowed)
                    self._progress(read=allowed[-1].revision, events=self.info.events + len(allowed))
                    if self.on_changes is not None:
                        self.on_changes(changes)
                if len(allowed) < len(past):
                    return self._stop(f"the bound of {self._limits.events:,} events")
                if live:
                    return self._end("proven", live, item.revision)
            elif isinstance(item, WatchProgress):
                self.state.apply((), item.revision, self._wall())
                if item.revision >= until:
                    return self._end("proven")
                self._progress(read=max(self.info.read, item.revision))
            elif isinstance(item, WatchCompacted):
                return self._stop(f"a compaction to r{item.compact_revision}")
            elif self.on_watch is not None:
                self.on_watch(item)  # disconnected / resumed: the watch resumes by itself

    def _progress(self, **changes: int) -> None:
        self.info = replace(self.info, **changes)  # type: ignore[arg-type]
        if self.on_progress is not None:
            self.on_progress(self.info)

    def _end(self, reason: EndReason, live: tuple[Event, ...] = (), revision: int = 0) -> ReplayEnd:
        self.info = replace(self.info, done=True, read=self.info.until)
        if self.on_progress is not None:
            self.on_progress(self.info)
        return ReplayEnd(reason, live, revision)

    def _stop(self, why: str) -> ReplayEnd:
        """Stopped short: the present read becomes the truth; what was replayed stays."""
        assert self._present is not None
        self.state.rebase(self._present.kvs, self.info.until)
        self.info = replace(self.info, done=True, stopped=why)
        if self.on_progress is not None:
            self.on_progress(self.info)
        return ReplayEnd("stopped")


@dataclass(frozen=True, slots=True)
class ElectionHistory:
    """Every term of one election that the retained history shows, and how far it reaches."""

    election: bytes
    terms: tuple[Term, ...]
    info: HistoryInfo


async def read_history(
    client: EtcdClient,
    election: bytes,
    limits: HistoryLimits | None = None,
    *,
    page: int = PAGE,
    on_keys: Progress | None = None,
    on_progress: Callable[[HistoryInfo], None] | None = None,
) -> ElectionHistory:
    """The terms of `election` (its nested elections' candidates count, as for `Leader`), once.

    The present is read first (`on_keys` hears its pages), then the history up to it as a
    session would, closing the watch at the end (so it waits `SETTLE` for stragglers).
    """
    limits = limits or HistoryLimits()
    prefix = election + SEP
    present = await read_candidates(client, prefix, page=page, progress=on_keys)
    deadline = asyncio.get_running_loop().time() + limits.seconds
    state = ElectionState(timeline_limit=0, history_limit=0)  # entries go into the terms as they come
    try:
        async with asyncio.timeout_at(deadline):
            start = await find_start(
                client, prefix, present.revision, limits, page=page, on_progress=on_progress
            )
    except TimeoutError:
        return _present_only(state, election, present, f"the bound of {limits.seconds:g} s")
    except NoHistory as err:
        return _present_only(state, election, present, str(err))
    except TransientError:
        raise
    except EtcdError as err:
        return _present_only(state, election, present, str(err))

    replay = HistoryReplay(
        state, start, present, limits, deadline=deadline, settle=SETTLE, on_progress=on_progress
    )
    replay.begin()
    view = state.election(election)
    log = TermLog(election, view.leader if view is not None else None, limit=limits.events + 1)
    replay.on_changes = lambda changes: log.add(changes.timeline)
    async with client.watch_prefix(prefix, start.info.first, key_filter=may_be_candidate_key) as watch:
        end = await replay.run(watch)
    if not end.usable:
        view = state.election(election)
        log.restart(view.leader if view is not None else None)
    return ElectionHistory(election, log.terms, replay.info)


def _present_only(state: ElectionState, election: bytes, present: Snapshot, why: str) -> ElectionHistory:
    state.load(present.kvs, present.revision, 0.0)
    view = state.election(election)
    log = TermLog(election, view.leader if view is not None else None)
    return ElectionHistory(election, log.terms, no_history(present.revision, why))
