"""Benchmark election_tui's async etcd client against the raw generated gRPC stubs and etcdctl.

    .venv/bin/python bench/client.py            # full run, < 3 minutes
    .venv/bin/python bench/client.py --quick    # smaller counts, < 1 minute
    .venv/bin/python bench/client.py --old DIR  # this code and the code in DIR: new, old, old, new

Everything runs against one throwaway local etcd (EmbeddedEtcd, loopback only). See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from _common import Verdicts, percentile, table

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    EtcdClient,
    EtcdError,
    KeepAlive,
    LeaderKey,
    Lease,
    WatchEvents,
    prefix_range_end,
)
from election_tui.etcd._pb import rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc
from election_tui.etcd.connection import _CHANNEL_OPTIONS

WIDTH = 64  # concurrency of the "64 concurrent" runs: asyncio.gather over batches of this many
STUB_TIMEOUT = 5.0  # the stub calls carry a deadline like our client's (its default timeout is 5 s)
OP_TARGET = 1.15  # ours_time / stub_time
# Issue 12's stricter targets, as speed (stub_time / ours_time) per (op, mode).
SPEED_TARGETS = {
    ("put", "64 concurrent"): 0.9,
    ("range (get)", "64 concurrent"): 0.9,
    ("campaign+resign", "64 concurrent"): 0.95,
}
FAILOVER_RAW_TARGET = 1.1  # ours / raw stub waiter (median)
WATCH_TARGET = 0.9  # events/s ours / stub
SEQ_CHUNK = 10  # ops per alternation in the sequential runs
CONC_CHUNK = WIDTH  # ops per alternation in the concurrent runs: one batch
FAILOVER_TARGET = 1.2  # ours / etcdctl (median)
RUN_LIMIT = 120.0  # no single timed run may take longer than this (seconds)
LONG_TTL = 600  # leases that must not expire during the run
# etcd syncs a watcher that starts at a past revision (as every waiting candidate's does) on a
# 100 ms tick; resigning before then would measure where that tick falls, not the clients.
SETTLE = 0.15

OpFn = Callable[[int], Awaitable[object]]
Figures = dict[str, float]  # what --json writes: the figures --old compares, by name


@dataclass(frozen=True, slots=True)
class Config:
    rounds: int  # alternating ours/stub rounds per op and mode (median taken)
    seq_ops: int
    conc_ops: int
    failover_trials: int
    lease_count: int
    lease_ttl: int
    lease_seconds: float
    watch_puts: int
    watch_rounds: int


FULL = Config(
    rounds=9,
    seq_ops=200,
    conc_ops=1280,
    failover_trials=30,
    lease_count=1000,
    lease_ttl=5,
    lease_seconds=30.0,
    watch_puts=20_000,
    watch_rounds=5,
)
QUICK = Config(
    rounds=5,
    seq_ops=100,
    conc_ops=640,
    failover_trials=15,
    lease_count=1000,
    lease_ttl=5,
    lease_seconds=10.0,
    watch_puts=5_000,
    watch_rounds=3,
)


# ----------------------------------------------------------------------------- helpers


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def gather_batched(fns: Sequence[Callable[[], Awaitable[Any]]], width: int = WIDTH) -> list[Any]:
    """Untimed helper: run coroutine factories `width` at a time."""
    out: list[Any] = []
    for start in range(0, len(fns), width):
        out += await asyncio.gather(*(f() for f in fns[start : start + width]))
    return out


async def run_sequential(fn: OpFn, n: int, first: int = 0) -> float:
    """Ops first..first+n-1 one after the other; returns the wall time."""
    start = time.perf_counter()
    for i in range(first, first + n):
        await fn(i)
    return time.perf_counter() - start


async def run_concurrent(fn: OpFn, n: int, first: int = 0) -> float:
    """Ops first..first+n-1 as asyncio.gather over batches of WIDTH; returns the wall time."""
    start = time.perf_counter()
    stop = first + n
    for batch in range(first, stop, WIDTH):
        await asyncio.gather(*(fn(i) for i in range(batch, min(stop, batch + WIDTH))))
    return time.perf_counter() - start


Runner = Callable[[OpFn, int, int], Awaitable[float]]


@dataclass(slots=True)
class Sample:
    """Wall and CPU seconds per side over the same ops, and each chunk pair's time ratio."""

    wall: dict[str, float] = field(default_factory=lambda: {"ours": 0.0, "stub": 0.0})
    cpu: dict[str, float] = field(default_factory=lambda: {"ours": 0.0, "stub": 0.0})
    # ours/stub of adjacent chunks, kept apart by who ran first (to cancel any order effect)
    ratios: dict[str, list[float]] = field(default_factory=lambda: {"ours": [], "stub": []})

    def ratio(self) -> float:
        """Geometric mean of the two orders' median pair ratios: robust to bursts and to order."""
        return math.sqrt(statistics.median(self.ratios["ours"]) * statistics.median(self.ratios["stub"]))


