"""Simulated candidates against a real etcd: every state transition driven for real, and a fleet of 50."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, NotLeaderError
from election_tui.sim import Candidate, CandidateError, Fleet, State, Transition

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

BOUND = 5.0  # seconds any prompt outcome may take

Make = Callable[..., Candidate]


@pytest.fixture
async def make(client: EtcdClient) -> AsyncIterator[Make]:
    """Make candidates on the shared client; each one is closed (lease revoked) after the test."""
    made: list[Candidate] = []

    def make_one(name: bytes, value: str, ttl: int = 10) -> Candidate:
        candidate = Candidate(client, name, value, ttl)
        made.append(candidate)
        return candidate

    yield make_one
    for candidate in made:
        await candidate.close()


async def leader_of(make: Make, name: bytes, value: str = "leader", ttl: int = 10) -> Candidate:
    """A started candidate that has won `name`."""
    candidate = make(name, value, ttl)
    candidate.start()
    await candidate.wait_for(State.LEADER, timeout=BOUND)
    return candidate


def states(candidate: Candidate) -> list[State]:
    return [t.state for t in candidate.history]


async def key_gone(client: EtcdClient, key: bytes | None, timeout: float = BOUND) -> None:
    assert key is not None
    await eventually(lambda: _absent(client, key), timeout=timeout, what=f"{key!r} deleted in etcd")


async def _absent(client: EtcdClient, key: bytes) -> bool:
    return await client.get(key) is None


async def lease_alive(client: EtcdClient, lease_id: int) -> bool:
    return (await client.lease_time_to_live(lease_id)).ttl > 0


# -- the happy path and polite exits --------------------------------------------------------


async def test_a_started_candidate_campaigns_then_leads(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    name = prefix + b"election"
    candidate = make(name, "c1")
    assert candidate.state is State.IDLE and candidate.lease_id == 0  # no lease, no key yet

    candidate.start()
    assert states(candidate) == [State.IDLE, State.CAMPAIGNING]
    await candidate.wait_for(State.LEADER, timeout=BOUND)

    assert states(candidate) == [State.IDLE, State.CAMPAIGNING, State.LEADER]
    leader = await client.leader(name)
    assert (leader.key, leader.value, leader.lease) == (candidate.key, b"c1", candidate.lease_id)


async def test_resign_leaves_the_election_and_revokes_the_lease(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await leader_of(make, prefix + b"election")
    key, lease_id = candidate.key, candidate.lease_id

    await candidate.resign()

    assert candidate.state is State.RESIGNED
    assert await client.get(key) is None  # type: ignore[arg-type]
    assert not await lease_alive(client, lease_id)


async def test_let_expire_stops_renewing_and_the_key_dies_with_the_lease(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await leader_of(make, prefix + b"election", ttl=2)
    key, lease_id = candidate.key, candidate.lease_id

    candidate.let_expire()
    assert candidate.state is State.LEADER  # still alive until the TTL runs out
    await candidate.wait_for(State.EXPIRED, timeout=2 + BOUND)
    await key_gone(client, key)

    assert not await lease_alive(client, lease_id)
    assert states(candidate)[-2:] == [State.LEADER, State.EXPIRED]


async def test_revoke_crashes_the_leader_and_its_key_goes_at_once(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await leader_of(make, prefix + b"election")
    key, lease_id = candidate.key, candidate.lease_id

    await candidate.revoke()

    assert candidate.state is State.REVOKED
    assert await client.get(key) is None  # type: ignore[arg-type]
    assert not await lease_alive(client, lease_id)


async def test_a_leaders_proclaim_changes_the_value_everyone_sees(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    name = prefix + b"election"
    candidate = await leader_of(make, name, "v1")

    await candidate.proclaim("v2")

    assert candidate.value == b"v2" and candidate.state is State.LEADER
    assert (await client.leader(name)).value == b"v2"


async def test_a_campaign_timeout_leaves_the_queue_as_lost_and_leaves_nothing_behind(
    client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"election"
    async with Fleet(client) as fleet:
        leader = fleet.launch(name, "leader")
        await leader.wait_for(State.LEADER, timeout=BOUND)
        impatient = fleet.launch(name, "impatient", campaign_timeout=0.5)
        await eventually(lambda: _count(client, name, 2), timeout=BOUND, what="the second candidate queued")
        lease_id = impatient.lease_id

        await impatient.wait_for(State.LOST, timeout=BOUND)

        assert "timed out" in impatient.history[-1].detail
        assert [kv.key for kv in (await client.get_prefix(name + b"/")).kvs] == [leader.key]
        assert not await lease_alive(client, lease_id)


# -- losing leadership to the outside world -------------------------------------------------


async def test_a_lease_revoked_from_outside_means_lost(etcd: EmbeddedEtcd, make: Make, prefix: bytes) -> None:
    candidate = await leader_of(make, prefix + b"election")

    etcd.etcdctl("lease", "revoke", format(candidate.lease_id, "x"), check=True)

    await candidate.wait_for(State.LOST, timeout=BOUND)
    assert candidate.history[-1].detail  # says why


async def test_a_key_deleted_with_etcdctl_means_lost(
    client: EtcdClient, etcd: EmbeddedEtcd, make: Make, prefix: bytes
) -> None:
    candidate = await leader_of(make, prefix + b"election")
    lease_id = candidate.lease_id

    etcd.etcdctl("del", candidate.key.decode(), check=True)  # type: ignore[union-attr]

    await candidate.wait_for(State.LOST, timeout=BOUND)
    assert "deleted" in candidate.history[-1].detail
    await candidate.close()  # the lease outlived the key; closing revokes it
    assert not await lease_alive(client, lease_id)


async def test_a_waiting_candidate_whose_lease_was_revoked_is_not_elected_when_the_leader_resigns(
    client: EtcdClient, etcd: EmbeddedEtcd, make: Make, prefix: bytes
) -> None:
    """etcd still answers its Campaign "elected" (its key is already gone): it must not believe it."""
    name = prefix + b"election"
    leader = await leader_of(make, name)
    waiting = make(name, "waiting")
    waiting.start()
    await eventually(lambda: _count(client, name, 2), timeout=BOUND, what="the second candidate queued")

    etcd.etcdctl("lease", "revoke", format(waiting.lease_id, "x"), check=True)
    await leader.resign()

    await waiting.wait_for(State.LOST, timeout=BOUND)
    assert State.LEADER not in states(waiting)


async def test_a_waiting_candidate_that_lets_its_lease_expire_leaves_as_expired(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    name = prefix + b"election"
    await leader_of(make, name)
    waiting = make(name, "waiting", ttl=2)
    waiting.start()
    await eventually(lambda: _count(client, name, 2), timeout=BOUND, what="the second candidate queued")
    key = waiting.key

    waiting.let_expire()

    await waiting.wait_for(State.EXPIRED, timeout=2 + BOUND)
    await key_gone(client, key)
    assert states(waiting) == [State.IDLE, State.CAMPAIGNING, State.EXPIRED]


# -- partitions: pause, stale, resume -------------------------------------------------------


async def stale_leader(client: EtcdClient, make: Make, name: bytes) -> Candidate:
    """A TTL-2 leader paused past its TTL: it still believes it leads, though etcd dropped its key."""
    candidate = await leader_of(make, name, ttl=2)
    key = candidate.key
    candidate.pause()
    await candidate.wait_for(State.STALE, timeout=2 + BOUND)
    assert candidate.state.believes_leader
    await key_gone(client, key)  # etcd's own clock has caught up: the key is gone for everyone
    return candidate


async def test_a_paused_leader_goes_stale_and_learns_it_lost_on_resume(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await stale_leader(client, make, prefix + b"election")

    candidate.resume()

    assert candidate.state is State.LOST
    assert states(candidate)[-3:] == [State.LEADER, State.STALE, State.LOST]
    assert "resume" in candidate.history[-1].detail


async def test_a_stale_leader_learns_it_lost_after_another_ttl_by_itself(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await stale_leader(client, make, prefix + b"election")
    stale_at = candidate.history[-1].at

    await candidate.wait_for(State.LOST, timeout=candidate.ttl + BOUND)

    lost = candidate.history[-1]
    assert lost.at - stale_at == pytest.approx(candidate.ttl, abs=0.5)
    assert states(candidate)[-3:] == [State.LEADER, State.STALE, State.LOST]


async def test_a_stale_leaders_fenced_write_is_refused(client: EtcdClient, make: Make, prefix: bytes) -> None:
    config = prefix + b"config"
    candidate = await stale_leader(client, make, prefix + b"election")

    with pytest.raises(NotLeaderError):
        await candidate.guarded_put(config, b"split brain")

    assert await client.get(config) is None
    assert candidate.state is State.LOST


async def test_resuming_before_the_ttl_keeps_leadership(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    candidate = await leader_of(make, prefix + b"election", ttl=3)
    keepalive, key = candidate.keepalive, candidate.key
    assert keepalive is not None and key is not None
    created = (await client.get(key)).create_revision  # type: ignore[union-attr]

    candidate.pause()
    # A renewal was missed (remaining < 2/3 TTL) but the lease has not run out.
    await eventually(lambda: keepalive.remaining() < 1.5, timeout=BOUND, what="a missed renewal")
    renewals = keepalive.renewals
    candidate.resume()
    await eventually(lambda: keepalive.renewals > renewals, timeout=BOUND, what="a renewal after resume")

    assert candidate.state is State.LEADER
    assert State.STALE not in states(candidate)
    assert (await client.get(key)).create_revision == created  # type: ignore[union-attr]
    await candidate.guarded_put(prefix + b"config", b"still leading")


# -- rejoin, invalid actions, history -------------------------------------------------------


async def test_rejoin_after_leaving_gets_a_new_lease_and_campaigns(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    name = prefix + b"election"
    candidate = await leader_of(make, name)
    first_lease = candidate.lease_id
    await candidate.resign()

    candidate.rejoin()
    assert candidate.state is State.CAMPAIGNING
    await candidate.wait_for(State.LEADER, timeout=BOUND)

    assert candidate.lease_id not in (0, first_lease)
    assert (await client.leader(name)).key == candidate.key
    assert states(candidate) == [
        State.IDLE,
        State.CAMPAIGNING,
        State.LEADER,
        State.RESIGNED,
        State.CAMPAIGNING,
        State.LEADER,
    ]


async def test_actions_the_state_does_not_allow_raise_candidate_error(
    client: EtcdClient, make: Make, prefix: bytes
) -> None:
    name = prefix + b"election"
    idle = make(name, "idle")
    leader = await leader_of(make, name)
    waiting = make(name, "waiting")
    waiting.start()
    await eventually(lambda: _count(client, name, 2), timeout=BOUND, what="the second candidate queued")

    with pytest.raises(CandidateError):
        await waiting.proclaim("not yet")
    with pytest.raises(CandidateError):
        await waiting.guarded_put(prefix + b"config", b"not yet")
    with pytest.raises(CandidateError):
        leader.rejoin()
    with pytest.raises(CandidateError):
        leader.start()
    with pytest.raises(CandidateError):
        idle.resume()
    with pytest.raises(CandidateError):
        await idle.resign()
    await leader.resign()
    with pytest.raises(CandidateError):
        leader.pause()
    with pytest.raises(CandidateError):
        leader.let_expire()

    assert (idle.state, leader.state) == (State.IDLE, State.RESIGNED)
    await waiting.wait_for(State.LEADER, timeout=BOUND)  # the refused calls changed nothing
    assert await client.get(prefix + b"config") is None


async def _count(client: EtcdClient, name: bytes, count: int) -> bool:
    return len((await client.get_prefix(name + b"/")).kvs) == count


async def test_transitions_are_timestamped_in_order_and_listeners_hear_each(
    make: Make, prefix: bytes
) -> None:
    candidate = make(prefix + b"election", "c1")
    heard: list[tuple[Candidate, Transition]] = []
    candidate.subscribe(lambda c, t: heard.append((c, t)))

    candidate.start()
    await candidate.wait_for(State.LEADER, timeout=BOUND)
    await candidate.resign()

    assert [t for _, t in heard] == candidate.history[1:]  # all but the IDLE it was born in
    assert all(c is candidate for c, _ in heard)
    assert states(candidate) == [State.IDLE, State.CAMPAIGNING, State.LEADER, State.RESIGNED]
    times = [t.at for t in candidate.history]
    walls = [t.wall for t in candidate.history]
    assert times == sorted(times) and walls == sorted(walls)


# -- a fleet --------------------------------------------------------------------------------


async def test_fifty_candidates_never_have_two_unstale_leaders_and_hand_over_in_create_order(
    client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"election"
    overlaps: list[str] = []

    def check(*_: object) -> None:
        believers = fleet.believers(name)
        if len([c for c in believers if c.state is not State.STALE]) > 1:
            overlaps.append(", ".join(repr(c) for c in believers))

    async def sample() -> None:
        while True:
            check()
            await asyncio.sleep(0.005)

    async with Fleet(client) as fleet:
        fleet.subscribe(check)
        sampler = asyncio.create_task(sample())
        try:
            fleet.launch_many(name, "c", 50)
            await eventually(lambda: _count(client, name, 50), timeout=BOUND, what="50 candidates queued")
            queue = (await client.get_prefix(name + b"/", sort_by_create=True)).kvs
            by_key = {c.key: c for c in fleet}
            expected = [by_key[kv.key] for kv in queue]

            order: list[Candidate] = []
            for _ in range(50):
                leader = await eventually(lambda: fleet.leader(name), timeout=BOUND, what="a leader")
                assert leader is not None
                order.append(leader)
                await leader.resign()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    assert overlaps == []
    assert order == expected


async def test_fleet_close_revokes_every_lease_even_mid_campaign(client: EtcdClient, prefix: bytes) -> None:
    name = prefix + b"election"
    before = set(await client.leases())
    fleet = Fleet(client)
    leader = fleet.launch(name, "leader")
    await leader.wait_for(State.LEADER, timeout=BOUND)
    fleet.launch_many(name, "queued", 5)
    await eventually(lambda: _count(client, name, 6), timeout=BOUND, what="6 candidates")
    created = fleet.lease_ids()
    assert len(created) == 6 and not created & before
    stragglers = fleet.launch_many(name, "just-started", 3)
    for _ in range(3):  # let their tasks run until each lease grant is on the wire
        await asyncio.sleep(0)
    candidates = list(fleet)

    await fleet.close()

    assert set(await client.leases()) <= before  # nothing of ours, nor of the stragglers, is left
    assert (await client.get_prefix(name + b"/")).kvs == ()
    assert all(c.state is State.RESIGNED for c in candidates)
    assert all(c.state is State.RESIGNED for c in stragglers)
