"""TTLs through a live session, against real leases: another client's and our own.

The session's `ttls(now)` is what every TTL cell draws (`LeaseClock.shown` for other clients'
leases, the keep-alive's own knowledge for ours); these tests sample it as a view would.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from helpers import LineReader, eventually, stop_process

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, LeaseNotFound
from election_tui.live import LiveSession
from election_tui.model import ShownTTL
from election_tui.sim import State

BOUND = 10.0
FRAME = 0.05
TTL = 4
# etcdctl renews TTL/3 after each reply, on its 500 ms send tick: every 1.5 s for TTL 4, so the
# lease dips to 2.5 s and etcd then truly answers 2 (measured: {3: 156, 2: 78} over 12 s). So
# the floor a view may promise is etcd's lowest answer, int(TTL - (TTL / 3 + 0.5)), not 2/3 TTL.
FLOOR = math.floor(TTL - (TTL / 3 + 0.5))


@pytest.fixture
async def session(client: EtcdClient, prefix: bytes) -> AsyncIterator[LiveSession]:
    async with LiveSession(client, prefix) as live:
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        yield live


@contextlib.contextmanager
def etcdctl_keep_alive(etcd: EmbeddedEtcd, lease: int) -> Iterator[LineReader]:
    """`etcdctl lease keep-alive <hex id>` in the background, stopped by its own Popen."""
    proc = subprocess.Popen(
        etcd.etcdctl_cmd("lease", "keep-alive", format(lease, "x")),
        env=etcd.etcdctl_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        yield LineReader(proc.stdout)
    finally:
        stop_process(proc)


async def test_a_lease_kept_alive_by_etcdctl_is_never_drawn_below_what_etcd_answers(
    etcd: EmbeddedEtcd, client: EtcdClient, session: LiveSession
) -> None:
    """The reported bug: a TTL-4 lease renewed elsewhere drawn at 1.2 s while etcd said 3."""
    lease = (await client.lease_grant(TTL)).id
    try:
        with etcdctl_keep_alive(etcd, lease) as out:
            await out.wait_for_async(lambda lines: sum(b"keepalived" in line for line in lines) >= 2, BOUND)
            view = session.follow()
            view.show_leases([lease])  # a view shows it: the session polls it
            await eventually(lambda: session.ttls(session.clock())(lease), timeout=BOUND, what="an answer")
            samples: list[ShownTTL] = []
            end = session.clock() + 10.0
            while session.clock() < end:
                shown = session.ttls(session.clock())(lease)
                assert shown is not None
                samples.append(shown)
                await asyncio.sleep(FRAME)  # a frame's pace: what a view would draw
            view.close()
    finally:
        with contextlib.suppress(LeaseNotFound):
            await client.lease_revoke(lease)
    lows = [s.low for s in samples]
    assert min(lows) >= FLOOR - FRAME, f"drawn below etcd's lowest answer: {sorted(lows)[:5]}"
    assert not any(s.gone or s.counting for s in samples)  # held: etcd's word, never a countdown
    assert all(s.granted == TTL and s.low < TTL for s in samples)
    assert len(samples) > 100


async def test_our_own_lease_is_drawn_from_its_keepalive_and_not_polled(
    session: LiveSession, prefix: bytes
) -> None:
    (candidate,) = session.launch(prefix + b"ours", "v", TTL)
    await candidate.wait_for(State.LEADER, timeout=BOUND)
    keepalive = candidate.keepalive
    assert keepalive is not None
    view = session.follow()
    view.show_leases([keepalive.lease_id])
    await eventually(lambda: keepalive.renewals >= 2, timeout=BOUND, what="two renewals")
    for _ in range(3):
        await session.refresh_ttls(session.shown_leases)
    shown = session.ttls(session.clock())(keepalive.lease_id)
    assert shown is not None and shown.counting and shown.granted == TTL
    assert math.isclose(shown.low, keepalive.remaining(), abs_tol=0.05)
    assert 2 * TTL / 3 - 0.5 < shown.low <= TTL  # renewed every TTL/3 by us
    assert keepalive.lease_id not in session.leases  # the keep-alive knows: no TimeToLive asked
    view.close()


async def test_a_lease_of_ours_that_is_lost_is_drawn_from_etcds_answers(
    session: LiveSession, prefix: bytes
) -> None:
    (candidate,) = session.launch(prefix + b"ours", "v", 2)
    await candidate.wait_for(State.LEADER, timeout=BOUND)
    keepalive = candidate.keepalive
    assert keepalive is not None
    lease = keepalive.lease_id
    view = session.follow()
    view.show_leases([lease])
    await session.crash(candidate)  # revoked: the keep-alive vouches for it no more
    await session.refresh_ttls(session.shown_leases)
    shown = session.ttls(session.clock())(lease)
    assert shown is not None and shown.gone
    view.close()
