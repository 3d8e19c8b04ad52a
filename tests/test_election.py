"""LeaderElection against a real etcd: win or give up cleanly, notice every way of losing, fence writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, KeyValue, LeaderElection, NotLeaderError

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

BOUND = 5.0  # seconds any expected outcome may take

Elect = Callable[..., LeaderElection]


@pytest.fixture
async def elect(client: EtcdClient) -> AsyncIterator[Elect]:
    """Make LeaderElections on the shared client; each one resigns (and revokes) after the test."""
    made: list[LeaderElection] = []

    def make(name: bytes, value: str, ttl: int = 10) -> LeaderElection:
        election = LeaderElection(client, name, value, ttl)
        made.append(election)
        return election

    yield make
    for election in made:
        await election.resign()


async def candidate_keys(client: EtcdClient, name: bytes) -> list[KeyValue]:
    """The election's candidate keys as etcd holds them, oldest (the leader) first."""
    return list((await client.get_prefix(name + b"/", sort_by_create=True)).kvs)


async def lease_alive(client: EtcdClient, lease_id: int) -> bool:
    return (await client.lease_time_to_live(lease_id)).ttl > 0


async def lost_within(election: LeaderElection, timeout: float = BOUND) -> str:
    return await asyncio.wait_for(election.wait_lost(), timeout)


# -- becoming leader, or not ----------------------------------------------------------------


