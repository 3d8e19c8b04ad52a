"""Leases against a real etcd: grant, revoke, time-to-live, listing, and the shared keep-alive stream."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, InvalidArgument, LeaseNotFound

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

TTL = 2  # etcd's smallest TTL (3.4 and 3.5): the keep-alive tests run as fast as etcd allows


# -- grant ----------------------------------------------------------------------------------


async def test_lease_grant_returns_an_id_and_the_ttl(client: EtcdClient) -> None:
    lease = await client.lease_grant(7)

    assert lease.id > 0
    assert lease.ttl == 7
    await client.lease_revoke(lease.id)


async def test_lease_grant_rounds_ttl_1_up_to_etcds_minimum_of_2(client: EtcdClient) -> None:
    lease = await client.lease_grant(1)

    assert lease.ttl == 2  # etcd 3.5.1 and 3.4.23: minTTL is 2 s (one election timeout, rounded up)
    await client.lease_revoke(lease.id)


@pytest.mark.parametrize("ttl", [0, -1, "5", True, 2.5, None], ids=repr)
async def test_invalid_ttl_is_refused_before_any_rpc(ttl: object) -> None:
    # Nothing listens on port 1: any RPC would fail with Unavailable, not InvalidArgument.
    async with EtcdClient(["127.0.0.1:1"], timeout=1) as nowhere:
        with pytest.raises(InvalidArgument, match="TTL"):
            await nowhere.lease_grant(ttl)  # type: ignore[arg-type]


# -- revoke ---------------------------------------------------------------------------------


async def test_lease_revoke_deletes_the_attached_keys(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(30)
    await client.put(prefix + b"a", b"", lease=lease.id)
    await client.put(prefix + b"b", b"", lease=lease.id)

    await client.lease_revoke(lease.id)

    assert (await client.get_prefix(prefix)).kvs == ()


async def test_revoking_a_lease_twice_is_lease_not_found(client: EtcdClient) -> None:
    lease = await client.lease_grant(30)
    await client.lease_revoke(lease.id)

    with pytest.raises(LeaseNotFound, match="grant a new one"):
        await client.lease_revoke(lease.id)


async def test_a_put_on_a_revoked_lease_is_lease_not_found(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(30)
    await client.lease_revoke(lease.id)

    with pytest.raises(LeaseNotFound):
        await client.put(prefix + b"k", b"", lease=lease.id)


# -- time to live / listing -----------------------------------------------------------------


async def test_time_to_live_with_keys_lists_the_attached_keys(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(30)
    await client.put(prefix + b"a", b"", lease=lease.id)
    await client.put(prefix + b"b", b"", lease=lease.id)

    info = await client.lease_time_to_live(lease.id, keys=True)

    assert info.id == lease.id
    assert info.granted_ttl == 30
    assert 0 < info.ttl <= 30
    assert sorted(info.keys) == [prefix + b"a", prefix + b"b"]
    await client.lease_revoke(lease.id)


async def test_time_to_live_without_keys_lists_none(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(30)
    await client.put(prefix + b"a", b"", lease=lease.id)

    assert (await client.lease_time_to_live(lease.id)).keys == ()
    await client.lease_revoke(lease.id)


async def test_time_to_live_is_minus_one_after_revoke(client: EtcdClient) -> None:
    lease = await client.lease_grant(30)
    await client.lease_revoke(lease.id)

    info = await client.lease_time_to_live(lease.id)

    assert info.ttl == -1
    assert info.granted_ttl == 0


async def test_leases_lists_granted_and_not_revoked_leases(client: EtcdClient) -> None:
    kept, revoked = await client.lease_grant(30), await client.lease_grant(30)
    await client.lease_revoke(revoked.id)

    ids = await client.leases()

    assert kept.id in ids
    assert revoked.id not in ids
    await client.lease_revoke(kept.id)


# -- keep-alive -----------------------------------------------------------------------------


async def test_a_kept_alive_lease_outlives_three_times_its_ttl(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(TTL)
    await client.put(prefix + b"k", b"v", lease=lease.id)
    granted_at = time.monotonic()

    handle = await client.keep_alive(lease)
    # Renewed at a third of the TTL: 10 renewals span more than 3 TTLs.
    await eventually(
        lambda: handle.renewals >= 10 and time.monotonic() - granted_at > 3 * TTL,
        timeout=3 * TTL + 4,
        what="ten renewals over three TTLs",
    )

    assert not handle.lost
    assert await client.get(prefix + b"k") is not None
    info = await client.lease_time_to_live(lease.id)
    assert info.ttl > 0
    assert handle.remaining() > 0


async def test_keep_alive_of_a_lease_id_looks_up_its_ttl(client: EtcdClient) -> None:
    lease = await client.lease_grant(TTL)

    handle = await client.keep_alive(lease.id)

    assert handle.granted_ttl == TTL
    await eventually(lambda: handle.renewals >= 1, timeout=TTL, what="a renewal")
    await client.lease_revoke(lease.id)


async def test_keep_alive_of_an_unknown_lease_is_lease_not_found(client: EtcdClient) -> None:
    lease = await client.lease_grant(30)
    await client.lease_revoke(lease.id)

    with pytest.raises(LeaseNotFound):
        await client.keep_alive(lease.id)


async def test_a_paused_keep_alive_loses_the_lease_after_its_ttl(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(TTL)
    await client.put(prefix + b"k", b"v", lease=lease.id)
    handle = await client.keep_alive(lease)

    handle.pause()
    reason = await asyncio.wait_for(handle.wait_lost(), TTL + 2)

    assert "paused" in reason
    assert handle.lost and handle.remaining() == 0
    # The client gives up at the TTL; the server deletes the key a moment later (about TTL + 0.2 s).
    await eventually(lambda: _key_gone(client, prefix + b"k"), timeout=2, what="the key expired")
    assert (await client.lease_time_to_live(lease.id)).ttl == -1


async def test_resuming_before_the_ttl_keeps_the_lease(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(TTL)
    await client.put(prefix + b"k", b"v", lease=lease.id)
    handle = await client.keep_alive(lease)
    await eventually(lambda: handle.renewals >= 1, timeout=TTL, what="a first renewal")

    handle.pause()
    renewals = handle.renewals
    # Stay paused past the moment a renewal was due, until less than a second of life is left.
    await eventually(lambda: handle.remaining() < 1.0, timeout=TTL, what="the lease to run low")
    assert handle.renewals == renewals
    handle.resume()
    await eventually(lambda: handle.renewals > renewals, timeout=1, what="a renewal after resume")

    assert not handle.lost
    assert handle.remaining() > 1.0
    assert await client.get(prefix + b"k") is not None
    assert (await client.lease_time_to_live(lease.id)).ttl > 0
    await client.lease_revoke(lease.id)


async def test_a_lease_revoked_by_another_client_is_reported_lost(
    client: EtcdClient, endpoints: list[str], prefix: bytes
) -> None:
    lease = await client.lease_grant(TTL)
    await client.put(prefix + b"k", b"v", lease=lease.id)
    handle = await client.keep_alive(lease)
    lost: list[int] = []
    handle.on_lost(lambda h: lost.append(h.lease_id))

    async with EtcdClient(endpoints) as other:
        await other.lease_revoke(lease.id)
    reason = await asyncio.wait_for(handle.wait_lost(), TTL)

    assert "revoked" in reason
    assert lost == [lease.id]
    assert await client.get(prefix + b"k") is None


async def test_a_lease_revoked_with_etcdctl_is_reported_lost(
    client: EtcdClient, etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    lease = await client.lease_grant(TTL)
    await client.put(prefix + b"k", b"v", lease=lease.id)
    handle = await client.keep_alive(lease)

    done = await asyncio.to_thread(etcd.etcdctl, "lease", "revoke", f"{lease.id:x}", timeout=10)
    assert done.returncode == 0, done.stderr
    reason = await asyncio.wait_for(handle.wait_lost(), TTL)

    assert "revoked" in reason
    assert await client.get(prefix + b"k") is None


async def test_revoking_our_own_kept_alive_lease_stops_its_keep_alive(client: EtcdClient) -> None:
    lease = await client.lease_grant(TTL)
    handle = await client.keep_alive(lease)

    await client.lease_revoke(lease.id)

    assert handle.cancelled
    assert not handle.lost  # we revoked it on purpose: that is not a loss


async def test_two_hundred_leases_stay_alive_on_one_stream(client: EtcdClient, prefix: bytes) -> None:
    leases = await asyncio.gather(*(client.lease_grant(TTL) for _ in range(200)))
    for lease in leases[::20]:
        await client.put(prefix + b"%x" % lease.id, b"", lease=lease.id)
    granted_at = time.monotonic()

    handles = [await client.keep_alive(lease) for lease in leases]
    await eventually(
        lambda: time.monotonic() - granted_at > 2 * TTL + 0.5 and min(h.renewals for h in handles) >= 5,
        timeout=2 * TTL + 4,
        what="every lease renewed over two TTLs",
    )

    assert not any(h.lost for h in handles)
    assert client.keepalive_connected
    assert {lease.id for lease in leases} <= set(await client.leases())
    infos = await asyncio.gather(*(client.lease_time_to_live(lease.id) for lease in leases))
    assert min(info.ttl for info in infos) > 0
    assert len((await client.get_prefix(prefix)).kvs) == 10
    await asyncio.gather(*(client.lease_revoke(lease.id) for lease in leases))


async def _key_gone(client: EtcdClient, key: bytes) -> bool:
    return await client.get(key) is None