async def interleaved(
    fns: dict[str, OpFn], runner: Runner, n: int, chunk: int, flip: bool, sample: Sample
) -> None:
    """Run n ops per side in chunks, alternating ours and stub chunk by chunk (who goes first too).

    A pair of adjacent chunks sees the same server state and the same background load (this
    machine is shared), so the median of the pair ratios is robust where totals are not.
    """
    sides = ["ours", "stub"]
    for k, first in enumerate(range(0, n, chunk)):
        size = min(chunk, n - first)
        pair: dict[str, float] = {}
        order = sides if (k % 2 == 0) != flip else sides[::-1]
        for side in order:
            cpu0 = time.process_time()
            pair[side] = await runner(fns[side], size, first)
            sample.cpu[side] += time.process_time() - cpu0
            sample.wall[side] += pair[side]
        sample.ratios[order[0]].append(pair["ours"] / pair["stub"])


class Stubs:
    """The raw generated stubs on one plain grpc.aio channel: the baseline."""

    def __init__(self, target: str) -> None:
        # The client's own channel options (retries off, keepalive): only its Python layer differs.
        self.channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.election = v3election_pb2_grpc.ElectionStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)

    async def close(self) -> None:
        await self.channel.close(grace=None)

    async def revoke(self, lease_ids: Sequence[int]) -> None:
        async def one(lease_id: int) -> None:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id), timeout=STUB_TIMEOUT)

        await gather_batched([functools.partial(one, lease_id) for lease_id in lease_ids])


# ----------------------------------------------------------------------------- 1. ops


@dataclass(slots=True)
class OpBench:
    name: str
    ours: OpFn
    stub: OpFn
    after: Callable[[], Awaitable[None]] | None = None  # untimed clean-up after every run
    info: bool = False  # a diagnostic row: no target


