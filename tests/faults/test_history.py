"""History from etcd itself, disturbed: compacted before the start or during it, a stalled stream.

Each test compacts (or blackholes) an etcd of its own. The expected revisions come from what
etcd answered to the writes, never from the code under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, candidate_key
from election_tui.live import HistoryLimits, LiveSession, read_candidates
from election_tui.live.history import HistoryReplay, find_start
from election_tui.model import ElectionState
from election_tui.testing import TcpProxy

from ._support import ClientFactory, view

pytestmark = pytest.mark.fault
BOUND = 10.0


async def truth_at(client: EtcdClient, prefix: bytes, revision: int) -> ElectionState:
    state = ElectionState()
    state.load((await client.get_prefix(prefix, revision=revision)).kvs, revision, 0.0)
    return state


async def test_a_compaction_before_start_is_said_and_only_later_revisions_appear(
    own_etcd: EmbeddedEtcd, clients: ClientFactory, prefix: bytes
) -> None:
    client = clients(own_etcd.endpoints)
    e1 = prefix + b"e1"
    a, b, c = [(await client.lease_grant(60)).id for _ in range(3)]
    alice = (await client.put(candidate_key(e1, a), b"alice", lease=a)).revision
    await client.put(candidate_key(e1, b), b"bob", lease=b)
    compacted = (await client.put(prefix + b"data", b"x")).revision
    await client.compact(compacted)
    gone = (await client.put(prefix + b"data", b"y")).revision + 1
    await client.delete(candidate_key(e1, a))  # at `gone`: bob leads
    carol = (await client.put(candidate_key(e1, c), b"carol", lease=c)).revision

    async with LiveSession(client, prefix) as live:
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        info = live.cluster.history
        assert info is not None and info.done and info.stopped is None
        assert (info.older, info.first) == ("compacted", compacted + 1)
        assert info.text == f"history from r{compacted + 1}; older revisions were compacted"
        got = [(e.kind, e.value, e.revision) for e in live.state.timeline]
        assert got == [("left", b"alice", gone), ("elected", b"bob", gone), ("joined", b"carol", carol)]
        assert all(e.revision > compacted for e in live.state.timeline)
        assert view(live.state) == view(await truth_at(client, prefix, info.until))

    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_ENDPOINTS"] = own_etcd.endpoints[0]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "election_tui", "history", e1.decode(), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["older"], record["history_from"]) == ("compacted", compacted + 1)
    assert record["note"] == f"history from r{compacted + 1}; older revisions were compacted"
    terms = [(t["value"], t["from_revision"], t["to_revision"], t["ended"]) for t in record["terms"]]
    # alice already led where the known history begins: her start is not known, only its bound.
    assert terms == [("alice", None, gone, "left"), ("bob", gone, None, None)]
    assert alice <= compacted


async def test_a_compaction_during_the_replay_stops_it_and_the_present_is_taken(
    own_etcd: EmbeddedEtcd, clients: ClientFactory, prefix: bytes
) -> None:
    client = clients(own_etcd.endpoints)
    lease = (await client.lease_grant(60)).id
    for i in range(5):
        await client.put(candidate_key(prefix + b"e%d" % i, lease), b"v", lease=lease)
    present = await read_candidates(client, prefix)
    start = await find_start(client, prefix, present.revision, HistoryLimits())
    late = (await client.put(prefix + b"data", b"x")).revision
    await client.compact(late)  # after the start was chosen, before its watch
    state = ElectionState()
    replay = HistoryReplay(
        state, start, present, HistoryLimits(), deadline=asyncio.get_running_loop().time() + BOUND
    )
    replay.begin()

    async with client.watch_prefix(prefix, start.info.first) as watch:
        end = await replay.run(watch)

    assert end.reason == "stopped" and not end.usable
    assert replay.info.stopped == f"a compaction to r{late}"
    truth = ElectionState()
    truth.load(present.kvs, present.revision, 0.0)  # that revision is compacted now: the read itself
    assert view(state) == view(truth)


async def test_a_stalled_stream_is_given_up_at_the_time_bound_and_the_present_is_taken(
    own_etcd: EmbeddedEtcd, clients: ClientFactory, prefix: bytes
) -> None:
    client = clients(own_etcd.endpoints)
    lease = (await client.lease_grant(60)).id
    for i in range(5):
        await client.put(candidate_key(prefix + b"e%d" % i, lease), b"v", lease=lease)
    async with TcpProxy(own_etcd.endpoints[0]) as proxy:
        viewer = clients([proxy.address], timeout=1.0)
        present = await read_candidates(viewer, prefix)
        limits = HistoryLimits(seconds=1.0)
        start = await find_start(viewer, prefix, present.revision, limits)
        state = ElectionState()
        began = time.monotonic()
        replay = HistoryReplay(
            state, start, present, limits, deadline=asyncio.get_running_loop().time() + limits.seconds
        )
        replay.begin()
        await proxy.blackhole()  # the watch is made, but not one byte of it comes back

        async with viewer.watch_prefix(prefix, start.info.first) as watch:
            end = await replay.run(watch)
        took = time.monotonic() - began

    assert end.reason == "stopped" and replay.info.stopped == "the bound of 1 s"
    assert 0.9 <= took < 2.0, took
    assert replay.info.text == "history not read: the bound of 1 s"
    assert view(state) == view(await truth_at(client, prefix, present.revision))
