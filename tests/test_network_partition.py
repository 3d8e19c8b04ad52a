"""A real network partition of one simulated candidate: its own link (proxy + channel) black-holed.

Unlike the keep-alive pause (test_sim.py), nothing inside the candidate is told: its client
hears nothing back and gives the lease up one TTL after the last answered renewal, so a leader
goes `leader -> lost` directly; the next candidate leads; healing reconnects its link and it can
rejoin. Everyone else (the fleet's shared client, the test's) keeps talking to etcd meanwhile.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import eventually

from election_tui.etcd import ClientConfig, Endpoint, EtcdClient
from election_tui.live import LiveSession
from election_tui.sim import CandidateError, Fleet, Link, ProxyMode, State, link_problem

TTL = 2
BOUND = 5.0


async def _key_in_etcd(client: EtcdClient, key: bytes | None) -> bool:
    return key is not None and await client.get(key) is not None


async def test_a_blackholed_leader_goes_lost_the_next_leads_and_once_healed_it_rejoins(
    client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"e"
    before = set(await client.leases())
    async with Fleet(client, links=4) as fleet:
        old = fleet.launch(name, "old", TTL)
        await old.wait_for(State.LEADER, timeout=BOUND)
        new = fleet.launch(name, "new", TTL)
        await eventually(lambda: _key_in_etcd(client, new.key), timeout=BOUND, what="new's key")
        assert old.link is not None and old.client is not fleet.client

        await old.blackhole()
        cut_at = time.monotonic()
        assert old.cut and old.partition == "blackhole"
        await old.wait_for(State.LOST, timeout=TTL + 1.5)
        # Straight from leader to lost (no `stale`: that is the pause), by its own client's deadline.
        assert [t.state for t in old.history if t.at >= cut_at] == [State.LOST]
        assert "no keep-alive answer within the TTL" in old.history[-1].detail
        await new.wait_for(State.LEADER, timeout=TTL + 3)
        assert new.history[-1].at > old.history[-1].at  # the old one let go first
        assert all(p.stats.dropped > 0 for p in old.link.proxies)  # its bytes did vanish

        with pytest.raises(CandidateError, match="cut off"):
            old.rejoin()  # it could not reach etcd: heal first
        await old.heal()
        assert not old.cut and old.link.mode is ProxyMode.PASS
        old.rejoin()  # over its healed link: a new lease, a new campaign, behind the new leader
        await eventually(lambda: _key_in_etcd(client, old.key), timeout=BOUND, what="old's new key")
        assert old.state is State.CAMPAIGNING and new.state is State.LEADER
        proxies = old.link.proxies
    # Closed: every lease revoked, every proxy of the link stopped.
    assert set(await client.leases()) - before == set()
    assert all(p.connections == 0 for p in proxies)


async def test_a_short_cut_heals_before_the_ttl_and_the_leader_keeps_leading(
    client: EtcdClient, prefix: bytes
) -> None:
    async with Fleet(client, links=1) as fleet:
        leader = fleet.launch(prefix + b"e", "leader", 3)
        await leader.wait_for(State.LEADER, timeout=BOUND)
        assert leader.link is not None and leader.keepalive is not None
        proxy, keepalive = leader.link.proxies[0], leader.keepalive
        await leader.blackhole()
        renewals = keepalive.renewals
        # Past the next renewal (due TTL/3 after the last), well before the TTL: it went unanswered.
        await asyncio.sleep(max(0.0, keepalive.last_renewal + 1.0 + 0.4 - time.monotonic()))
        assert keepalive.renewals == renewals and proxy.stats.dropped > 0
        await leader.heal()
        await eventually(
            lambda: keepalive.renewals > renewals, timeout=2.5, what="a renewal over the reconnected link"
        )
        assert [t.state for t in leader.history][-1] is State.LEADER
        assert proxy.stats.resets > 0  # healing reset the torn connection


async def test_a_cut_candidate_refuses_what_would_time_out_and_closes_at_once(
    client: EtcdClient, prefix: bytes
) -> None:
    fleet = Fleet(client, links=1)
    leader = fleet.launch(prefix + b"e", "leader", 30)
    await leader.wait_for(State.LEADER, timeout=BOUND)
    lease = leader.lease_id
    await leader.blackhole()
    for action in (leader.resign(), leader.proclaim("x")):
        with pytest.raises(CandidateError, match=r"cut off from etcd \(network: blackhole\)"):
            await action
    with pytest.raises(CandidateError, match="already cut off"):
        leader.pause()
    started = time.monotonic()
    await fleet.close()  # the lease is revoked over the shared client, not the cut link
    assert time.monotonic() - started < 1.5
    assert (await client.lease_time_to_live(lease)).ttl <= 0


async def test_only_a_candidate_with_a_link_of_its_own_can_be_cut_and_the_refusal_says_why(
    client: EtcdClient, prefix: bytes
) -> None:
    async with Fleet(client, links=1) as fleet:
        linked = fleet.launch(prefix + b"e", "a", 10)
        shared = fleet.launch(prefix + b"e", "b", 10)
        assert linked.link is not None and shared.link is None and fleet.linked == 1
        assert shared.no_link == "only one candidate at a time gets a link of its own"
        await shared.wait_for(State.CAMPAIGNING, timeout=BOUND)
        with pytest.raises(CandidateError, match=r"shares the fleet's connection.*only one"):
            await shared.blackhole()
        with pytest.raises(CandidateError, match="no link of its own: only one"):
            fleet.launch(prefix + b"e", "c", 10, link=True)
        await fleet.remove(linked)  # its link goes with it: the next launch may have one
        assert fleet.launch(prefix + b"e", "d", 10).link is not None


def test_a_link_starts_at_the_shared_clients_endpoint_and_keeps_the_cluster_order() -> None:
    config = ClientConfig(("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"))
    link = Link(config, first=Endpoint("127.0.0.1", 2, False))  # the shared client moved on to :2
    try:
        assert link.client.config.endpoints == ("127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1")
        assert [p.upstream[1] for p in link.proxies] == [2, 3, 1]
        assert link.client.config.dial_via == tuple(p.address for p in link.proxies)
    finally:
        link.discard()


def test_a_cluster_off_loopback_cannot_be_cut_and_says_so() -> None:
    assert link_problem(ClientConfig(("127.0.0.1:2379", "localhost:2380", "[::1]:2381"))) is None
    problem = link_problem(ClientConfig(("127.0.0.1:2379", "etcd-2.example:2379")))
    assert problem is not None and "http://etcd-2.example:2379 is not on this machine" in problem
    assert "loopback only" in problem


async def test_the_session_names_the_partition_in_the_timeline_and_refused_actions_leave_no_trace(
    client: EtcdClient, prefix: bytes
) -> None:
    async with LiveSession(client, prefix, history=None) as session:
        await asyncio.wait_for(session.loaded.wait(), BOUND)
        cands = session.launch(prefix + b"e", "c", TTL, count=3)
        paused = await eventually(lambda: session.fleet.leader(prefix + b"e"), timeout=BOUND, what="a leader")
        cut, heir = (c for c in cands if c is not paused)  # both wait in the queue
        await eventually(
            lambda: len(session.state.candidates(prefix + b"e")) == 3, timeout=BOUND, what="keys"
        )
        session.toggle_pause(paused)
        assert await session.toggle_blackhole(cut) is True
        # Refused, each: none may name the key's end (nor clear the partition's reason).
        with pytest.raises(CandidateError, match="until the partition heals"):
            await session.resign(cut)
        with pytest.raises(CandidateError, match="already cut off"):
            session.toggle_pause(cut)
        with pytest.raises(CandidateError, match="resume it first"):
            await session.toggle_blackhole(paused)
        await cut.wait_for(State.LOST, timeout=TTL + 1.5)
        await paused.wait_for(State.STALE, timeout=TTL + 1.5)

        def kinds() -> dict[bytes | None, str]:
            return {e.key: e.kind for e in session.state.timeline if e.kind in ("paused", "blackholed")}

        want = {paused.key: "paused", cut.key: "blackholed"}
        await eventually(lambda: kinds() == want, timeout=BOUND, what="both partitions in the timeline")
        await heir.wait_for(State.LEADER, timeout=BOUND)
        assert await session.toggle_blackhole(cut) is False  # healed