async def bench_ops(cfg: Config, ours: EtcdClient, stub: Stubs, verdicts: Verdicts, figures: Figures) -> str:
    unique = itertools.count()
    payload = b"x" * 64

    # put / range
    keys = [f"bench/kv/{i}".encode() for i in range(256)]
    for key in keys:
        await stub.kv.Put(rpc_pb2.PutRequest(key=key, value=payload), timeout=STUB_TIMEOUT)

    async def ours_put(i: int) -> object:
        return await ours.put(keys[i & 255], payload)

    async def stub_put(i: int) -> object:
        return await stub.kv.Put(rpc_pb2.PutRequest(key=keys[i & 255], value=payload), timeout=STUB_TIMEOUT)

    async def ours_get(i: int) -> object:
        return await ours.get(keys[i & 255])

    async def stub_get(i: int) -> object:
        return await stub.kv.Range(rpc_pb2.RangeRequest(key=keys[i & 255]), timeout=STUB_TIMEOUT)

    # lease grant: every granted lease is revoked after the run, untimed
    granted: list[int] = []

    async def ours_grant(i: int) -> object:
        lease = await ours.lease_grant(LONG_TTL)
        granted.append(lease.id)
        return lease

    async def stub_grant(i: int) -> object:
        resp = await stub.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=LONG_TTL), timeout=STUB_TIMEOUT)
        granted.append(resp.ID)
        return resp

    async def revoke_granted() -> None:
        ids, granted[:] = list(granted), []
        await stub.revoke(ids)

    # campaign + resign: a distinct election per op, each with its own lease granted beforehand
    pool_size = max(cfg.seq_ops, cfg.conc_ops)
    pool: list[int] = [
        r.ID
        for r in await gather_batched(
            [
                lambda: stub.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=LONG_TTL), timeout=STUB_TIMEOUT)
                for _ in range(pool_size)
            ]
        )
    ]

    async def ours_campaign(i: int) -> object:
        leader = await ours.campaign(f"bench/el/{next(unique)}", pool[i], b"v")
        await ours.resign(leader)
        return leader

    async def stub_campaign(i: int) -> object:
        name = f"bench/el/{next(unique)}".encode()
        request = v3election_pb2.CampaignRequest(name=name, lease=pool[i], value=b"v")
        resp = await stub.election.Campaign(request, timeout=STUB_TIMEOUT)
        await stub.election.Resign(v3election_pb2.ResignRequest(leader=resp.leader), timeout=STUB_TIMEOUT)
        return resp

    async def stub_campaign_txn(i: int) -> object:
        """What campaign() sends when nobody else stands: one Txn (put our key if absent, read
        the election's oldest key), then Resign."""
        name = f"bench/el/{next(unique)}".encode()
        key = name + b"/" + format(pool[i], "x").encode()
        oldest = rpc_pb2.RangeRequest(
            key=name + b"/", range_end=prefix_range_end(name + b"/"), limit=1, keys_only=True,
            sort_order=rpc_pb2.RangeRequest.ASCEND, sort_target=rpc_pb2.RangeRequest.CREATE,
        )  # fmt: skip
        request = rpc_pb2.TxnRequest(
            compare=[rpc_pb2.Compare(target=rpc_pb2.Compare.CREATE, key=key, create_revision=0)],
            success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=b"v", lease=pool[i])),
                     rpc_pb2.RequestOp(request_range=oldest)],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key)),
                     rpc_pb2.RequestOp(request_range=oldest)],
        )  # fmt: skip
        resp = await stub.kv.Txn(request, timeout=STUB_TIMEOUT)
        rev = resp.header.revision
        leader = v3election_pb2.LeaderKey(name=name, key=key, rev=rev, lease=pool[i])
        await stub.election.Resign(v3election_pb2.ResignRequest(leader=leader), timeout=STUB_TIMEOUT)
        return resp

    # proclaim: each side proclaims as the leader of its own election
    ours_lease = await ours.lease_grant(LONG_TTL)
    ours_leader = await ours.campaign("bench/proclaim/ours", ours_lease.id, b"v0")
    stub_lease = await stub.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=LONG_TTL), timeout=STUB_TIMEOUT)
    stub_leader = (
        await stub.election.Campaign(
            v3election_pb2.CampaignRequest(name=b"bench/proclaim/stub", lease=stub_lease.ID, value=b"v0"),
            timeout=STUB_TIMEOUT,
        )
    ).leader

    async def ours_proclaim(i: int) -> object:
        await ours.proclaim(ours_leader, payload)
        return None

    async def stub_proclaim(i: int) -> object:
        return await stub.election.Proclaim(
            v3election_pb2.ProclaimRequest(leader=stub_leader, value=payload), timeout=STUB_TIMEOUT
        )

    benches = [
        OpBench("put", ours_put, stub_put),
        OpBench("range (get)", ours_get, stub_get),
        OpBench("lease grant", ours_grant, stub_grant, revoke_granted),
        OpBench("campaign+resign", ours_campaign, stub_campaign),
        OpBench("proclaim", ours_proclaim, stub_proclaim),
        OpBench("campaign+resign *", ours_campaign, stub_campaign_txn, info=True),
    ]
    modes: list[tuple[str, int, int, Runner]] = [
        ("sequential", cfg.seq_ops, SEQ_CHUNK, run_sequential),
        (f"{WIDTH} concurrent", cfg.conc_ops, CONC_CHUNK, run_concurrent),
    ]

    # warm up: channels connected, code paths and caches hot
    for b in benches:
        for fn in (b.ours, b.stub):
            await run_sequential(fn, 32)
            await run_concurrent(fn, 2 * WIDTH)
            if b.after is not None:
                await b.after()

    samples = {(b.name, mode): Sample() for b in benches for mode, *_ in modes}
    for rnd in range(cfg.rounds):
        for k, b in enumerate(benches):
            for m, (mode, n, chunk, runner) in enumerate(modes):
                gc.collect()
                fns = {"ours": b.ours, "stub": b.stub}
                flip = (rnd + k + m) % 2 == 1
                await asyncio.wait_for(
                    interleaved(fns, runner, n, chunk, flip, samples[(b.name, mode)]), RUN_LIMIT
                )
                if b.after is not None:
                    await b.after()

    await ours.resign(ours_leader)
    await stub.election.Resign(v3election_pb2.ResignRequest(leader=stub_leader), timeout=STUB_TIMEOUT)
    await stub.revoke([*pool, ours_lease.id, stub_lease.ID])

    rows: list[list[str]] = []
    for b in benches:
        for mode, n, _, _ in modes:
            sample, total = samples[(b.name, mode)], n * cfg.rounds
            ratio = sample.ratio()
            t_ours, t_stub = sample.wall["ours"] / total, sample.wall["stub"] / total
            cpu_ours, cpu_stub = sample.cpu["ours"] / total * 1e6, sample.cpu["stub"] / total * 1e6
            speed = 1 / ratio
            figures[f"{b.name} {mode}: speed ours/stub"] = speed
            if b.info:
                target, verdict = "", "info"
            elif (b.name, mode) in SPEED_TARGETS:
                wanted = SPEED_TARGETS[(b.name, mode)]
                target = f"speed >= {wanted}"
                verdict = verdicts.check(f"{b.name} {mode} speed {speed:.2f}", speed >= wanted)
            else:
                target = f"time <= {OP_TARGET}"
                verdict = verdicts.check(f"{b.name} {mode} {ratio:.2f}", ratio <= OP_TARGET)
            rows.append(
                [b.name, mode, fmt_rate(1 / t_ours), fmt_rate(1 / t_stub), f"{ratio:.3f}", f"{speed:.3f}",
                 target, verdict, f"{cpu_ours:.0f}", f"{cpu_stub:.0f}"]
            )  # fmt: skip
    title = (
        f"1. Our client vs raw generated stub: {cfg.rounds} rounds x {cfg.seq_ops} sequential / "
        f"{cfg.conc_ops} concurrent ops per side, alternating ours/stub every {SEQ_CHUNK} / {CONC_CHUNK} "
        f"ops;\n   ops/s over all rounds, ours/stub time from the adjacent chunk pairs' ratios\n   (median per order ours-first / stub-first, geometric mean of the two)"
    )
    footnote = (
        "   speed = 1 / time ratio (ours as fast as the stub: 1.0)\n"
        "   * diagnostic: the stub side sends what campaign() sends when nobody else stands: one Txn "
        "(put our key\n     if absent, read the election's oldest key), then Resign; the row above "
        "it is the Campaign RPC"
    )
    header = ["op", "mode", "ours ops/s", "stub ops/s", "ours/stub time", "speed", "target", "",
              "ours CPU us/op", "stub CPU us/op"]  # fmt: skip
    return "\n".join([title, table(header, rows), footnote])


