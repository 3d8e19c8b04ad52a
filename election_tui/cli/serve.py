"""`election-tui serve`: the same dashboard in a browser, through textual-serve.

Each browser tab runs its own dashboard process against the same cluster (the embedded etcd
of this command when no endpoint was given), so a room can watch one projector.
"""

from __future__ import annotations

import os
import shlex
import sys

from ..etcd import ClientConfig
from .flags import as_flags


def dashboard_command(config: ClientConfig, *, prefix: str = "", demo: bool = False) -> str:
    argv = [sys.executable, "-m", "election_tui", *as_flags(config)]
    if prefix:
        argv += ["--prefix", prefix]
    if demo:
        argv.append("--demo")
    return shlex.join(argv)


def serve(config: ClientConfig, *, host: str, port: int, prefix: str = "", demo: bool = False) -> None:
    from textual_serve.server import Server

    if config.password:
        os.environ["ETCDCTL_PASSWORD"] = config.password  # children read it; never on a command line
    command = dashboard_command(config, prefix=prefix, demo=demo)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can drive your cluster", file=sys.stderr)
    Server(command, host=host, port=port, title="election-tui").serve()
