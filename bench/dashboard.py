"""Benchmark the dashboard at scale: 1,000 elections x 10 candidates, then 2,000 watch events/s.

    .venv/bin/python bench/dashboard.py                  # full run: 30 s of events, < 3 minutes
    .venv/bin/python bench/dashboard.py --quick          # 10 s of events, < 1.5 minutes
    .venv/bin/python bench/dashboard.py --profile DIR    # also profile (pyinstrument, else cProfile)

What it does, against one throwaway local etcd (EmbeddedEtcd, loopback only):

1. Populate: 10,000 leases (TTL 600 s) granted concurrently and one candidate key
   `bench/e{i:04d}/<lease hex>` put with each, 10 per election. All are revoked at the end.
2. First screen: `ElectionApp` headless (`run_test(size=(160, 50))`), from just before entering
   `run_test` to the first paint after the elections table holds all 1,000 rows. Several fresh
   apps are timed; the verdict takes the slowest (the first is the coldest).
3. Load: a writer in a *separate process* (multiprocessing, spawn) PUTs new values on existing
   candidate keys, keeping each key's lease (proclaim-style), paced to 2,000 PUTs/s in batches
   every 50 ms. The app's screen lag is sampled on a 50 ms grid over the writer's run: at each
   sample, the newest revision the writer had been acknowledged, and how long after that ack the
   screen first painted a frame taken at that revision or later.

The app is measured through a subclass that only observes: `_frame` records the model revision
it rendered, `_display` records when the compositor produced a screen update (and, by default,
also turns that update into terminal escape sequences as a real terminal run would; headless mode
skips that step otherwise). See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import cProfile
import gc
import multiprocessing as mp
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

import textual
from _common import Verdicts, percentile, table
from rich.console import RenderableType
from textual._compositor import CompositorUpdate
from textual.screen import Screen

import election_tui.ui.app as app_module
from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, EtcdClient, EtcdError, Event, KeyValue, PutResult, candidate_key
from election_tui.live import LiveSession
from election_tui.model import Changes, ElectionState
from election_tui.ui.app import ElectionApp
from election_tui.ui.timeline import Timeline

PREFIX = b"bench/"
LONG_TTL = 600  # seconds: nothing may expire during the run
WIDTH = 256  # concurrent requests while populating and revoking
SCREEN_SIZE = (160, 50)
BATCH_INTERVAL = 0.05  # the writer sends one batch every 50 ms
MAX_INFLIGHT = 4  # batches the writer may have in flight when etcd is slow
SAMPLE_EVERY = 0.05  # lag grid
FIRST_SCREEN_TARGET = 2.0  # seconds
LAG_P99_TARGET = 0.250  # seconds
GROWTH_TARGET = 0.10  # RSS growth between 25 % and 100 % of the load
QUIET = 0.25  # other processes may use at most this share of one core for a clean measurement
KEEP_UP = 0.98  # the model must apply this share of the events written in the window
WRITER_VALID = 0.95  # the writer must reach this share of the wanted rate for a valid run
FIRST_SCREEN_LIMIT = 60.0  # seconds before a first screen counts as never
DRAIN_LIMIT = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    elections: int
    candidates: int
    rate: int  # PUTs per second
    seconds: float  # of load
    screen_trials: int


FULL = Config(elections=1000, candidates=10, rate=2000, seconds=30.0, screen_trials=3)
QUICK = Config(elections=1000, candidates=10, rate=2000, seconds=10.0, screen_trials=2)


# ----------------------------------------------------------------------------- helpers


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def proc_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of another process (our etcd child), from /proc; None if unavailable."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        cpu = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in cpu[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def bounded_gather(calls: Sequence[Callable[[], Awaitable[Any]]], width: int = WIDTH) -> list[Any]:
    """Run coroutine factories `width` at a time, results in order."""
    out: list[Any] = []
    for start in range(0, len(calls), width):
        out += await asyncio.gather(*(c() for c in calls[start : start + width]))
    return out


class Profiling:
    """Optional profiles of named phases: pyinstrument (sampling) if installed, else cProfile."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.written: list[Path] = []
        try:
            import pyinstrument  # noqa: F401

            self.tool = "pyinstrument"
        except ImportError:
            self.tool = "cProfile"

    @contextlib.contextmanager
    def phase(self, name: str) -> Any:
        if self.directory is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.tool == "pyinstrument":
            from pyinstrument import Profiler
            from pyinstrument.renderers import ConsoleRenderer

            profiler = Profiler(interval=0.001, async_mode="disabled")
            profiler.start()
            try:
                yield
            finally:
                profiler.stop()
                for suffix, flat in (("tree", False), ("flat", True)):
                    path = self.directory / f"{name}-{suffix}.txt"
                    path.write_text(profiler.output(ConsoleRenderer(flat=flat, show_all=not flat)))
                    self.written.append(path)
        else:
            prof = cProfile.Profile()
            prof.enable()
            try:
                yield
            finally:
                prof.disable()
                path = self.directory / f"{name}-cprofile.txt"
                with path.open("w") as out:
                    stats = pstats.Stats(prof, stream=out)
                    stats.sort_stats("tottime").print_stats(60)
                    stats.sort_stats("cumulative").print_stats(60)
                self.written.append(path)


