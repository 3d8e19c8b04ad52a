"""Case 1: etcd is killed (-9) and restarted on its data dir while the app watches and candidates campaign."""

from __future__ import annotations

import asyncio

import pytest
from helpers import eventually
from rich.text import Text

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig
from election_tui.sim import State
from election_tui.ui.app import ElectionApp
from election_tui.ui.status import StatusLine

from ._support import (
    SENTINEL,
    AppliedLog,
    ClientFactory,
    ConnectionRecorder,
    assert_model_converges,
    history,
    wait_connection,
)

pytestmark = pytest.mark.fault

TTL = 10  # long enough that a restart (~1-2 s) is survived by every lease


def _status(app: ElectionApp) -> str:
    content = app.query_one(StatusLine).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_kill_9_and_restart_the_app_reconnects_and_misses_nothing(
    own_etcd: EmbeddedEtcd, prefix: bytes, applied_log: AppliedLog, clients: ClientFactory
) -> None:
    member = own_etcd.members[0]
    direct = clients(own_etcd.endpoints)
    app = ElectionApp(ClientConfig(endpoints=tuple(own_etcd.endpoints)), prefix=prefix)
    async with app.run_test(size=(160, 40)) as pilot:
        dash = app.session
        await asyncio.wait_for(dash.loaded.wait(), 10)
        first_load = applied_log.loads(dash.state)[0]
        e1, e2 = prefix + b"e1", prefix + b"e2"
        queue = dash.launch(e1, "q", TTL, count=3)
        (solo,) = dash.launch(e2, "solo", TTL)
        await solo.wait_for(State.LEADER, timeout=5)
        await eventually(lambda: len(dash.state.candidates(e1)) == 3, timeout=5, what="3 candidates seen")
        # Launched together, any of them may win: the queue order is etcd's (create revision).
        by_key = {c.key: c for c in queue}
        queue = [by_key[c.key] for c in dash.state.candidates(e1)]
        await queue[0].wait_for(State.LEADER, timeout=5)
        leases = {c.id: c.lease_id for c in dash.fleet}
        states = {c.id: c.state for c in dash.fleet}
        recorder = ConnectionRecorder(dash).start()

        member.kill()
        await wait_connection(dash, "reconnecting", timeout=5)
        await pilot.pause(0.2)  # a frame or two
        assert "reconnecting" in _status(app)
        await asyncio.to_thread(member.restart)
        await wait_connection(dash, "connected", timeout=15)
        await pilot.pause(0.2)
        assert "connected" in _status(app) and "reconnecting" not in _status(app)
        seen = await recorder.stop()
        assert "reconnecting" in seen and seen[-1] == "connected", seen

        # Every lease survived the restart (etcd restores leases from disk, renewing them):
        # each candidate is where it was, on the same lease, and etcd agrees the lease lives.
        assert {c.id: c.lease_id for c in dash.fleet} == leases
        assert {c.id: c.state for c in dash.fleet} == states
        for cand in dash.fleet:
            assert (await direct.lease_time_to_live(cand.lease_id)).ttl > 0, cand
            assert cand.key is not None and await direct.get(cand.key) is not None, cand

        # The waiting campaigns survived too: hand leadership down the queue.
        await dash.resign(queue[0])
        await queue[1].wait_for(State.LEADER, timeout=5)
        assert queue[2].state is State.CAMPAIGNING

        # A sentinel write marks "now"; once the model has it, compare with the truth.
        sentinel = (await direct.put(prefix + SENTINEL, b"x")).revision
        await eventually(
            lambda: any(rev == sentinel for rev, _k, _t in applied_log.events(dash.state)),
            timeout=5,
            what="sentinel applied",
        )
        await assert_model_converges(direct, dash.state, prefix)

        # No event missed or applied twice: what the model was fed is exactly etcd's history.
        fed = applied_log.events(dash.state)
        assert applied_log.loads(dash.state) == [first_load]  # no re-read was needed
        assert fed == await history(direct, prefix, first_load + 1, sentinel)
        assert len(set(fed)) == len(fed)

        await pilot.press("q")
    # Quitting revoked every lease of the fleet.
    assert not set(leases.values()) & set(await direct.leases())
