"""Elections as etcd would answer them, kept up to date from watch events, with a timeline."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from election_tui.etcd import Event, EventType, KeyValue, parse_candidate_key

from .candidates import CandidateIndex, CandidateKey
from .keys import scopes
from .timeline import ELECTED, JOINED, PROCLAIMED, RemovalHints, TimelineEntry

# A change to apply: a CandidateKey to put, or the key of one to remove.
_Op = CandidateKey | bytes


@dataclass(frozen=True, slots=True)
class ElectionView:
    """A read-only snapshot of one election for widgets.

    `candidates` is the queue `Leader(name)` picks from: direct and nested candidates in create
    revision order, so `candidates[0]` is the leader. Revisions and times of changes are when
    this process saw them happen; None when they happened before it first looked (the first
    load): nothing here invents a time it did not see. A change replayed from etcd's history
    has its revision and no time. A later load (after a compaction or a reconnect) dates what
    it finds changed by its own revision and time.
    """

    name: bytes
    candidates: tuple[CandidateKey, ...]
    leader: CandidateKey | None
    terms: int
    last_change_revision: int | None
    last_change_time: float | None
    elected_revision: int | None
    elected_time: float | None

    @property
    def value(self) -> bytes | None:
        """The election's value: what its leader last proclaimed."""
        return self.leader.value if self.leader is not None else None


@dataclass(frozen=True, slots=True)
class Changes:
    """What one `load` or `apply` changed, for the UI to redraw just that.

    `elections` holds every election whose view changed, ancestors included, and those that
    vanished (their `election()` is now None). `reset` asks for a full redraw.
    """

    elections: frozenset[bytes]
    timeline: tuple[TimelineEntry, ...]
    reset: bool = False


class _Meta:
    """Bookkeeping of an election while it exists; dropped when its last direct candidate goes."""

    __slots__ = (
        "elected_revision",
        "elected_time",
        "history",
        "last_change_revision",
        "last_change_time",
        "terms",
    )

    def __init__(self, history_limit: int, revision: int | None, now: float | None) -> None:
        self.terms = 0
        self.last_change_revision = revision
        self.last_change_time = now
        self.elected_revision = revision
        self.elected_time = now
        self.history: deque[TimelineEntry] = deque(maxlen=history_limit)


def _wanted(kvs: Iterable[KeyValue]) -> dict[bytes, CandidateKey]:
    """The candidates among a read's keys, by key."""
    return {cand.key: cand for kv in kvs if (cand := _candidate(kv)) is not None}


def _candidate(kv: KeyValue) -> CandidateKey | None:
    name = parse_candidate_key(kv.key, kv.lease)
    if name is None:
        return None
    return CandidateKey(kv.key, name, kv.lease, kv.value, kv.create_revision, kv.mod_revision)


