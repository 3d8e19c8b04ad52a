"""Benchmark a keyspace mostly made of data no election owns: first screen, peak memory, lag.

    .venv/bin/python bench/keyspace.py --quick                 # 20,000 data keys, 10 s of load
    .venv/bin/python bench/keyspace.py                         # 200,000 data keys (1 GB), 30 s
    .venv/bin/python bench/keyspace.py --old /path/to/checkout # the same data, old code too
    .venv/bin/python bench/keyspace.py --old DIR --rounds 2    # new, old, old, new

Against one throwaway local etcd (EmbeddedEtcd, loopback only, its backend quota raised; the
temp dir goes with it):

1. Populate: 1,000 elections x 10 candidates (bench/dashboard.py's `populate`), then N data keys
   of 5 KB with no lease, half in `bench/data/`, half inside the election directories
   (`bench/eNNNN/blobNNNNNNN`), written in transactions of 100 puts.
2. For each code path (this checkout; with `--old DIR` also the code in DIR, on the same data):
   - `election-tui list --prefix bench/ --json` as a child process: wall time and its peak RSS
     (its VmHWM, written as it exits).
   - The dashboard as a child process: bench/dashboard.py's observed `ElectionApp`, headless,
     160x50. First full screen = from just before `run_test` to the first paint with all 1,000
     rows (the launch column adds Python start-up and imports). Then a load: a writer process
     puts 5 KB values on data keys at 2,000/s while another proclaims on the leaders' keys at
     200/s, for 30 s (10 s quick); screen lag is bench/dashboard.py's (the newest acknowledged
     candidate write on a 50 ms grid -> the first paint of a frame at that revision or later).
     Events the watch dropped (data keys) vs events the model was given are counted in the app.
     Peak RSS is the child's own VmHWM, at first screen and at exit.
   Between code paths the store is compacted, so each starts from the same history depth.

The exit code is 0 whatever the figures; the SUMMARY line lists the targets met and missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dashboard as dash_bench
from _common import Verdicts, percentile, table

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import Compacted, EtcdClient, Op

HERE = Path(__file__).resolve().parent
NEW_CODE = HERE.parent
PREFIX = dash_bench.PREFIX  # b"bench/"
VALUE_SIZE = 5_000
TXN_PUTS = 100  # puts per populating transaction (500 KB, below etcd's 1.5 MB request limit)
TXN_INFLIGHT = 8
QUOTA = 8 * 2**30  # etcd's backend quota: the default 2 GB is too small for the full run
FIRST_SCREEN_TARGET = 3.0
RSS_TARGET = 200 * 2**20
LAG_P99_TARGET = 0.250
CHILD_LIMIT = 300.0  # seconds a child process may take in all
LIST_LIMIT = 180.0
QUIET = 0.25  # other processes may use this share of a core for a clean measurement
MSG = "@@bench "  # prefix of the dashboard child's report lines on stdout


@dataclass(frozen=True, slots=True)
class Config:
    data_keys: int
    elections: int
    candidates: int
    data_rate: int  # 5 KB PUTs/s on data keys during the load
    candidate_rate: int  # PUTs/s on leaders' keys during the load
    seconds: float


FULL = Config(
    data_keys=200_000, elections=1000, candidates=10, data_rate=2000, candidate_rate=200, seconds=30
)
QUICK = Config(
    data_keys=20_000, elections=1000, candidates=10, data_rate=2000, candidate_rate=200, seconds=10
)


def mib(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f}"


def ms(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1000:,.0f}"


def secs(s: float | None) -> str:
    return "never" if s is None else f"{s:.2f}"


# ----------------------------------------------------------------------------- populate


def data_key(j: int, elections: int) -> bytes:
    if j % 2:
        return PREFIX + b"data/%07d" % j
    return PREFIX + b"e%04d/blob%07d" % (j % elections, j)


async def populate_data(client: EtcdClient, cfg: Config) -> tuple[float, int]:
    """N data keys of 5 KB, no lease, in transactions of 100 puts; (seconds, revision)."""
    started = time.perf_counter()
    blob = b"d" * VALUE_SIZE
    revision = 0
    limit = asyncio.Semaphore(TXN_INFLIGHT)

    async def txn(first: int) -> None:
        nonlocal revision
        ops = [
            Op.put(data_key(j, cfg.elections), blob)
            for j in range(first, min(cfg.data_keys, first + TXN_PUTS))
        ]
        async with limit:
            revision = max(revision, (await client.txn((), ops)).revision)

    await asyncio.gather(*(txn(first) for first in range(0, cfg.data_keys, TXN_PUTS)))
    return time.perf_counter() - started, revision


async def compact_now(endpoints: list[str]) -> int:
    async with EtcdClient(endpoints) as client:
        revision = (await client.status()).revision
        with contextlib.suppress(Compacted):  # nothing was written since the last time
            await client.compact(revision, physical=True)
        return revision


# ----------------------------------------------------------------------------- children


def child_env(code: Path, endpoints: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["PYTHONPATH"] = str(code)  # this code's election_tui first, not the installed one
    env["ETCDCTL_ENDPOINTS"] = ",".join(endpoints)
    return env


def wait_child(proc: subprocess.Popen[Any], limit: float) -> int:
    """Wait for our own child; past `limit`, kill it by its handle."""
    try:
        return proc.wait(limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


# `election-tui list` that writes its VmHWM on exit. Not ru_maxrss from wait4: Linux folds the
# pre-exec memory of a forked child (a copy of this big process) into that figure.
LIST_PROG = """
import atexit, os, runpy, sys
def hwm():
    with open(os.environ["BENCH_HWM_FILE"], "w") as out:
        out.write([line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0])
