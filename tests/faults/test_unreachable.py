"""Case 10: every endpoint is down from the start: fail fast and clearly, without spinning."""

from __future__ import annotations

import asyncio
import resource
import time

import pytest
from helpers import eventually

from election_tui.etcd import ClientConfig, EtcdClient, Unavailable
from election_tui.live import LiveSession
from election_tui.sim import Fleet, State
from election_tui.ui.app import ElectionApp

from ._support import closed_port, run_cli

pytestmark = pytest.mark.fault

DIAL = 1.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("count", [1, 3])
def test_the_cli_exits_2_within_the_dial_timeout_with_one_line_and_no_busy_loop(count: int) -> None:
    endpoints = ",".join(f"127.0.0.1:{closed_port()}" for _ in range(count))
    done = run_cli(["leader", "x", "--endpoints", endpoints, "--dial-timeout", str(DIAL)], timeout=15)
    assert done.code == 2, done
    assert done.stderr_lines == [done.stderr.strip()], done.stderr  # exactly one line
    assert done.stderr.startswith("election-tui: error: cannot reach etcd at")
    assert done.stdout == ""
    assert done.elapsed < DIAL + 2 + 1.0  # + interpreter start-up
    # Python start-up and imports take ~0.2-0.5 s of CPU; a retry loop without backoff would
    # burn the whole wait.
    assert done.cpu < 0.5 * done.elapsed + 0.3, done


async def test_the_client_fails_with_unavailable_in_its_deadline_without_spinning() -> None:
    async with EtcdClient(
        [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"], timeout=2.0
    ) as client:
        cpu, started = _cpu(), time.monotonic()
        with pytest.raises(Unavailable, match="is etcd running"):
            await asyncio.wait_for(client.get_prefix(b"x"), 5)
        took, burnt = time.monotonic() - started, _cpu() - cpu
    assert 1.5 < took < 2.5
    assert burnt < 0.5, f"{burnt:.2f} s of CPU in {took:.1f} s of waiting"


async def test_the_dashboard_and_a_candidate_say_why_and_the_app_quits_promptly(prefix: bytes) -> None:
    endpoint = f"127.0.0.1:{closed_port()}"
    async with EtcdClient([endpoint], timeout=1.0) as client:
        dash = LiveSession(client, prefix, status_every=0.5)
        dash.start()
        try:
            cpu = _cpu()
            await eventually(lambda: dash.cluster.error, timeout=4, what="an error on the status line")
            assert dash.cluster.connection in ("connecting", "reconnecting")
            assert "is etcd running" in (dash.cluster.error or ""), dash.cluster
            async with Fleet(client) as fleet:
                cand = fleet.launch(prefix + b"e", "x", 5)
                await cand.wait_for(State.LOST, timeout=3)
                assert "is etcd running" in (cand.last_error or "")
            await asyncio.sleep(1.0)
            assert _cpu() - cpu < 1.0  # the retry loops back off
        finally:
            await dash.close()

    app = ElectionApp(ClientConfig(endpoints=(endpoint,)), prefix=prefix)
    async with app.run_test() as pilot:
        await pilot.pause(0.5)
        started = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - started < 3  # quitting does not wait out the unreachable server
    assert app.return_value == 0