async def test_try_become_leader_wins_an_empty_election(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    name = prefix + b"election"
    election = elect(name, "candidate-1")

    assert await election.try_become_leader(timeout=BOUND) is True

    assert election.is_leader
    assert election.leader_key is not None and election.lease is not None
    [kv] = await candidate_keys(client, name)
    assert kv.key == election.leader_key.key == name + b"/" + b"%x" % election.lease.id
    assert (kv.value, kv.lease, kv.create_revision) == (
        b"candidate-1",
        election.lease.id,
        election.leader_key.rev,
    )


async def test_try_become_leader_gives_up_after_the_timeout_and_leaves_nothing_behind(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    name = prefix + b"election"
    holder = elect(name, "holder")
    assert await holder.try_become_leader(timeout=BOUND)
    waiter = elect(name, "waiter")

    attempt = asyncio.create_task(waiter.try_become_leader(timeout=1.0))
    queued = await eventually(
        lambda: _second_key(client, name), timeout=BOUND, what="the waiter's key in the queue"
    )
    won = await asyncio.wait_for(attempt, BOUND)

    assert won is False and queued is not None
    assert not waiter.is_leader and waiter.lease is None
    assert [kv.key for kv in await candidate_keys(client, name)] == [holder.leader_key.key]  # type: ignore[union-attr]
    assert not await lease_alive(client, queued.lease)  # revoked, not left to expire


async def _second_key(client: EtcdClient, name: bytes) -> KeyValue | None:
    kvs = await candidate_keys(client, name)
    return kvs[1] if len(kvs) == 2 else None


async def test_resign_leaves_no_key_and_no_lease(client: EtcdClient, elect: Elect, prefix: bytes) -> None:
    name = prefix + b"election"
    election = elect(name, "leader")
    losses: list[str] = []
    election.on_lost(losses.append)
    assert await election.try_become_leader(timeout=BOUND)
    assert election.lease is not None
    lease_id = election.lease.id

    await election.resign()

    assert not election.is_leader
    assert election.lease is None and election.leader_key is None
    assert await candidate_keys(client, name) == []
    assert not await lease_alive(client, lease_id)
    assert losses == []  # leaving on purpose is not a loss


async def test_current_leader_is_the_same_for_the_leader_and_a_waiting_candidate(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    name = prefix + b"election"
    first, second = elect(name, "first"), elect(name, "second")
    assert await first.current_leader() is None  # nobody leads yet

    assert await first.try_become_leader(timeout=BOUND)
    waiting = asyncio.create_task(second.try_become_leader(timeout=BOUND))
    await eventually(lambda: _second_key(client, name), timeout=BOUND, what="the second candidate queued")

    seen_by_first, seen_by_second = await first.current_leader(), await second.current_leader()
    assert seen_by_first is not None and seen_by_second is not None
    assert seen_by_first.key == seen_by_second.key == first.leader_key.key  # type: ignore[union-attr]
    assert seen_by_second.value == b"first"

    await first.resign()
    assert await asyncio.wait_for(waiting, BOUND)
    now = await first.current_leader()
    assert now is not None and (now.key, now.value) == (second.leader_key.key, b"second")  # type: ignore[union-attr]


async def test_is_leader_follows_winning_and_resigning(elect: Elect, prefix: bytes) -> None:
    election = elect(prefix + b"election", "me")
    assert not election.is_leader

    assert await election.try_become_leader(timeout=BOUND)
    assert election.is_leader

    await election.resign()
    assert not election.is_leader


async def test_proclaim_changes_the_value_everyone_sees(elect: Elect, prefix: bytes) -> None:
    name = prefix + b"election"
    leader, follower = elect(name, "v1"), elect(name, "follower")
    assert await leader.try_become_leader(timeout=BOUND)

    await leader.proclaim("v2")

    seen = await follower.current_leader()
    assert seen is not None and (seen.key, seen.value) == (leader.leader_key.key, b"v2")  # type: ignore[union-attr]
    assert leader.value == b"v2" and leader.is_leader


async def test_crash_revokes_the_lease_at_once_and_the_next_candidate_takes_over(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    name = prefix + b"election"
    crashing, next_in_line = elect(name, "crashing"), elect(name, "next")
    assert await crashing.try_become_leader(timeout=BOUND)
    lease_id = crashing.lease.id  # type: ignore[union-attr]
    waiting = asyncio.create_task(next_in_line.try_become_leader(timeout=BOUND))
    await eventually(lambda: _second_key(client, name), timeout=BOUND, what="the next candidate queued")

    await crashing.crash()

    assert await asyncio.wait_for(waiting, BOUND)
    assert not crashing.is_leader
    assert not await lease_alive(client, lease_id)


# -- noticing that leadership is gone -------------------------------------------------------


async def test_leadership_is_lost_when_the_lease_is_revoked_from_outside(
    client: EtcdClient, etcd: EmbeddedEtcd, elect: Elect, prefix: bytes
) -> None:
    election = elect(prefix + b"election", "me", ttl=2)
    assert await election.try_become_leader(timeout=BOUND)
    assert election.lease is not None

    etcd.etcdctl("lease", "revoke", format(election.lease.id, "x"), check=True)
    reason = await lost_within(election)

    assert not election.is_leader
    assert reason == election.loss_reason and reason  # says why: key deleted or lease lost


async def test_leadership_is_lost_when_the_key_is_deleted(
    client: EtcdClient, etcd: EmbeddedEtcd, elect: Elect, prefix: bytes
) -> None:
    name = prefix + b"election"
    election = elect(name, "me")
    assert await election.try_become_leader(timeout=BOUND)
    assert election.leader_key is not None and election.lease is not None
    lease_id = election.lease.id

    etcd.etcdctl("del", election.leader_key.key.decode(), check=True)
    reason = await lost_within(election)

    assert "deleted" in reason
    assert not election.is_leader
    assert await election.current_leader() is None
    await election.resign()  # the lease outlived the key: resigning still revokes it
    assert not await lease_alive(client, lease_id)


async def test_a_lost_leader_can_campaign_again_on_the_same_lease(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    election = elect(prefix + b"election", "me")
    assert await election.try_become_leader(timeout=BOUND)
    first_key, lease = election.leader_key, election.lease
    await client.delete(first_key.key)  # type: ignore[union-attr]
    await lost_within(election)

    assert await election.try_become_leader(timeout=BOUND)

    assert election.is_leader and election.loss_reason is None
    assert election.lease == lease  # still renewed, so reused
    assert election.leader_key.rev > first_key.rev  # type: ignore[union-attr]  # a new term, a new fencing token
    await election.guarded_put(prefix + b"config", b"second term")


async def test_leadership_is_lost_when_the_key_is_replaced_by_another_lease(
    client: EtcdClient, etcd: EmbeddedEtcd, elect: Elect, prefix: bytes
) -> None:
    """Same key name, new create revision: not ours any more, and fenced writes know it."""
    name = prefix + b"election"
    election = elect(name, "me")
    assert await election.try_become_leader(timeout=BOUND)
    ours = election.leader_key
    assert ours is not None
    impostor = await client.lease_grant(10)
    try:
        etcd.etcdctl("del", ours.key.decode(), check=True)
        etcd.etcdctl("put", ours.key.decode(), "impostor", f"--lease={impostor.id:x}", check=True)
        await lost_within(election)

        replaced = await client.get(ours.key)
        assert replaced is not None and replaced.create_revision != ours.rev
        assert not election.is_leader
        with pytest.raises(NotLeaderError):
            await election.guarded_put(prefix + b"config", b"from the old leader")
        with pytest.raises(NotLeaderError):
            await election.proclaim("from the old leader")
        assert await client.get(prefix + b"config") is None
        assert (await client.get(ours.key)).value == b"impostor"  # type: ignore[union-attr]
    finally:
        await client.lease_revoke(impostor.id)


async def test_on_lost_is_called_once_with_a_reason(
    client: EtcdClient, etcd: EmbeddedEtcd, elect: Elect, prefix: bytes
) -> None:
    election = elect(prefix + b"election", "me", ttl=2)
    reasons: list[str] = []
    election.on_lost(reasons.append)
    assert await election.try_become_leader(timeout=BOUND)
    assert election.leader_key is not None and election.keepalive is not None
    keepalive = election.keepalive

    etcd.etcdctl("del", election.leader_key.key.decode(), check=True)
    await lost_within(election)
    etcd.etcdctl("lease", "revoke", format(keepalive.lease_id, "x"), check=True)  # a second cause
    await eventually(lambda: keepalive.lost, timeout=BOUND, what="the keep-alive seeing the lease gone")

    assert reasons == [election.loss_reason]
    assert reasons[0]


# -- fenced writes --------------------------------------------------------------------------


async def test_guarded_put_writes_while_leader_and_is_refused_once_the_key_is_gone(
    client: EtcdClient, elect: Elect, prefix: bytes
) -> None:
    config = prefix + b"config"
    election = elect(prefix + b"election", "me")
    assert await election.try_become_leader(timeout=BOUND)

    revision = await election.guarded_put(config, b"v1")
    written = await client.get(config)
    assert written is not None and (written.value, written.mod_revision) == (b"v1", revision)

    await client.delete(election.leader_key.key)  # type: ignore[union-attr]
    with pytest.raises(NotLeaderError):
        await election.guarded_put(config, b"v2")

    assert (await client.get(config)).value == b"v1"  # type: ignore[union-attr]  # nothing written
    assert not election.is_leader


# -- lifetimes ------------------------------------------------------------------------------


async def test_async_with_resigns_and_revokes_on_exit_even_after_an_error(
    client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"election"
    with pytest.raises(RuntimeError, match="work failed"):
        async with LeaderElection(client, name, "me") as election:
            assert await election.try_become_leader(timeout=BOUND)
            assert election.lease is not None
            lease_id = election.lease.id
            raise RuntimeError("work failed")

    assert not election.is_leader
    assert await candidate_keys(client, name) == []
    assert not await lease_alive(client, lease_id)


async def test_the_seed_docs_usage_pattern_end_to_end(client: EtcdClient, prefix: bytes) -> None:
    """Two services: one leads and works, the other follows and reads the leader, then takes over."""
    name, work = prefix + b"my-election", prefix + b"work"
    async with (
        LeaderElection(client, name, "candidate-1") as service_1,
        LeaderElection(client, name, "candidate-2") as service_2,
    ):
        assert await service_1.try_become_leader(timeout=5)
        try:
            await service_1.guarded_put(work, b"done by candidate-1")  # leader-specific work
            assert await service_2.try_become_leader(timeout=0.5) is False  # a follower
            leader = await service_2.current_leader()
            assert leader is not None and leader.value == b"candidate-1"
        finally:
            await service_1.resign()

        assert await service_2.try_become_leader(timeout=5)  # leadership moves on
        await service_2.guarded_put(work, b"done by candidate-2")
        leader = await service_1.current_leader()
        assert leader is not None and leader.value == b"candidate-2"
    assert (await client.get(work)).value == b"done by candidate-2"  # type: ignore[union-attr]
    assert await candidate_keys(client, name) == []
