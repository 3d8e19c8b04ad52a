"""Case 12: every way out of the real `election-tui` ends the process, in bounded time.

The app runs under a pty that is its controlling terminal (as in a terminal emulator), under tmux,
and under `election-tui serve` with a websocket client. q, Ctrl+C, SIGTERM, SIGHUP, a closed
terminal, a killed tmux session, SIGTERM while stuck on a stalled terminal, SIGKILL, a browser that
leaves (early or late) and a `serve` that stops: each leaves no lease of ours, no etcd of ours and
no temporary directory behind. Processes are found in our own children's trees (/proc), never by
name, and signalled by those PIDs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from helpers import alive, children, cmdline, descendants, eventually, stop_process

from election_tui._exits import GRACE
from election_tui.embedded import EmbeddedEtcd, sweep_orphaned_dirs
from election_tui.etcd import EtcdClient
from election_tui.live import DEMO_ELECTIONS

from ._support import ClientFactory, cli_env, closed_port, etcd_data_root, wchan

pytestmark = pytest.mark.fault

DEMO_CANDIDATES = sum(count for _name, count, _ttl in DEMO_ELECTIONS)
START = 20.0  # seconds the app may take to start, connect and launch its demo candidates
HANGUP_BOUND = 2.0  # a closed terminal: the app, its etcd and its temp dir gone within this
KILL_BOUND = 2.0  # SIGKILL of the app: its embedded etcd gone within this
SERVE_BOUND = 3.0  # a browser gone or `serve` stopped: that browser's app process gone within this
ROWS, COLS = 40, 140

# Make the pty our child's controlling terminal, as a terminal emulator does, then become the app
# (same PID): closing the pty then hangs it up (SIGHUP, EOF, EIO) and a resize sends SIGWINCH.
_CTTY = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.argv[1], sys.argv[1:])"
# The same terminal, and the app started in the background of it, as a shell's `app &` does.
_BACKGROUND = """
import fcntl, os, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "election_tui", *args]


@pytest.fixture(scope="module")
def exit_etcd() -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="fault-exits") as etcd:
        yield etcd


