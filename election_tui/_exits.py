"""Ways out that always end the process: an orderly quit first, a hard exit after a bounded grace.

A quit signal (SIGTERM, SIGINT, SIGHUP) or a lost terminal starts the orderly quit on the event
loop: leases revoked, the app torn down, the embedded etcd stopped. That quit can get stuck where
no loop callback helps (Textual's driver blocked on a stalled terminal, say), so each start also
arms a watchdog thread. If the process still lives `GRACE` seconds later, or at once when a second
SIGTERM/SIGINT comes, the watchdog runs the registered last resorts (bounded, newest first: revoke
the leases left, kill the embedded etcd, remove its directory) and ends the process with `os._exit`.

Nothing here is armed unless `quit_signals` was entered: a test that drives the app in-process
never gets a watchdog that would end the test runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

__all__ = [
    "GRACE",
    "HANGUP_EXIT",
    "QUIT_SIGNALS",
    "arm",
    "hard_exit",
    "last_resort",
    "quit_signals",
    "reclaim_signals",
]

GRACE = 1.5  # seconds from the start of a way out to the hard exit (within the 2 s a hang-up may take)
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
HANGUP_EXIT = 128 + signal.SIGHUP  # the terminal (or the browser's server) went away: 129

_ARM, _NOW = b"A", b"N"

_last_resorts: list[Callable[[], object]] = []
_on_signal: Callable[[int], None] | None = None
_first_signal: int | None = None
_watchdog: _Watchdog | None = None


class _Watchdog:
    """A parked daemon thread; one byte pair down a pipe starts its countdown to `hard_exit`.

    A pipe, not an Event: the signal handler that arms it may interrupt the main thread anywhere,
    even inside a lock; `os.write` of two bytes to a non-blocking pipe takes none.
    """

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._thread = threading.Thread(target=self._run, name="exit-watchdog", daemon=True)
        self._thread.start()

    def arm(self, code: int) -> None:
        self._send(_ARM, code)

    def now(self) -> None:
        self._send(_NOW, 0)

    def _send(self, kind: bytes, code: int) -> None:
        with contextlib.suppress(OSError):  # full (it never is) or closed: nothing better to do here
            os.write(self._write_fd, kind + bytes([code & 0xFF]))

    def _receive(self) -> tuple[bytes, int]:
        data = os.read(self._read_fd, 2)
        return data[:1], data[1] if len(data) > 1 else 1

    def _run(self) -> None:
        kind, code = self._receive()  # parked until the first way out starts
        if kind == _ARM:
            deadline = time.monotonic() + self._grace
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self._read_fd], [], [], left)
                if ready and self._receive()[0] == _NOW:
                    break  # a second SIGTERM/SIGINT: the user insists
        hard_exit(code)


def _get_watchdog() -> _Watchdog:
    global _watchdog
    if _watchdog is None:
        _watchdog = _Watchdog(GRACE)
    return _watchdog


def arm(code: int) -> None:
    """A way out has started: end the process with `code` if it is still alive `GRACE` s from now.

    Only the first call counts; a no-op unless `quit_signals` was entered. Safe from any thread.
    """
    if _watchdog is not None:
        _watchdog.arm(code)


def _handle_signal(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: it runs on the main thread even while the event loop is blocked."""
    global _first_signal
    watchdog = _get_watchdog()
    if _first_signal is not None and signum != signal.SIGHUP:
        watchdog.now()  # a second signal; SIGHUP never insists: one hang-up may be signalled twice
    else:
        watchdog.arm(128 + signum)
    if _first_signal is None:
        _first_signal = signum
    callback = _on_signal
    if callback is not None:
        # E.g. the loop is closed already: the armed watchdog ends the process all the same.
        with contextlib.suppress(Exception):
            callback(signum)


@contextlib.contextmanager
def quit_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """While inside, a quit signal arms the watchdog and calls `on_signal(signum)` on the main thread.

    `on_signal` runs in signal context: it must only hand the work over (`call_soon_threadsafe`).
    The handlers and the watchdog stay in place after the block: once this process has shown its
    dashboard, a signal must still end it while the embedded etcd stops. Main thread only.
    """
    global _on_signal
    _get_watchdog()
    for sig in QUIT_SIGNALS:
        signal.signal(sig, _handle_signal)
    previous, _on_signal = _on_signal, on_signal
    try:
        yield
    finally:
        _on_signal = previous


def reclaim_signals(loop: asyncio.AbstractEventLoop) -> None:
    """Take our quit signals back from handlers a library added on `loop` (Textual's WebDriver does).

    A no-op unless `quit_signals` was entered. Main thread only, like `signal.signal`.
    """
    if _watchdog is None:
        return
    for sig in QUIT_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(sig)
        signal.signal(sig, _handle_signal)


@contextlib.contextmanager
def last_resort(action: Callable[[], object]) -> Iterator[None]:
    """While inside, `action` runs if the process must end by a hard exit; it must bound itself.

    It runs on the watchdog thread while the main thread may be stuck anywhere: it may only touch
    what is safe from another thread (a fresh connection, our own child processes by PID).
    """
    _last_resorts.append(action)
    try:
        yield
    finally:
        for i in range(len(_last_resorts) - 1, -1, -1):
            if _last_resorts[i] is action:
                del _last_resorts[i]
                break


def hard_exit(code: int) -> NoReturn:
    """Run the last resorts, newest first (an error in one never stops the next), then `os._exit`."""
    for action in reversed(list(_last_resorts)):
        with contextlib.suppress(BaseException):
            action()
    os._exit(code)
