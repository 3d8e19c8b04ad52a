"""Case 2: etcd is paused (SIGSTOP) for twice the lease TTL, then resumed (SIGCONT)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import CampaignTimeout, EtcdClient, EtcdTimeout, Unavailable
from election_tui.live import LiveSession
from election_tui.sim import State

from ._support import BeliefSampler, ClientFactory, assert_model_converges, wait_connection

pytestmark = pytest.mark.fault

TTL = 2  # the short elections' lease TTL (etcd's minimum): the pause lasts 2 x TTL
LONG_TTL = 15  # outlives the pause
CALL_TIMEOUT = 1.0  # the dashboard client's per-call deadline


async def test_a_paused_etcd_times_out_calls_then_everything_converges(
    own_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    member = own_etcd.members[0]
    client = clients(own_etcd.endpoints, timeout=CALL_TIMEOUT)
    dash = LiveSession(client, prefix, status_every=0.5)
    dash.start()
    try:
        await asyncio.wait_for(dash.loaded.wait(), 10)
        short_name, long_name = prefix + b"short", prefix + b"long"
        short = dash.launch(short_name, "s", TTL, count=2)
        dash.launch(long_name, "l", LONG_TTL, count=2)
        await eventually(lambda: dash.fleet.leader(short_name) and dash.fleet.leader(long_name), timeout=5)
        await eventually(lambda: len(dash.state) == 4, timeout=5, what="model sees 4 candidates")
        long_leader = dash.fleet.leader(long_name)
        assert long_leader is not None
        spare = await client.lease_grant(LONG_TTL)
        sampler = BeliefSampler(list(dash.fleet)).start()

        member.pause()
        paused_at = time.monotonic()
        try:
            # Every kind of call fails with a clear timeout within its deadline, never hangs
            # (all at once, so the pause stays near 2 x TTL).
            async def timed(call: Awaitable[object]) -> tuple[BaseException | None, float]:
                started = time.monotonic()
                try:
                    await asyncio.wait_for(call, CALL_TIMEOUT + 2)  # the bound of the bound
                except Exception as err:
                    return err, time.monotonic() - started
                return None, time.monotonic() - started

            results = await asyncio.gather(
                timed(client.get(prefix + b"k")),
                timed(client.get_prefix(prefix)),
                timed(client.leader(long_name)),
                timed(client.lease_time_to_live(spare.id)),
                timed(client.status()),
                timed(client.campaign(prefix + b"during-pause", spare.id, b"x", timeout=CALL_TIMEOUT)),
            )
            for (err, took), kind in zip(results, [EtcdTimeout] * 5 + [CampaignTimeout], strict=True):
                assert isinstance(err, (kind, Unavailable)), err
                assert took < CALL_TIMEOUT + 0.5, (err, took)
            assert "did not answer in time" in str(results[0][0])
            assert "not elected" in str(results[-1][0])

            # The dashboard says it has lost touch (its status probe timed out).
            await wait_connection(dash, "stale", timeout=3)
            assert dash.cluster.error

            # Short leases cannot be renewed: their owners give up by their own clock, TTL after
            # the last renewal, i.e. before etcd could expire them (no split brain possible).
            for cand in short:
                await cand.wait_for(State.LOST, timeout=TTL + 1.5)
                assert cand.history[-1].at - paused_at <= TTL + 0.5, cand.history[-1]
            await asyncio.sleep(max(0.0, paused_at + 2 * TTL - time.monotonic()))
        finally:
            member.resume()

        await wait_connection(dash, "connected", timeout=5)
        # etcd, resumed, expires the short leases itself; the long ones lived through it.
        assert long_leader.state is State.LEADER and dash.fleet.leader(long_name) is long_leader
        assert (await client.lease_time_to_live(long_leader.lease_id)).ttl > 0
        await eventually(
            lambda: _expired(client, [c.lease_id for c in short]),
            timeout=TTL + 2,
            what="short leases expired",
        )
        assert (await client.get_prefix(short_name + b"/")).count == 0
        # The timed-out campaign left nothing behind once its lease went.
        await client.lease_revoke(spare.id)
        assert (await client.get_prefix(prefix + b"during-pause")).kvs == ()

        # Converge: the lost candidates rejoin (a user's `j`), one of them leads; model == Range.
        for cand in short:
            cand.rejoin()
        await eventually(lambda: dash.fleet.leader(short_name), timeout=5, what="a new short leader")
        await sampler.stop()
        assert not sampler.violations, sampler.violations
        await assert_model_converges(client, dash.state, prefix)
    finally:
        await dash.close()


async def _expired(client: EtcdClient, leases: list[int]) -> bool:
    infos = [await client.lease_time_to_live(lease) for lease in leases]
    return all(info.ttl == -1 for info in infos)