# ----------------------------------------------------------------------------- 2. fail-over


async def wait_candidates(client: EtcdClient, name: str, count: int, limit: float = 10.0) -> None:
    """Poll until the election has `count` candidate keys (untimed)."""
    deadline = time.monotonic() + limit
    while len((await client.get_prefix(f"{name}/", keys_only=True)).kvs) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: fewer than {count} candidates after {limit} s")
        await asyncio.sleep(0.002)


async def failover_ours(a: EtcdClient, b: EtcdClient, lease_a: int, lease_b: int, name: str) -> float:
    leader = await a.campaign(name, lease_a, b"a", timeout=10)

    async def candidate() -> tuple[LeaderKey, float]:
        won = await b.campaign(name, lease_b, b"b", timeout=20)
        return won, time.perf_counter()

    task = asyncio.create_task(candidate())
    try:
        await wait_candidates(a, name, 2)
        await asyncio.sleep(SETTLE)
        start = time.perf_counter()
        await a.resign(leader)
        won, end = await asyncio.wait_for(task, 10)
        await b.resign(won)
        return end - start
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, EtcdError):
                await task


async def failover_stub(a: EtcdClient, stub: Stubs, lease_a: int, lease_b: int, name: str) -> float:
    """The same, with the raw stub's Campaign RPC as the waiting candidate (its own channel)."""
    leader = await a.campaign(name, lease_a, b"a", timeout=10)
    request = v3election_pb2.CampaignRequest(name=name.encode(), lease=lease_b, value=b"b")

    async def candidate() -> tuple[Any, float]:
        resp = await stub.election.Campaign(request, timeout=20)
        return resp, time.perf_counter()

    task = asyncio.create_task(candidate())
    try:
        await wait_candidates(a, name, 2)
        await asyncio.sleep(SETTLE)
        start = time.perf_counter()
        await a.resign(leader)
        resp, end = await asyncio.wait_for(task, 10)
        await stub.election.Resign(v3election_pb2.ResignRequest(leader=resp.leader), timeout=STUB_TIMEOUT)
        return end - start
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await task


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Terminate the child we started, then kill it if it does not exit in time (bounded)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)