class ElectionState:
    """The elections under a watched prefix, fed by a snapshot (`load`) and watch batches (`apply`).

    Pure and synchronous: no I/O, no clock (callers pass `now`). Leader changes are computed once
    per revision, after all of that revision's events, so a transaction or a lease revoke that
    deletes many keys at once yields no flicker; every join and removal is still recorded.
    """

    def __init__(self, *, timeline_limit: int = 2000, history_limit: int = 20) -> None:
        self.revision = 0
        self._history_limit = history_limit
        self._index = CandidateIndex()
        self._meta: dict[bytes, _Meta] = {}
        self._hints = RemovalHints()
        self._timeline: deque[TimelineEntry] = deque(maxlen=timeline_limit)
        self._fresh = True
        self._history_until = 0  # changes up to this revision are history: no time is known

    # ---- queries -------------------------------------------------------------------------

    @property
    def timeline(self) -> Sequence[TimelineEntry]:
        """Recent entries of all elections, newest last (read-only)."""
        return self._timeline

    def names(self) -> list[bytes]:
        """Elections that exist (have a direct candidate), sorted."""
        return self._index.names()

    def election_count(self) -> int:
        return self._index.name_count()

    def election(self, name: bytes) -> ElectionView | None:
        meta = self._meta.get(name)
        if meta is None:
            return None
        queue = self._index.queue(name)
        return ElectionView(
            name=name,
            candidates=queue,
            leader=queue[0] if queue else None,
            terms=meta.terms,
            last_change_revision=meta.last_change_revision,
            last_change_time=meta.last_change_time,
            elected_revision=meta.elected_revision,
            elected_time=meta.elected_time,
        )

    def history(self, name: bytes) -> tuple[TimelineEntry, ...]:
        """Recent entries of one election (bounded): asked for on demand, not copied per view."""
        meta = self._meta.get(name)
        return tuple(meta.history) if meta is not None else ()

    def leader(self, name: bytes) -> CandidateKey | None:
        """What etcd's `Leader(name)` would answer, for any name (an election or not)."""
        return self._index.leader(name)

    def candidates(self, name: bytes) -> tuple[CandidateKey, ...]:
        """The queue of `name` in create revision order, nested elections' candidates included."""
        return self._index.queue(name)

    def candidate(self, key: bytes) -> CandidateKey | None:
        return self._index.get(key)

    def __len__(self) -> int:
        """Number of candidates."""
        return len(self._index)

    # ---- updates -------------------------------------------------------------------------

    def expect_removal(self, key: bytes, reason: str) -> None:
        """Say why `key` will be deleted (one of `REMOVAL_REASONS`: "resigned", "paused", ...).

        Used for the timeline entry of the next removal of `key`; call it before acting.
        """
        self._hints.expect(key, reason)

    def forget_removal(self, key: bytes) -> None:
        """Take back a hint: the key outlived what was expected to remove it (a healed partition)."""
        self._hints.forget(key)

    def removal_hint(self, key: bytes) -> str | None:
        """Why `key` is expected to go, as said so far (None: nobody said)."""
        return self._hints.get(key)

    def withdraw_removal(self, key: bytes, reason: str, previous: str | None) -> None:
        """Take back `expect_removal(key, reason)` of a refused action; `previous` holds again."""
        self._hints.withdraw(key, reason, previous)

    def mark_history(self, until: int) -> None:
        """Say that changes up to revision `until` are replayed from etcd's history, not seen live.

        Their entries and the elections' change fields get the revision and no time (a revision
        carries none in etcd). Call it after the baseline `load` of a history read.
        """
        self._history_until = until

    def load(self, kvs: Iterable[KeyValue], revision: int, now: float) -> Changes:
        """Take a full read of the prefix at `revision` as the truth.

        The first load is a baseline and writes no timeline. A later one (after a compaction or a
        reconnect) reconciles: what vanished or appeared meanwhile becomes removal, join,
        elected and proclaimed entries stamped with `revision`.
        """
        wanted = _wanted(kvs)
        before = set(self._index.names())
        entries: list[TimelineEntry] = []
        if self._fresh:
            self._fresh = False
            self._baseline(wanted)
        else:
            index = self._index
            ops: list[_Op] = [c.key for c in index if (w := wanted.get(c.key)) is None or w.slot != c.slot]
            puts = [c for c in wanted.values() if index.get(c.key) != c]
            puts.sort(key=lambda c: c.slot)
            ops.extend(puts)
            self._commit(ops, revision, now, entries, set())
        self.revision = revision
        return Changes(frozenset(before.union(self._index.names())), tuple(entries), reset=True)

    def rebase(self, kvs: Iterable[KeyValue], revision: int) -> Changes:
        """Take a read at `revision` as the truth, without entries: what led there was not read.

        For a history read stopped short (a bound, a compaction): the timeline and each
        election's history keep what was replayed, while the elections restart as on a first
        load (one term, changed before we looked), since the revisions in between are unknown.
        """
        before = set(self._index.names())
        self._fresh = False
        self._baseline(_wanted(kvs))
        self.revision = revision
        return Changes(frozenset(before.union(self._index.names())), (), reset=True)

    def apply(self, events: Sequence[Event], revision: int, now: float) -> Changes:
        """Apply one watch batch; events at or below `self.revision` are re-deliveries, skipped.

        A revision's events must all be in one batch (etcd never splits them without the
        `fragment` option). `revision` (the header's) only advances `self.revision` when the
        batch has no events: a catching-up watch stamps a response with the store's current
        revision while later events may still follow in the next response.
        """
        self._fresh = False
        entries: list[TimelineEntry] = []
        touched: set[bytes] = set()
        group: list[_Op] = []
        group_rev = self.revision
        for event in events:
            rev = event.kv.mod_revision
            if rev < group_rev or (rev == group_rev and rev <= self.revision):
                continue
            if rev > group_rev:
                self._flush(group, group_rev, now, entries, touched)
                group_rev = rev
            group.append(self._op(event))
        self._flush(group, group_rev, now, entries, touched)
        if not events:
            self.revision = max(self.revision, revision)
        return Changes(frozenset(touched), tuple(entries))

    # ---- internals -----------------------------------------------------------------------

    def _baseline(self, wanted: dict[bytes, CandidateKey]) -> None:
        """The candidates of a read whose past is unknown; histories of elections still there stay."""
        self._index.reset(wanted.values())
        old, self._meta = self._meta, {}
        for name in self._index.names():
            # Elected before we looked: when, we cannot know.
            meta = self._meta[name] = _Meta(self._history_limit, None, None)
            meta.terms = 1
            if name in old:
                meta.history = old[name].history

    def _when(self, rev: int, now: float) -> float | None:
        """The time of a change at `rev`: None when it is replayed from history."""
        return None if rev <= self._history_until else now

    @staticmethod
    def _op(event: Event) -> _Op:
        if event.type is EventType.DELETE:
            return event.kv.key
        cand = _candidate(event.kv)
        # A PUT that makes a key stop being a candidate (another lease, none) removes it.
        return cand if cand is not None else event.kv.key

    def _flush(
        self, group: list[_Op], rev: int, now: float, entries: list[TimelineEntry], touched: set[bytes]
    ) -> None:
        if group:
            self._commit(group, rev, now, entries, touched)
            group.clear()
        self.revision = max(self.revision, rev)

    def _commit(
        self, ops: list[_Op], rev: int, now: float, entries: list[TimelineEntry], touched: set[bytes]
    ) -> None:
        """Apply the changes of one revision, then record what they did to each election."""
        index = self._index
        names: set[bytes] = set()
        for op in ops:
            if isinstance(op, CandidateKey):
                names.add(op.name)
            elif (known := index.get(op)) is not None:
                names.add(known.name)
        if not names:
            return
        when = self._when(rev, now)
        affected = {scope for name in names for scope in scopes(name)}
        before = {scope: index.leader(scope) for scope in affected if index.exists(scope)}

        members: list[tuple[str, CandidateKey]] = []
        for op in ops:
            if isinstance(op, CandidateKey):
                old = index.get(op.key)
                if old is not None and old.slot == op.slot:
                    index.update(op)
                    continue
                if old is not None:  # recreated while we did not look: a removal, then a join
                    index.remove(op.key)
                    members.append((self._hints.take(op.key), old))
                index.add(op)
                members.append((JOINED, op))
            elif (gone := index.remove(op)) is not None:
                members.append((self._hints.take(op), gone))

        for scope in affected:
            if scope not in self._meta and index.exists(scope):
                self._meta[scope] = _Meta(self._history_limit, rev, when)

        for kind, cand in members:
            if kind == JOINED:
                current = index.get(cand.key)
                leader = index.leader(cand.name)
                if current is None or current.slot != cand.slot or (leader and leader.key == cand.key):
                    continue  # gone again, or it leads its election: "elected" says it
                cand = current
            self._record(kind, cand.name, cand, rev, when, entries, scopes(cand.name))

        for scope in before:
            if not index.exists(scope):
                del self._meta[scope]

        for scope in sorted(affected):
            meta = self._meta.get(scope)
            new = index.leader(scope)
            if meta is None or new is None:
                continue  # not an election (any more)
            old = before.get(scope)
            if old is None or old.slot != new.slot:
                meta.terms += 1
                meta.elected_revision = meta.last_change_revision = rev
                meta.elected_time = meta.last_change_time = when
                self._record(ELECTED, scope, new, rev, when, entries, (scope,))
            elif old.value != new.value:
                meta.last_change_revision = rev
                meta.last_change_time = when
                self._record(PROCLAIMED, scope, new, rev, when, entries, (scope,))

        touched.update(scope for scope in affected if scope in before or scope in self._meta)

    def _record(
        self,
        kind: str,
        election: bytes,
        cand: CandidateKey,
        rev: int,
        when: float | None,
        entries: list[TimelineEntry],
        into: Iterable[bytes],
    ) -> None:
        """Add an entry to the timeline and to the history of each existing election in `into`."""
        entry = TimelineEntry(kind, election, cand.key, cand.value, cand.lease, rev, when)
        entries.append(entry)
        self._timeline.append(entry)
        for scope in into:
            meta = self._meta.get(scope)
            if meta is not None:
                meta.history.append(entry)
