"""Benchmark the notebook widget in a real browser: 1,000 elections x 10 candidates, 2,000 events/s.

    .venv/bin/python bench/notebook.py            # 30 s of load, about 1.5 minutes
    .venv/bin/python bench/notebook.py --quick    # 10 s of load, about 1 minute

What it does, all on loopback:

1. One throwaway etcd (EmbeddedEtcd); 10,000 leases (TTL 600 s) and one candidate key each,
   `bench/e{i:04d}/<lease hex>`, 10 per election (bench/dashboard.py's populate).
2. JupyterLab (no token, a free port) and Debian's chromium through Playwright open a notebook
   whose kernel runs `notebook.start(endpoints=..., prefix="bench/")` and displays a widget
   with `stats.measure` on; a task in the kernel writes the widget's counters to a file every
   0.5 s (updates sent, each update's JSON size, the kernel's CPU time).
3. The page records, with a MutationObserver, when the status line first showed each revision
   (the revision rides in the same comm message as the rows it belongs to), and how late its
   own 50 ms timer fires (is the page still responsive?).
4. A writer in a separate process (bench/dashboard.py's, spawned) PUTs new values on the
   elections' leader keys, keeping their leases, 2,000 a second in 50 ms batches.

Figures, over the load window: widget updates/s sent, bytes per update (median, p99), kernel
CPU (share of one core), lag from a PUT's acknowledgement to the page showing its revision
(median, p99, on a 50 ms grid as bench/dashboard.py does), and the page's timer lateness (p99).
Targets: <= 10 updates/s, p99 update < 64 KiB, lag p99 < 500 ms. Exit code 0 whatever the
figures (a measurement, not a test). Every server and process it starts is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import Verdicts, percentile, table
from browser import chromium, jupyter_lab, missing, notebook_file, run_cells
from dashboard import (
    PREFIX,
    QUICK,
    SAMPLE_EVERY,
    Config,
    Population,
    Writer,
    WriterPlan,
    WriterResult,
    populate,
    revoke_all,
)

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient

FULL = replace(QUICK, seconds=30.0)
UPDATES_TARGET = 10.0
SIZE_P99_TARGET = 64 * 1024
LAG_P99_TARGET = 0.5
LOAD_LIMIT = 180.0  # seconds for the kernel to read 10,000 keys and the page to show them

PROBE = """
() => {
  const status = document.querySelector('.etui-status');
  window.__etuiRevs = [];
  window.__etuiLate = [];
  const seen = () => window.__etuiRevs.push([performance.timeOrigin + performance.now(), +status.dataset.revision]);
  new MutationObserver(seen).observe(status, { attributes: true, attributeFilter: ['data-revision'] });
  let last = performance.now();
  setInterval(() => { const now = performance.now(); window.__etuiLate.push(now - last - 50); last = now; }, 50);
  seen();
}
"""


def kernel_cells(endpoints: list[str], stats: Path) -> list[str]:
    return [
        "from election_tui import notebook\n"
        f"dash = await notebook.start(endpoints={endpoints!r}, prefix={PREFIX.decode()!r})\n"
        "w = dash.widget()\n"
        "w.stats.measure = True\n"
        "w",
        "import asyncio, json, os, time\n"
        "async def dump():\n"
        "    while True:\n"
        "        s = w.stats\n"
        "        data = {'updates': s.updates, 'sizes': list(s.sizes), 'cpu': time.process_time(),\n"
        "                'clock': time.monotonic(), 'elections': w.election_count}\n"
        f"        with open({str(stats) + '.tmp'!r}, 'w') as f:\n"
        "            json.dump(data, f)\n"
        f"        os.replace({str(stats) + '.tmp'!r}, {str(stats)!r})\n"
        "        await asyncio.sleep(0.5)\n"
        "dumper = asyncio.create_task(dump())",
    ]


def read_stats(path: Path, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel wrote no stats to {path}") from None
            time.sleep(0.1)


def fresh_stats(path: Path, after: float, timeout: float = 10.0) -> dict[str, Any]:
    """Stats the kernel wrote after monotonic time `after` (the dump runs every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while (stats := read_stats(path, timeout))["clock"] < after:
        if time.monotonic() > deadline:
            raise TimeoutError("the kernel stopped writing stats (blocked?)")
        time.sleep(0.1)
    return stats


def lags(
    acks: list[tuple[float, int]], shown: list[tuple[float, int]], start: float, end: float
) -> tuple[list[float], int]:
    """On a 50 ms grid: newest acknowledged revision -> when the page first showed it or later."""
    shown = sorted(shown)
    best: list[tuple[float, int]] = []  # (time, highest revision shown by then), increasing
    top = 0
    for at, rev in shown:
        if rev > top:
            top = rev
            best.append((at, rev))
    out: list[float] = []
    never = 0
    ordered = sorted(acks)
    i, newest, newest_at = 0, 0, 0.0
    t = start + SAMPLE_EVERY
    while t <= end + 1e-9:
        while i < len(ordered) and ordered[i][0] <= t:
            if ordered[i][1] > newest:
                newest_at, newest = ordered[i]
            i += 1
        if newest:
            hit = next((at for at, rev in best if rev >= newest), None)
            if hit is None:
                never += 1
            else:
                out.append(max(0.0, hit - newest_at))
        t += SAMPLE_EVERY
    return out, never


def run(cfg: Config, etcd: EmbeddedEtcd, shot: Path | None) -> int:
    endpoints = etcd.endpoints
    verdicts = Verdicts()

    async def setup() -> Population:
        async with EtcdClient(endpoints) as client:
            return await populate(client, cfg)

    pop = asyncio.run(setup())
    print(
        f"populated {cfg.elections:,} elections x {cfg.candidates} in {pop.seconds:.1f} s (rev {pop.revision})"
    )
    writer = Writer(endpoints)
    try:
        with tempfile.TemporaryDirectory(prefix="etui-bench-") as tmp:
            root = Path(tmp)
            stats_path = root / "stats.json"
            notebook_file(root / "bench.ipynb", kernel_cells(endpoints, stats_path))
            with jupyter_lab(root) as url, chromium() as page:
                began = time.monotonic()
                run_cells(page, url, "bench.ipynb", 2)
                page.wait_for_function(
                    f"document.querySelector('.etui-elections .etui-title')?.textContent === 'Elections ({cfg.elections})'",
                    timeout=LOAD_LIMIT * 1000,
                )
                print(
                    f"page shows {cfg.elections:,} elections {time.monotonic() - began:.1f} s after opening"
                )
                page.evaluate(PROBE)
                time.sleep(2.0)  # settle: the first TTL answers, the first frames
                before = fresh_stats(stats_path, time.monotonic())
                wall_offset = time.time() - time.monotonic()
                plan = WriterPlan(keys=pop.leaders, rate=cfg.rate, seconds=cfg.seconds)
                writer.conn.send(plan)
                if not writer.conn.poll(cfg.seconds + 60):
                    raise TimeoutError("the writer did not finish")
                result: WriterResult = writer.conn.recv()
                time.sleep(1.0)  # what was acknowledged last reaches the page
                after = fresh_stats(stats_path, time.monotonic())
                shown_raw: list[list[float]] = page.evaluate("window.__etuiRevs")
                late: list[float] = page.evaluate("window.__etuiLate")
                if shot is not None:
                    page.locator(".jp-OutputArea").first.screenshot(path=str(shot))
    finally:
        writer.close()

        async def cleanup() -> tuple[int, float]:
            async with EtcdClient(endpoints) as client:
                return await revoke_all(client, pop.leases)

        failures, seconds = asyncio.run(cleanup())
        print(f"revoked {len(pop.leases) - failures:,} leases in {seconds:.1f} s")

    window = result.end - result.start
    kernel_window = after["clock"] - before["clock"]
    updates = after["updates"] - before["updates"]
    sizes = after["sizes"][len(before["sizes"]) :] or [0]
    cpu = (after["cpu"] - before["cpu"]) / kernel_window
    shown = [(at / 1000 - wall_offset, int(rev)) for at, rev in shown_raw]
    lag, never = lags(result.acks, shown, result.start, result.end)
    lag = lag or [float("inf")]
    rate = len(result.acks) / window if window > 0 else 0.0
    ups = updates / kernel_window
    p99_size = percentile(sizes, 99)
    p99_lag = percentile(lag, 99)
    late_p99 = percentile(late, 99) if late else 0.0
    rows = [
        [
            "writes acknowledged",
            f"{len(result.acks):,} in {window:.1f} s ({rate:,.0f}/s)",
            f"{result.errors} errors",
            "",
        ],
        [
            "widget updates/s",
            f"{ups:.1f}",
            f"<= {UPDATES_TARGET:.0f}",
            verdicts.check("updates/s", ups <= UPDATES_TARGET + 0.5),
        ],
        ["bytes/update median", f"{statistics.median(sizes):,.0f}", "", ""],
        [
            "bytes/update p99",
            f"{p99_size:,.0f}",
            f"< {SIZE_P99_TARGET:,}",
            verdicts.check("p99 update size", p99_size < SIZE_P99_TARGET),
        ],
        ["kernel CPU", f"{cpu * 100:.0f} % of a core", "", ""],
        ["lag write -> DOM median", f"{statistics.median(lag) * 1000:.0f} ms", "", ""],
        [
            "lag write -> DOM p99",
            f"{p99_lag * 1000:.0f} ms",
            f"< {LAG_P99_TARGET * 1000:.0f} ms",
            verdicts.check("lag p99", p99_lag < LAG_P99_TARGET and never == 0),
        ],
        ["samples never shown", str(never), "0", ""],
        ["page timer lateness p99", f"{late_p99:.0f} ms", "(50 ms timer)", ""],
    ]
    print()
    print(table(["figure", "value", "target", "verdict"], rows))
    print(
        f"\nSUMMARY: {len(verdicts.passed)} passed, {len(verdicts.failed)} failed"
        + (f" ({', '.join(verdicts.failed)})" if verdicts.failed else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10 s of load instead of 30")
    parser.add_argument("--seconds", type=float, help="seconds of load")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the widget at the end of the load")
    args = parser.parse_args(argv)
    why = missing()
    if why is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    cfg = QUICK if args.quick else FULL
    if args.seconds:
        cfg = replace(cfg, seconds=args.seconds)
    etcd = EmbeddedEtcd(members=1)
    etcd.start()
    try:
        print(
            f"election-tui notebook benchmark: etcd {etcd.endpoints[0]} (embedded), Python "
            f"{platform.python_version()}, {os.cpu_count()} cores, {cfg.rate:,} PUTs/s for {cfg.seconds:.0f} s "
            f"on {cfg.elections:,} elections x {cfg.candidates}\n",
            flush=True,
        )
        return run(cfg, etcd, args.screenshot)
    finally:
        etcd.stop()


if __name__ == "__main__":
    sys.exit(main())
