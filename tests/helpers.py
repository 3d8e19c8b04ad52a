"""Bounded waiting helpers for the client tests: poll a condition until a deadline, never hope."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, overload

if TYPE_CHECKING:
    from textual.pilot import Pilot

T = TypeVar("T")

Grant = Callable[[], Awaitable[int]]  # the `grant` fixture: a fresh 10 s lease id, revoked after the test


# The answer is truthy, so never None: `await eventually(lambda: client.get(key))` is a KeyValue.
@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float, interval: float = ..., what: str = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None], *, timeout: float, interval: float = ..., what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Call (and await, if need be) `check()` until it gives something truthy; fail after `timeout` s."""
    last: Any = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                last = await result if inspect.isawaitable(result) else result
                if last:
                    return last
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})") from None


def wait_until(
    check: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """The blocking twin of `eventually`, for sync tests."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")
        time.sleep(interval)


class LineReader:
    """Collects a subprocess's output lines on a thread, so the test can wait for one with a bound."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[bytes] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            with self._changed:
                self.lines.append(line.rstrip(b"\n"))
                self._changed.notify_all()

    def wait_for(self, wanted: Callable[[list[bytes]], bool], timeout: float) -> list[bytes]:
        with self._changed:
            if not self._changed.wait_for(lambda: wanted(self.lines), timeout):
                raise AssertionError(f"expected output not seen within {timeout} s; got {self.lines!r}")
            return list(self.lines)

    async def wait_for_async(self, wanted: Callable[[list[bytes]], bool], timeout: float) -> list[bytes]:
        return await asyncio.to_thread(self.wait_for, wanted, timeout)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Kill a Popen we started (by its own handle) and reap it."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored: rarely waits
        proc.wait(timeout=timeout)


# --- processes, read from /proc (our own children's trees; never looked up by name) ----------


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (R, S, D, T, Z, ...), or None when there is no such pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :][:1]


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (exited, not reaped by whoever inherited it) counts as gone."""
    return proc_state(pid) not in (None, "Z", "X")


def children(pid: int) -> list[int]:
    """The child processes of every thread of `pid` (a child belongs to the thread that forked it)."""
    found: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in path.read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = children(pid)
    while todo:  # bounded: a process tree is finite and has no cycles
        child = todo.pop()
        out.append(child)
        todo += children(child)
    return out


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def binary_version(etcd: Path) -> str:
    """What `etcd --version` says the binary is ("3.4.23"), independently of any server's answer."""
    out = subprocess.run([str(etcd), "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"etcd Version: (\S+)", out)
    return found.group(1) if found else "unknown"


def pause_and_cut_report() -> Any:
    """A network-partition drill's report, made up: a paused leader that still believed for 1 s
    after the new election, a black-holed one that had given up first, and a resign whose old
    leader's belief was never seen (overlap unknown). For format tests that need no etcd."""
    from election_tui.drill import DrillReport, Failover, load_scenario

    def row(index: int, how: Any, believed: float | None) -> Failover:
        t = 10.0 * index
        return Failover(
            index, 2 + index, how, 3.5, f"c{index}", f"k{index}", t, t, t + 2.0, 10 + index,
            t + 2.01, f"c{index + 1}", f"k{index + 1}", None if believed is None else t + 2.01 + believed,
        )  # fmt: skip

    report = DrillReport(load_scenario("network-partition"), b"drill/network-partition", 0.0, 0.0, 40.0, 3)
    report.failovers += [row(1, "pause", 1.0), row(2, "blackhole", -0.2), row(3, "resign", None)]
    return report


async def until(
    pilot: Pilot[Any],
    predicate: Callable[[], T | Literal[False] | None],
    what: str = "condition",
    *,
    timeout: float = 10.0,
) -> T:
    """Poll `predicate` between short pauses of the app until it is truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s (last: {result!r})")
        await pilot.pause(0.05)
