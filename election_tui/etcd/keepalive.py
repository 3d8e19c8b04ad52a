"""Lease keep-alive: every lease of a client renewed over one LeaseKeepAlive stream.

Each lease is renewed at a third of its TTL. A lease is *lost* when the server answers TTL <= 0
(expired or revoked) or when no answer arrived within the TTL (we can no longer prove it lives);
loss is signalled on the handle, never swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from ._pb import rpc_pb2
from .connection import Connection
from .errors import InvalidToken, Unavailable, from_rpc_error
from .retry import Backoff

if TYPE_CHECKING:
    from typing import Any

LossCallback = Callable[["KeepAlive"], None]

_MIN_INTERVAL = 0.2


class KeepAlive:
    """A lease being kept alive: pause it to simulate a partition, cancel it to stop renewing."""

    def __init__(self, manager: KeepAliveManager, lease_id: int, ttl: int) -> None:
        self.lease_id = lease_id
        self.granted_ttl = ttl
        self.server_ttl = ttl
        self.renewals = 0
        self.last_renewal: float = time.monotonic()
        self.expires_at: float = self.last_renewal + ttl
        self.next_due: float = self.last_renewal + ttl / 3
        self.paused = False
        self.cancelled = False
        self.loss_reason: str | None = None
        self._sent_at: float | None = None
        self._token = 0  # the heap entry carrying this token is the live one
        self._manager = manager
        self._lost = asyncio.Event()
        self._callbacks: list[LossCallback] = []

    def __repr__(self) -> str:
        state = "lost" if self.lost else "paused" if self.paused else "live"
        return f"<KeepAlive lease={self.lease_id:x} {state} remaining={self.remaining():.1f}s>"

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    @property
    def active(self) -> bool:
        return not (self.lost or self.cancelled)

    def remaining(self, now: float | None = None) -> float:
        """Seconds the lease is known to live without another renewal (a lower bound)."""
        if self.lost:
            return 0.0
        return max(0.0, self.expires_at - (time.monotonic() if now is None else now))

    def pause(self) -> None:
        """Stop renewing but keep watching the deadline: the lease dies after its TTL."""
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.active:
            self.paused = False
            self.next_due = time.monotonic()
            self._manager.schedule(self, self.next_due)

    def cancel(self) -> None:
        """Stop renewing and forget the lease (it is not revoked: it expires by itself)."""
        if not self.cancelled:
            self.cancelled = True
            self._manager.forget(self)

    def on_lost(self, callback: LossCallback) -> None:
        """Call `callback(handle)` once when the lease is lost (at once if it already is)."""
        if self.lost:
            callback(self)
        else:
            self._callbacks.append(callback)

    async def wait_lost(self) -> str:
        """Wait until the lease is lost; return why."""
        await self._lost.wait()
        return self.loss_reason or "lost"

    def _mark_lost(self, reason: str) -> None:
        if self.lost or self.cancelled:
            return
        self.loss_reason = reason
        self._lost.set()
        self._manager.forget(self)
        for callback in self._callbacks:
            callback(self)
        self._callbacks.clear()


class KeepAliveManager:
    """Schedules renewals with a heap of due times and keeps the one stream alive."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._handles: dict[int, KeepAlive] = {}
        self._heap: list[tuple[float, int, int, KeepAlive]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.last_error: str | None = None

    def __len__(self) -> int:
        return len(self._handles)

    def add(self, lease_id: int, ttl: int) -> KeepAlive:
        existing = self._handles.get(lease_id)
        if existing is not None and existing.active:
            return existing
        handle = KeepAlive(self, lease_id, ttl)
        self._handles[lease_id] = handle
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="etcd-keepalive")
        self.schedule(handle, handle.next_due)
        return handle

    def get(self, lease_id: int) -> KeepAlive | None:
        return self._handles.get(lease_id)

    def forget(self, handle: KeepAlive) -> None:
        if self._handles.get(handle.lease_id) is handle:
            del self._handles[handle.lease_id]

    def schedule(self, handle: KeepAlive, when: float) -> None:
        """(Re)plan the handle's next look at `when`; older heap entries become void."""
        handle._token += 1
        heapq.heappush(self._heap, (when, next(self._seq), handle._token, handle))
        self._wake.set()

    async def close(self) -> None:
        for handle in list(self._handles.values()):
            handle.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the stream -------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff()
        while self._handles:
            generation = self._conn.generation
            try:
                metadata = await self._conn.metadata()
                call = self._conn.stubs().lease.LeaseKeepAlive(metadata=metadata)
            except Exception as err:
                self.last_error = str(err)
                self._expire_overdue(time.monotonic())
                await backoff.sleep()
                continue
            try:
                sender = asyncio.create_task(self._send(call))
                try:
                    await self._receive(call, backoff)
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                        await sender
                return  # _receive returns only when there is nothing left to keep alive
            except grpc.aio.AioRpcError as err:
                # Unlike a watch, this stream is never given up on whatever the error: there is
                # no caller to raise to, and each lease is declared lost by its own deadline.
                self.connected = False
                mapped = from_rpc_error(err)
                self.last_error = mapped.detail
                if isinstance(mapped, InvalidToken):
                    await self._conn.renew_token(metadata)
                elif isinstance(mapped, Unavailable):
                    self._conn.failover(generation)
            finally:
                call.cancel()
            await backoff.sleep()
            now = time.monotonic()
            self._expire_overdue(now)
            for handle in list(self._handles.values()):
                handle._sent_at = None  # unanswered: send again on the new stream
                handle.next_due = min(handle.next_due, now)
                self.schedule(handle, handle.expires_at if handle.paused else now)
        self.connected = False

    async def _receive(self, call: Any, backoff: Backoff) -> None:
        while self._handles:
            resp = await call.read()
            if resp is grpc.aio.EOF:
                if not self._handles:
                    return
                raise grpc.aio.AioRpcError(
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.aio.Metadata(),
                    grpc.aio.Metadata(),
                    "keep-alive stream ended",
                )
            self.connected = True
            backoff.reset()
            handle = self._handles.get(resp.ID)
            if handle is None or handle._sent_at is None:
                continue
            if resp.TTL <= 0:
                handle._mark_lost("lease expired or revoked (the server no longer knows it)")
                continue
            sent_at, handle._sent_at = handle._sent_at, None
            handle.server_ttl = resp.TTL
            handle.renewals += 1
            handle.last_renewal = time.monotonic()
            # The server restarted the countdown when it got our request, at or after sent_at.
            handle.expires_at = max(handle.expires_at, sent_at + resp.TTL)
            handle.next_due = sent_at + max(resp.TTL / 3, _MIN_INTERVAL)

    async def _send(self, call: Any) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, token, handle = heapq.heappop(self._heap)
                if token != handle._token or not handle.active:
                    continue
                if handle.expires_at <= now:
                    handle._mark_lost(
                        "keep-alive was paused past the TTL"
                        if handle.paused
                        else "no keep-alive answer within the TTL"
                    )
                elif handle.paused:
                    self.schedule(handle, handle.expires_at)
                elif handle.next_due > now:
                    self.schedule(handle, min(handle.next_due, handle.expires_at))
                else:
                    handle._sent_at = now
                    # Unanswered requests are repeated at the same pace until the deadline passes.
                    handle.next_due = now + max(handle.server_ttl / 3, _MIN_INTERVAL)
                    self.schedule(handle, min(handle.next_due, handle.expires_at))
                    await call.write(rpc_pb2.LeaseKeepAliveRequest(ID=handle.lease_id))
            self._wake.clear()
            timeout = self._heap[0][0] - time.monotonic() if self._heap else 1.0
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(timeout, 1.0))
            if not self._handles:
                await call.done_writing()
                return

    def _expire_overdue(self, now: float) -> None:
        """While the stream is down the sender is not looking: check deadlines here."""
        for handle in [h for h in self._handles.values() if h.expires_at <= now]:
            handle._mark_lost("no keep-alive answer within the TTL (connection lost)")
