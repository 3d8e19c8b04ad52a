"""The model against a straightforward reference, over random etcd-like histories.

A fake etcd turns campaigns, resigns, proclaims, lease expiries, transactions and stray keys
into watch events with increasing revisions. Batches reach the model late, overlapping and
re-delivered, or are lost to a "compaction" that forces a reload. After every step the model
must answer exactly what the reference (a dict of key -> KeyValue, scanned in full) answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from election_tui.etcd import Event, EventType, KeyValue, candidate_key, parse_candidate_key
from election_tui.model import REMOVAL_REASONS, ElectionState

NAMES = [b"a", b"a/b", b"a/b/c", b"b", b"ab", b"a/", b"", b"\xff\x1b"]
QUERIES = [*NAMES, b"c", b"a/b/", b"a//", b"\xff"]
LEASES = [0x1, 0x2, 0xB, 0x1F, 0xABC]  # 0xb makes key b"a/b" a candidate of election b"a"
VALUES = [b"v", b"w", b"\x80\xff", b""]

Store = dict[bytes, KeyValue]
Entry = tuple[str, bytes, bytes, bytes, int]  # kind, election, key, value, revision


# ---- the reference: full scans, no cleverness -------------------------------------------------


def ref_candidates(store: Store) -> dict[bytes, bytes]:
    """key -> election name, for every key Campaign could have written."""
    out = {}
    for key, kv in store.items():
        name = parse_candidate_key(key, kv.lease)
        if name is not None:
            out[key] = name
    return out


def ref_queue(store: Store, name: bytes) -> list[KeyValue]:
    cands = ref_candidates(store)
    under = [store[k] for k in cands if k.startswith(name + b"/")]
    return sorted(under, key=lambda kv: (kv.create_revision, kv.key))


def ref_names(store: Store) -> list[bytes]:
    return sorted(set(ref_candidates(store).values()))


def ref_leaders(store: Store) -> dict[bytes, KeyValue]:
    """Leader of every existing election."""
    return {name: ref_queue(store, name)[0] for name in ref_names(store)}


def ref_entries(before: Store, after: Store, rev: int, hints: dict[bytes, str]) -> list[Entry]:
    """The timeline the rules imply for one step from `before` to `after` (consumes hints)."""
    old, new = ref_candidates(before), ref_candidates(after)
    old_leaders, new_leaders = ref_leaders(before), ref_leaders(after)
    entries: list[Entry] = []
    for key, name in old.items():
        if key not in new or after[key].create_revision != before[key].create_revision:
            entries.append((hints.pop(key, "left"), name, key, before[key].value, rev))
    for key, name in new.items():
        is_new = key not in old or after[key].create_revision != before[key].create_revision
        if is_new and new_leaders[name].key != key:
            entries.append(("joined", name, key, after[key].value, rev))
    for name, leader in new_leaders.items():
        was = old_leaders.get(name)
        if was is None or (was.key, was.create_revision) != (leader.key, leader.create_revision):
            entries.append(("elected", name, leader.key, leader.value, rev))
        elif was.value != leader.value:
            entries.append(("proclaimed", name, leader.key, leader.value, rev))
    return entries


def apply_to(store: Store, events: Iterable[Event]) -> None:
    for event in events:
        if event.type is EventType.PUT:
            store[event.kv.key] = event.kv
        else:
            store.pop(event.kv.key, None)


# ---- a fake etcd ------------------------------------------------------------------------------


class FakeEtcd:
    """Just enough of etcd's MVCC: one revision per transaction, create revision kept on PUT."""

    def __init__(self) -> None:
        self.store: Store = {}
        self.revision = 1

    def txn(
        self, puts: Iterable[tuple[bytes, bytes, int]] = (), deletes: Iterable[bytes] = ()
    ) -> list[Event]:
        rev = self.revision + 1
        events = []
        for key, value, lease in puts:
            old = self.store.get(key)
            create, version = (old.create_revision, old.version + 1) if old else (rev, 1)
            kv = KeyValue(key, value, create, rev, version, lease)
            self.store[key] = kv
            events.append(Event(EventType.PUT, kv, old))
        for key in deletes:
            if (gone := self.store.pop(key, None)) is not None:
                events.append(Event(EventType.DELETE, KeyValue(key, b"", 0, rev, 0, 0), gone))
        if events:
            self.revision = rev
        return events


