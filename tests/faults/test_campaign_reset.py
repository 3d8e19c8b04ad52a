"""Case 4: the connection of a waiting candidate is reset in the middle of its Campaign.

The guarantee (see docs/reliability.md):

- etcd ends a Campaign whose connection dies by withdrawing the candidate key; our client
  retries the Campaign on UNAVAILABLE with the same lease, which writes the same key name
  (`<name>/<lease hex>`) again, with a new create revision: the candidate rejoins the end of
  the queue, it does not keep its place;
- at every moment every key of the election belongs to a live lease of a candidate that is
  still campaigning or leading: no orphan key (a lease holds one key per election, by name);
- a candidate that gives up while cut off leaves nothing: its key was withdrawn by etcd when
  the connection died, and its lease, which it can no longer revoke, expires within its TTL.
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, KeyValue, candidate_key
from election_tui.sim import Candidate, Fleet, State

from ._support import ClientFactory, ProxyFactory

pytestmark = pytest.mark.fault


async def _keys(client: EtcdClient, name: bytes) -> dict[bytes, KeyValue]:
    return {kv.key: kv for kv in (await client.get_prefix(name + b"/")).kvs}


def _owned(keys: dict[bytes, KeyValue], *owners: Candidate) -> bool:
    """Every key is `<name>/<lease>` of one of the owners, on that very lease."""
    wanted = {candidate_key(c.name, c.lease_id): c.lease_id for c in owners if c.lease_id}
    return all(wanted.get(k) == kv.lease for k, kv in keys.items())


async def test_a_reset_mid_campaign_re_queues_the_same_key_and_leaves_no_orphan(
    etcd: EmbeddedEtcd, prefix: bytes, proxies: ProxyFactory, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    proxy = await proxies(etcd.endpoints[0])
    direct = clients(etcd.endpoints)
    cut = clients([proxy.address], timeout=2.0)
    async with Fleet(direct) as fleet, Fleet(cut) as cut_fleet:
        leader = fleet.launch(name, "leader", 10)
        await leader.wait_for(State.LEADER, timeout=5)
        waiter = cut_fleet.launch(name, "waiter", 10)
        await eventually(lambda: direct.get(waiter.key or b"?"), timeout=5, what="waiter's key")
        first = await direct.get(waiter.key or b"?")
        assert first is not None
        orphans: list[dict[bytes, KeyValue]] = []

        async def audit() -> None:  # every 20 ms: is each key owned by a live campaign?
            while True:
                keys = await _keys(direct, name)
                if not _owned(keys, leader, waiter):
                    orphans.append(keys)
                await asyncio.sleep(0.02)

        auditor = asyncio.create_task(audit())

        await proxy.refuse()  # reset every connection and refuse new ones for a while
        # etcd saw the Campaign's connection die and withdrew the key; the candidate does not
        # know, nor need to: it is retrying.
        await eventually(lambda: _gone(direct, first.key), timeout=3, what="key withdrawn")
        assert waiter.state is State.CAMPAIGNING
        await asyncio.sleep(0.5)
        await proxy.pass_through()

        again = await eventually(lambda: direct.get(first.key), timeout=5, what="the key written again")
        assert again.lease == first.lease and again.create_revision > first.create_revision
        keys = await _keys(direct, name)
        assert set(keys) == {leader.key, waiter.key} and _owned(keys, leader, waiter)
        assert waiter.state is State.CAMPAIGNING

        await leader.resign()
        await waiter.wait_for(State.LEADER, timeout=5)
        assert waiter.leader_key is not None
        assert waiter.leader_key.key == first.key and waiter.leader_key.rev == again.create_revision
        assert (await direct.leader(name)).key == first.key

        auditor.cancel()
        await asyncio.gather(auditor, return_exceptions=True)
        assert not orphans, orphans

        await waiter.resign()
        assert await _keys(direct, name) == {}
        assert not {leader.lease_id, waiter.lease_id} & set(await direct.leases())


async def _gone(client: EtcdClient, key: bytes) -> bool:
    return await client.get(key) is None


async def test_a_candidate_that_gives_up_while_cut_off_leaves_nothing_within_its_ttl(
    etcd: EmbeddedEtcd, prefix: bytes, proxies: ProxyFactory, clients: ClientFactory
) -> None:
    ttl = 2
    name = prefix + b"e"
    proxy = await proxies(etcd.endpoints[0])
    direct = clients(etcd.endpoints)
    cut = clients([proxy.address], timeout=0.5)
    async with Fleet(direct) as fleet, Fleet(cut) as cut_fleet:
        leader = fleet.launch(name, "leader", 10)
        await leader.wait_for(State.LEADER, timeout=5)
        waiter = cut_fleet.launch(name, "waiter", ttl)
        await eventually(lambda: direct.get(waiter.key or b"?"), timeout=5, what="waiter's key")
        lease = waiter.lease_id

        await proxy.refuse()
        await cut_fleet.remove(waiter)  # resign and revoke fail (cut off); it gives up anyway
        assert waiter.state is State.RESIGNED
        await eventually(lambda: _gone(direct, candidate_key(name, lease)), timeout=2, what="key withdrawn")
        await eventually(
            lambda: _lease_gone(direct, lease), timeout=ttl + 1.5, what="the unrevoked lease expired"
        )
        assert set(await _keys(direct, name)) == {leader.key}


async def _lease_gone(client: EtcdClient, lease: int) -> bool:
    return (await client.lease_time_to_live(lease)).ttl == -1
