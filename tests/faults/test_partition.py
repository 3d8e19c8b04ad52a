"""Case 3: a blackhole between the leader and etcd (through `TcpProxy`); the others talk directly.

What a candidate goes through, as documented in `docs/reliability.md`:

- cut off for real (the proxy drops its bytes), a leader's keep-alive goes unanswered; its
  client gives the lease up one TTL after the last *answered* renewal, which is no later than
  etcd expires it, so it goes `leader -> lost` directly, before anyone else can be elected;
- `stale` is what the simulator's pause (`z`) shows: the keep-alive is withheld on purpose and
  the candidate goes on believing until it would have learned (another TTL), so for a while a
  stale old leader and a new leader coexist: that is the window `stale` makes visible;
- in both, at no sampled moment do two candidates in `leader` state (non-stale believers)
  exist in one election, and a fenced write of the old leader is refused by etcd.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdTimeout, LeaderElection, NotLeaderError, Unavailable
from election_tui.live import LiveSession
from election_tui.sim import CandidateError, Fleet, State

from ._support import (
    SENTINEL,
    AppliedLog,
    BeliefSampler,
    ClientFactory,
    ProxyFactory,
    assert_model_converges,
    history,
    wait_connection,
)

pytestmark = pytest.mark.fault

TTL = 2


async def test_a_blackholed_leader_is_lost_before_a_new_leader_takes_over(
    etcd: EmbeddedEtcd, prefix: bytes, proxies: ProxyFactory, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    proxy = await proxies(etcd.endpoints[0])
    cut = clients([proxy.address], timeout=1.0)
    direct = clients(etcd.endpoints)
    dash = LiveSession(direct, prefix)
    dash.start()
    async with Fleet(cut) as cut_fleet, Fleet(direct) as fleet:
        try:
            await asyncio.wait_for(dash.loaded.wait(), 5)
            old = cut_fleet.launch(name, "old", TTL)
            await old.wait_for(State.LEADER, timeout=5)
            others = [fleet.launch(name, f"o{i}", TTL) for i in range(2)]
            await eventually(lambda: len(dash.state.candidates(name)) == 3, timeout=5, what="queue of 3")
            sampler = BeliefSampler([old, *others]).start()

            await proxy.blackhole()
            cut_at = time.monotonic()
            await old.wait_for(State.LOST, timeout=TTL + 1.5)
            lost_at = old.history[-1].at
            # Straight from leader to lost: a real cut is not the simulator's pause.
            assert [t.state for t in old.history if t.at >= cut_at] == [State.LOST]
            assert "no keep-alive answer within the TTL" in old.history[-1].detail
            assert lost_at - cut_at <= TTL + 0.5

            new = await eventually(lambda: fleet.leader(name), timeout=TTL + 3, what="a new leader")
            assert new.history[-1].at > lost_at  # the old one let go first
            # The sim refuses a write of a lost candidate; etcd refuses its fenced write.
            with pytest.raises(CandidateError):
                await old.guarded_put(prefix + b"data", b"from the old leader")
            await new.guarded_put(prefix + b"data", b"from the new leader")

            await proxy.pass_through()
            await sampler.stop()
            assert sampler.samples > 100 and not sampler.violations, sampler.violations
            assert (await direct.get(prefix + b"data")).value == b"from the new leader"  # type: ignore[union-attr]
            await eventually(
                lambda: (lead := dash.state.leader(name)) is not None and lead.key == new.key,
                timeout=3,
                what="the dashboard shows the new leader",
            )
            await assert_model_converges(direct, dash.state, prefix)
        finally:
            await dash.close()


async def test_a_blackholed_leader_election_reports_loss_and_its_fenced_write_is_refused(
    etcd: EmbeddedEtcd, prefix: bytes, proxies: ProxyFactory, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    proxy = await proxies(etcd.endpoints[0])
    cut = clients([proxy.address], timeout=1.0)
    direct = clients(etcd.endpoints)
    old = LeaderElection(cut, name, b"old", ttl=TTL)
    other = LeaderElection(direct, name, b"other", ttl=TTL)
    async with old, other:
        await old.campaign(timeout=5)
        waiting = asyncio.create_task(other.campaign())

        async def queued() -> bool:
            return len((await direct.get_prefix(name + b"/")).kvs) == 2

        await eventually(queued, timeout=5, what="the second candidate queued")
        await proxy.blackhole()

        reason = await asyncio.wait_for(old.wait_lost(), TTL + 1.5)
        assert "lease lost" in reason and not old.is_leader
        started = time.monotonic()
        with pytest.raises((EtcdTimeout, Unavailable)):  # cut off: a bounded failure, not a hang
            await old.guarded_put(prefix + b"data", b"stale write")
        assert time.monotonic() - started < 2.0
        await asyncio.wait_for(waiting, TTL + 3)
        assert other.is_leader

        await proxy.pass_through()
        # Healed: the old leader's fenced write reaches etcd, which refuses it. (Healing resets
        # the torn connection; a write is never retried blindly, so the first attempts may
        # fail with Unavailable until the channel has reconnected.)
        refusal = None
        for _attempt in range(25):
            try:
                await asyncio.wait_for(old.guarded_put(prefix + b"data", b"stale write"), 5)
            except Unavailable:
                await asyncio.sleep(0.2)
                continue
            except NotLeaderError as err:
                refusal = err
                break
        assert refusal is not None, "the fenced write was never refused by etcd"
        assert await direct.get(prefix + b"data") is None
        assert (await direct.leader(name)).value == b"other"


async def test_a_sim_paused_leader_goes_stale_then_lost_and_never_shares_leadership(
    etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    client = clients(etcd.endpoints)
    async with Fleet(client) as fleet:
        old = fleet.launch(name, "old", TTL)
        await old.wait_for(State.LEADER, timeout=5)
        other = fleet.launch(name, "other", TTL)
        await eventually(lambda: client.get(other.key or b"?"), timeout=5, what="second candidate key")
        sampler = BeliefSampler([old, other]).start()

        old.pause()  # the simulator's partition: keep-alives withheld, the candidate unaware
        await old.wait_for(State.STALE, timeout=TTL + 1.5)
        await other.wait_for(State.LEADER, timeout=TTL + 3)
        assert old.state is State.STALE  # both believe; only one is a non-stale leader
        with pytest.raises(NotLeaderError):  # a stale leader's fenced write is refused by etcd
            await old.guarded_put(prefix + b"data", b"stale")
        # ...and that is how it learns (read from its history: mypy would keep `old.state` narrowed
        # to STALE across the await above)
        assert old.history[-1].state is State.LOST

        await sampler.stop()
        assert sampler.stale_seen > 0 and not sampler.violations, sampler.violations


async def test_a_dashboard_behind_a_blackhole_says_stale_then_catches_up_without_gaps(
    etcd: EmbeddedEtcd, prefix: bytes, proxies: ProxyFactory, clients: ClientFactory, applied_log: AppliedLog
) -> None:
    proxy = await proxies(etcd.endpoints[0])
    viewer = clients([proxy.address], timeout=1.0)
    direct = clients(etcd.endpoints)
    dash = LiveSession(viewer, prefix, status_every=0.5)
    dash.start()
    async with Fleet(direct) as fleet:
        try:
            await asyncio.wait_for(dash.loaded.wait(), 5)
            (first_load,) = applied_log.loads(dash.state)
            name = prefix + b"e"
            a = fleet.launch(name, "a", 10)
            await a.wait_for(State.LEADER, timeout=5)
            await eventually(lambda: dash.state.leader(name), timeout=5, what="leader seen")
            a_key = a.key

            await proxy.blackhole()  # no error, no answer: only a deadline can tell
            await wait_connection(dash, "stale", timeout=3)
            b = fleet.launch(name, "b", 10)  # meanwhile, life goes on
            await eventually(lambda: direct.get(b.key or b"?"), timeout=5, what="b's key")
            await a.resign()
            await b.wait_for(State.LEADER, timeout=5)
            assert dash.state.leader(name).key == a_key  # type: ignore[union-attr]  # frozen in the past

            await proxy.pass_through()
            await wait_connection(dash, "connected", timeout=10)
            sentinel = (await direct.put(prefix + SENTINEL, b"x")).revision
            await eventually(
                lambda: any(r == sentinel for r, _k, _t in applied_log.events(dash.state)),
                timeout=5,
                what="sentinel applied",
            )
            assert applied_log.loads(dash.state) == [first_load]  # resumed, not re-read
            assert applied_log.events(dash.state) == await history(direct, prefix, first_load + 1, sentinel)
            await assert_model_converges(direct, dash.state, prefix)
            assert dash.state.leader(name).key == b.key  # type: ignore[union-attr]
        finally:
            await dash.close()
