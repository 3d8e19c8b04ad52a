"""What a candidate's own link (a loopback proxy + a channel, so `b` can cut it) costs.

    .venv/bin/python bench/links.py            # 30 trials a side, under a minute
    .venv/bin/python bench/links.py --trials 10

The session gives its first candidates a link of their own, so they can be partitioned for
real. Their traffic then crosses a Python TCP proxy in the app's own event loop. This measures,
on one embedded etcd, alternating trial by trial, candidates with a link against candidates on
the shared client:

- first leadership: launch one candidate on a new election until it leads (the link's channel
  connects first: the cost a person pays on `n`);
- hand-over: the leader resigns until the waiting candidate leads (the drill's figure).

It prints the medians, p95 and the link / shared ratio. A measurement, not a test: exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import percentile, table

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient
from election_tui.sim import Fleet, State

BOUND = 10.0  # seconds any one wait may take
TTL = 10
SETTLE = 0.2  # after the waiter campaigns: its key stands and etcd watches for it (a bench, not a test)


async def first_leadership(client: EtcdClient, links: int, name: bytes) -> float:
    async with Fleet(client, links=links) as fleet:
        start = time.perf_counter()
        cand = fleet.launch(name, "v", TTL)
        await cand.wait_for(State.LEADER, timeout=BOUND)
        return time.perf_counter() - start


async def handover(client: EtcdClient, links: int, name: bytes) -> float:
    async with Fleet(client, links=links) as fleet:
        first = fleet.launch(name, "a", TTL)
        await first.wait_for(State.LEADER, timeout=BOUND)
        second = fleet.launch(name, "b", TTL)
        await second.wait_for(State.CAMPAIGNING, timeout=BOUND)
        await asyncio.sleep(SETTLE)
        if second.key is None:
            raise RuntimeError(f"the waiting candidate stood no key within {SETTLE} s")
        start = time.perf_counter()
        await first.resign()
        await second.wait_for(State.LEADER, timeout=BOUND)
        return time.perf_counter() - start


async def run(trials: int) -> None:
    with EmbeddedEtcd() as etcd:
        async with EtcdClient(etcd.endpoints) as client:
            print(
                f"election-tui links benchmark: etcd {etcd.endpoints[0]}, {trials} trials a side, alternating"
            )
            rows = []
            for label, measure in (("first leadership", first_leadership), ("hand-over", handover)):
                shared: list[float] = []
                linked: list[float] = []
                await measure(client, 0, b"bench/links/warm-a")  # warm-up, untimed
                await measure(client, 2, b"bench/links/warm-b")
                for i in range(trials):
                    order = ((0, shared), (2, linked)) if i % 2 == 0 else ((2, linked), (0, shared))
                    for links, into in order:
                        into.append(
                            await measure(
                                client, links, b"bench/links/%s/%d/%d" % (label[:5].encode(), i, links)
                            )
                        )
                med_s, med_l = statistics.median(shared), statistics.median(linked)
                rows.append(
                    [
                        label,
                        "shared client",
                        f"{med_s * 1000:.2f}",
                        f"{percentile(shared, 95) * 1000:.2f}",
                        "",
                    ]
                )
                rows.append(
                    [
                        label,
                        "own link",
                        f"{med_l * 1000:.2f}",
                        f"{percentile(linked, 95) * 1000:.2f}",
                        f"{med_l / med_s:.2f}",
                    ]
                )
            print(table(["figure", "candidate on", "median ms", "p95 ms", "link / shared"], rows))
            await client.delete(b"bench/links/", prefix=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    if not 1 <= args.trials <= 500:
        parser.error("--trials must be between 1 and 500")
    asyncio.run(run(args.trials))


if __name__ == "__main__":
    main()