class Terminal:
    """A pty running our own child (as its controlling terminal by default); output is drained."""

    def __init__(self, argv: list[str], *, controlling: bool = True) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.master = master
        self.output = bytearray()
        self._draining = threading.Event()
        self._draining.set()
        self._stop = threading.Event()
        self._hung_up = False
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CTTY, *argv] if controlling else argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=cli_env({"TERM": "xterm-256color"}),
                start_new_session=True,  # its own session, so that the pty can become its terminal
                close_fds=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._stop.is_set():  # bounded: hang_up() / close() set it
            if not self._draining.is_set():
                self._stop.wait(0.05)
                continue
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave fd is closed, the app is gone
                return
            if not chunk:
                return
            self.output = (self.output + chunk)[-65536:]

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def stop_reading(self) -> None:
        """A terminal that stalls: nothing reads what the app writes any more."""
        self._draining.clear()

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does (the reader first: a read in flight
        would keep the pty open)."""
        if self._hung_up:
            return
        self._hung_up = True
        self._stop.set()
        self._reader.join(timeout=2)
        os.close(self.master)

    def close(self) -> None:
        stop_process(self.proc)  # by our own Popen, only if still running
        self.hang_up()


async def _ours(client: EtcdClient, prefix: bytes) -> int:
    return (await client.get_prefix(prefix)).count


async def _our_leases(client: EtcdClient, before: set[int]) -> set[int]:
    return set(await client.leases()) - before


async def _wait_demo(client: EtcdClient, prefix: bytes) -> None:
    async def all_there() -> bool:
        return await _ours(client, prefix) == DEMO_CANDIDATES

    await eventually(all_there, timeout=START, what=f"the {DEMO_CANDIDATES} demo candidates' keys")


def _only_etcd_child(pid: int) -> int | None:
    """The embedded etcd our app started: its one child whose argv[0] is an etcd binary."""
    etcds = [c for c in children(pid) if Path((cmdline(c) or [""])[0]).name == "etcd"]
    return etcds[0] if len(etcds) == 1 else None


def _etcd_endpoint(pid: int) -> str:
    for arg in cmdline(pid):
        if arg.startswith("--listen-client-urls="):
            return arg.removeprefix("--listen-client-urls=").removeprefix("http://")
    raise AssertionError(f"no client URL in {cmdline(pid)}")


async def _gone_within(pids: list[int], bound: float, what: str) -> float:
    """Seconds until every pid is gone (a zombie counts as gone); fail past `bound` (+ slack to say how long)."""
    start = time.monotonic()
    await eventually(lambda: not any(alive(p) for p in pids), timeout=bound + 5, interval=0.01, what=what)
    took = time.monotonic() - start
    assert took < bound, f"{what} took {took:.2f} s (bound {bound} s)"
    return took


# --------------------------------------------------------------------------- under a terminal


WAYS_OUT = {"q": 0, "ctrl+c": 0, "SIGTERM": 0, "SIGHUP": 129, "terminal closed": 129}


@pytest.mark.parametrize("how", list(WAYS_OUT))
async def test_each_way_out_revokes_every_lease_of_ours(
    exit_etcd: EmbeddedEtcd, prefix: bytes, how: str, clients: ClientFactory
) -> None:
    client = clients(exit_etcd.endpoints)
    before = set(await client.leases())
    term = Terminal(cli("--endpoints", exit_etcd.endpoints[0], "--prefix", prefix.decode(), "--demo"))
    try:
        await _wait_demo(client, prefix)
        assert len(await _our_leases(client, before)) == DEMO_CANDIDATES

        start = time.monotonic()
        if how == "q":
            term.type(b"q")
        elif how == "ctrl+c":
            term.type(b"\x03")  # the app's raw terminal turns it into a key, not SIGINT
        elif how == "terminal closed":
            term.hang_up()
        else:
            term.proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP)
        code = await asyncio.to_thread(term.proc.wait, 15)
        took = time.monotonic() - start
    finally:
        term.close()

    assert code == WAYS_OUT[how], bytes(term.output[-2000:])
    assert took < HANGUP_BOUND, f"{how}: {took:.2f} s"
    assert await _our_leases(client, before) == set()  # nothing of ours outlives the app
    assert await _ours(client, prefix) == 0


@pytest.mark.parametrize("controlling", [True, False], ids=["with SIGHUP", "no SIGHUP, only the hang-up"])
async def test_a_closed_terminal_ends_the_app_its_etcd_and_its_temp_dir(
    controlling: bool, clients: ClientFactory
) -> None:
    term = Terminal(cli("--demo"), controlling=controlling)  # on its own embedded etcd
    try:
        etcd_pid = await eventually(lambda: _only_etcd_child(term.proc.pid), timeout=START, what="the etcd")
        data_root = etcd_data_root(etcd_pid)
        await _wait_demo(clients(_etcd_endpoint(etcd_pid)), b"demo/")

        start = time.monotonic()
        term.hang_up()
        code = await asyncio.to_thread(term.proc.wait, 15)
        took = time.monotonic() - start
    finally:
        term.close()

    assert code == 129, bytes(term.output[-2000:])
    assert took < HANGUP_BOUND, f"{took:.2f} s"
    assert not alive(etcd_pid)  # stopped (and reaped) by the app before it exited
    assert not data_root.exists()


async def test_a_dashboard_started_in_the_background_says_so_and_exits_2(exit_etcd: EmbeddedEtcd) -> None:
    term = Terminal(
        [sys.executable, "-c", _BACKGROUND, *cli("--endpoints", exit_etcd.endpoints[0])], controlling=False
    )
    try:
        code = await asyncio.to_thread(term.proc.wait, 15)  # stopped by SIGTTIN, it would not end
    finally:
        for pid in descendants(term.proc.pid):  # the app itself, if it hangs stopped
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        term.close()
    output = bytes(term.output).decode(errors="replace")
    assert code == 2, output[-2000:]
    assert "needs the terminal's foreground" in output and "Traceback" not in output


async def test_killing_the_tmux_session_ends_the_app_its_etcd_and_its_temp_dir(
    tmp_path: Path, clients: ClientFactory
) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    sock = str(tmp_path / "tmux.sock")  # a server of our own, not the user's
    base = [tmux, "-S", sock, "-f", os.devnull]
    env = cli_env()

    def tmux_run(*args: str) -> str:
        done = subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    command = "exec " + shlex.join(cli("--demo"))  # exec: the pane's process is the app itself
    tmux_run("new-session", "-d", "-s", "exits", "-x", str(COLS), "-y", str(ROWS), command)
    server = int(tmux_run("display-message", "-p", "-t", "exits", "#{pid}"))
    app = int(tmux_run("display-message", "-p", "-t", "exits", "#{pane_pid}"))
    try:
        etcd_pid = await eventually(lambda: _only_etcd_child(app), timeout=START, what="the etcd")
        data_root = etcd_data_root(etcd_pid)
        await _wait_demo(clients(_etcd_endpoint(etcd_pid)), b"demo/")

        tmux_run("kill-session", "-t", "exits")
        await _gone_within([app, etcd_pid], HANGUP_BOUND, "the app and its etcd after kill-session")
        assert not data_root.exists()
    finally:
        for pid, sig in ((app, signal.SIGKILL), (server, signal.SIGTERM)):  # ours, by PID, if left
            if alive(pid):
                os.kill(pid, sig)


async def _wchan_readable(pid: int) -> bool:
    """Whether wchan ever names a place (it reads "0" while running, or always when restricted)."""
    for _ in range(100):  # 2 s at most
        if wchan(pid) not in ("", "0"):
            return True
        await asyncio.sleep(0.02)
    return False


def _main_thread_blocked(pid: int) -> bool:
    """The app's main thread (its event loop) sleeps on a lock, not in epoll: it is stuck."""
    return wchan(pid).startswith("futex")


