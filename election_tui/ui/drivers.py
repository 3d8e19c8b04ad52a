"""Textual's terminal and web drivers, made to let go when their terminal or server goes away.

Measured on Textual 8 with a closed terminal (pty master closed, `tmux kill-session`):
- a hung-up tty answers reads with EOF, and `LinuxDriver`'s input thread then reads EOF in a
  loop at 100% CPU (it only leaves that loop when the app shuts down);
- writes fail with EIO: the writer thread dies of it, its queue (30 writes) fills, and the next
  `write` or the `close()` at shutdown blocks the main thread forever in `Queue.put`;
- the hang-up also brings SIGCONT, on which `LinuxDriver` restarts application mode on the dead
  tty (new threads) although nothing was suspended.
Under textual-serve, `WebDriver`'s input thread ends quietly when the server closes our stdin, and
the app lives on with nobody to talk to (its leases kept alive, forever).

So: a lost terminal is detected (POLLHUP on stdin, EOF from the server, a write error), output is
dropped from then on, the input loop is stopped, the watchdog is armed and the app is told with a
`TerminalLost` message, which it handles like SIGHUP.
"""

from __future__ import annotations

import asyncio
import select
import threading
from collections.abc import Callable
from typing import IO, Any

from textual.app import App
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver
from textual.message import Message

from .. import _exits

__all__ = ["ServedDriver", "TerminalDriver", "TerminalLost", "sturdy_driver"]

_CLOSE_BUDGET = 0.5  # seconds Textual's writer thread gets to finish at shutdown
_POLL_MS = 500  # the hang-up watch checks this often whether the driver was closed


class TerminalLost(Message):
    """The terminal (or textual-serve's pipe) is gone: nothing can be shown or typed any more."""

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why


def _lost(app: App[Any], why: str) -> None:
    """Arm the watchdog (the loop may be blocked), then tell the app; from any thread."""
    _exits.arm(_exits.HANGUP_EXIT)
    app.post_message(TerminalLost(why))


class _TerminalOutput:
    """The file Textual's writer thread writes to: the first error means the terminal is gone.

    From then on every write is dropped, so the writer thread keeps draining its queue instead of
    dying and leaving the next `put` blocked forever.
    """

    def __init__(self, file: IO[str], on_error: Callable[[str], None]) -> None:
        self._file = file
        self._on_error = on_error
        self.ok = True

    def write(self, text: str) -> int:
        if self.ok:
            try:
                self._file.write(text)
            except (OSError, ValueError) as err:
                self._fail(err)
        return len(text)

    def flush(self) -> None:
        if self.ok:
            try:
                self._file.flush()
            except (OSError, ValueError) as err:
                self._fail(err)

    def fileno(self) -> int:
        return self._file.fileno()

    def _fail(self, err: Exception) -> None:
        self.ok = False
        self._on_error(f"writing to the terminal failed: {err}")


class TerminalDriver(LinuxDriver):
    """`LinuxDriver` that ends cleanly when its terminal hangs up (see the module docstring)."""

    def __init__(
        self, app: App[Any], *, debug: bool = False, mouse: bool = True, size: tuple[int, int] | None = None
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._terminal_gone = threading.Event()
        self._closed = threading.Event()
        self._suspended = False
        self._hangup_watch: threading.Thread | None = None
        if self._file is not None:  # the writer thread is made from it in start_application_mode
            self._file = _TerminalOutput(self._file, self._gone)  # type: ignore[assignment]

    def _gone(self, why: str) -> None:
        if self._terminal_gone.is_set():
            return
        self._terminal_gone.set()
        self.exit_event.set()  # Textual's input thread would read EOF in a loop
        _lost(self._app, why)

    def start_application_mode(self) -> None:
        super().start_application_mode()  # type: ignore[no-untyped-call]
        self._closed.clear()  # again after a suspend (Ctrl+Z, App.suspend) closed us
        if self._hangup_watch is None or not self._hangup_watch.is_alive():
            self._hangup_watch = threading.Thread(target=self._watch_hangup, name="hangup-watch", daemon=True)
            self._hangup_watch.start()

    def _watch_hangup(self) -> None:
        """Wait for POLLHUP/POLLERR on stdin (asking for no input events, so typing never wakes it)."""
        poller = select.poll()
        poller.register(self.fileno, 0)
        while not self._closed.is_set():  # bounded by application mode: close() sets it
            if poller.poll(_POLL_MS):
                self._gone("the terminal hung up")
                return

    def write(self, data: str) -> None:
        if not self._terminal_gone.is_set():
            super().write(data)

    def suspend_application_mode(self) -> None:
        self._suspended = True
        super().suspend_application_mode()

    def resume_application_mode(self) -> None:
        # Also called on any SIGCONT, including the one a hang-up sends: resume only what we
        # suspended, and never onto a terminal that is gone.
        if not self._suspended or self._terminal_gone.is_set():
            return
        self._suspended = False
        super().resume_application_mode()

    def close(self) -> None:
        """Stop the writer thread, but wait for it only so long: a stalled terminal may never drain."""
        self._closed.set()
        closer = threading.Thread(target=super().close, name="driver-close", daemon=True)
        closer.start()
        closer.join(_CLOSE_BUDGET)


class ServedDriver(WebDriver):
    """`WebDriver` that quits when textual-serve goes away, and whose signals stay ours."""

    def __init__(
        self, app: App[Any], *, debug: bool = False, mouse: bool = True, size: tuple[int, int] | None = None
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._server_gone = threading.Event()

    def _gone(self, why: str) -> None:
        if not self._server_gone.is_set():
            self._server_gone.set()
            _lost(self._app, why)

    def start_application_mode(self) -> None:
        super().start_application_mode()
        # WebDriver just put its own SIGINT/SIGTERM handlers on the loop; ours arm the watchdog.
        _exits.reclaim_signals(asyncio.get_running_loop())

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # not stopped by us: EOF, the server closed our stdin
            self._gone("textual-serve closed the app's input")

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        if packet_type == "quit":  # the browser went: Textual exits; bound that in time too
            _exits.arm(_exits.HANGUP_EXIT)
        super().on_meta(packet_type, payload)

    def write(self, data: str) -> None:
        self._write_or_let_go(WebDriver.write, data)

    def write_meta(self, data: dict[str, object]) -> None:
        self._write_or_let_go(WebDriver.write_meta, data)

    def write_binary_encoded(self, data: tuple[str | bytes, ...]) -> None:
        self._write_or_let_go(WebDriver.write_binary_encoded, data)

    def _write_or_let_go(self, write: Callable[[WebDriver, Any], None], data: Any) -> None:
        """A write to textual-serve's pipe; a broken pipe means the server is gone, and then so are we."""
        if not self._server_gone.is_set():
            try:
                write(self, data)
            except OSError as err:
                self._gone(f"writing to textual-serve failed: {err}")


def sturdy_driver(driver_class: type[Driver]) -> type[Driver]:
    """Ours in place of Textual's terminal and web drivers; any other driver as it is."""
    if driver_class is LinuxDriver:
        return TerminalDriver
    if driver_class is WebDriver:
        return ServedDriver
    return driver_class