# ---- the machine ------------------------------------------------------------------------------


class ModelMatchesReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.etcd = FakeEtcd()
        self.model = ElectionState(timeline_limit=10_000, history_limit=10_000)
        self.seen: Store = {}  # the store as of the last revision the model was given
        self.pending: list[list[Event]] = []  # revisions not yet delivered, oldest first
        self.last_batch: list[Event] = []
        self.hints: dict[bytes, str] = {}
        self.terms: dict[bytes, int] = {}
        self.started = False
        self.now = 0.0

    # -- what clients do to etcd --

    def _record(self, events: list[Event]) -> None:
        if events:
            self.pending.append(events)

    def _keys(self) -> list[bytes]:
        return sorted(self.etcd.store)

    @rule(name=st.sampled_from(NAMES), lease=st.sampled_from(LEASES), value=st.sampled_from(VALUES))
    def campaign(self, name: bytes, lease: int, value: bytes) -> None:
        self._record(self.etcd.txn(puts=[(candidate_key(name, lease), value, lease)]))

    @rule(
        names=st.lists(st.sampled_from(NAMES), min_size=2, max_size=3, unique=True),
        lease=st.sampled_from(LEASES),
    )
    def campaign_in_one_txn(self, names: list[bytes], lease: int) -> None:
        """Several keys with one create revision: the key breaks the tie."""
        self._record(self.etcd.txn(puts=[(candidate_key(n, lease), b"t", lease) for n in names]))

    @rule(data=st.data(), reason=st.sampled_from([None, *sorted(REMOVAL_REASONS)]))
    def resign(self, data: st.DataObject, reason: str | None) -> None:
        keys = self._keys()
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        if reason is not None:
            self.model.expect_removal(key, reason)
            self.hints[key] = reason
        self._record(self.etcd.txn(deletes=[key]))

    @rule(name=st.sampled_from(NAMES), value=st.sampled_from(VALUES))
    def proclaim(self, name: bytes, value: bytes) -> None:
        queue = ref_queue(self.etcd.store, name)
        if queue:
            leader = queue[0]
            self._record(self.etcd.txn(puts=[(leader.key, value, leader.lease)]))

    @rule(lease=st.sampled_from(LEASES), hinted=st.booleans())
    def expire(self, lease: int, hinted: bool) -> None:
        """A lease ends: all its keys go in one revision."""
        keys = [k for k, kv in self.etcd.store.items() if kv.lease == lease]
        if hinted:
            for key in keys:
                self.model.expect_removal(key, "expired")
                self.hints[key] = "expired"
        self._record(self.etcd.txn(deletes=keys))

    @rule(
        name=st.sampled_from(NAMES), lease=st.sampled_from([0, *LEASES]), tail=st.sampled_from([b"x", b"1"])
    )
    def stray_key(self, name: bytes, lease: int, tail: bytes) -> None:
        """A key Campaign did not write, or a candidate key re-put with another lease."""
        key = name + b"/" + tail
        self._record(self.etcd.txn(puts=[(key, b"s", lease)]))

    # -- how the watch delivers it --

    def _deliver(self, count: int, header: int, resend: list[Event]) -> None:
        """Give the model the oldest `count` pending revisions, after `resend` (already seen)."""
        self.now += 1.0
        expected: list[Entry] = []
        changed: set[bytes] = set()
        fresh = self.pending[:count]
        for events in fresh:
            rev = events[0].kv.mod_revision
            before = dict(self.seen)
            apply_to(self.seen, events)
            entries = ref_entries(before, self.seen, rev, self.hints)
            self._count_terms(entries)
            expected += entries
            for name in set(ref_names(before)) | set(ref_names(self.seen)):
                if ref_queue(before, name) != ref_queue(self.seen, name):
                    changed.add(name)
        del self.pending[:count]
        events = [e for revision in fresh for e in revision]
        changes = self.model.apply(resend + events, header, self.now)
        got = [(e.kind, e.election, e.key, e.value, e.revision) for e in changes.timeline]
        assert Counter(got) == Counter(expected)
        assert changed <= changes.elections
        assert not changes.reset
        self.last_batch = events
        self.started = True

    def _count_terms(self, entries: list[Entry]) -> None:
        """Terms restart when an election vanishes: call once per revision, after `seen` moved."""
        for kind, election, *_ in entries:
            if kind == "elected":
                self.terms[election] = self.terms.get(election, 0) + 1
        existing = set(ref_names(self.seen))
        self.terms = {name: n for name, n in self.terms.items() if name in existing}

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data(), overlap=st.booleans(), header_ahead=st.booleans())
    def deliver(self, data: st.DataObject, overlap: bool, header_ahead: bool) -> None:
        count = data.draw(st.integers(1, len(self.pending)))
        header = self.etcd.revision if header_ahead else self.pending[count - 1][0].kv.mod_revision
        resend = self.last_batch if overlap else []  # a watch resumed from an older revision
        self._deliver(count, header, resend)

    @precondition(lambda self: bool(self.last_batch))
    @rule()
    def redeliver(self) -> None:
        changes = self.model.apply(self.last_batch, self.last_batch[-1].kv.mod_revision, self.now)
        assert not changes.elections and not changes.timeline

    @precondition(lambda self: not self.pending)
    @rule()
    def progress(self) -> None:
        self.model.apply([], self.etcd.revision, self.now)
        assert self.model.revision == self.etcd.revision
        self.started = True  # "nothing here as of this revision" is knowledge a reload reconciles

    @rule()
    def compacted_reload(self) -> None:
        """Undelivered revisions are lost; a full read replaces them."""
        self.now += 1.0
        snapshot = dict(self.etcd.store)
        expected = (
            [] if not self.started else ref_entries(self.seen, snapshot, self.etcd.revision, self.hints)
        )
        changes = self.model.load(snapshot.values(), self.etcd.revision, self.now)
        got = [(e.kind, e.election, e.key, e.value, e.revision) for e in changes.timeline]
        assert Counter(got) == Counter(expected)
        assert changes.reset
        self.seen = snapshot
        self.pending.clear()
        self.last_batch = []
        if self.started:
            self._count_terms(expected)
        else:
            self.terms = dict.fromkeys(ref_names(snapshot), 1)
        self.started = True

    # -- what must always hold --

    @invariant()
    def answers_match_the_reference(self) -> None:
        model, seen = self.model, self.seen
        assert model.names() == ref_names(seen)
        for name in QUERIES + ref_names(seen):
            queue = ref_queue(seen, name)
            got = model.candidates(name)
            assert [(c.key, c.value, c.lease, c.create_revision, c.mod_revision) for c in got] == [
                (kv.key, kv.value, kv.lease, kv.create_revision, kv.mod_revision) for kv in queue
            ]
            leader = model.leader(name)
            assert (leader.key if leader else None) == (queue[0].key if queue else None)
            view = model.election(name)
            if name in ref_names(seen):
                assert view is not None and view.candidates == got and view.leader == leader
                assert view.terms == self.terms[name]
            else:
                assert view is None

    @invariant()
    def a_fresh_load_of_the_reference_equals_the_incremental_state(self) -> None:
        fresh = ElectionState()
        fresh.load(self.seen.values(), self.model.revision, self.now)
        assert fresh.names() == self.model.names()
        for name in QUERIES + self.model.names():
            assert fresh.candidates(name) == self.model.candidates(name)
            assert fresh.leader(name) == self.model.leader(name)


ModelMatchesReference.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_model_matches_reference = ModelMatchesReference.TestCase
