"""Helpers of the fault suite: model-vs-Range checks, applied-event logs, belief sampling, CLI runs,
process trees read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helpers import cmdline

from election_tui.etcd import EtcdClient, Event, WatchEvents, may_be_candidate_key
from election_tui.live import ConnectionState, LiveSession
from election_tui.model import ElectionState
from election_tui.sim import Candidate, State
from election_tui.testing import TcpProxy

# The `clients` and `proxies` fixtures (conftest.py): tests annotate their parameters with these.
ClientFactory = Callable[..., EtcdClient]  # clients(endpoints, **EtcdClient options)
ProxyFactory = Callable[[str], Awaitable[TcpProxy]]  # await proxies(endpoint)

# (revision, key, "put" | "delete"): what one watch event did.
Applied = tuple[int, bytes, str]


def applied(events: Iterable[Event]) -> list[Applied]:
    return [(e.revision, e.kv.key, e.type.value) for e in events]


def view(state: ElectionState) -> dict[bytes, tuple[object, ...]]:
    """Every election and its queue (full candidate records), as plain comparable values."""
    return {name: state.candidates(name) for name in state.names()}


async def fresh_state(client: EtcdClient, prefix: bytes) -> tuple[ElectionState, int]:
    """ElectionState.load of a new Range of the prefix: the truth to compare a model with."""
    snapshot = await client.get_prefix(prefix)
    state = ElectionState()
    state.load(snapshot.kvs, snapshot.revision, time.time())
    return state, snapshot.revision


async def assert_model_converges(
    client: EtcdClient, state: ElectionState, prefix: bytes, *, timeout: float = 5.0
) -> dict[bytes, tuple[object, ...]]:
    """Wait (bounded) until the model equals a fresh Range of the prefix; fail with the diff."""
    deadline = time.monotonic() + timeout
    while True:
        truth, _rev = await fresh_state(client, prefix)
        want, got = view(truth), view(state)
        if want == got and len(truth) == len(state):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"model never matched a fresh Range:\n model: {got}\n range: {want}")
        await asyncio.sleep(0.05)


# A write that marks "now" for a dashboard: shaped like a candidate key, so the session's watch
# passes it on to the model, but lease-less, so it is no candidate.
SENTINEL = b"~sentinel/1"


async def history(client: EtcdClient, prefix: bytes, first: int, last: int) -> list[Applied]:
    """The events etcd recorded under `prefix` in revisions first..last (bounded in time).

    Only those of keys that could be candidates: the session's watch drops the others unseen.
    """
    out: list[Applied] = []
    if last < first:
        return out
    async with asyncio.timeout(10), client.watch_prefix(prefix, start_revision=first) as watch:
        async for item in watch:
            if isinstance(item, WatchEvents):
                out += [a for a in applied(item.events) if a[0] <= last and may_be_candidate_key(a[1])]
                if item.events[-1].revision >= last:
                    return out
    raise AssertionError("history watch ended early")


class AppliedLog:
    """What each ElectionState was fed: `load` revisions and every event passed to `apply`."""

    def __init__(self) -> None:
        self._events: weakref.WeakKeyDictionary[ElectionState, list[Applied]] = weakref.WeakKeyDictionary()
        self._loads: weakref.WeakKeyDictionary[ElectionState, list[int]] = weakref.WeakKeyDictionary()

    def events(self, state: ElectionState) -> list[Applied]:
        return self._events.setdefault(state, [])

    def loads(self, state: ElectionState) -> list[int]:
        return self._loads.setdefault(state, [])


async def wait_connection(dash: LiveSession, *states: ConnectionState, timeout: float) -> ConnectionState:
    try:
        async with asyncio.timeout(timeout):
            while True:
                if dash.cluster.connection in states:
                    break
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(
            f"dashboard never became {states} within {timeout} s "
            f"(it is {dash.cluster.connection}: {dash.cluster.error})"
        ) from None
    return dash.cluster.connection


@dataclass
class ConnectionRecorder:
    """Samples `dash.cluster.connection` every 10 ms and keeps each change (bounded by `stop`)."""

    dash: LiveSession
    seen: list[ConnectionState] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> ConnectionRecorder:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            state = self.dash.cluster.connection
            if not self.seen or self.seen[-1] != state:
                self.seen.append(state)
            await asyncio.sleep(0.01)

    async def stop(self) -> list[ConnectionState]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.seen


@dataclass
class BeliefSampler:
    """Samples candidates every 10 ms; records any moment at which two non-stale ones lead.

    A candidate in `leader` state believes it leads and has no reason to doubt it; `stale`
    ones believe it too but know their lease ran out by their own clock (the visible
    split-brain window). The invariant: at most one `leader` per election at any moment.
    """

    candidates: Sequence[Candidate]
    samples: int = 0
    violations: list[list[str]] = field(default_factory=list)
    stale_seen: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> BeliefSampler:
        self._task = asyncio.create_task(self._run())
        return self

    def check(self) -> None:
        self.samples += 1
        by_name: dict[bytes, list[Candidate]] = {}
        for cand in self.candidates:
            if cand.state is State.LEADER:
                by_name.setdefault(cand.name, []).append(cand)
            elif cand.state is State.STALE:
                self.stale_seen += 1
        for leaders in by_name.values():
            if len(leaders) > 1:
                self.violations.append([repr(c) for c in leaders])

    async def _run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.check()


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released; loopback races are negligible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str
    elapsed: float
    cpu: float  # user + system seconds of the child

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env.update(extra or {})
    return env


def run_cli(args: Sequence[str | bytes], *, timeout: float, env: dict[str, str] | None = None) -> CliRun:
    """Run `python -m election_tui ARGS` (our own child), bounded; report its CPU time too."""
    argv: list[str | bytes] = [sys.executable, "-m", "election_tui", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env if env is not None else cli_env(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # our own child, by its Popen
        proc.communicate()
        raise AssertionError(
            f"election-tui {' '.join(map(str, args))} did not exit within {timeout} s"
        ) from None
    elapsed = time.monotonic() - start
    # The child is reaped: RUSAGE_CHILDREN now includes it (tests run one child at a time).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return CliRun(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), elapsed, cpu)


# --- processes, read from /proc (our own children's trees; never looked up by name) ----------


def etcd_data_root(pid: int) -> Path:
    """The temporary directory an embedded etcd's --data-dir lives in (what EmbeddedEtcd removes)."""
    for arg in cmdline(pid):
        if arg.startswith("--data-dir="):
            return Path(arg.removeprefix("--data-dir=")).parent
    raise AssertionError(f"pid {pid} is not an etcd of ours: {cmdline(pid)}")


def wchan(pid: int) -> str:
    """Where in the kernel the main thread of `pid` sleeps ("futex_wait_queue", "do_epoll_wait", ...)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""
