"""Plain, immutable values the client hands out, so callers never touch protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pb import kv_pb2, rpc_pb2, v3election_pb2


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as etcd stores it; `create_revision` orders an election's candidates."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    @classmethod
    def from_pb(cls, kv: kv_pb2.KeyValue) -> KeyValue:
        return _key_value(kv)


class EventType(Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one key; `prev_kv` is the key before the change (None if unknown)."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @classmethod
    def from_pb(cls, ev: kv_pb2.Event, *, prev_kv: bool = True) -> Event:
        """`prev_kv=False`: do not look for one (a watch that did not ask etcd for it)."""
        event = _new(Event)
        _set_type(event, _DELETE if ev.type == 1 else _PUT)
        _set_kv(event, _key_value(ev.kv))
        _set_prev(event, _key_value(ev.prev_kv) if prev_kv and ev.HasField("prev_kv") else None)
        return event


@dataclass(frozen=True, slots=True)
class WatchEvents:
    """A batch of events that etcd applied in one revision range; `revision` is the header's."""

    events: tuple[Event, ...]
    revision: int


# The watch decodes every event, so KeyValue and Event are built without their __init__: the
# slots are set through their descriptors, as the frozen __init__ does through object's
# __setattr__, in about half the time (tests/test_client_watch.py checks they are equal).
_new = object.__new__
_set_key, _set_value, _set_create, _set_mod, _set_version, _set_lease = (
    KeyValue.__dict__[name].__set__
    for name in ("key", "value", "create_revision", "mod_revision", "version", "lease")
)
_set_type, _set_kv, _set_prev = (Event.__dict__[name].__set__ for name in ("type", "kv", "prev_kv"))
_set_events, _set_events_revision = (WatchEvents.__dict__[name].__set__ for name in ("events", "revision"))
_PUT, _DELETE = EventType.PUT, EventType.DELETE


def _key_value(kv: kv_pb2.KeyValue) -> KeyValue:
    out = _new(KeyValue)
    _set_key(out, kv.key)
    _set_value(out, kv.value)
    _set_create(out, kv.create_revision)
    _set_mod(out, kv.mod_revision)
    _set_version(out, kv.version)
    _set_lease(out, kv.lease)
    return out


def _events(raw: Sequence[kv_pb2.Event], prev_kv: bool) -> tuple[Event, ...]:
    """Event.from_pb of each, inlined: this is the watch's loop over every event it delivers."""
    out: list[Event] = []
    append = out.append
    for ev in raw:
        pb = ev.kv
        kv = _new(KeyValue)
        _set_key(kv, pb.key)
        _set_value(kv, pb.value)
        _set_create(kv, pb.create_revision)
        _set_mod(kv, pb.mod_revision)
        _set_version(kv, pb.version)
        _set_lease(kv, pb.lease)
        event = _new(Event)
        _set_type(event, _DELETE if ev.type == 1 else _PUT)
        _set_kv(event, kv)
        _set_prev(event, _key_value(ev.prev_kv) if prev_kv and ev.HasField("prev_kv") else None)
        append(event)
    return tuple(out)


def _watch_events(events: tuple[Event, ...], revision: int) -> WatchEvents:
    """WatchEvents(events, revision), built as fast as `_key_value`."""
    out = _new(WatchEvents)
    _set_events(out, events)
    _set_events_revision(out, revision)
    return out


@dataclass(frozen=True, slots=True)
class WatchProgress:
    """The watch is caught up to `revision`: nothing happened under the prefix in between."""

    revision: int


@dataclass(frozen=True, slots=True)
class WatchCompacted:
    """The wanted start revision was compacted away: re-read (Range) and watch again.

    It is the last item a watch yields.
    """

    compact_revision: int


@dataclass(frozen=True, slots=True)
class WatchDisconnected:
    """The watch stream broke; it is being re-established and will resume without gaps."""

    error: str


@dataclass(frozen=True, slots=True)
class WatchResumed:
    """The watch stream is back, resuming at `revision`."""

    revision: int


WatchItem = WatchEvents | WatchProgress | WatchCompacted | WatchDisconnected | WatchResumed


@dataclass(frozen=True, slots=True)
class RangeResult:
    """Keys read at `revision`; `more` says a `limit` cut the answer short of `count` keys."""

    kvs: tuple[KeyValue, ...]
    revision: int
    more: bool = False
    count: int = 0

    @classmethod
    def from_pb(cls, resp: rpc_pb2.RangeResponse, revision: int | None = None) -> RangeResult:
        return cls(
            tuple(KeyValue.from_pb(kv) for kv in resp.kvs),
            int(resp.header.revision if revision is None else revision),
            bool(resp.more),
            int(resp.count),
        )


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    ttl: int


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A lease's remaining life as the server reports it (`ttl` -1 means expired or gone)."""

    id: int
    ttl: int
    granted_ttl: int
    keys: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaderKey:
    """Proof of leadership: `rev` is the create revision of `key`, etcd's fencing token."""

    name: bytes
    key: bytes
    rev: int
    lease: int

    @classmethod
    def from_pb(cls, lk: v3election_pb2.LeaderKey) -> LeaderKey:
        return cls(lk.name, lk.key, lk.rev, lk.lease)


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


@dataclass(frozen=True, slots=True)
class Status:
    """A member's own view: its id, the raft leader's id (0: it knows none), version, revision, raft."""

    member_id: int
    leader: int
    version: str
    revision: int
    raft_term: int
    db_size: int
    errors: tuple[str, ...] = field(default_factory=tuple)
    raft_index: int = 0  # the last raft log entry this member has (committed or not)

    @classmethod
    def from_pb(cls, resp: rpc_pb2.StatusResponse) -> Status:
        return cls(
            resp.header.member_id,
            resp.leader,
            resp.version,
            resp.header.revision,
            resp.raftTerm,
            resp.dbSize,
            tuple(resp.errors),
            resp.raftIndex,
        )


@dataclass(frozen=True, slots=True)
class PutResult:
    """A write's revision, and the key before it when asked for (`prev_kv=True`; None if new)."""

    revision: int
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """How many keys a delete inside a transaction removed."""

    deleted: int
    revision: int


TxnResponse = RangeResult | PutResult | DeleteResult


@dataclass(frozen=True, slots=True)
class TxnResult:
    """Whether the compares held, and one response per operation of the branch that ran."""

    succeeded: bool
    revision: int
    responses: tuple[TxnResponse, ...] = ()

    @classmethod
    def from_pb(cls, resp: rpc_pb2.TxnResponse) -> TxnResult:
        revision = resp.header.revision
        out: list[TxnResponse] = []
        for op in resp.responses:
            kind = op.WhichOneof("response")
            if kind == "response_range":
                out.append(RangeResult.from_pb(op.response_range, revision))
            elif kind == "response_put":
                put = op.response_put
                prev = KeyValue.from_pb(put.prev_kv) if put.HasField("prev_kv") else None
                out.append(PutResult(revision, prev))
            elif kind == "response_delete_range":
                out.append(DeleteResult(int(op.response_delete_range.deleted), revision))
        return cls(bool(resp.succeeded), int(revision), tuple(out))
