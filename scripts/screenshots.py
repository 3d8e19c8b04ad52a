"""Render the README's screenshots from the real app on a throwaway embedded etcd.

    python scripts/screenshots.py            # writes screenshots/*.svg
    python scripts/screenshots.py cluster    # only the scenes named

Overview (demo elections), a fail-over in progress (the leader crashed, its successor elected),
the app at 80x24, the help screen, a drill report, and the Cluster panel of a 3-member cluster
whose raft leader was just killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig
from election_tui.live import start_embedded
from election_tui.sim import State
from election_tui.ui.app import ElectionApp
from election_tui.ui.modals import ReportScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def _until(pilot: Pilot[int], ok: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.1)


async def _settle(pilot: Pilot[int]) -> None:
    """Let a few frames and TTL refreshes happen so countdowns show numbers."""
    for _ in range(15):
        await pilot.pause(0.1)


async def overview_and_failover(config: ClientConfig) -> None:
    app = ElectionApp(config, demo=True)
    async with app.run_test(size=(140, 40)) as pilot:
        fleet = app.session.fleet
        await _until(pilot, lambda: len(fleet) >= 7 and sum(c.state is State.LEADER for c in fleet) == 3)
        await _settle(pilot)
        app.save_screenshot("overview.svg", str(OUT))
        old = next(c for c in fleet if c.state is State.LEADER and c.name.endswith(b"payments"))
        app.fleet_table.focus()  # actions act on the highlighted row of the table in use
        app.fleet_table.select(old)
        await pilot.pause(0.1)
        await pilot.press("x")
        await _until(pilot, lambda: any(c.state is State.LEADER and c.name == old.name for c in fleet))
        await _settle(pilot)
        app.save_screenshot("failover.svg", str(OUT))
        await pilot.press("q")


async def narrow(config: ClientConfig) -> None:
    app = ElectionApp(config, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.session.fleet
        await _until(pilot, lambda: sum(c.state is State.LEADER for c in fleet) == 3)
        await _settle(pilot)
        app.save_screenshot("narrow-80x24.svg", str(OUT))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot("help-80x24.svg", str(OUT))
        await pilot.press("escape", "q")


async def drill_report(config: ClientConfig) -> None:
    app = ElectionApp(config)
    async with app.run_test(size=(132, 36)) as pilot:
        await app.session.loaded.wait()
        await pilot.press("d")
        await pilot.pause(0.2)
        await pilot.press("enter")  # the first shipped scenario
        await _until(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=60)
        await pilot.pause(0.3)
        app.save_screenshot("drill-report.svg", str(OUT))
        await pilot.press("escape", "q")


async def cluster() -> None:
    """Its own 3-member cluster: the raft leader killed from the panel, another elected."""
    control = await asyncio.to_thread(start_embedded, 3)
    try:
        app = ElectionApp(ClientConfig(endpoints=tuple(control.endpoints)), demo=True, members=control)
        async with app.run_test(size=(132, 36)) as pilot:
            live = app.session
            live.status_every = 0.5
            await _until(pilot, lambda: sum(c.state is State.LEADER for c in live.fleet) == 3)
            await _until(pilot, lambda: any(m.is_leader for m in live.cluster.members))
            raft = next(m.name for m in live.cluster.members if m.is_leader)
            app.cluster_table.focus()
            await pilot.pause(0.1)
            app.cluster_table.select(raft)
            await pilot.press("K")
            await _until(
                pilot,
                lambda: (
                    any(m.is_leader for m in live.cluster.members)
                    and live.cluster.leader_member not in (None, raft)
                ),
            )
            await _settle(pilot)
            app.clear_notifications()
            await pilot.pause(0.2)
            app.save_screenshot("cluster.svg", str(OUT))
            await pilot.press("q")
    finally:
        await asyncio.to_thread(control.stop)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    wanted = set(sys.argv[1:])
    scenes = [s for s in (overview_and_failover, narrow, drill_report) if not wanted or s.__name__ in wanted]
    if scenes:
        with EmbeddedEtcd() as etcd:
            config = ClientConfig(endpoints=tuple(etcd.endpoints))
            for scene in scenes:
                asyncio.run(scene(config))
                print(f"{scene.__name__}: done")
    if not wanted or "cluster" in wanted:
        asyncio.run(cluster())
        print("cluster: done")
    print(f"screenshots in {OUT.name}/: " + ", ".join(sorted(p.name for p in OUT.glob("*.svg"))))


if __name__ == "__main__":
    main()