atexit.register(hwm)
sys.argv = ["election-tui", *sys.argv[1:]]
runpy.run_module("election_tui", run_name="__main__")
"""


@dataclass(frozen=True, slots=True)
class ListRun:
    seconds: float
    peak_rss: int
    elections: int
    ok: bool


def run_list(code: Path, endpoints: list[str]) -> ListRun:
    argv = [sys.executable, "-c", LIST_PROG, "list", "--prefix", PREFIX.decode(), "--json"]
    # A long per-request timeout, for the old code's one Range of everything. After the command:
    # given before it, the subcommand's own default (None) wins.
    argv += ["--command-timeout", "120"]
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as hwm:
        env = {**child_env(code, endpoints), "BENCH_HWM_FILE": hwm.name}
        started = time.monotonic()
        # cwd too: Python puts the working directory first on sys.path
        proc = subprocess.Popen(argv, env=env, cwd=code, stdin=subprocess.DEVNULL, stdout=out)
        returncode = wait_child(proc, LIST_LIMIT)
        seconds = time.monotonic() - started
        out.seek(0)
        try:
            elections = len(json.load(out)["elections"]) if returncode == 0 else 0
        except ValueError:
            elections = 0
        fields = hwm.read().split()
        peak = int(fields[1]) * 1024 if len(fields) > 1 else 0
    return ListRun(seconds, peak, elections, returncode == 0 and peak > 0)


@dataclass(slots=True)
class AppRun:
    reports: dict[str, dict[str, Any]]
    started: float
    data_writer: dash_bench.WriterResult | None
    ok: bool


def run_app(
    code: Path, endpoints: list[str], cfg: Config, leaders: Sequence[tuple[bytes, int]], etcd_pid: int | None,
    data_writer: dash_bench.Writer, data_plan: dash_bench.WriterPlan,
) -> AppRun:  # fmt: skip
    """The dashboard child: reads its reports; on "load" sets the data writer going."""
    spec = {
        "endpoints": endpoints,
        "elections": cfg.elections,
        "candidates": cfg.candidates,
        "rate": cfg.candidate_rate,
        "seconds": cfg.seconds,
        "leaders": [(k.hex(), lease) for k, lease in leaders],
        "etcd_pid": etcd_pid,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", f.name]
    reports: dict[str, dict[str, Any]] = {}
    data_result: dash_bench.WriterResult | None = None
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env=child_env(code, endpoints),
        cwd=code,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        nonlocal data_result
        for line in stdout:
            if not line.startswith(MSG):
                continue
            report = json.loads(line[len(MSG) :])
            reports[report["event"]] = report
            if report["event"] == "load":
                data_writer.conn.send(data_plan)
            elif report["event"] == "done" and "load" in reports and data_writer.conn.poll(cfg.seconds + 60):
                data_result = data_writer.conn.recv()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        returncode = wait_child(proc, CHILD_LIMIT)
        reader.join(cfg.seconds + 70)
    finally:
        os.unlink(f.name)
        stdout.close()
    if "load" in reports and data_result is None and data_writer.conn.poll(cfg.seconds + 60):
        data_result = data_writer.conn.recv()  # the child died mid-load: still collect the writer
    return AppRun(reports, started, data_result, returncode == 0 and "done" in reports)


# ----------------------------------------------------------------------------- the child


def emit(event: str, **fields: Any) -> None:
    print(MSG + json.dumps({"event": event, "at": time.monotonic(), **fields}), flush=True)


def vmhwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def child(spec_path: str) -> int:
    """The dashboard process: first screen, then the load; reports on stdout (MSG lines)."""
    import election_tui
    import election_tui.etcd.client as client_module

    spec = json.loads(Path(spec_path).read_text())
    emit("start", code=str(Path(election_tui.__file__).resolve().parent.parent), hwm=vmhwm())
    watches: list[Any] = []
    original_watch = client_module.EtcdClient.watch_prefix

    def recording_watch(self: Any, *args: Any, **kwargs: Any) -> Any:
        watch = original_watch(self, *args, **kwargs)
        watches.append(watch)
        return watch

    client_module.EtcdClient.watch_prefix = recording_watch  # type: ignore[method-assign]
    reads: list[dict[str, Any]] = []
    session_module = importlib.import_module("election_tui.live.session")
    original_read = getattr(session_module, "read_candidates", None)  # None: the old code's one Range
    if original_read is not None:

        async def timed_read(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            snapshot = await original_read(*args, **kwargs)
            reads.append(
                {
                    "seconds": time.monotonic() - started,
                    "pages": snapshot.pages,
                    "fetches": snapshot.fetches,
                    "keys": snapshot.keys,
                    "candidates": len(snapshot.kvs),
                }
            )
            return snapshot

        setattr(session_module, "read_candidates", timed_read)  # noqa: B010

    def dropped() -> int:
        return sum(getattr(w, "dropped", 0) for w in watches)

    cfg = dash_bench.Config(spec["elections"], spec["candidates"], spec["rate"], spec["seconds"], 1)
    leaders = [(bytes.fromhex(k), lease) for k, lease in spec["leaders"]]
    plan = dash_bench.WriterPlan(leaders, cfg.rate, cfg.seconds)
    spawning = time.monotonic()
    writer = dash_bench.Writer(spec["endpoints"])  # not from inside the app: its stdio is not files
    writer_s = time.monotonic() - spawning  # taken off the launch figure
    extra: dict[str, Any] = {}

    async def then(app: dash_bench.BenchApp, dash: dash_bench.BenchDashboard) -> dash_bench.LoadResult:
        extra["hwm_screen"] = vmhwm()
        emit("load", screen_at=app.probe.painted_full_at, writer_s=writer_s)
        dropped0, given0 = dropped(), dash.counting.applied
        result = await dash_bench.drive_load(app, dash, writer, plan, spec["etcd_pid"])
        extra["dropped"] = dropped() - dropped0
        extra["given"] = dash.counting.applied - given0
        return result

    try:
        first, load = asyncio.run(
            dash_bench.app_session(
                cfg, spec["endpoints"], terminal=True, profiling=dash_bench.Profiling(None), then=then
            )
        )
    except Exception as err:  # reported, so the parent can say how far this code path got
        emit("failed", error=f"{type(err).__name__}: {err}")
        return 1
    finally:
        writer.close()
    assert load is not None
    w = load.writer
    span = max(w.end - w.start, 1e-9)
    emit(
        "done",
        first_total=first.total, first_mounted=first.mounted, first_read=first.read,
        first_loaded=first.loaded, first_rows=first.rows, candidates=first.candidates,
        reads=reads, hwm_end=vmhwm(), span=span, window=load.window,
        candidate_puts=len(w.acks), writer_errors=w.errors,
        lag_median=statistics.median(load.lags) if load.lags else None,
        lag_p99=percentile(load.lags, 99) if load.lags else None,
        lag_max=max(load.lags) if load.lags else None,
        lag_samples=len(load.lags), unpainted=load.unpainted, drain=load.drain,
        applied_in_window=load.applied_in_window, applied_total=load.applied_total,
        cpu_app=load.cpu_app, cpu_etcd=load.cpu_etcd, cpu_machine=load.cpu_machine, cpu_writer=w.cpu,
        rss_start=load.rss_start, rss_100=load.rss_100, **extra,
    )  # fmt: skip
    return 0


# ----------------------------------------------------------------------------- report


@dataclass(slots=True)
class PathResult:
    label: str
    code: Path
    listed: ListRun
    app: AppRun


def figures(r: PathResult, cfg: Config) -> dict[str, Any]:
    """The comparable figures of one code path (None where it did not get that far)."""
    done = r.app.reports.get("done", {})
    start = r.app.reports.get("start", {})
    loading = r.app.reports.get("load", {})
    at = loading.get("screen_at")
    # process start -> first full screen, without the time the child spent spawning its writer
    launch = None if at is None else at - r.app.started - loading["writer_s"]
    dw = r.app.data_writer
    span = done.get("span")
    out: dict[str, Any] = {
        "list_s": r.listed.seconds if r.listed.ok else None,
        "list_rss": r.listed.peak_rss if r.listed.ok else None,
        "list_ok": r.listed.ok and r.listed.elections == cfg.elections,
        "screen_s": done.get("first_total"),
        "screen_read_s": done.get("first_read"),
        "launch_s": launch,
        "app_rss_screen": done.get("hwm_screen"),
        # its own VmHWM, not its children's (the writer) nor what a fork inherited
        "app_rss_end": done.get("hwm_end"),
        "app_rss_start": start.get("hwm"),
        "candidates": done.get("candidates"),
        "data_rate": len(dw.acks) / max(dw.end - dw.start, 1e-9) if dw else None,
        "data_errors": dw.errors if dw else None,
        "cand_rate": done["candidate_puts"] / span if span else None,
        "dropped_rate": done["dropped"] / span if span else None,
        "given_rate": done["given"] / span if span else None,
        "lag_median": done.get("lag_median"),
        "lag_p99": done.get("lag_p99"),
        "lag_max": done.get("lag_max"),
        "unpainted": done.get("unpainted"),
        "cpu_app": done["cpu_app"] / done["window"] if done else None,
        "cpu_etcd": done["cpu_etcd"] / done["window"] if done and done.get("cpu_etcd") is not None else None,
        "reads": done.get("reads", []),
        "cpu_writers": (done["cpu_writer"] + dw.cpu) / done["window"] if done and dw else None,
        "cpu_others": None,
    }
    if done and dw and done.get("cpu_etcd") is not None:
        mine = done["cpu_app"] + done["cpu_writer"] + dw.cpu + done["cpu_etcd"]
        out["cpu_others"] = max(0.0, done["cpu_machine"] - mine) / done["window"]
    return out


def report(cfg: Config, results: list[PathResult], verdicts: Verdicts) -> str:
    figs = [figures(r, cfg) for r in results]

    new_figs = [f for r, f in zip(results, figs, strict=True) if r.label.startswith("new")]
    old_figs = [f for r, f in zip(results, figs, strict=True) if r.label.startswith("old")]

    def median_of(group: list[dict[str, Any]], key: str) -> float | None:
        values = [f[key] for f in group if f[key] is not None]
        return statistics.median(values) if values else None

    def row(label: str, key: str, fmt: Any, ratio: bool = True) -> list[str]:
        cells = [label, *(fmt(f[key]) for f in figs)]
        if old_figs:
            a, b = median_of(new_figs, key), median_of(old_figs, key)
            cells.append(f"{a / b:.2f}" if ratio and a and b else "")
        return cells

    def rate(x: float | None) -> str:
        return "n/a" if x is None else f"{x:,.0f}/s"

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0%}"

    header = ["measure", *(r.label for r in results)]
    if old_figs:
        header.append("new/old" if len(results) == 2 else "new/old (medians)")
    rows = [
        row("list: wall time (s)", "list_s", secs),
        row("list: peak RSS (MiB)", "list_rss", mib),
        row("dashboard: first full screen (s, from run_test)", "screen_s", secs),
        row("  of which until the model was fed (s)", "screen_read_s", secs),
        row("  from the process's start (s)", "launch_s", secs),
        row("dashboard: peak RSS at first screen (MiB)", "app_rss_screen", mib),
        row("dashboard: peak RSS at exit (MiB)", "app_rss_end", mib),
        row("load: 5 KB data writes", "data_rate", rate, ratio=False),
        row("load: candidate writes", "cand_rate", rate, ratio=False),
        row("watch: events dropped (data keys)", "dropped_rate", rate, ratio=False),
        row("model: events given", "given_rate", rate, ratio=False),
        row("screen lag median (ms)", "lag_median", ms),
        row("screen lag p99 (ms)", "lag_p99", ms),
        row("screen lag max (ms)", "lag_max", ms),
        row("CPU: dashboard process (of a core)", "cpu_app", pct, ratio=False),
        row("CPU: etcd (of a core)", "cpu_etcd", pct, ratio=False),
        row("CPU: the two writer processes", "cpu_writers", pct, ratio=False),
        row("CPU: everything else on the machine", "cpu_others", pct, ratio=False),
    ]
    lines = [table(header, rows), "   " + "; ".join(f"{r.label}: {r.code}" for r in results)]
    for r, f in zip(results, figs, strict=True):
        for read in f["reads"]:
            lines.append(
                f"   {r.label}: first read {read['seconds']:.2f} s: {read['keys']:,} keys in {read['pages']} "
                f"keys-only pages, {read['candidates']:,} candidate values in {read['fetches']} Txns"
            )
        if f["unpainted"]:
            lines.append(f"   {r.label}: {f['unpainted']} lag samples never reached the screen")
        if "failed" in r.app.reports:
            lines.append(f"   {r.label}: the dashboard failed: {r.app.reports['failed']['error']}")
        if not f["list_ok"]:
            lines.append(f"   {r.label}: list failed or saw the wrong number of elections")
        if f["candidates"] is not None and f["candidates"] != cfg.elections * cfg.candidates:
            lines.append(f"   {r.label}: the model saw {f['candidates']:,} candidates!")
        if f["cpu_others"] is not None and f["cpu_others"] > QUIET:
            verdicts.caveats.append(
                f"{r.label}: other processes used {f['cpu_others']:.0%} of a core in the load"
            )
        if f["data_rate"] is not None and f["data_rate"] < 0.95 * cfg.data_rate:
            verdicts.caveats.append(f"{r.label}: the data writer reached only {f['data_rate']:,.0f}/s")
    # The targets hold for the new code only if every run of it meets them.
    screens = [f["screen_s"] for f in new_figs]
    rss = [f[k] for f in new_figs for k in ("app_rss_end", "list_rss")]
    p99s = [f["lag_p99"] for f in new_figs]
    screen_ok = None not in screens and max(screens) < FIRST_SCREEN_TARGET
    rss_ok = None not in rss and max(rss) < RSS_TARGET
    lag_ok = None not in p99s and max(p99s) < LAG_P99_TARGET and not any(f["unpainted"] for f in new_figs)
    lines.append(
        f"   targets (new, every run): first screen < {FIRST_SCREEN_TARGET:.0f} s: "
        + verdicts.check(f"first screen < {FIRST_SCREEN_TARGET:.0f} s", screen_ok)
        + f"; peak RSS < {mib(RSS_TARGET)} MiB (dashboard and list): "
        + verdicts.check(f"peak RSS < {mib(RSS_TARGET)} MiB", rss_ok)
        + f"; lag p99 < {LAG_P99_TARGET * 1000:.0f} ms: "
        + verdicts.check(f"lag p99 < {LAG_P99_TARGET * 1000:.0f} ms", lag_ok)
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def measure(label: str, code: Path, endpoints: list[str], cfg: Config, pop: dash_bench.Population,
            etcd_pid: int | None, data_writer: dash_bench.Writer, data_plan: dash_bench.WriterPlan) -> PathResult:  # fmt: skip
    print(f"-- {label}: {code}", flush=True)
    listed = run_list(code, endpoints)
    print(f"   list: {listed.seconds:.2f} s, peak RSS {mib(listed.peak_rss)} MiB, {listed.elections} elections",
          flush=True)  # fmt: skip
    app = run_app(code, endpoints, cfg, pop.leaders, etcd_pid, data_writer, data_plan)
    got = app.reports.get("start", {}).get("code")
    if got is not None and Path(got) != code.resolve():
        raise RuntimeError(f"the child imported election_tui from {got}, not {code}")
    done = app.reports.get("done", {})
    print(f"   dashboard: first screen {secs(done.get('first_total'))} s, peak RSS {mib(done.get('hwm_end'))} MiB, "
          f"lag p99 {ms(done.get('lag_p99'))} ms", flush=True)  # fmt: skip
    if not app.ok:
        print(
            f"   the dashboard child failed: {app.reports.get('failed', {}).get('error', 'no report')}",
            flush=True,
        )
    return PathResult(label, code, listed, app)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 data keys and 10 s of load")
    parser.add_argument(
        "--old", type=Path, metavar="DIR", help="also measure the election_tui in DIR (a checkout)"
    )
    parser.add_argument("--data-keys", type=int, help="data keys instead of 200,000 (20,000 quick)")
    parser.add_argument("--seconds", type=float, help="seconds of load")
    parser.add_argument("--rounds", type=int, default=1, help="measure each code path this many times")
    parser.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    cfg = QUICK if args.quick else FULL
    if args.data_keys or args.seconds:
        cfg = Config(args.data_keys or cfg.data_keys, cfg.elections, cfg.candidates, cfg.data_rate,
                     cfg.candidate_rate, args.seconds or cfg.seconds)  # fmt: skip
    paths = [("new", NEW_CODE)] + ([("old", args.old.resolve())] if args.old else [])
    for _label, code in paths:
        if not (code / "election_tui" / "__init__.py").is_file():
            parser.error(f"{code} holds no election_tui package")
    # The store: the data once, the load's writes per code path (compacted, not freed), the WAL.
    need = (cfg.data_keys + args.rounds * len(paths) * cfg.data_rate * cfg.seconds) * VALUE_SIZE * 3 + 2**30
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < need:
        print(f"not enough disk in {tempfile.gettempdir()}: {mib(free)} MiB free, {mib(need)} MiB wanted")
        return 1
    verdicts = Verdicts()
    started = time.perf_counter()
    etcd = EmbeddedEtcd(extra_args=[f"--quota-backend-bytes={QUOTA}"])
    etcd.start()
    data_writer: dash_bench.Writer | None = None
    try:
        endpoints, etcd_pid = etcd.endpoints, etcd.members[0].pid
        print(
            f"election-tui keyspace benchmark: etcd {endpoints[0]} (embedded, data in {etcd.data_root}), "
            f"Python {platform.python_version()}, {os.cpu_count()} cores, {'--quick' if args.quick else 'full run'}; "
            f"{mib(free)} MiB free on disk\n", flush=True)  # fmt: skip
        dash_cfg = dash_bench.Config(cfg.elections, cfg.candidates, cfg.candidate_rate, cfg.seconds, 1)

        async def populate() -> tuple[dash_bench.Population, float, int]:
            async with EtcdClient(endpoints) as client:
                pop = await dash_bench.populate(client, dash_cfg)
                seconds, revision = await populate_data(client, cfg)
                return pop, seconds, revision

        pop, data_s, revision = asyncio.run(populate())
        try:
            total = cfg.data_keys * VALUE_SIZE
            print(f"1. Populate: {cfg.elections:,} elections x {cfg.candidates} candidates in {pop.seconds:.1f} s; "
                  f"{cfg.data_keys:,} data keys x {VALUE_SIZE:,} B ({mib(total)} MiB) in {data_s:.1f} s; "
                  f"revision {revision:,}\n", flush=True)  # fmt: skip
            data_keys = [(data_key(j, cfg.elections), 0) for j in range(cfg.data_keys)]
            data_plan = dash_bench.WriterPlan(data_keys, cfg.data_rate, cfg.seconds, value_size=VALUE_SIZE)
            data_writer = dash_bench.Writer(endpoints)
            print("2. Each code path on the same data", flush=True)
            results = []
            for round_ in range(args.rounds):
                # new, old, then old, new: a drift of the machine (or of etcd) favours neither
                for label, code in paths if round_ % 2 == 0 else paths[::-1]:
                    asyncio.run(compact_now(endpoints))
                    name = f"{label} {round_ + 1}" if args.rounds > 1 else label
                    results.append(measure(name, code, endpoints, cfg, pop, etcd_pid, data_writer, data_plan))
            print(
                f"\n   load: {cfg.data_rate:,} PUTs/s of {VALUE_SIZE:,} B on data keys + {cfg.candidate_rate} "
                f"PUTs/s on the leaders' keys, for {cfg.seconds:g} s; first screen 160x50 headless with terminal "
                "encoding; RSS is each process's peak (VmHWM)\n", flush=True)  # fmt: skip
            print(report(cfg, results, verdicts) + "\n", flush=True)
        finally:

            async def revoke() -> tuple[int, float]:
                async with EtcdClient(endpoints) as client:
                    return await dash_bench.revoke_all(client, pop.leases)

            failed, seconds = asyncio.run(revoke())
            print(f"Cleanup: revoked {len(pop.leases) - failed:,} leases in {seconds:.1f} s", flush=True)
    finally:
        if data_writer is not None:
            data_writer.close()
        etcd.stop()
    total_targets = len(verdicts.passed) + len(verdicts.failed)
    print(
        f"SUMMARY ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s): "
        f"{len(verdicts.passed)}/{total_targets} targets met; PASS: {'; '.join(verdicts.passed) or 'none'}; "
        f"FAIL: {'; '.join(verdicts.failed) or 'none'}" + "".join(f"; CAVEAT: {c}" for c in verdicts.caveats),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
