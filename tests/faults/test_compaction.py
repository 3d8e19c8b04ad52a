"""Case 5: etcd compacts past the revision a cut-off watcher must resume from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import BytesLike, EtcdClient, KeyValue, RangeResult, candidate_key
from election_tui.live import LiveSession, read_candidates
from election_tui.model import ElectionState
from election_tui.sim import Fleet, State

from ._support import (
    SENTINEL,
    AppliedLog,
    ClientFactory,
    ConnectionRecorder,
    ProxyFactory,
    assert_model_converges,
    fresh_state,
    history,
    view,
    wait_connection,
)

pytestmark = pytest.mark.fault


async def test_compaction_while_the_dashboard_is_cut_off_makes_it_re_read(
    own_etcd: EmbeddedEtcd,
    prefix: bytes,
    proxies: ProxyFactory,
    clients: ClientFactory,
    applied_log: AppliedLog,
) -> None:
    proxy = await proxies(own_etcd.endpoints[0])
    viewer = clients([proxy.address], timeout=1.0)  # the dashboard's client, through the proxy
    direct = clients(own_etcd.endpoints)
    dash = LiveSession(viewer, prefix, status_every=0.5)
    dash.start()
    async with Fleet(direct) as fleet:
        try:
            await asyncio.wait_for(dash.loaded.wait(), 10)
            e1, e2, e3 = prefix + b"e1", prefix + b"e2", prefix + b"e3"
            # The dashboard's own candidate (on the cut client) leads e3 through it all.
            (ours,) = dash.launch(e3, "ours", 15)
            a, b = fleet.launch(e1, "a", 10), fleet.launch(e1, "b", 10)
            gone = fleet.launch(e2, "gone", 10)
            await ours.wait_for(State.LEADER, timeout=5)
            await eventually(lambda: len(dash.state) == 4, timeout=5, what="model has 4 candidates")
            recorder = ConnectionRecorder(dash).start()

            await proxy.refuse()
            await wait_connection(dash, "reconnecting", timeout=5)
            # While it is away: leadership changes, an election empties, a newcomer joins...
            first = a if a.state is State.LEADER else b
            await first.resign()
            await gone.revoke()
            newcomer = fleet.launch(e1, "newcomer", 10)
            await eventually(lambda: direct.get(newcomer.key or b"?"), timeout=5, what="newcomer key")
            await direct.put(prefix + b"e1/not-a-candidate", b"junk")
            # ...and history is compacted past everything the dashboard saw.
            revision = (await direct.get_prefix(prefix)).revision
            await direct.compact(revision)

            await proxy.pass_through()
            await wait_connection(dash, "connected", timeout=10)
            await eventually(lambda: len(applied_log.loads(dash.state)) == 2, timeout=5, what="a re-read")
            assert applied_log.loads(dash.state)[1] >= revision
            await assert_model_converges(direct, dash.state, prefix)
            seen = await recorder.stop()
            assert "reconnecting" in seen and seen[-1] == "connected", seen

            # Events after the re-read apply on top of it, none missed or doubled.
            reread = applied_log.loads(dash.state)[1]
            later = fleet.launch(e2, "later", 10)
            await later.wait_for(State.LEADER, timeout=5)
            sentinel = (await direct.put(prefix + SENTINEL, b"x")).revision
            await eventually(
                lambda: any(r == sentinel for r, _k, _t in applied_log.events(dash.state)),
                timeout=5,
                what="sentinel applied",
            )
            after = [e for e in applied_log.events(dash.state) if e[0] > reread]
            assert after == await history(direct, prefix, reread + 1, sentinel)
            await assert_model_converges(direct, dash.state, prefix)

            # Our own leader kept its leadership; its key guard, whose watch was compacted
            # too, checked the key once and watches on (it does not spin re-reading).
            assert ours.state is State.LEADER
            calls = 0
            real_get = viewer.get

            async def counting_get(key: BytesLike, *, revision: int = 0) -> KeyValue | None:
                nonlocal calls
                calls += 1
                return await real_get(key, revision=revision)

            viewer.get = counting_get  # type: ignore[method-assign]
            await asyncio.sleep(1.0)
            assert calls <= 1, f"the leader's key guard re-read its key {calls} times in 1 s"
            # ...and it still guards: deleting the key by hand is noticed.
            await direct.delete(ours.key or b"?")
            await ours.wait_for(State.LOST, timeout=3)
            assert "deleted" in ours.history[-1].detail
        finally:
            await dash.close()


class CompactingOnce(EtcdClient):
    """A client whose first scan sees a candidate join and the store compacted after page one."""

    def __init__(self, endpoints: list[str], late: bytes) -> None:
        super().__init__(endpoints)
        self.late = late
        self.scans = 0
        self.compacted_at = 0

    def scan_prefix(self, prefix: Any, **options: Any) -> AsyncGenerator[RangeResult, None]:
        pages = super().scan_prefix(prefix, **options)
        self.scans += 1
        if self.scans > 1:
            return pages

        async def compacting() -> AsyncGenerator[RangeResult, None]:
            yield await anext(pages)
            lease = (await self.lease_grant(60)).id
            self.compacted_at = (
                await self.put(candidate_key(self.late, lease), b"late", lease=lease)
            ).revision
            await self.compact(self.compacted_at)
            async for page in pages:
                yield page

        return compacting()


async def test_a_compaction_in_the_middle_of_a_paged_read_starts_it_again(
    own_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    late = prefix + b"late"
    client = CompactingOnce(own_etcd.endpoints, late)
    async with client:
        for i in range(10):
            lease = (await client.lease_grant(60)).id
            await client.put(candidate_key(prefix + b"e%d" % (i % 3), lease), b"c%d" % i, lease=lease)
            await client.put(prefix + b"data/%d" % i, b"x" * 100)

        snapshot = await read_candidates(client, prefix, page=5)

        assert (client.scans, snapshot.restarts) == (2, 1)
        assert snapshot.revision >= client.compacted_at
        truth, _ = await fresh_state(client, prefix)
    state = ElectionState()
    state.load(snapshot.kvs, snapshot.revision, 0.0)
    assert view(state) == view(truth)
    assert late in state.names() and len(state) == 11
