"""Case 9: an operator deletes the leader key (`etcdctl del`) or revokes its lease by hand."""

from __future__ import annotations

import asyncio

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, LeaderElection
from election_tui.sim import Fleet, State

from ._support import ClientFactory

pytestmark = pytest.mark.fault

TTL = 10  # long: only the operator's action may end a leadership here


def _by_hand(etcd: EmbeddedEtcd, action: str, key: bytes, lease: int) -> None:
    if action == "del":
        etcd.etcdctl("del", key.decode(), timeout=10, check=True)
    else:
        etcd.etcdctl("lease", "revoke", format(lease, "x"), timeout=10, check=True)


@pytest.mark.parametrize("action", ["del", "revoke"])
async def test_a_candidate_notices_its_leadership_ended_by_hand_and_the_next_one_leads(
    etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory, action: str
) -> None:
    name = prefix + b"e"
    client = clients(etcd.endpoints)
    before = set(await client.leases())
    async with Fleet(client) as fleet:
        old = fleet.launch(name, "old", TTL)
        await old.wait_for(State.LEADER, timeout=5)
        nxt = fleet.launch(name, "next", TTL)
        await eventually(lambda: client.get(nxt.key or b"?"), timeout=5, what="second candidate")
        assert old.key is not None

        await asyncio.to_thread(_by_hand, etcd, action, old.key, old.lease_id)
        await old.wait_for(State.LOST, timeout=3)
        detail = old.history[-1].detail
        assert (
            ("leader key deleted" in detail)
            if action == "del"
            else ("lease" in detail or "deleted" in detail)
        )
        await nxt.wait_for(State.LEADER, timeout=3)
        assert (await client.leader(name)).key == nxt.key

        # The lost candidate rejoins with a new lease: the old one must not linger.
        old_lease = old.lease_id
        old.rejoin()
        await old.wait_for(State.CAMPAIGNING, timeout=1)
        await eventually(lambda: client.get(old.key or b"?"), timeout=5, what="rejoined key")
        assert old.lease_id != old_lease
        await eventually(lambda: _lease_gone(client, old_lease), timeout=3, what="the replaced lease revoked")
    assert set(await client.leases()) <= before  # the fleet left no lease behind


async def _lease_gone(client: EtcdClient, lease: int) -> bool:
    return lease not in await client.leases()


@pytest.mark.parametrize("action", ["del", "revoke"])
async def test_a_leader_election_wait_lost_returns_a_reason(
    etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory, action: str
) -> None:
    client = clients(etcd.endpoints)
    async with LeaderElection(client, prefix + b"e", b"me", ttl=TTL) as election:
        leader = await election.campaign(timeout=5)
        await asyncio.to_thread(_by_hand, etcd, action, leader.key, leader.lease)
        reason = await asyncio.wait_for(election.wait_lost(), 3)
        assert reason and not election.is_leader
        assert ("deleted" in reason) if action == "del" else ("lease" in reason or "deleted" in reason)


async def test_a_waiting_candidate_whose_key_was_deleted_does_not_falsely_win(
    etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    """etcd's Campaign waits only for the keys ahead; a waiter's own key vanishing goes unseen
    until it would be elected: then the client sees its key is gone and reports loss."""
    name = prefix + b"e"
    client = clients(etcd.endpoints)
    async with Fleet(client) as fleet:
        leader = fleet.launch(name, "leader", TTL)
        await leader.wait_for(State.LEADER, timeout=5)
        waiter = fleet.launch(name, "waiter", TTL)
        await eventually(lambda: client.get(waiter.key or b"?"), timeout=5, what="waiter's key")

        await asyncio.to_thread(_by_hand, etcd, "del", waiter.key or b"?", 0)
        await leader.resign()
        await waiter.wait_for(State.LOST, timeout=5)
        assert "no longer exists" in waiter.history[-1].detail
        assert (await client.get_prefix(name + b"/")).count == 0  # nobody leads, nobody thinks so
