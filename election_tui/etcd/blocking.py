"""A blocking facade over EtcdClient for plain scripts: same calls, no `await`.

It runs the async client on a private event loop in a daemon thread, so it also works inside
a notebook whose own loop is already running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .client import Compare, EtcdClient, Op, make_config
from .config import ClientConfig
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
    """`with BlockingEtcdClient(["127.0.0.1:2379"]) as client: client.campaign(...)`."""

    def __init__(
        self,
        endpoints: ClientConfig | Sequence[str] | str,
        *,
        ca_cert: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        config = make_config(
            endpoints, ca_cert=ca_cert, cert=cert, key=key, user=user, password=password, timeout=timeout
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="etcd-blocking", daemon=True)
        self._thread.start()

        async def make() -> EtcdClient:
            return EtcdClient(config)

        self.aio = self._run(make())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
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

    # KV
    def get(self, key: BytesLike, *, revision: int = 0) -> KeyValue | None:
        return self._run(self.aio.get(key, revision=revision))

    def get_prefix(self, prefix: BytesLike, *, revision: int = 0, limit: int = 0) -> RangeResult:
        return self._run(self.aio.get_prefix(prefix, revision=revision, limit=limit))

    def scan_prefix(
        self,
        prefix: BytesLike,
        *,
        page: int = 1000,
        keys_only: bool = False,
        revision: int = 0,
        timeout: float | _Default | None = DEFAULT,
    ) -> Iterator[RangeResult]:
        return self._iterate(
            self.aio.scan_prefix(prefix, page=page, keys_only=keys_only, revision=revision, timeout=timeout)
        )

    def put(self, key: BytesLike, value: BytesLike, *, lease: int = 0) -> PutResult:
        return self._run(self.aio.put(key, value, lease=lease))

    def delete(self, key: BytesLike, *, prefix: bool = False) -> int:
        return self._run(self.aio.delete(key, prefix=prefix))

    def txn(self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        return self._run(self.aio.txn(compare, success, failure))

    def compact(self, revision: int, *, physical: bool = False) -> None:
        self._run(self.aio.compact(revision, physical=physical))

    # leases
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

    # watch
    def watch_prefix(
        self,
        prefix: BytesLike,
        start_revision: int | None = None,
        *,
        key_filter: Callable[[bytes], bool] | None = None,
    ) -> Iterator[WatchItem]:
        return self._iterate(self.aio.watch_prefix(prefix, start_revision, key_filter=key_filter))

    # cluster
    def status(self) -> Status:
        return self._run(self.aio.status())

    def member_list(self) -> list[Member]:
        return self._run(self.aio.member_list())

    # election
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

    def observe(self, name: BytesLike) -> Iterator[KeyValue]:
        return self._iterate(self.aio.observe(name))