@pytest.mark.parametrize("sigterms", [1, 2])
async def test_sigterm_ends_an_app_stuck_on_a_stalled_terminal(
    exit_etcd: EmbeddedEtcd, prefix: bytes, sigterms: int, clients: ClientFactory
) -> None:
    """The terminal stops reading: Textual's writer thread blocks, then the main thread on its full
    queue, where no loop callback can run. SIGTERM still ends the app after the grace (a second
    SIGTERM at once), and the watchdog's last resort revokes the leases over a new connection."""
    client = clients(exit_etcd.endpoints)
    before = set(await client.leases())
    term = Terminal(cli("--endpoints", exit_etcd.endpoints[0], "--prefix", prefix.decode(), "--demo"))
    try:
        await _wait_demo(client, prefix)
        if not await _wchan_readable(term.proc.pid):
            pytest.skip("/proc/<pid>/wchan says nothing here (restricted by the kernel)")
        term.stop_reading()
        stuck = flips = 0
        deadline = time.monotonic() + 15
        while stuck < 10 and time.monotonic() < deadline:  # blocked for 10 samples in a row
            flips += 1
            term.resize(ROWS, COLS - flips % 2)  # each resize redraws the whole screen
            await asyncio.sleep(0.05)
            stuck = stuck + 1 if _main_thread_blocked(term.proc.pid) else 0
        assert stuck >= 10, "the app never blocked on the stalled terminal"

        start = time.monotonic()
        for _ in range(sigterms):
            term.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)  # apart, so that the kernel does not merge two into one pending
        code = await asyncio.to_thread(term.proc.wait, 15)
        took = time.monotonic() - start
    finally:
        term.close()

    assert code == 128 + signal.SIGTERM  # the hard exit: the orderly one could not run
    bound = GRACE + 0.5 if sigterms == 1 else GRACE
    assert took < bound, f"{took:.2f} s"
    assert await _our_leases(client, before) == set()
    assert await _ours(client, prefix) == 0


def _headless_app(*args: str) -> subprocess.Popen[bytes]:
    """The app on textual-serve's web driver, over pipes: no terminal needed."""
    return subprocess.Popen(
        cli(*args),
        stdin=subprocess.PIPE,  # kept open: at EOF the app would quit (the server went away)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env({"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}),
    )


