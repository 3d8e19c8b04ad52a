"""BlockingEtcdClient: the same calls from plain synchronous code, against a real etcd."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pytest
from helpers import binary_version, wait_until

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    BlockingEtcdClient,
    Event,
    LeaseNotFound,
    NoLeaderError,
    WatchEvents,
    parse_endpoint,
)

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

T = TypeVar("T")
BOUND = 5.0


@pytest.fixture
def client(endpoints: list[str]) -> Iterator[BlockingEtcdClient]:
    with BlockingEtcdClient(endpoints) as c:
        yield c


def bounded_next(items: Iterator[T]) -> T:
    """next(items), but fail the test instead of blocking for ever."""
    with ThreadPoolExecutor(1) as pool:
        future: Future[T] = pool.submit(next, items)
        return future.result(timeout=BOUND)


def test_put_get_and_delete(client: BlockingEtcdClient, prefix: bytes) -> None:
    rev = client.put(prefix + b"k", b"v").revision

    kv = client.get(prefix + b"k")

    assert kv is not None
    assert (kv.value, kv.mod_revision) == (b"v", rev)
    assert client.get_prefix(prefix).count == 1
    assert client.delete(prefix, prefix=True) == 1
    assert client.get(prefix + b"k") is None


def test_lease_grant_keep_alive_and_revoke(client: BlockingEtcdClient, prefix: bytes) -> None:
    lease = client.lease_grant(2)
    client.put(prefix + b"k", b"v", lease=lease.id)
    keep = client.keep_alive(lease)

    wait_until(lambda: keep.handle.renewals >= 1, timeout=BOUND, what="a renewal")
    assert not keep.lost
    assert client.lease_time_to_live(lease.id, keys=True).keys == (prefix + b"k",)
    assert lease.id in client.leases()

    client.lease_revoke(lease.id)
    assert client.get(prefix + b"k") is None
    with pytest.raises(LeaseNotFound):
        client.lease_revoke(lease.id)


def test_a_paused_keep_alive_loses_the_lease(client: BlockingEtcdClient) -> None:
    keep = client.keep_alive(client.lease_grant(2))

    keep.pause()
    reason = keep.wait_lost(timeout=4)

    assert "paused" in reason
    assert keep.lost


def test_campaign_proclaim_leader_and_resign(client: BlockingEtcdClient, prefix: bytes) -> None:
    name = prefix + b"election"
    lease = client.lease_grant(10)

    leader = client.campaign(name, lease.id, b"v1", timeout=BOUND)
    client.proclaim(leader, b"v2")
    assert client.leader(name).value == b"v2"

    client.resign(leader)
    with pytest.raises(NoLeaderError):
        client.leader(name)
    client.lease_revoke(lease.id)


def test_observe_yields_leader_changes(client: BlockingEtcdClient, prefix: bytes) -> None:
    name = prefix + b"election"
    lease = client.lease_grant(10)
    leader = client.campaign(name, lease.id, b"v1", timeout=BOUND)

    observed = client.observe(name)
    try:
        first = bounded_next(observed)
        client.proclaim(leader, b"v2")
        second = bounded_next(observed)
    finally:
        observed.close()

    assert [(kv.key, kv.value) for kv in (first, second)] == [(leader.key, b"v1"), (leader.key, b"v2")]
    client.lease_revoke(lease.id)


def test_watch_prefix_replays_and_follows(client: BlockingEtcdClient, prefix: bytes) -> None:
    rev = client.put(prefix + b"a", b"1").revision

    watch = client.watch_prefix(prefix, start_revision=rev)
    try:
        replayed = bounded_next(watch)
        later = client.put(prefix + b"b", b"2").revision
        followed = bounded_next(watch)
    finally:
        watch.close()

    assert isinstance(replayed, WatchEvents) and isinstance(followed, WatchEvents)
    assert [e.revision for e in (*replayed.events, *followed.events)] == [rev, later]


def test_get_prefix_keys_only_sorted_by_create(client: BlockingEtcdClient, prefix: bytes) -> None:
    client.put(prefix + b"b", b"first")
    client.put(prefix + b"a", b"second")

    result = client.get_prefix(prefix, keys_only=True, sort_by_create=True, timeout=BOUND)

    assert [kv.key for kv in result.kvs] == [prefix + b"b", prefix + b"a"]
    assert [kv.value for kv in result.kvs] == [b"", b""]


def test_put_with_prev_kv_returns_the_key_before_the_write(client: BlockingEtcdClient, prefix: bytes) -> None:
    first = client.put(prefix + b"k", b"old", prev_kv=True)
    second = client.put(prefix + b"k", b"new", prev_kv=True)

    assert first.prev_kv is None
    assert second.prev_kv is not None
    assert (second.prev_kv.value, second.prev_kv.mod_revision) == (b"old", first.revision)


def test_watch_key_follows_one_key_with_its_previous_value(client: BlockingEtcdClient, prefix: bytes) -> None:
    key = prefix + b"k"
    rev = client.put(key, b"1").revision
    client.put(key + b"2", b"a key that a prefix watch of k would see")
    later = client.put(key, b"2").revision

    events: list[Event] = []
    watch = client.watch_key(key, start_revision=rev, prev_kv=True)
    try:
        while len(events) < 2:
            item = bounded_next(watch)
            if isinstance(item, WatchEvents):
                events.extend(item.events)
    finally:
        watch.close()

    assert [(e.kv.key, e.revision) for e in events] == [(key, rev), (key, later)]
    assert events[1].prev_kv is not None and events[1].prev_kv.value == b"1"


def test_the_clients_settings_and_connection_state(client: BlockingEtcdClient, endpoints: list[str]) -> None:
    assert client.config.endpoints == tuple(endpoints)
    assert client.timeout == 5.0
    assert [e.target for e in client.endpoints] == [parse_endpoint(e).target for e in endpoints]
    assert client.endpoint == client.endpoints[0]
    assert client.keepalive_connected is False  # no lease kept alive yet: no stream

    keep = client.keep_alive(client.lease_grant(2))  # renewed, and so connected, within 2/3 s
    wait_until(lambda: client.keepalive_connected, timeout=BOUND, what="the keep-alive stream up")
    client.lease_revoke(keep.lease_id)


def test_status_of_one_endpoint_by_index(client: BlockingEtcdClient) -> None:
    status = client.status(0, timeout=BOUND)

    assert status.version.startswith("3.")
    assert status.leader == status.member_id  # a single member leads itself


def test_status_and_member_list(client: BlockingEtcdClient, etcd: EmbeddedEtcd) -> None:
    assert client.status().version == binary_version(etcd.etcd_bin)  # 3.5.1 or 3.4.23
    assert len(client.member_list()) == 1


def test_the_client_runs_on_its_own_thread_until_closed(endpoints: list[str], prefix: bytes) -> None:
    def loop_threads() -> int:
        return sum(t.name == "etcd-blocking" for t in threading.enumerate())

    before = loop_threads()
    with BlockingEtcdClient(endpoints) as client:
        client.put(prefix + b"k", b"v")
        assert loop_threads() == before + 1
    assert loop_threads() == before


async def test_it_works_even_inside_a_running_event_loop(endpoints: list[str], prefix: bytes) -> None:
    """As in a notebook: the caller's loop is running, and blocking calls still complete."""
    with BlockingEtcdClient(endpoints) as client:
        client.put(prefix + b"k", b"v")
        kv = client.get(prefix + b"k")

    assert kv is not None and kv.value == b"v"
