"""`election-tui`: argument parsing and config from flags + ETCDCTL_* env; picks a mode.

With no command it opens the dashboard (on the embedded etcd unless endpoints are given); the
headless commands follow etcdctl's conventions and exit 2 with one line on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

from .config import ConfigError, ConnectionConfig, add_connection_flags, connection_config
from .etcd import EtcdError

USAGE_EXIT = 2
ETCDCTL_DEFAULT = ("127.0.0.1:2379",)


class _Parser(argparse.ArgumentParser):
    """argparse, except that bad input gets one line on stderr (not the usage) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="election-tui",
        description="See and drive etcd leader elections. With no command: the dashboard.",
    )
    add_connection_flags(parser)
    parser.add_argument("--prefix", default="", help="watch only keys under this prefix (default: all)")
    parser.add_argument("--demo", action="store_true", help="launch a few candidates to show life at once")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, argument_default=argparse.SUPPRESS)
        add_connection_flags(p)
        return p

    p = command("observe", "print the leader's value each time it changes (like etcdctl elect -l)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = command("campaign", "campaign, hold leadership until Ctrl+C / SIGTERM, then resign and revoke")
    p.add_argument("name")
    p.add_argument("value")
    p.add_argument("--ttl", default="10", help="lease TTL in seconds (10)")
    p.add_argument("--timeout", type=float, default=None, help="give up if not elected in S seconds")
    p.add_argument("--json", action="store_true")
    p = command("leader", "print the current leader's value (its key and lease with --json)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = command("list", "every election, its leader's value and candidate count")
    p.add_argument("--prefix", default="", help="only elections under this prefix")
    p.add_argument("--json", action="store_true")
    p = command("drill", "run a failover drill file (or a shipped one: resign, expiry, crash, partition)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p = command("serve", "serve the dashboard to a browser through textual-serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--prefix", default="")
    p.add_argument("--demo", action="store_true")
    return parser


def _defaults(args: argparse.Namespace) -> None:
    for name in ("endpoints", "cacert", "cert", "key", "user", "dial_timeout", "command_timeout"):
        if not hasattr(args, name):
            setattr(args, name, None)
    for name, value in (("json", False), ("prefix", ""), ("demo", False)):
        if not hasattr(args, name):
            setattr(args, name, value)


@contextlib.contextmanager
def _cluster(config: ConnectionConfig) -> Iterator[ConnectionConfig]:
    """The given cluster, or a throwaway embedded etcd when no endpoint was given."""
    if config.endpoints:
        yield config
        return
    from ._exits import last_resort
    from .embedded import EmbeddedEtcd, EmbeddedEtcdError

    etcd = EmbeddedEtcd()
    print("starting an embedded etcd…", file=sys.stderr)
    try:
        etcd.start()
    except EmbeddedEtcdError as err:
        raise ConfigError(str(err)) from None
    with last_resort(etcd.kill):  # a hard exit must not leave it behind either
        try:
            yield ConnectionConfig(endpoints=tuple(etcd.endpoints))
        finally:
            etcd.stop()


def _run(args: argparse.Namespace) -> int:
    from . import commands

    command = args.command
    out = sys.stdout
    if command in ("observe", "campaign", "leader", "list"):
        config = connection_config(args, default_endpoints=ETCDCTL_DEFAULT)
        if command == "observe":
            return asyncio.run(commands.observe(config, args.name, as_json=args.json, out=out))
        if command == "leader":
            return asyncio.run(commands.leader(config, args.name, as_json=args.json, out=out))
        if command == "list":
            return asyncio.run(commands.list_elections(config, args.prefix, as_json=args.json, out=out))
        ttl = commands.parse_ttl(args.ttl)
        if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
            raise ConfigError(f"--timeout must be positive (a finite number of seconds), not {args.timeout}")
        return asyncio.run(
            commands.campaign(
                config, args.name, args.value, ttl=ttl, timeout=args.timeout, as_json=args.json, out=out
            )
        )
    config = connection_config(args)
    if command == "drill":
        from .drill import format_text, load_scenario, run_drill, to_json

        scenario = load_scenario(args.file)
        with _cluster(config) as cluster:

            async def drill() -> int:
                async with commands.connected(cluster) as client:
                    progress = None if args.json else (lambda line: print(line, file=sys.stderr))
                    report = await run_drill(client, scenario, on_progress=progress)
                print(json.dumps(to_json(report), indent=2) if args.json else format_text(report))
                return 0 if report.ok else 1

            return asyncio.run(drill())
    if command == "serve":
        from .ui.serve import serve

        with _cluster(config) as cluster:
            serve(cluster, host=args.host, port=args.port, prefix=args.prefix, demo=args.demo)
        return 0
    from .ui.app import run_dashboard

    with _cluster(config) as cluster:
        return run_dashboard(cluster, prefix=args.prefix, demo=args.demo)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _defaults(args)
    try:
        return _run(args)
    except (ConfigError, EtcdError) as err:
        print(f"election-tui: error: {err}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