async def failover_etcdctl(etcd: EmbeddedEtcd, a: EtcdClient, lease_a: int, name: str) -> float:
    leader = await a.campaign(name, lease_a, b"a", timeout=10)
    proc = await asyncio.create_subprocess_exec(
        *etcd.etcdctl_cmd("elect", name, "etcdctl"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=etcd.etcdctl_env(),
    )
    try:
        assert proc.stdout is not None
        await wait_candidates(a, name, 2)  # etcdctl is up and queued behind our leader
        await asyncio.sleep(SETTLE)
        start = time.perf_counter()
        await a.resign(leader)
        line = await asyncio.wait_for(proc.stdout.readline(), 10)  # the win line: the leader key
        end = time.perf_counter()
        if not line.startswith(name.encode()):
            raise RuntimeError(f"etcdctl elect printed {line!r} (exit code {proc.returncode})")
        return end - start
    finally:
        await stop_process(proc)  # etcdctl resigns and revokes its session lease on SIGTERM


async def bench_failover(
    cfg: Config, etcd: EmbeddedEtcd, stub: Stubs, verdicts: Verdicts, figures: Figures
) -> str:
    endpoints = etcd.endpoints
    async with EtcdClient(endpoints) as a, EtcdClient(endpoints) as b:
        lease_a, lease_b = await a.lease_grant(60), await b.lease_grant(60)
        keeps: list[KeepAlive] = [await a.keep_alive(lease_a), await b.keep_alive(lease_b)]

        async def trial(side: str, name: str) -> float:
            if side == "ours":
                return await failover_ours(a, b, lease_a.id, lease_b.id, name)
            if side == "stub":
                return await failover_stub(a, stub, lease_a.id, lease_b.id, name)
            return await failover_etcdctl(etcd, a, lease_a.id, name)

        sides = ["ours", "stub", "etcdctl"]
        for side in sides:  # warm up every path once
            await trial(side, f"bench/fo/warm/{side}")
        times: dict[str, list[float]] = {side: [] for side in sides}
        for i in range(cfg.failover_trials):
            for side in sides[i % 3 :] + sides[: i % 3]:  # each side goes first as often
                times[side].append(await trial(side, f"bench/fo/{side}/{i}"))
        lost = [k for k in keeps if k.lost]
        for k in keeps:
            k.cancel()
        await a.lease_revoke(lease_a.id)
        await b.lease_revoke(lease_b.id)
    if lost:
        raise RuntimeError(f"a candidate lease was lost during the fail-over trials: {lost}")
    ours, raw, ctl = times["ours"], times["stub"], times["etcdctl"]
    raw_ratio = statistics.median(ours) / statistics.median(raw)
    ratio = statistics.median(ours) / statistics.median(ctl)
    figures["fail-over ours ms (median)"] = 1000 * statistics.median(ours)
    figures["fail-over stub ms (median)"] = 1000 * statistics.median(raw)
    figures["fail-over ours/stub"] = raw_ratio
    figures["fail-over ours/etcdctl"] = ratio
    raw_verdict = verdicts.check(f"fail-over ours/stub {raw_ratio:.2f}", raw_ratio <= FAILOVER_RAW_TARGET)
    verdict = verdicts.check(f"fail-over ours/etcdctl {ratio:.2f}", ratio <= FAILOVER_TARGET)

    def row(label: str, xs: list[float]) -> list[str]:
        return [label, str(len(xs)), fmt_ms(statistics.median(xs)), fmt_ms(percentile(xs, 95)),
                fmt_ms(min(xs)), fmt_ms(max(xs))]  # fmt: skip

    rows = [
        row("ours (2 EtcdClient candidates)", ours),
        row("raw stub Campaign (waiting candidate)", raw),
        row("etcdctl elect (waiting candidate)", ctl),
    ]
    return "\n".join(
        [
            "2. Fail-over latency: leader resign() -> waiting candidate elected (alternating trials)",
            table(["candidate", "trials", "median ms", "p95 ms", "min ms", "max ms"], rows),
            f"ratio ours/stub (median) {raw_ratio:.3f}  target <= {FAILOVER_RAW_TARGET}  {raw_verdict}"
            f"   (p95 ratio {percentile(ours, 95) / percentile(raw, 95):.3f})",
            f"ratio ours/etcdctl (median) {ratio:.3f}  target <= {FAILOVER_TARGET}  {verdict}"
            f"   (p95 ratio {percentile(ours, 95) / percentile(ctl, 95):.3f})",
        ]
    )


# ----------------------------------------------------------------------------- 3. leases


async def bench_leases(cfg: Config, endpoints: list[str], stub: Stubs, verdicts: Verdicts) -> str:
    n, ttl = cfg.lease_count, cfg.lease_ttl
    async with EtcdClient(endpoints) as client:
        leases: list[Lease] = await gather_batched([lambda: client.lease_grant(ttl) for _ in range(n)])
        handles = [await client.keep_alive(lease) for lease in leases]
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(cfg.lease_seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        lost = {h.lease_id for h in handles if h.lost}
        alive = set(await client.leases())
        missing = {lease.id for lease in leases if lease.id not in alive}
        renewals = sum(h.renewals for h in handles)
        reasons = sorted({h.loss_reason or "" for h in handles if h.lost})
        for h in handles:
            h.cancel()
    await stub.revoke([lease.id for lease in leases])
    expiries = len(lost | missing)
    verdict = verdicts.check(f"lease expiries {expiries}", expiries == 0)
    rows = [
        ["unintended expiries (lost handles + missing from leases())",
         f"{expiries} ({len(lost)} lost, {len(missing)} missing)", f"target 0  {verdict}"],
        ["renewals answered", f"{renewals:,} ({renewals / wall:,.0f}/s)",
         f"one per lease every TTL/3: <= {n * int(wall / (ttl / 3)):,}"],
        ["process CPU over the window", f"{100 * cpu / wall:.1f} %", f"{cpu:.2f} s CPU / {wall:.1f} s wall"],
    ]  # fmt: skip
    out = [
        f"3. {n:,} leases (TTL {ttl} s) kept alive from one client for {cfg.lease_seconds:.0f} s",
        table(["figure", "value", "note"], rows),
    ]
    if reasons:
        out.append("loss reasons: " + "; ".join(reasons))
    return "\n".join(out)


# ----------------------------------------------------------------------------- 4. watch


@dataclass(slots=True)
class WatchResult:
    events_per_s: float
    puts_per_s: float
    latencies: list[float]
    received: int
    cpu_per_event: float  # process CPU seconds (writer + watcher) per event


async def write_burst(stub: Stubs, prefix: str, total: int) -> float:
    """Put `total` fresh keys, 64 at a time, each value the send time in ns; returns the duration."""
    base = prefix.encode()

    async def one(i: int) -> None:
        value = str(time.perf_counter_ns()).encode()
        await stub.kv.Put(rpc_pb2.PutRequest(key=base + str(i).encode(), value=value), timeout=STUB_TIMEOUT)

    return await run_concurrent(one, total)


async def watch_round(
    side: str, ours: EtcdClient, stub: Stubs, writer: Stubs, prefix: str, total: int
) -> WatchResult:
    """One burst of `total` puts under `prefix`, watched by our client or by the raw stub."""
    latencies: list[float] = []
    received = 0
    ready = asyncio.Event()
    last_event = 0.0
    head = await writer.kv.Range(rpc_pb2.RangeRequest(key=b"bench/"), timeout=STUB_TIMEOUT)
    rev = int(head.header.revision)

    def take(values: Sequence[bytes]) -> bool:
        nonlocal received, last_event
        now = time.perf_counter_ns()
        latencies.extend((now - int(v)) / 1e9 for v in values)
        received += len(values)
        if received >= total:
            last_event = time.perf_counter()
            return True
        return False

    async def read_ours() -> None:
        async with ours.watch_prefix(prefix, start_revision=rev + 1) as watch:
            ready_task = asyncio.create_task(_set_when(lambda: watch.connected, ready))
            try:
                async for item in watch:
                    if isinstance(item, WatchEvents) and take([e.kv.value for e in item.events]):
                        return
            finally:
                ready_task.cancel()

    async def read_stub() -> None:
        raw = prefix.encode()
        call = stub.watch.Watch()
        try:
            await call.write(
                rpc_pb2.WatchRequest(
                    create_request=rpc_pb2.WatchCreateRequest(
                        key=raw, range_end=prefix_range_end(raw), start_revision=rev + 1,
                        progress_notify=True,
                    )
                )
            )  # fmt: skip
            async for resp in call:
                if resp.created:
                    ready.set()
                elif resp.events and take([e.kv.value for e in resp.events]):
                    return
        finally:
            call.cancel()

    reader = asyncio.create_task(read_ours() if side == "ours" else read_stub())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        gc.collect()
        cpu0 = time.process_time()
        start = time.perf_counter()
        write_time = await asyncio.wait_for(write_burst(writer, prefix, total), RUN_LIMIT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 30)
    finally:
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    end = last_event if received >= total else time.perf_counter()
    cpu = time.process_time() - cpu0
    await stub.kv.DeleteRange(
        rpc_pb2.DeleteRangeRequest(key=prefix.encode(), range_end=prefix_range_end(prefix.encode())),
        timeout=STUB_TIMEOUT,
    )
    return WatchResult(
        received / (end - start), total / write_time, latencies, received, cpu / max(received, 1)
    )


async def _set_when(condition: Callable[[], bool], event: asyncio.Event, limit: float = 10.0) -> None:
    """Set `event` once `condition()` holds (polled: Watch.connected has no event to wait on)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            event.set()
            return
        await asyncio.sleep(0.001)


class _ReplayedStream:
    """A Watch stream call that hands out recorded WatchResponses: the client's own cost, no etcd."""

    def __init__(self, responses: Sequence[rpc_pb2.WatchResponse]) -> None:
        self.responses = responses

    async def write(self, request: object) -> None:
        return None

    def cancel(self) -> None:
        return None

    async def __aiter__(self) -> Any:
        for i, resp in enumerate(self.responses):
            if i % 16 == 0:
                await asyncio.sleep(0)  # the loop turns, as with a real stream
            yield resp


async def replay_cost(events: int, per_response: int, rounds: int = 7) -> tuple[float, float]:
    """Process CPU per event (median of `rounds`) of our watch_prefix and of a raw loop over the
    stub's stream, both fed the same recorded responses, `per_response` events each."""
    recorded = [rpc_pb2.WatchResponse(created=True)]
    rev = 10
    for first in range(0, events, per_response):
        resp = rpc_pb2.WatchResponse()
        for i in range(first, first + per_response):
            rev += 1
            e = resp.events.add()
            e.kv.key, e.kv.value = f"bench/r/{i}".encode(), str(time.perf_counter_ns()).encode()
            e.kv.create_revision = e.kv.mod_revision = rev
            e.kv.version = 1
        resp.header.revision = rev
        recorded.append(resp)
    recorded = [rpc_pb2.WatchResponse.FromString(r.SerializeToString()) for r in recorded]

    class _Stubs:
        class watch:  # stands in for the generated WatchStub
            @staticmethod
            def Watch(metadata: object = None) -> _ReplayedStream:
                return _ReplayedStream(recorded)

    async def ours() -> float:
        client = EtcdClient(["127.0.0.1:1"])  # never dialled
        client._conn.stubs = lambda index=None: _Stubs  # type: ignore[method-assign,assignment,return-value]
        got = 0
        cpu0 = time.process_time()
        async with client.watch_prefix(b"bench/r/", start_revision=11) as watch:
            async for item in watch:
                if isinstance(item, WatchEvents):
                    got += len([e.kv.value for e in item.events])
                    if got >= events:
                        break
        cpu = time.process_time() - cpu0
        await client.aclose()
        return cpu / events

    async def raw() -> float:
        got = 0
        cpu0 = time.process_time()
        call = _ReplayedStream(recorded)
        await call.write(None)
        async for resp in call:
            if resp.created:
                continue
            if resp.events:
                got += len([e.kv.value for e in resp.events])
                if got >= events:
                    break
        return (time.process_time() - cpu0) / events

    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        gc.collect()
        mine.append(await ours())
        theirs.append(await raw())
    return statistics.median(mine), statistics.median(theirs)


async def bench_watch(
    cfg: Config, ours: EtcdClient, stub: Stubs, verdicts: Verdicts, figures: Figures
) -> str:
    results: dict[str, list[WatchResult]] = {"ours": [], "stub": []}
    writer = Stubs(ours.endpoint.target)  # its own channel: neither watcher shares the writer's
    try:
        await watch_round("ours", ours, stub, writer, "bench/w/warm-ours/", 2 * WIDTH)
        await watch_round("stub", ours, stub, writer, "bench/w/warm-stub/", 2 * WIDTH)
        for rnd in range(cfg.watch_rounds):
            for side in ["ours", "stub"] if rnd % 2 == 0 else ["stub", "ours"]:
                prefix = f"bench/w/{side}/{rnd}/"
                results[side].append(await watch_round(side, ours, stub, writer, prefix, cfg.watch_puts))
    finally:
        await writer.close()
    rows: list[list[str]] = []
    rates: dict[str, float] = {}
    for side, label in (("ours", "ours: watch_prefix"), ("stub", "stub: Watch stream")):
        rs = results[side]
        rates[side] = statistics.median(r.events_per_s for r in rs)
        lat = [x for r in rs for x in r.latencies]
        got = sum(r.received for r in rs)
        want = cfg.watch_puts * len(rs)
        rows.append(
            [label, f"{got:,}/{want:,}", fmt_rate(rates[side]),
             fmt_rate(statistics.median(r.puts_per_s for r in rs)),
             fmt_ms(statistics.median(lat)), fmt_ms(percentile(lat, 95)),
             f"{1e6 * statistics.median(r.cpu_per_event for r in rs):.0f}"]
        )  # fmt: skip
    complete = all(r.received >= cfg.watch_puts for rs in results.values() for r in rs)
    verdict = verdicts.check("watch delivered every event", complete)
    # As in section 1: the median of adjacent rounds' ratios (each pair saw the same machine
    # load), not the ratio of the medians, which other processes on a shared machine swing.
    pairs = [o.events_per_s / s.events_per_s for o, s in zip(results["ours"], results["stub"], strict=True)]
    speed = statistics.median(pairs)
    figures["watch events/s ours/stub"] = speed
    figures["watch events/s ours/stub (medians)"] = rates["ours"] / rates["stub"]
    replay_rows = []
    for per in (1, 8):
        mine, theirs = await replay_cost(cfg.watch_puts, per)
        figures[f"watch replay {per}/response: ours - raw us/event"] = 1e6 * (mine - theirs)
        replay_rows.append(
            [f"{per} event(s) a response", f"{1e6 * mine:.2f}", f"{1e6 * theirs:.2f}",
             f"{1e6 * (mine - theirs):.2f}"]
        )  # fmt: skip
    speed_verdict = verdicts.check(f"watch events/s ours/stub {speed:.2f}", speed >= WATCH_TARGET)
    header = ["watcher", "events", "events/s", "writer puts/s", "median put->event ms", "p95 ms",
              "process CPU us/event"]  # fmt: skip
    return "\n".join(
        [
            f"4. Watch: {cfg.watch_puts:,} puts ({WIDTH} concurrent, raw-stub writer) per round, "
            f"{cfg.watch_rounds} round(s) per side",
            table(header, rows),
            f"events/s ours/stub {speed:.3f} (median of the {len(pairs)} adjacent rounds' ratios "
            f"{', '.join(f'{p:.2f}' for p in pairs)}; of the medians {rates['ours'] / rates['stub']:.3f})"
            f"  target >= {WATCH_TARGET}  {speed_verdict}   every event delivered: {verdict}",
            f"   the client's own CPU per event, {cfg.watch_puts:,} recorded events replayed (no etcd): "
            "watch_prefix vs a raw loop over the stub's stream",
            table(["replayed", "ours us/event", "raw us/event", "ours - raw"], replay_rows),
        ]
    )


# ----------------------------------------------------------------------------- main


SECTIONS = (1, 2, 3, 4)


async def run(cfg: Config, etcd: EmbeddedEtcd, quick: bool, only: set[int]) -> Figures:
    verdicts = Verdicts()
    figures: Figures = {}
    endpoints = etcd.endpoints
    stub = Stubs(endpoints[0])
    started = time.perf_counter()
    try:
        async with EtcdClient(endpoints) as ours:
            for number in SECTIONS:
                if number not in only:
                    continue
                if number == 1:
                    text = await bench_ops(cfg, ours, stub, verdicts, figures)
                elif number == 2:
                    text = await bench_failover(cfg, etcd, stub, verdicts, figures)
                elif number == 3:
                    text = await bench_leases(cfg, endpoints, stub, verdicts)
                else:
                    text = await bench_watch(cfg, ours, stub, verdicts, figures)
                print(text + "\n", flush=True)
    finally:
        await stub.close()
    total = len(verdicts.passed) + len(verdicts.failed)
    failed = "; ".join(verdicts.failed) or "none"
    print(
        f"SUMMARY ({'quick' if quick else 'full'} run, {time.perf_counter() - started:.0f} s): "
        f"{len(verdicts.passed)}/{total} targets met; FAIL: {failed}",
        flush=True,
    )
    return figures


# ----------------------------------------------------------------------------- new vs old


def compare(args: argparse.Namespace) -> int:
    """Run this benchmark on this checkout and on `--old`, as child processes: new, old, old, new
    (x rounds), each with its own etcd; then one table of the figures side by side."""
    here = Path(__file__).resolve().parents[1]
    old = Path(args.old).resolve()
    if not (old / "election_tui" / "etcd" / "client.py").is_file():
        print(f"--old {old}: no election_tui checkout there", file=sys.stderr)
        return 2
    order = [("new", here), ("old", old), ("old", old), ("new", here)] * args.rounds
    runs: list[tuple[str, Figures]] = []
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        for k, (label, checkout) in enumerate(order):
            out = Path(tmp) / f"{k}.json"
            argv = [sys.executable, str(Path(__file__).resolve()), "--json", str(out)]
            argv += ["--quick"] if args.quick else []
            argv += ["--only", args.only] if args.only else []
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            print(f"=== run {k + 1}/{len(order)}: {label} ({checkout})", flush=True)
            subprocess.run(argv, env=env, cwd=checkout, check=True, timeout=900)
            runs.append((label, json.loads(out.read_text())))
    names = list(dict.fromkeys(n for _, f in runs for n in f))
    header = [
        "figure",
        *(f"{label} {k + 1}" for k, (label, _) in enumerate(runs)),
        "new (median)",
        "old (median)",
    ]

    def median_of(label: str, name: str) -> str:
        xs = [f[name] for lb, f in runs if lb == label and name in f]
        return f"{statistics.median(xs):.3f}" if xs else ""

    rows = [
        [name, *(f"{f[name]:.3f}" if name in f else "" for _, f in runs), median_of("new", name),
         median_of("old", name)]
        for name in names
    ]  # fmt: skip
    print("NEW vs OLD (ours/stub figures come from the same run; speed 1.0 = as fast as the raw stub)")
    print(table(header, rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, a 10 s lease soak (< 1 minute)")
    parser.add_argument(
        "--only", help="comma-separated sections to run (1 ops, 2 fail-over, 3 leases, 4 watch)"
    )
    parser.add_argument("--json", help="write the figures (ratios, medians) to this file")
    parser.add_argument("--old", help="also run the code of this checkout, alternating: new, old, old, new")
    parser.add_argument("--rounds", type=int, default=1, help="with --old: repeat new, old, old, new")
    args = parser.parse_args(argv)
    if args.old:
        return compare(args)
    only = {int(x) for x in args.only.split(",")} if args.only else set(SECTIONS)
    cfg = QUICK if args.quick else FULL
    etcd = EmbeddedEtcd(members=1)
    etcd.start()
    try:
        print(
            f"election-tui client benchmark: etcd {etcd.endpoints[0]} (single member, embedded), "
            f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
            f"{'--quick' if args.quick else 'full run'}\n",
            flush=True,
        )
        figures = asyncio.run(run(cfg, etcd, args.quick, only))
    finally:
        etcd.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