# ----------------------------------------------------------------------------- population


@dataclass(frozen=True, slots=True)
class Population:
    leases: list[int]
    keys: list[tuple[bytes, int]]  # (key, lease), election-major: 10 of election 0, then 1...
    leaders: list[tuple[bytes, int]]  # the first-created candidate of each election
    seconds: float
    revision: int


def election_name(i: int) -> bytes:
    return PREFIX + f"e{i:04d}".encode()


async def populate(client: EtcdClient, cfg: Config) -> Population:
    start = time.perf_counter()
    total = cfg.elections * cfg.candidates
    granted = await bounded_gather([lambda: client.lease_grant(LONG_TTL) for _ in range(total)])
    leases = [lease.id for lease in granted]
    keys = [
        (candidate_key(election_name(i // cfg.candidates), lease), lease) for i, lease in enumerate(leases)
    ]

    def put(key: bytes, lease: int, j: int) -> Callable[[], Awaitable[PutResult]]:
        return lambda: client.put(key, b"c%d" % j, lease=lease)

    written: list[PutResult] = await bounded_gather(
        [put(key, lease, i % cfg.candidates) for i, (key, lease) in enumerate(keys)]
    )
    revs = [w.revision for w in written]
    leaders = [
        min(
            zip(revs[e * cfg.candidates : (e + 1) * cfg.candidates], keys[e * cfg.candidates :], strict=False)
        )[1]
        for e in range(cfg.elections)
    ]
    return Population(leases, keys, leaders, time.perf_counter() - start, max(revs))


async def revoke_all(client: EtcdClient, leases: Sequence[int]) -> tuple[int, float]:
    """Revoke every lease; returns (failures, seconds)."""
    start = time.perf_counter()

    async def revoke(lease: int) -> bool:
        try:
            await client.lease_revoke(lease)
        except EtcdError:
            return False
        return True

    done = await bounded_gather([lambda lease=lease: revoke(lease) for lease in leases])  # type: ignore[misc]
    return done.count(False), time.perf_counter() - start


# ----------------------------------------------------------------------------- the writer process


@dataclass(frozen=True, slots=True)
class WriterPlan:
    keys: list[tuple[bytes, int]]  # round-robin over these
    rate: int
    seconds: float
    value_size: int = 0  # pad each value to this many bytes (bench/keyspace.py's data writes)


@dataclass(frozen=True, slots=True)
class WriterResult:
    start: float  # time.monotonic() (CLOCK_MONOTONIC: shared by every process on this host)
    end: float
    acks: list[tuple[float, int]]  # (ack time, revision) of every successful PUT
    errors: int
    cpu: float  # process_time() of the writer over its run


def writer_process(conn: Connection, endpoints: list[str]) -> None:
    """Entry point of the writer process: ready, wait for a plan, run it, report; None ends it."""
    asyncio.run(_writer(conn, endpoints))


async def _writer(conn: Connection, endpoints: list[str]) -> None:
    async with EtcdClient(endpoints) as client:
        await client.status()
        conn.send("ready")
        while True:
            plan: WriterPlan | None = await asyncio.to_thread(conn.recv)
            if plan is None:
                return
            conn.send(await write_load(client, plan))


async def write_load(client: EtcdClient, plan: WriterPlan) -> WriterResult:
    """PUT new values on existing keys (keeping their leases), `rate` a second in 50 ms batches."""
    per_batch = max(1, round(plan.rate * BATCH_INTERVAL))
    batches = max(1, round(plan.seconds / BATCH_INTERVAL))
    acks: list[tuple[float, int]] = []
    errors = 0
    seq = 0

    async def put(key: bytes, lease: int, value: bytes) -> None:
        nonlocal errors
        try:
            rev = (await client.put(key, value, lease=lease)).revision
        except EtcdError:
            errors += 1
            return
        acks.append((time.monotonic(), rev))

    async def batch(items: list[tuple[bytes, int, bytes]]) -> None:
        await asyncio.gather(*(put(k, lease, v) for k, lease, v in items))

    inflight: set[asyncio.Task[None]] = set()
    cpu = time.process_time()
    start = time.monotonic()
    for n in range(batches):
        delay = start + n * BATCH_INTERVAL - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while len(inflight) >= MAX_INFLIGHT:
            await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
        items = []
        for _ in range(per_batch):
            key, lease = plan.keys[seq % len(plan.keys)]
            items.append((key, lease, (b"p%d" % seq).ljust(plan.value_size, b".")))
            seq += 1
        task = asyncio.create_task(batch(items))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    if inflight:
        await asyncio.gather(*inflight)
    end = max((t for t, _ in acks), default=time.monotonic())
    return WriterResult(start, end, acks, errors, time.process_time() - cpu)


class Writer:
    """The writer process, spawned (not forked) so it shares nothing with the app's process."""

    def __init__(self, endpoints: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=writer_process, args=(child, endpoints), daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(60) or self.conn.recv() != "ready":
            raise RuntimeError("the writer process did not start")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()  # our own child, by its handle
            self.proc.join(5)


# ----------------------------------------------------------------------------- the observed app


class Breakdown:
    """Wall time the app's event loop spends in a few named places (timing wrappers only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds
        self.calls[label] = self.calls.get(label, 0) + 1

    def wrap(self, obj: object, method: str, label: str) -> None:
        """Time `obj.method` from now on (an instance attribute shadows the class's method)."""
        original = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        setattr(obj, method, timed)

    def since(self, before: dict[str, float]) -> dict[str, float]:
        return {k: v - before.get(k, 0.0) for k, v in self.seconds.items()}


class Probe:
    """What the observing subclass records: frames (revision rendered) and paints."""

    def __init__(self, expected_rows: int) -> None:
        self.expected_rows = expected_rows
        self.frame_rev = 0  # model revision the widgets were last brought up to
        self.frames = 0  # frames that rendered a newer revision
        self.frame_seconds: list[float] = []
        self.paints = 0
        self.paint_times: list[float] = []  # when the screen first showed each newer revision
        self.paint_revs: list[int] = []
        self.rows_full_at: float | None = None
        self.painted_full_at: float | None = None
        self.breakdown = Breakdown()

    @property
    def painted_rev(self) -> int:
        return self.paint_revs[-1] if self.paint_revs else 0

    def frame(self, rev: int, started: float, ended: float, rows: int) -> None:
        if rev > self.frame_rev:
            self.frames += 1
            self.frame_seconds.append(ended - started)
        self.frame_rev = max(self.frame_rev, rev)
        if self.rows_full_at is None and rows >= self.expected_rows:
            self.rows_full_at = ended

    def painted(self, at: float) -> None:
        self.paints += 1
        if self.frame_rev > self.painted_rev:
            self.paint_times.append(at)
            self.paint_revs.append(self.frame_rev)
        if self.rows_full_at is not None and self.painted_full_at is None:
            self.painted_full_at = at

    def first_paint_at_or_after(self, rev: int) -> float | None:
        i = bisect.bisect_left(self.paint_revs, rev)
        return self.paint_times[i] if i < len(self.paint_revs) else None


class CountingState(ElectionState):
    """ElectionState that times its load and counts what it applies."""

    def __init__(self) -> None:
        super().__init__()
        self.load_started: float | None = None
        self.loaded_at: float | None = None
        self.applied = 0
        self.apply_seconds = 0.0

    def load(self, kvs: Iterable[KeyValue], revision: int, now: float) -> Changes:
        self.load_started = time.monotonic()
        changes = super().load(kvs, revision, now)
        self.loaded_at = time.monotonic()
        return changes

    def apply(self, events: Sequence[Event], revision: int, now: float) -> Changes:
        started = time.perf_counter()
        changes = super().apply(events, revision, now)
        self.apply_seconds += time.perf_counter() - started
        self.applied += len(events)
        return changes


class BenchDashboard(LiveSession):
    def __init__(self, client: EtcdClient, prefix: bytes = b"", **kwargs: Any) -> None:
        super().__init__(client, prefix, **kwargs)
        self.created_at = time.monotonic()
        self.counting = CountingState()
        self.state = self.counting


FRAME_LABEL = "_frame (20 Hz): take changes, update widgets"
SYNC_LABEL = "  ElectionsTable.sync"
TIMELINE_LABEL = "  Timeline.add"
QUEUE_LABEL = "  QueueTable.show"
TICK_LABEL = "_tick (4 Hz): countdowns of visible rows"
PAINT_LABEL = "Screen._compositor_refresh: render changed widgets"
APPLY_LABEL = "ElectionState.apply (model)"
PARTS = (FRAME_LABEL, SYNC_LABEL, TIMELINE_LABEL, QUEUE_LABEL, TICK_LABEL, PAINT_LABEL, APPLY_LABEL)


class BenchApp(ElectionApp):
    """ElectionApp plus observation; nothing it renders or does is changed."""

    # Textual resolves a relative CSS_PATH against the subclass's file: point at the app's own.
    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

    def __init__(self, config: ClientConfig, *, prefix: bytes, probe: Probe, terminal: bool) -> None:
        super().__init__(config, prefix=prefix)
        self.probe = probe
        self.terminal = terminal

    @property
    def bench_dash(self) -> BenchDashboard | None:
        return self.live if isinstance(self.live, BenchDashboard) else None

    def _frame(self) -> None:
        dash = self.live
        rev = dash.state.revision if dash is not None else 0
        started = time.monotonic()
        super()._frame()
        ended = time.monotonic()
        if not self.is_running:
            return  # shutting down: the widgets are going away
        self.probe.frame(rev, started, ended, self.elections.row_count)
        self.probe.breakdown.add(FRAME_LABEL, ended - started)

    def _tick(self) -> None:
        started = time.perf_counter()
        super()._tick()
        self.probe.breakdown.add(TICK_LABEL, time.perf_counter() - started)

    def time_parts(self) -> None:
        """Time the parts of a frame and the screen's repaint (called once the app is up)."""
        wrap = self.probe.breakdown.wrap
        wrap(self.elections, "sync", SYNC_LABEL)
        wrap(self.query_one(Timeline), "add", TIMELINE_LABEL)
        wrap(self.queue, "show", QUEUE_LABEL)
        wrap(self.screen, "_compositor_refresh", PAINT_LABEL)

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:
            return
        if self.terminal and isinstance(renderable, CompositorUpdate):
            renderable.render_segments(self.console)  # what a real terminal run also pays
        self.probe.painted(time.monotonic())


# ----------------------------------------------------------------------------- measurements


@dataclass(frozen=True, slots=True)
class FirstScreen:
    total: float | None  # start -> first paint with every row
    mounted: float | None  # start -> LiveSession created (Textual startup, on_mount)
    read: float | None  # start -> get_prefix answered and decoded (the model's load begins)
    loaded: float | None  # start -> model loaded (dash.loaded is set right after)
    rows: float | None  # start -> the table holds every row
    candidates: int


@dataclass(frozen=True, slots=True)
class LoadResult:
    writer: WriterResult
    wanted_rate: int
    window: float  # app-side wall time of the load (go -> writer's report)
    lags: list[float]  # seconds, one per 50 ms sample
    unpainted: int  # samples whose revision never reached the screen within the drain limit
    applied_in_window: int  # events the model applied while the writer ran
    applied_total: int
    apply_seconds: float
    frames: int
    frame_seconds: list[float]
    paints: int
    cpu_app: float  # seconds of CPU over `window`
    cpu_etcd: float | None
    cpu_machine: float  # busy CPU seconds of the whole machine over `window`
    parts: dict[str, float]  # loop wall seconds per part over `window`
    rss_start: int
    rss_25: int
    rss_quarters: list[int]  # RSS at 25, 50 and 75 % of the load
    rss_100: int
    peak_rss: int
    drain: float | None  # writer's last ack -> screen at its revision


def compute_lags(
    acks: Sequence[tuple[float, int]], probe: Probe, start: float, end: float
) -> tuple[list[float], int]:
    """On a 50 ms grid: newest acknowledged revision at each sample -> when the screen showed it."""
    ordered = sorted(acks)
    lags: list[float] = []
    unpainted = 0
    i = 0
    newest, newest_at = 0, 0.0
    t = start + SAMPLE_EVERY
    while t <= end + 1e-9:
        while i < len(ordered) and ordered[i][0] <= t:
            at, rev = ordered[i]
            if rev > newest:
                newest, newest_at = rev, at
            i += 1
        if newest:
            shown = probe.first_paint_at_or_after(newest)
            if shown is None:
                unpainted += 1
            else:
                lags.append(shown - newest_at)
        t += SAMPLE_EVERY
    return lags, unpainted


async def wait_until(condition: Callable[[], bool], limit: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


async def drive_load(
    app: BenchApp, dash: BenchDashboard, writer: Writer, plan: WriterPlan, etcd_pid: int | None
) -> LoadResult:
    probe, state = app.probe, dash.counting
    app.time_parts()
    parts0 = dict(probe.breakdown.seconds)
    gc.collect()
    rss_start = rss_bytes()
    cpu0, etcd0, machine0 = time.process_time(), proc_cpu_seconds(etcd_pid), machine_busy_seconds()
    applied0 = state.applied
    apply0 = state.apply_seconds
    frames0, frame_i0, paints0 = probe.frames, len(probe.frame_seconds), probe.paints
    go = time.monotonic()
    writer.conn.send(plan)
    quarters: list[int] = []  # RSS at 25, 50, 75 %
    samples: list[tuple[float, int]] = []  # (time, events applied so far)
    deadline = go + plan.seconds + 60
    while not writer.conn.poll():
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError("the writer did not report in time")
        samples.append((now, state.applied - applied0))
        if len(quarters) < 3 and now - go >= (len(quarters) + 1) / 4 * plan.seconds:
            quarters.append(rss_bytes())
        await asyncio.sleep(SAMPLE_EVERY)
    # Everything about the app is read before the writer's report (its ack log) is unpickled
    # here: that list is the benchmark's, not the app's, memory and CPU.
    window = time.monotonic() - go
    parts = probe.breakdown.since(parts0)
    parts[APPLY_LABEL] = state.apply_seconds - apply0
    cpu_app = time.process_time() - cpu0
    etcd1 = proc_cpu_seconds(etcd_pid)
    machine = machine_busy_seconds() - machine0
    rss_100 = rss_bytes()
    peak_rss = peak_rss_bytes()
    result: WriterResult = writer.conn.recv()
    in_window = max((n for t, n in samples if t <= result.end), default=0)
    final_rev = max((rev for _, rev in result.acks), default=0)
    await wait_until(lambda: probe.painted_rev >= final_rev, DRAIN_LIMIT)
    shown = probe.first_paint_at_or_after(final_rev)
    lags, unpainted = compute_lags(result.acks, probe, result.start, result.end)
    return LoadResult(
        writer=result,
        wanted_rate=plan.rate,
        window=window,
        lags=lags,
        unpainted=unpainted,
        applied_in_window=in_window,
        applied_total=state.applied - applied0,
        apply_seconds=state.apply_seconds - apply0,
        frames=probe.frames - frames0,
        frame_seconds=probe.frame_seconds[frame_i0:],
        paints=probe.paints - paints0,
        cpu_app=cpu_app,
        cpu_etcd=None if etcd0 is None or etcd1 is None else etcd1 - etcd0,
        cpu_machine=machine,
        parts=parts,
        rss_start=rss_start,
        rss_25=quarters[0] if quarters else rss_start,
        rss_quarters=quarters,
        rss_100=rss_100,
        peak_rss=peak_rss,
        drain=None if shown is None else shown - result.end,
    )


LoadFn = Callable[[BenchApp, BenchDashboard], Awaitable[LoadResult]]


async def app_session(
    cfg: Config,
    endpoints: list[str],
    *,
    terminal: bool,
    profiling: Profiling,
    profile_name: str | None = None,
    then: LoadFn | None = None,
) -> tuple[FirstScreen, LoadResult | None]:
    """One fresh app: time its first full screen, then (`then`) run the load against it."""
    probe = Probe(cfg.elections)
    app = BenchApp(ClientConfig(endpoints=tuple(endpoints)), prefix=PREFIX, probe=probe, terminal=terminal)
    gc.collect()
    load: LoadResult | None = None
    with mock.patch.object(app_module, "LiveSession", BenchDashboard):
        profiled = contextlib.ExitStack()
        if profile_name:
            profiled.enter_context(profiling.phase(profile_name))  # app start included
        start = time.monotonic()
        async with app.run_test(size=SCREEN_SIZE) as pilot:
            with profiled:
                deadline = start + FIRST_SCREEN_LIMIT
                while probe.painted_full_at is None and time.monotonic() < deadline:
                    await pilot.pause(0.01)
            dash = app.bench_dash
            if dash is None or probe.painted_full_at is None:
                raise RuntimeError("the app never showed its first full screen")
            if then is not None:
                await asyncio.sleep(1.0)  # let the first TTL refreshes and the status line settle
                load = await then(app, dash)
            # Let queued messages (the first RowHighlighted) be handled before the app is torn
            # down: ElectionApp._election_highlighted raises NoMatches if it runs during teardown.
            await pilot.pause()
    state = dash.counting

    def since(t: float | None) -> float | None:
        return None if t is None else t - start

    first = FirstScreen(
        total=since(probe.painted_full_at),
        mounted=since(dash.created_at),
        read=since(state.load_started),
        loaded=since(state.loaded_at),
        rows=since(probe.rows_full_at),
        candidates=len(state),
    )
    return first, load


# ----------------------------------------------------------------------------- report


def fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.3f}"


def report_population(cfg: Config, pop: Population) -> str:
    total = cfg.elections * cfg.candidates
    return "\n".join(
        [
            f"1. Populate: {cfg.elections:,} elections x {cfg.candidates} candidates = {total:,} keys, "
            f"each on its own lease (TTL {LONG_TTL} s), {WIDTH} requests in flight",
            f"   {total:,} LeaseGrant + {total:,} Put in {pop.seconds:.1f} s "
            f"({2 * total / pop.seconds:,.0f} requests/s); store revision {pop.revision:,}",
        ]
    )


def report_first(
    cfg: Config, screens: Sequence[FirstScreen], import_s: float | None, verdicts: Verdicts
) -> str:
    rows = []
    for n, s in enumerate(screens, 1):
        rows.append(
            [
                f"#{n}{' (cold)' if n == 1 else ''}",
                fmt_s(s.mounted),
                fmt_s(s.read),
                fmt_s(s.loaded),
                fmt_s(s.rows),
                fmt_s(s.total),
                f"{s.candidates:,}",
            ]
        )
    totals = [s.total for s in screens]
    worst = None if any(t is None for t in totals) else max(t for t in totals if t is not None)
    complete = all(s.candidates == cfg.elections * cfg.candidates for s in screens)
    ok = worst is not None and worst < FIRST_SCREEN_TARGET and complete
    verdict = verdicts.check(f"first screen < {FIRST_SCREEN_TARGET:.0f} s", ok)
    lines = [
        f"2. First screen: ElectionApp headless {SCREEN_SIZE[0]}x{SCREEN_SIZE[1]}, "
        f"{cfg.elections:,} rows; seconds from just before run_test",
        table(
            [
                "app",
                "mounted",
                "range read",
                "dash.loaded",
                f"{cfg.elections:,} rows",
                "painted",
                "candidates",
            ],
            rows,
        ),
        f"   slowest {fmt_s(worst)} s (target < {FIRST_SCREEN_TARGET:.1f} s): {verdict}"
        + ("" if complete else "   (the model did not see every candidate!)"),
    ]
    if import_s is not None:
        lines.append(
            f"   not included: a real launch first spends {import_s:.2f} s starting Python and importing "
            "election_tui.ui.app (measured in a fresh process)"
        )
    return "\n".join(lines)


def report_load(cfg: Config, r: LoadResult, target: str, terminal: bool, verdicts: Verdicts) -> str:
    w = r.writer
    puts = len(w.acks)
    span = max(w.end - w.start, 1e-9)
    written_rate = puts / span
    applied_rate = r.applied_in_window / span
    keep = r.applied_in_window / puts if puts else 0.0
    all_seen = r.applied_total >= puts and r.drain is not None
    lag_med = statistics.median(r.lags) if r.lags else float("nan")
    lag_p99 = percentile(r.lags, 99) if r.lags else float("nan")
    lag_max = max(r.lags) if r.lags else float("nan")
    growth = (r.rss_100 - r.rss_25) / r.rss_25
    cores = os.cpu_count() or 1
    frame_med = statistics.median(r.frame_seconds) if r.frame_seconds else 0.0
    frame_p99 = percentile(r.frame_seconds, 99) if r.frame_seconds else 0.0
    valid = written_rate >= WRITER_VALID * r.wanted_rate and w.errors == 0
    others = max(0.0, r.cpu_machine - r.cpu_app - w.cpu - (r.cpu_etcd or 0.0))
    quiet = others / r.window < QUIET
    if not quiet:
        verdicts.caveats.append(f"other processes used {others / r.window:.0%} of a core during the load")
    if not valid:
        verdicts.caveats.append(f"the writer reached only {written_rate:,.0f} of {r.wanted_rate:,} PUTs/s")
    if target == "leaders":
        keys = f"the {cfg.elections:,} leaders' keys"
    else:
        keys = f"all {cfg.elections * cfg.candidates:,} candidate keys"

    v_keep = verdicts.check(
        f"sustains {cfg.rate:,} events/s", keep >= KEEP_UP and all_seen and r.unpainted == 0
    )
    v_lag = verdicts.check(
        f"screen lag p99 < {LAG_P99_TARGET * 1000:.0f} ms",
        bool(r.lags) and lag_p99 < LAG_P99_TARGET and r.unpainted == 0,
    )
    v_mem = verdicts.check(f"RSS growth < {GROWTH_TARGET:.0%}", growth < GROWTH_TARGET)

    rows = [
        ["writer PUTs (separate process)", f"{puts:,} in {span:.1f} s", f"{written_rate:,.0f}/s",
         f"wanted {r.wanted_rate:,}/s, errors {w.errors}: {'valid' if valid else 'UNDER-DRIVEN'}"],
        ["events applied by the model", f"{r.applied_in_window:,} in window", f"{applied_rate:,.0f}/s",
         f"{keep:.1%} of written; {r.applied_total:,} after drain: {v_keep}"],
        ["model apply cost", f"{r.apply_seconds:.2f} s CPU",
         f"{r.apply_seconds / max(r.applied_total, 1) * 1e6:,.0f} us/event", ""],
        ["frames rendering news", f"{r.frames:,}", f"{r.frames / r.window:,.1f}/s",
         f"_frame median {ms(frame_med)} ms, p99 {ms(frame_p99)} ms, {r.paints:,} paints"],
        ["screen lag (50 ms samples)", f"{len(r.lags):,} samples",
         f"median {ms(lag_med)} ms", f"p99 {ms(lag_p99)} ms, max {ms(lag_max)} ms"
         + (f", {r.unpainted} never shown" if r.unpainted else "") + f": {v_lag}"],
        ["drain after the last write", "", "never" if r.drain is None else f"{ms(r.drain)} ms", ""],
        ["CPU: app process", f"{r.cpu_app:.1f} s", f"{r.cpu_app / r.window:.0%} of a core",
         f"{cores} cores in this machine"],
        ["CPU: writer process", f"{w.cpu:.1f} s", f"{w.cpu / span:.0%} of a core", ""],
        ["CPU: etcd", "n/a" if r.cpu_etcd is None else f"{r.cpu_etcd:.1f} s",
         "n/a" if r.cpu_etcd is None else f"{r.cpu_etcd / r.window:.0%} of a core", ""],
        ["CPU: everything else on the machine", f"{others:.1f} s", f"{others / r.window:.0%} of a core",
         "quiet machine" if quiet else "BUSY MACHINE: other work competed for the cores"],
        ["RSS: start / 25 / 50 / 75 / 100 %",
         " / ".join(mib(x) for x in [r.rss_start, *r.rss_quarters, r.rss_100]) + " MiB",
         f"growth {growth:+.1%}", f"peak RSS {mib(r.peak_rss)} MiB: {v_mem}"],
    ]  # fmt: skip
    part_rows = [
        [label, f"{r.parts.get(label, 0.0):.2f} s", f"{r.parts.get(label, 0.0) / r.window:.0%} of a core"]
        for label in PARTS
    ]
    return "\n".join(
        [
            f"3. Load: {r.wanted_rate:,} PUTs/s for {cfg.seconds:g} s, round-robin on {keys} "
            f"(proclaim-style, lease kept), a batch every {BATCH_INTERVAL * 1000:.0f} ms; "
            f"paint {'includes' if terminal else 'excludes'} terminal encoding",
            table(["measure", "amount", "rate", "notes"], rows),
            f"   lag target p99 < {LAG_P99_TARGET * 1000:.0f} ms: {v_lag}   memory growth target < "
            f"{GROWTH_TARGET:.0%}: {v_mem}   throughput: {v_keep}",
            "",
            f"   Where the app's event loop spent its time during the load ({r.window:.1f} s, wall time):",
            table(["part", "time", "share"], part_rows),
        ]
    )


def import_seconds() -> float | None:
    """Wall time of a fresh `python -c 'import election_tui.ui.app'` (informational)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "import election_tui.ui.app"], capture_output=True, timeout=60, check=False
    )
    return time.perf_counter() - start if done.returncode == 0 else None


# ----------------------------------------------------------------------------- main


async def run(cfg: Config, endpoints: list[str], etcd_pid: int | None, args: argparse.Namespace) -> int:
    verdicts = Verdicts()
    started = time.perf_counter()
    profiling = Profiling(args.profile)
    terminal = not args.no_terminal
    writer = Writer(endpoints)
    try:
        async with EtcdClient(endpoints) as admin:
            pop = await populate(admin, cfg)
            try:
                print(report_population(cfg, pop) + "\n", flush=True)
                import_s = import_seconds()
                screens: list[FirstScreen] = []
                keys = pop.leaders if args.target == "leaders" else interleave(pop.keys, cfg)
                plan = WriterPlan(keys, cfg.rate, cfg.seconds)

                async def then(app: BenchApp, dash: BenchDashboard) -> LoadResult:
                    with profiling.phase("load"):
                        return await drive_load(app, dash, writer, plan, etcd_pid)

                load: LoadResult | None = None
                for trial in range(cfg.screen_trials):
                    last = trial == cfg.screen_trials - 1
                    first, load = await app_session(
                        cfg,
                        endpoints,
                        terminal=terminal,
                        profiling=profiling,
                        profile_name="first-screen-cold" if trial == 0 else None,
                        then=then if last else None,
                    )
                    screens.append(first)
                assert load is not None
                print(report_first(cfg, screens, import_s, verdicts) + "\n", flush=True)
                print(report_load(cfg, load, args.target, terminal, verdicts) + "\n", flush=True)
            finally:
                failed, seconds = await revoke_all(admin, pop.leases)
                print(f"Cleanup: revoked {len(pop.leases) - failed:,} leases in {seconds:.1f} s"
                      + (f" ({failed} failed)" if failed else ""), flush=True)  # fmt: skip
    finally:
        writer.close()
    for path in profiling.written:
        print(f"profile ({profiling.tool}): {path}")
    if profiling.directory is not None:
        print("NOTE: profiled run; the profiler's overhead inflates CPU and lag figures")
    total = len(verdicts.passed) + len(verdicts.failed)
    print(
        f"SUMMARY ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s): "
        f"{len(verdicts.passed)}/{total} targets met; PASS: {'; '.join(verdicts.passed) or 'none'}; "
        f"FAIL: {'; '.join(verdicts.failed) or 'none'}" + "".join(f"; CAVEAT: {c}" for c in verdicts.caveats),
        flush=True,
    )
    return 0  # a measurement, not a test: the verdicts are in the output


def interleave(keys: Sequence[tuple[bytes, int]], cfg: Config) -> list[tuple[bytes, int]]:
    """Every candidate key, ordered so that consecutive writes hit different elections."""
    return [keys[e * cfg.candidates + c] for c in range(cfg.candidates) for e in range(cfg.elections)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10 s of load, 2 first screens (< 1.5 minutes)")
    parser.add_argument(
        "--target",
        choices=("leaders", "all"),
        default="leaders",
        help="keys the writer updates: each election's leader (proclaims, default) or every candidate",
    )
    parser.add_argument(
        "--no-terminal",
        action="store_true",
        help="do not encode paints into terminal sequences (pure headless cost)",
    )
    parser.add_argument("--rate", type=int, help="PUTs per second instead of 2,000 (diagnosis)")
    parser.add_argument("--seconds", type=float, help="seconds of load instead of 30 (10 quick)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write profiles of the phases to DIR")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    cfg = replace(cfg, rate=args.rate or cfg.rate, seconds=args.seconds or cfg.seconds)
    etcd = EmbeddedEtcd(members=1)
    etcd.start()
    try:
        print(
            f"election-tui dashboard benchmark: etcd {etcd.endpoints[0]} (single member, embedded), "
            f"Python {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} cores, "
            f"{'--quick' if args.quick else 'full run'}\n",
            flush=True,
        )
        return asyncio.run(run(cfg, etcd.endpoints, etcd.members[0].pid, args))
    finally:
        etcd.stop()


if __name__ == "__main__":
    sys.exit(main())
