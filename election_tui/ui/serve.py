"""`election-tui serve`: the same dashboard in a browser, through textual-serve.

Each browser tab runs its own dashboard process against the same cluster (the embedded etcd
of this command when no endpoint was given), so a room can watch one projector.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from typing import Any

from ..config import ConnectionConfig

# Stopping `serve` waits this long for the dashboards to end by themselves (each revokes its leases
# within its own bound, see ui/app.py); the rest end on their own when our pipes close.
SESSIONS_BUDGET = 5.0


def dashboard_command(config: ConnectionConfig, *, prefix: str = "", demo: bool = False) -> str:
    argv = [sys.executable, "-m", "election_tui", *config.flags()]
    if prefix:
        argv += ["--prefix", prefix]
    if demo:
        argv.append("--demo")
    return shlex.join(argv)


def _server_class() -> Any:
    from textual_serve.server import Server

    class SessionsServer(Server):
        """textual-serve's server, except that stopping it ends every browser's dashboard at once.

        aiohttp's graceful stop waits (up to 60 s) for open websockets, and textual-serve leaves them
        open, so with a browser connected `serve` ignored SIGTERM that long. Cancelling a session
        makes textual-serve tell its app to quit and wait until the app has exited.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._sessions: set[asyncio.Task[Any]] = set()

        async def handle_websocket(self, request: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self._sessions.discard(task)

        async def on_shutdown(self, app: Any) -> None:
            sessions = set(self._sessions)
            for task in sessions:
                task.cancel()
            if sessions:
                await asyncio.wait(sessions, timeout=SESSIONS_BUDGET)

    return SessionsServer


def serve(config: ConnectionConfig, *, host: str, port: int, prefix: str = "", demo: bool = False) -> None:
    Server = _server_class()

    if config.password:
        os.environ["ETCDCTL_PASSWORD"] = config.password  # children read it; never on a command line
    command = dashboard_command(config, prefix=prefix, demo=demo)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can drive your cluster", file=sys.stderr)
    Server(command, host=host, port=port, title="election-tui").serve()
