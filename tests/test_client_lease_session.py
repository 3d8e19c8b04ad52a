"""LeaseSession against a real etcd: one lease, kept alive until closed, revoked on close,
reported lost when it dies first, and never left behind by a cancelled open()."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd, EmbeddedMember
from election_tui.etcd import EtcdClient, InvalidArgument, LeaseSession
from election_tui.testing import TcpProxy

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

TTL = 2  # etcd's smallest: renewals every 2/3 s
BOUND = 5.0


async def lease_ttl(client: EtcdClient, lease_id: int) -> int:
    """The server's remaining TTL; -1 once the lease is gone."""
    return (await client.lease_time_to_live(lease_id)).ttl


async def test_open_grants_a_lease_and_keeps_it_alive_past_its_ttl(client: EtcdClient, prefix: bytes) -> None:
    session = await LeaseSession.open(client, TTL)
    try:
        await client.put(prefix + b"k", b"v", lease=session.lease_id)
        opened = time.monotonic()

        await eventually(
            lambda: time.monotonic() - opened > 2 * TTL and session.keepalive.renewals >= 4,
            timeout=2 * TTL + BOUND,
            what="two TTLs of renewals",
        )

        assert session.alive and not session.lost
        assert session.lease.ttl == TTL
        assert await lease_ttl(client, session.lease_id) > 0
        assert await client.get(prefix + b"k") is not None
    finally:
        await session.close()


async def test_close_revokes_the_lease_and_its_keys_at_once(client: EtcdClient, prefix: bytes) -> None:
    session = await LeaseSession.open(client, 30)
    await client.put(prefix + b"k", b"v", lease=session.lease_id)

    await session.close()

    assert await lease_ttl(client, session.lease_id) == -1
    assert await client.get(prefix + b"k") is None
    assert not session.alive
    assert not session.lost  # closing on purpose is not a loss
    await session.close()  # a second close finds the lease gone and says nothing


async def test_async_with_closes_the_session(client: EtcdClient) -> None:
    async with await LeaseSession.open(client, 30) as session:
        assert await lease_ttl(client, session.lease_id) > 0

    assert await lease_ttl(client, session.lease_id) == -1


async def test_a_lease_revoked_by_another_client_is_reported_lost(
    client: EtcdClient, endpoints: list[str], prefix: bytes
) -> None:
    session = await LeaseSession.open(client, TTL)
    await client.put(prefix + b"k", b"v", lease=session.lease_id)
    reasons: list[str] = []
    session.on_lost(reasons.append)

    async with EtcdClient(endpoints) as other:
        await other.lease_revoke(session.lease_id)
    reason = await asyncio.wait_for(session.wait_lost(), BOUND)

    assert "revoked" in reason
    assert reasons == [reason]
    assert session.lost and not session.alive
    assert await client.get(prefix + b"k") is None
    await session.close()  # closing a lost session is harmless


async def test_an_invalid_ttl_is_refused_before_any_grant(client: EtcdClient) -> None:
    before = set(await client.leases())

    with pytest.raises(InvalidArgument):
        await LeaseSession.open(client, 0)

    assert set(await client.leases()) == before


# -- cancellation ---------------------------------------------------------------------------


def lease_counters(member: EmbeddedMember) -> tuple[int, int]:
    """(granted, revoked) leases since the member started, from its own /metrics."""
    with urllib.request.urlopen(member.client_url + "/metrics", timeout=BOUND) as page:
        text = page.read().decode()

    def counter(name: str) -> int:
        found = re.search(rf"^etcd_debugging_lease_{name}_total (\S+)$", text, re.MULTILINE)
        assert found is not None, f"etcd publishes no lease {name} counter"
        return int(float(found.group(1)))

    return counter("granted"), counter("revoked")


async def test_cancelling_open_while_the_grant_is_on_the_wire_leaves_no_lease(etcd_binary: Path) -> None:
    """The grant reaches a paused etcd, open() is cancelled, etcd resumes and grants: the
    session must revoke that lease before the cancellation ends, or it outlives us by a TTL."""
    with EmbeddedEtcd(name="lease-session", etcd_bin=etcd_binary) as own:
        member = own.members[0]
        async with TcpProxy(member.address) as proxy, EtcdClient([proxy.address]) as client:
            await client.status()  # the channel is up, so the grant goes out at once
            await asyncio.to_thread(member.pause)
            # Counted once etcd is stopped: from here on the client has nothing to answer
            # (no frames come back), so the next bytes it sends are the grant.
            sent_before = proxy.stats.bytes_up
            try:
                opening = asyncio.create_task(LeaseSession.open(client, 30))
                await eventually(
                    lambda: proxy.stats.bytes_up > sent_before,
                    timeout=BOUND,
                    what="the grant request forwarded to etcd",
                )
                opening.cancel()
            finally:
                await asyncio.to_thread(member.resume)

            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(opening, BOUND)

            assert await client.leases() == []
        assert await asyncio.to_thread(lease_counters, member) == (1, 1)  # it landed, and went
