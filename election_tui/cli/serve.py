"""`election-tui serve`: the same dashboard in a browser, through textual-serve.

Each browser tab runs its own dashboard process against the same cluster (the embedded etcd
of this command when no endpoint was given), so a room can watch one projector.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import sys
from typing import Any

from ..etcd import ClientConfig
from .flags import ConfigError, as_flags

# Stopping `serve` waits this long for the dashboards to end by themselves (each revokes its leases
# within its own bound, see ui/app.py); the rest end on their own when our pipes close.
SESSIONS_BUDGET = 5.0
DEFAULT_FONT_SIZE = 16  # textual-serve's own


def dashboard_command(
    config: ClientConfig, *, prefix: str = "", demo: bool = False, pace: float = 0.0, theme: str | None = None
) -> str:
    argv = [sys.executable, "-m", "election_tui", *as_flags(config)]
    if prefix:
        argv += ["--prefix", prefix]
    if demo:
        argv.append("--demo")
    if pace:
        argv += ["--pace", f"{pace:g}"]
    if theme:
        argv += ["--theme", theme]
    return shlex.join(argv)


def check_listen(host: str, port: int) -> None:
    """Bind (and let go of) every address the server will listen on, so a taken port or an
    unknown host is one clear line now instead of a traceback after the cluster started."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        raise ConfigError(f"--host {host!r} is not an address to listen on ({err})") from None
    for family, kind, proto, _name, address in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
                sock.bind(address)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def server_class(font_size: int) -> Any:
    from aiohttp import web
    from textual_serve.server import Server

    class SessionsServer(Server):
        """textual-serve's server, except that stopping it ends every browser's dashboard at once,
        and a page opened without `?fontsize=` gets ours (a projector wants large type).

        aiohttp's graceful stop waits (up to 60 s) for open websockets, and textual-serve leaves them
        open, so with a browser connected `serve` ignored SIGTERM that long. Cancelling a session
        makes textual-serve tell its app to quit and wait until the app has exited.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._sessions: set[asyncio.Task[Any]] = set()

        async def handle_index(self, request: web.Request) -> Any:
            if font_size != DEFAULT_FONT_SIZE and "fontsize" not in request.query:
                raise web.HTTPFound(request.rel_url.update_query(fontsize=str(font_size)))
            return await super().handle_index(request)

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


def serve(
    config: ClientConfig,
    *,
    host: str,
    port: int,
    prefix: str = "",
    demo: bool = False,
    pace: float = 0.0,
    theme: str | None = None,
    font_size: int = DEFAULT_FONT_SIZE,
) -> None:
    Server = server_class(font_size)

    if config.password:
        os.environ["ETCDCTL_PASSWORD"] = config.password  # children read it; never on a command line
    command = dashboard_command(config, prefix=prefix, demo=demo, pace=pace, theme=theme)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can drive your cluster", file=sys.stderr)
    Server(command, host=host, port=port, title="election-tui").serve()
