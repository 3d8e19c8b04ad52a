"""Fixtures of the fault suite: etcds of a test's own, proxies, clients, applied-event logs.

Anything that disturbs a server (kill, pause, compaction, auth, TLS) gets an EmbeddedEtcd of its
own; the shared session etcd (`etcd`) is only used where the fault sits between client and server
(a proxy) or touches nothing but the test's own prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, Event, KeyValue
from election_tui.model import Changes, ElectionState
from election_tui.sim import TcpProxy

from ._support import AppliedLog, ClientFactory, ProxyFactory, applied


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/faults is a fault test, whether or not its module says so."""
    for item in items:
        if "/tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.fault)


@pytest.fixture
def own_etcd(etcd_binary: Path) -> Iterator[EmbeddedEtcd]:
    """A single-member etcd of this test alone (it may be killed, paused or compacted), of the
    version under test (an `etcd_versions` module runs on each)."""
    with EmbeddedEtcd(name="fault", etcd_bin=etcd_binary) as instance:
        yield instance


@pytest.fixture
async def proxies() -> AsyncIterator[ProxyFactory]:
    """`await proxies(endpoint)`: a started TcpProxy to that endpoint, stopped after the test."""
    started: list[TcpProxy] = []

    async def make(endpoint: str) -> TcpProxy:
        proxy = await TcpProxy(endpoint).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        await proxy.stop()


@pytest.fixture
async def clients() -> AsyncIterator[ClientFactory]:
    """`clients(endpoints, **options)`: an EtcdClient closed after the test."""
    made: list[EtcdClient] = []

    def make(endpoints: list[str] | str, **options: object) -> EtcdClient:
        client = EtcdClient(endpoints, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in reversed(made):
        await client.aclose()


@pytest.fixture
def applied_log(monkeypatch: pytest.MonkeyPatch) -> AppliedLog:
    """Log what every ElectionState is fed (loads and watch events), to prove none missed or doubled."""
    log = AppliedLog()
    original_apply, original_load = ElectionState.apply, ElectionState.load

    def apply(self: ElectionState, events: Sequence[Event], revision: int, now: float) -> Changes:
        log.events(self).extend(applied(events))
        return original_apply(self, events, revision, now)

    def load(self: ElectionState, kvs: Iterable[KeyValue], revision: int, now: float) -> Changes:
        log.loads(self).append(revision)
        return original_load(self, kvs, revision, now)

    monkeypatch.setattr(ElectionState, "apply", apply)
    monkeypatch.setattr(ElectionState, "load", load)
    return log
