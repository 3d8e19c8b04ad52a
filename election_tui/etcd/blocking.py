"""A blocking facade over EtcdClient for plain scripts: same calls, no `await`.

It runs the async client on a private event loop in a daemon thread, so it also works inside
a notebook whose own loop is already running. Every public method and property of EtcdClient
is here with the same parameters, written out so each is typed and documented where it is read
(tests/test_client_api.py fails when the two drift apart); only `aclose` is `close` here.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Sequence
from types import TracebackType
from typing import Any, TypeVar, Unpack

from .client import Compare, EtcdClient, Op
from .config import ClientConfig, ConnectOptions, Endpoint, make_config
from .connection import DEFAULT, _Default
from .keepalive import KeepAlive
from .keys import BytesLike
from .types import (
    KeyValue,
    LeaderKey,
    Lease,
    LeaseInfo,
    Member,
    PutResult,
    RangeResult,
    Status,
    TxnResult,
    WatchItem,
)

T = TypeVar("T")


class BlockingKeepAlive:
    """A keep-alive handle whose actions hop onto the client's loop thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: KeepAlive) -> None:
        self._loop = loop
        self.handle = handle
        self.lease_id = handle.lease_id

    @property
    def lost(self) -> bool:
        return self.handle.lost

    def remaining(self) -> float:
        return self.handle.remaining()

    def pause(self) -> None:
        self._loop.call_soon_threadsafe(self.handle.pause)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self.handle.resume)

    def cancel(self) -> None:
        self._loop.call_soon_threadsafe(self.handle.cancel)

    def wait_lost(self, timeout: float | None = None) -> str:
        return asyncio.run_coroutine_threadsafe(self.handle.wait_lost(), self._loop).result(timeout)


class BlockingEtcdClient:
    """`with BlockingEtcdClient(["127.0.0.1:2379"]) as client: client.campaign(...)`.

    `aio` is the EtcdClient underneath, living on this client's own loop thread.
    """

    def __init__(
        self, endpoints: ClientConfig | Sequence[str] | str, **options: Unpack[ConnectOptions]
    ) -> None:
        config = make_config(endpoints, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="etcd-blocking", daemon=True)
        self._thread.start()

        async def make() -> EtcdClient:
            return EtcdClient(config)

        self.aio = self._run(make())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _iterate(self, items: AsyncIterator[T]) -> Generator[T, None, None]:
        """Items of an async iterator, fetched one at a time on the loop; `close()` ends it there."""
        try:
            while True:
                try:
                    yield self._run(anext(items))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                self._run(close())

    def close(self) -> None:
        """Stop keep-alives and close channels (as `EtcdClient.aclose`), then the loop thread."""
        if self._loop.is_closed():
            return
        self._run(self.aio.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> BlockingEtcdClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- state (plain reads of the async client's fields: no hop onto the loop needed) ------

    @property
    def config(self) -> ClientConfig:
        return self.aio.config

    @property
    def timeout(self) -> float:
        return self.aio.timeout

    @property
    def endpoint(self) -> Endpoint:
        return self.aio.endpoint

    @property
    def endpoints(self) -> list[Endpoint]:
        return self.aio.endpoints

    @property
    def keepalive_connected(self) -> bool:
        return self.aio.keepalive_connected

    # -- KV ---------------------------------------------------------------------------------

    def get(self, key: BytesLike, *, revision: int = 0) -> KeyValue | None:
        return self._run(self.aio.get(key, revision=revision))

    def get_prefix(
        self,
        prefix: BytesLike,
        *,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        sort_by_create: bool = False,
        timeout: float | _Default | None = DEFAULT,
    ) -> RangeResult:
        return self._run(
            self.aio.get_prefix(
                prefix,
                revision=revision,
                limit=limit,
                keys_only=keys_only,
                sort_by_create=sort_by_create,
                timeout=timeout,
            )
        )

    def scan_prefix(
        self,
        prefix: BytesLike,
        *,
        page: int = 1000,
        keys_only: bool = False,
        revision: int = 0,
        timeout: float | _Default | None = DEFAULT,
    ) -> Generator[RangeResult, None, None]:
        return self._iterate(
            self.aio.scan_prefix(prefix, page=page, keys_only=keys_only, revision=revision, timeout=timeout)
        )

    def put(self, key: BytesLike, value: BytesLike, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        return self._run(self.aio.put(key, value, lease=lease, prev_kv=prev_kv))

    def delete(self, key: BytesLike, *, prefix: bool = False) -> int:
        return self._run(self.aio.delete(key, prefix=prefix))

    def txn(self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        return self._run(self.aio.txn(compare, success, failure))

    def compact(self, revision: int, *, physical: bool = False) -> None:
        self._run(self.aio.compact(revision, physical=physical))

    # -- leases -----------------------------------------------------------------------------

    def lease_grant(self, ttl: int) -> Lease:
        return self._run(self.aio.lease_grant(ttl))

    def lease_revoke(self, lease_id: int) -> None:
        self._run(self.aio.lease_revoke(lease_id))

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        return self._run(self.aio.lease_time_to_live(lease_id, keys=keys))

    def leases(self) -> list[int]:
        return self._run(self.aio.leases())

    def keep_alive(self, lease: Lease | int) -> BlockingKeepAlive:
        return BlockingKeepAlive(self._loop, self._run(self.aio.keep_alive(lease)))

    # -- watch (a generator: `close()` it, or leave the `for`, to end the watch) -------------

    def watch_prefix(
        self,
        prefix: BytesLike,
        start_revision: int | None = None,
        *,
        prev_kv: bool = False,
        key_filter: Callable[[bytes], bool] | None = None,
    ) -> Generator[WatchItem, None, None]:
        return self._iterate(
            self.aio.watch_prefix(prefix, start_revision, prev_kv=prev_kv, key_filter=key_filter)
        )

    def watch_key(
        self, key: BytesLike, start_revision: int | None = None, *, prev_kv: bool = False
    ) -> Generator[WatchItem, None, None]:
        return self._iterate(self.aio.watch_key(key, start_revision, prev_kv=prev_kv))

    # -- cluster ----------------------------------------------------------------------------

    def status(self, endpoint_index: int | None = None, *, timeout: float | None = None) -> Status:
        return self._run(self.aio.status(endpoint_index, timeout=timeout))

    def member_list(self) -> list[Member]:
        return self._run(self.aio.member_list())

    # -- election ---------------------------------------------------------------------------

    def campaign(
        self, name: BytesLike, lease_id: int, value: BytesLike, *, timeout: float | None = None
    ) -> LeaderKey:
        return self._run(self.aio.campaign(name, lease_id, value, timeout=timeout))

    def proclaim(self, leader: LeaderKey, value: BytesLike) -> None:
        self._run(self.aio.proclaim(leader, value))

    def leader(self, name: BytesLike) -> KeyValue:
        return self._run(self.aio.leader(name))

    def resign(self, leader: LeaderKey) -> None:
        self._run(self.aio.resign(leader))

    def observe(self, name: BytesLike) -> Generator[KeyValue, None, None]:
        return self._iterate(self.aio.observe(name))
