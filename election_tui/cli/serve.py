"""`election-tui serve`: the same dashboard in a browser, through textual-serve.

Each browser tab runs its own dashboard process against the same cluster (the embedded etcd
of this command when no endpoint was given), so a room can watch one projector.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys

from ..etcd import ClientConfig
from .flags import ConfigError, as_flags


def dashboard_command(
    config: ClientConfig, *, prefix: str = "", demo: bool = False, pace: float = 0.0
) -> str:
    argv = [sys.executable, "-m", "election_tui", *as_flags(config)]
    if prefix:
        argv += ["--prefix", prefix]
    if demo:
        argv.append("--demo")
    if pace:
        argv += ["--pace", f"{pace:g}"]
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


def serve(
    config: ClientConfig, *, host: str, port: int, prefix: str = "", demo: bool = False, pace: float = 0.0
) -> None:
    from textual_serve.server import Server

    if config.password:
        os.environ["ETCDCTL_PASSWORD"] = config.password  # children read it; never on a command line
    command = dashboard_command(config, prefix=prefix, demo=demo, pace=pace)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can drive your cluster", file=sys.stderr)
    Server(command, host=host, port=port, title="election-tui").serve()
