"""Case 14: the campaign's fast paths under faults.

- A campaign cancelled while its Txn is on the wire (etcd paused) ends at once but does not
  cancel that Txn, which etcd may apply all the same: when the answer comes, the client
  withdraws the key it put.
- The check after a Campaign that waited is read from the member that answered the Campaign,
  not from whichever endpoint the client has moved on to meanwhile.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, EventType, WatchEvents, candidate_key

from ._support import ClientFactory

pytestmark = [pytest.mark.fault, pytest.mark.etcd_versions]  # each test on etcd 3.5 and 3.4


async def test_a_campaign_cancelled_while_its_txn_is_unanswered_withdraws_the_key_it_put(
    own_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    client = clients(own_etcd.endpoints, timeout=5.0)
    name = prefix + b"e"
    key = candidate_key(name, (lease := await client.lease_grant(30)).id)
    mark = await client.put(prefix + b"mark", b"")  # also: the channel is connected
    member = own_etcd.members[0]

    member.pause()
    try:
        campaign = asyncio.create_task(client.campaign(name, lease.id, b"me"))
        await asyncio.sleep(0.3)  # its Txn waits in etcd's socket
        campaign.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(campaign, 0.5)  # at once, paused etcd or not
    finally:
        member.resume()

    await eventually(lambda: _empty(client, name), timeout=5, what="the key withdrawn")
    assert (await client.lease_time_to_live(lease.id)).ttl > 0  # the lease is the caller's
    # etcd applied the Txn of the cancelled campaign; the withdrawal came after it.
    events: list[tuple[EventType, bytes]] = []
    async with asyncio.timeout(5), client.watch_prefix(name + b"/", start_revision=mark.revision) as watch:
        async for item in watch:
            if isinstance(item, WatchEvents):
                events += [(e.type, e.kv.key) for e in item.events]
                if len(events) >= 2:
                    break
    assert events == [(EventType.PUT, key), (EventType.DELETE, key)]


async def _empty(client: EtcdClient, name: bytes) -> bool:
    return (await client.get_prefix(name + b"/")).kvs == ()


async def _value_is(client: EtcdClient, key: bytes, value: bytes) -> bool:
    kv = await client.get(key)
    return kv is not None and kv.value == value


async def test_the_check_after_a_waited_campaign_reads_from_the_member_that_answered(
    etcd: EmbeddedEtcd, own_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    """The candidate waits in Campaign at its first endpoint; meanwhile the client moves on to
    its second, which then hangs (a paused etcd). The check after the answer is read from the
    first (a serializable read is only safe there), so it wins at once instead of waiting out a
    read at the hung one."""
    direct = clients(etcd.endpoints)
    both = clients([etcd.endpoints[0], own_etcd.endpoints[0]], timeout=2.0)
    name = prefix + b"e"
    leader = await direct.campaign(name, (await direct.lease_grant(30)).id, b"leader")
    lease = await direct.lease_grant(30)
    # A key that stood before the campaign: no witness watch, the read decides.
    await direct.put(candidate_key(name, lease.id), b"earlier", lease=lease.id)
    waiting = asyncio.create_task(both.campaign(name, lease.id, b"me"))
    # etcd's Campaign proclaims the new value of the key it found, then waits: the value says so.
    await eventually(
        lambda: _value_is(direct, candidate_key(name, lease.id), b"me"), timeout=5, what="proclaimed"
    )
    assert not waiting.done()

    await both.status(1)  # connected to the second endpoint too (a hung connection, not a refused one)
    both._conn.failover(both._conn.generation)  # as another call's UNAVAILABLE would
    assert both.endpoint.target == own_etcd.endpoints[0]
    own_etcd.members[0].pause()
    try:
        started = time.monotonic()
        await direct.resign(leader)
        won = await asyncio.wait_for(waiting, 5)
        took = time.monotonic() - started
    finally:
        own_etcd.members[0].resume()

    assert took < 1.0, f"{took:.2f} s: the check went to the hung endpoint"
    assert won.key == candidate_key(name, lease.id)
    assert (await direct.leader(name)).key == won.key
    await direct.lease_revoke(lease.id)
    await direct.lease_revoke(leader.lease)
