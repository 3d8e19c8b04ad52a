"""Witnesses of waiting campaigns: whether a candidate's key outlived every older one, watched.

etcd's Campaign RPC can answer "elected" to a candidate whose key was deleted while it waited
(etcd-io/etcd#19597). A witness watches the election's deletions from the candidate key's
creation on and sees who goes first: the `older` keys that stood then (all of them: the key
leads) or the key itself (it never led). The history is ordered, so a witness is never wrong;
it can only be undecided (a watch refused, compacted or broken), and then the campaign reads.

All witnesses of a client share one Watch stream (one watcher each; etcd filters out puts with
NOPUT and sends each deletion with its previous version, whose create revision says whether
the key was older). A broken stream, or one whose watcher etcd refused, leaves its witnesses
undecided; the next witness opens a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence

import grpc

from ._pb import kv_pb2, rpc_pb2
from .connection import Connection
from .errors import EtcdError
from .keys import SEP, prefix_range_end
from .types import LeaderKey

_DELETE = kv_pb2.Event.DELETE

# A candidate with more keys ahead of it gets no witness (its win is checked by a read): every
# deletion in an election goes to every witness in it, so witnesses for a long queue would cost
# the client O(queue) events per hand-over; this bounds it.
WITNESS_MAX_AHEAD = 16


class Witness:
    """What one waiting campaign's watcher saw: `led` True, False, or None (undecided)."""

    def __init__(self, key: bytes, rev: int, older: int) -> None:
        self.key = key
        self.rev = rev
        self.older = older  # keys older than ours still standing, as far as the watch has seen
        self.led: bool | None = None
        self.done = False  # nothing more to learn (its watcher is cancelled on release)
        self.watch_id: int | None = None  # etcd's, once it created the watcher
        self.released = False
        self._stream: _Stream | None = None

    def verdict(self, leader: LeaderKey) -> bool | None:
        """Whether `leader` (Campaign's answer) led, if the watch has seen enough to say."""
        return self.led if leader.key == self.key and leader.rev == self.rev else None

    def release(self) -> None:
        """The campaign is over: the watcher is cancelled (one request on the shared stream)."""
        self.released = True
        if self._stream is not None:
            self._stream.cancel(self)

    def _feed(self, events: Sequence[kv_pb2.Event]) -> bool:
        """Take a batch of deletions; True once there is nothing more to learn.

        Decided by revision, not by event: one revision can delete the last older key and ours
        (a prefix delete, a txn), and its events come in key order, ours possibly last. A key
        that went in the revision where the last older one went never led.
        """
        for i, ev in enumerate(events):
            if ev.type != _DELETE:
                continue
            if not ev.HasField("prev_kv"):
                return True  # cannot tell whose key it was: undecided
            created = ev.prev_kv.create_revision
            if created == self.rev and ev.kv.key == self.key:
                self.led = False  # ours went while an older key stood
                return True
            if created < self.rev:
                self.older -= 1
                if self.older == 0:
                    self.led = not self._goes_with(events[i + 1 :], ev.kv.mod_revision)
                    return True
        return False

    def _goes_with(self, later: Sequence[kv_pb2.Event], revision: int) -> bool:
        """Whether our key is deleted at `revision` among `later` events (etcd sends one
        revision's events in one response)."""
        return any(
            ev.type == _DELETE and ev.kv.mod_revision == revision and ev.kv.key == self.key for ev in later
        )


class Witnesses:
    """A client's witnesses and their shared Watch stream (opened on the first, lazily)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._stream: _Stream | None = None

    def watch(self, name: bytes, key: bytes, rev: int, older: int) -> Witness:
        """Start witnessing `key` (created at `rev`, with `older` keys before it) in election `name`."""
        if self._stream is None or self._stream.dead:
            self._stream = _Stream(self._conn)
        witness = Witness(key, rev, older)
        self._stream.add(witness, name)
        return witness

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()


class _Stream:
    """One Watch stream carrying many witnesses' watchers; requests go through a queue."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._requests: asyncio.Queue[rpc_pb2.WatchRequest | None] = asyncio.Queue()
        self._creating: deque[Witness] = deque()  # etcd answers creates in the order sent
        self._watching: dict[int, Witness] = {}
        self.dead = False
        self._task = asyncio.create_task(self._run(), name="campaign-witnesses")

    def add(self, witness: Witness, name: bytes) -> None:
        witness._stream = self
        prefix = name + SEP
        create = rpc_pb2.WatchCreateRequest(
            key=prefix,
            range_end=prefix_range_end(prefix),
            start_revision=witness.rev + 1,
            prev_kv=True,
            filters=[rpc_pb2.WatchCreateRequest.NOPUT],
        )
        self._creating.append(witness)
        self._requests.put_nowait(rpc_pb2.WatchRequest(create_request=create))

    def cancel(self, witness: Witness) -> None:
        """Cancel the witness's watcher now, or as soon as etcd says it created it."""
        if self.dead or witness.watch_id is None:
            return
        if self._watching.pop(witness.watch_id, None) is not None:
            cancel = rpc_pb2.WatchCancelRequest(watch_id=witness.watch_id)
            self._requests.put_nowait(rpc_pb2.WatchRequest(cancel_request=cancel))

    async def _outgoing(self) -> AsyncIterator[rpc_pb2.WatchRequest]:
        while (request := await self._requests.get()) is not None:
            yield request

    async def _run(self) -> None:
        call = None
        try:
            metadata = await self._conn.metadata()
            call = self._conn.stubs().watch.Watch(self._outgoing(), metadata=metadata)
            async for resp in call:
                if resp.created:
                    witness = self._creating.popleft()
                    if resp.canceled:
                        # Refused (a permission, or a token that expired since the stream was
                        # opened: etcd checks the stream's): retire the stream, so the next
                        # witness opens one with the client's current token.
                        return
                    witness.watch_id = resp.watch_id
                    self._watching[resp.watch_id] = witness
                    if witness.released:
                        self.cancel(witness)
                    continue
                witness_or_none = self._watching.get(resp.watch_id)
                if witness_or_none is None:
                    continue  # cancelled by us meanwhile
                if resp.canceled:  # e.g. its start revision was compacted: undecided
                    self._watching.pop(resp.watch_id, None)
                elif resp.events and not witness_or_none.done:
                    # Decided, its watcher stays until release: a write now would come just
                    # when Campaign's answer is due, and delay it.
                    witness_or_none.done = witness_or_none._feed(resp.events)
        except (grpc.aio.AioRpcError, EtcdError, IndexError):
            pass  # every witness of this stream stays undecided; the campaigns read instead
        finally:
            self.dead = True
            self._creating.clear()
            self._watching.clear()
            if call is not None:
                call.cancel()

    async def close(self) -> None:
        self.dead = True
        self._requests.put_nowait(None)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
