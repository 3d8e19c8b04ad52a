"""Case 12: the real `election-tui --demo` under a pty; q, Ctrl+C, SIGTERM and SIGHUP each leave
zero leases of ours behind."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator

import pytest
from helpers import eventually, stop_process

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient
from election_tui.live import DEMO_ELECTIONS

from ._support import ClientFactory, cli_env

pytestmark = pytest.mark.fault

DEMO_CANDIDATES = sum(count for _name, count, _ttl in DEMO_ELECTIONS)


@pytest.fixture(scope="module")
def exit_etcd() -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="fault-exits") as etcd:
        yield etcd


class Terminal:
    """A pty running our own child process; its output is drained so it never blocks."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.master = master
        self.output = bytearray()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=cli_env({"TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}),
                start_new_session=True,  # a signal meant for the test runner never reaches it
                close_fds=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.master, 65536):
                self.output += chunk

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        stop_process(self.proc)  # by our own Popen, only if still running
        with contextlib.suppress(OSError):
            os.close(self.master)
        self._reader.join(timeout=2)


async def _ours(client: EtcdClient, prefix: bytes) -> int:
    return (await client.get_prefix(prefix)).count


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP"])
async def test_each_way_out_revokes_every_lease_of_ours(
    exit_etcd: EmbeddedEtcd, prefix: bytes, how: str, clients: ClientFactory
) -> None:
    client = clients(exit_etcd.endpoints)
    before = set(await client.leases())
    argv = [
        sys.executable,
        "-m",
        "election_tui",
        "--endpoints",
        exit_etcd.endpoints[0],
        "--prefix",
        prefix.decode(),
        "--demo",
    ]
    term = Terminal(argv)
    try:
        await eventually(
            lambda: _ours_all(client, prefix), timeout=20, what=f"the {DEMO_CANDIDATES} demo candidates' keys"
        )
        ours = set(await client.leases()) - before
        assert len(ours) == DEMO_CANDIDATES

        if how == "q":
            term.type(b"q")
        elif how == "ctrl+c":
            term.type(b"\x03")  # the app's raw terminal turns it into a key, not SIGINT
        else:
            term.proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP)
        code = await asyncio.to_thread(term.proc.wait, 15)
    finally:
        term.close()

    assert code == 0, bytes(term.output[-2000:])
    assert set(await client.leases()) - before == set()  # nothing of ours outlives the app
    assert await _ours(client, prefix) == 0


async def _ours_all(client: EtcdClient, prefix: bytes) -> bool:
    return await _ours(client, prefix) == DEMO_CANDIDATES
