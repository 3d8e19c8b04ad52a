"""A prefix watch that survives disconnects and etcd restarts without losing or repeating events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType

import grpc

from ._pb import kv_pb2, rpc_pb2
from .connection import Connection
from .errors import InvalidToken, PermissionDenied, Unavailable, from_cancel_reason, from_rpc_error
from .retry import Backoff, reopens_stream
from .types import (
    Event,
    WatchCompacted,
    WatchDisconnected,
    WatchItem,
    WatchProgress,
    WatchResumed,
    _events,
    _watch_events,
)


class Watch(AsyncIterator[WatchItem]):
    """Async iterator of watch items; use `async with` (or `aclose()`) to end it.

    It resumes after a broken stream from the last delivered revision + 1 (or a progress
    notification's + 1), never from the creation acknowledgement, so nothing is lost or repeated.
    A compacted start revision ends it with a `WatchCompacted` item.

    With a `key_filter`, events of refused keys are dropped undecoded and counted in `dropped`;
    a response whose events were all dropped is a `WatchProgress` to its last event's revision.
    """

    def __init__(
        self,
        connection: Connection,
        key: bytes,
        range_end: bytes,
        start_revision: int | None = None,
        *,
        prev_kv: bool = False,
        key_filter: Callable[[bytes], bool] | None = None,
    ) -> None:
        self._conn = connection
        self._key = key
        self._range_end = range_end
        self._prev_kv = prev_kv
        self._key_filter = key_filter
        self.dropped = 0  # events `key_filter` refused
        self.next_revision = start_revision or 0
        self.connected = False
        self._items = self._run()

    def __aiter__(self) -> AsyncIterator[WatchItem]:
        return self._items  # `async for` steps the generator itself: one coroutine less per item

    def __anext__(self) -> Awaitable[WatchItem]:
        return self._items.__anext__()

    async def aclose(self) -> None:
        await self._items.aclose()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _create_request(self) -> rpc_pb2.WatchRequest:
        return rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=self._key,
                range_end=self._range_end,
                start_revision=self.next_revision,
                progress_notify=True,
                prev_kv=self._prev_kv,
            )
        )

    def _decode(self, raw: Sequence[kv_pb2.Event]) -> tuple[tuple[Event, ...], int]:
        """The events not delivered before that the filter keeps, and how many it dropped."""
        fresh: Sequence[kv_pb2.Event] = raw
        if len(raw) > 1 and raw[0].kv.mod_revision < self.next_revision:  # the rest are newer
            fresh = [e for e in raw if e.kv.mod_revision >= self.next_revision]
        keep = self._key_filter
        if keep is None:
            return _events(fresh, self._prev_kv), 0
        kept = [e for e in fresh if keep(e.kv.key)]
        return _events(kept, self._prev_kv), len(fresh) - len(kept)

    async def _run(self) -> AsyncGenerator[WatchItem, None]:
        backoff = Backoff(cap=2.0)
        broken: str | None = None
        renewed = False  # a refusal was answered with a fresh token since the last created watch
        while True:
            generation = self._conn.generation
            call = None
            metadata = None
            stale_token = False
            try:
                metadata = await self._conn.metadata()
                call = self._conn.stubs().watch.Watch(metadata=metadata)
                await call.write(self._create_request())
                async for resp in call:
                    events = resp.events
                    if events:  # the common case first: no events come with created or canceled
                        last = events[-1].kv.mod_revision
                        if last < self.next_revision:
                            continue  # delivered before (etcd resends nothing older, but be sure)
                        decoded, dropped = self._decode(events)
                        header = resp.header.revision
                        del resp, events  # the dropped values go now, not when the next response comes
                        self.next_revision = last + 1
                        if dropped:
                            self.dropped += dropped
                        if decoded:
                            yield _watch_events(decoded, header)
                        elif dropped:
                            yield WatchProgress(last)
                        del decoded  # the caller has them: no value waits here for the next response
                        continue
                    # A refused watch (e.g. permission denied) is answered created *and* canceled.
                    if resp.canceled:
                        if resp.compact_revision:
                            yield WatchCompacted(resp.compact_revision)
                            return
                        refused = from_cancel_reason(resp.cancel_reason)
                        # A stale token is refused in-band, as "invalid auth token" by etcd 3.4
                        # and 3.6 and as "permission denied" by 3.5 (which cannot tell the two
                        # apart): try one fresh token before believing the refusal.
                        if (
                            renewed
                            or metadata is None
                            or not isinstance(refused, InvalidToken | PermissionDenied)
                        ):
                            raise refused
                        stale_token = renewed = True
                        break
                    if resp.created:
                        renewed = False
                        if not self.next_revision:
                            # Watching "from now": the server starts after the ack's revision.
                            self.next_revision = resp.header.revision + 1
                        self.connected = True
                        backoff.reset()
                        if broken is not None:
                            broken = None
                            yield WatchResumed(self.next_revision)
                        continue
                    if resp.header.revision >= self.next_revision:
                        self.next_revision = resp.header.revision + 1
                        yield WatchProgress(resp.header.revision)
                if stale_token:
                    await self._conn.renew_token(metadata)
                    continue
                reason = "the server ended the watch stream"
            except grpc.aio.AioRpcError as err:
                mapped = from_rpc_error(err)
                if isinstance(mapped, InvalidToken):
                    await self._conn.renew_token(metadata)
                    continue
                if not reopens_stream(mapped):
                    raise mapped from err
                if isinstance(mapped, Unavailable):
                    self._conn.failover(generation)
                reason = mapped.detail
            except Unavailable as err:  # e.g. authenticating while the server is away
                reason = err.detail
            finally:
                if call is not None:
                    call.cancel()
            self.connected = False
            if broken is None:
                broken = reason
                yield WatchDisconnected(reason)
            await backoff.sleep()