async def test_sigkill_of_the_app_takes_its_etcd_along(clients: ClientFactory) -> None:
    proc = _headless_app("--demo")
    data_root: Path | None = None
    try:
        etcd_pid = await eventually(lambda: _only_etcd_child(proc.pid), timeout=START, what="the etcd")
        data_root = etcd_data_root(etcd_pid)
        await _wait_demo(clients(_etcd_endpoint(etcd_pid)), b"demo/")

        proc.kill()  # no cleanup of ours runs: the kernel must take etcd down
        await asyncio.to_thread(proc.wait, 5)
        await _gone_within([etcd_pid], KILL_BOUND, "the orphaned etcd")
        assert data_root.exists()  # nothing of ours ran: the next start sweeps it
        assert data_root in sweep_orphaned_dirs(data_root.parent)
        assert not data_root.exists()
    finally:
        stop_process(proc)
        if data_root is not None:
            shutil.rmtree(data_root, ignore_errors=True)  # nobody else can remove it after a SIGKILL


# --------------------------------------------------------------------------- under textual-serve


class Served:
    """`election-tui serve` of our own, and the app processes it starts for each browser."""

    def __init__(self, *args: str) -> None:
        self.port = closed_port()  # free now; serve binds it
        self.proc = subprocess.Popen(
            cli("serve", "--port", str(self.port), *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=cli_env(),
            start_new_session=True,
        )
        self.seen: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def apps(self) -> list[int]:
        """Every process under `serve` (the shell textual-serve runs, the app under it), noted."""
        found = [p for p in descendants(self.proc.pid) if alive(p)]
        self.seen.update(found)
        return found

    async def wait_up(self, session: aiohttp.ClientSession) -> None:
        async def answers() -> bool:
            try:
                async with session.get(self.url) as reply:
                    return reply.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(answers, timeout=START, interval=0.1, what="serve answering")

    def close(self) -> None:
        for pid in self.seen:  # ours, by PID, if a failed test left them
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        stop_process(self.proc)


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read like a browser does, so that a close handshake from the server gets its answer."""
    async for _message in ws:
        pass


@pytest.mark.parametrize("how", ["browser closes", "browser leaves early", "serve stops", "serve killed"])
async def test_each_browsers_app_ends_when_the_browser_or_serve_goes(
    exit_etcd: EmbeddedEtcd, prefix: bytes, how: str, clients: ClientFactory
) -> None:
    client = clients(exit_etcd.endpoints)
    before = set(await client.leases())
    served = Served("--endpoints", exit_etcd.endpoints[0], "--prefix", prefix.decode(), "--demo")
    session = aiohttp.ClientSession()
    try:
        await served.wait_up(session)
        ws = await session.ws_connect(f"{served.url}/ws?width={COLS}&height={ROWS}")
        reader = asyncio.create_task(_drain(ws))
        if how == "browser leaves early":
            await session.close()  # the TCP connection goes, no close frame: a tab killed at once
            await eventually(served.apps, timeout=START, interval=0.01, what="the browser's app process")
            await eventually(
                lambda: not served.apps(), timeout=START, interval=0.02, what="the app ending on its own"
            )
        else:
            await _wait_demo(client, prefix)
            apps = served.apps()
            assert apps, "no app process under serve"
            if how == "browser closes":
                await ws.close()
            elif how == "serve stops":
                served.proc.send_signal(signal.SIGTERM)
            else:
                served.proc.kill()
            await _gone_within(apps, SERVE_BOUND, f"the browser's app processes ({how})")
            if how == "serve stops":
                assert await asyncio.to_thread(served.proc.wait, SERVE_BOUND) == 0
        if how.startswith("browser"):
            assert served.proc.poll() is None, "serve itself must keep serving"
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await reader
    finally:
        await session.close()
        served.close()

    assert served.seen, "no app process was ever seen under serve"
    assert not any(alive(p) for p in served.seen)
    assert await _our_leases(client, before) == set()
    assert await _ours(client, prefix) == 0
