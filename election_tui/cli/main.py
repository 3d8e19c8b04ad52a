"""`election-tui`: parses arguments, builds the ClientConfig, picks a mode (tui, serve, headless, drill).

With no command it opens the dashboard (on the embedded etcd unless endpoints are given); the
headless commands follow etcdctl's conventions and exit 2 with one line on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from ..etcd import ClientConfig, EtcdError
from ..live import MemberControl, members_problem, pace_problem
from ..model import display
from .flags import ConfigError, add_connection_flags, client_config

USAGE_EXIT = 2
ETCDCTL_DEFAULT = ("127.0.0.1:2379",)


class _Parser(argparse.ArgumentParser):
    """argparse, except that bad input gets one line on stderr (not the usage) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"{self.prog}: error: {_one_line(message)} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="election-tui",
        description="See and drive etcd leader elections. With no command: the dashboard.",
    )
    add_connection_flags(parser)
    parser.add_argument("--prefix", default="", help="watch only keys under this prefix (default: all)")
    parser.add_argument("--demo", action="store_true", help="launch a few candidates to show life at once")
    parser.add_argument("--pace", type=_pace, default=0.0, help=_PACE_HELP)
    parser.add_argument("--theme", type=_theme, default=None, help=_THEME_HELP)
    parser.add_argument("--members", type=_members, default=None, help=_MEMBERS_HELP)
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
    p = command(
        "history", "every term of one election in etcd's retained history: who led, from when to when"
    )
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = command(
        "drill",
        "run a failover drill file, or a shipped one (resign, expiry, crash, partition, network-partition, "
        "raft-leader, no-quorum)",
    )
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--pace", type=_pace, default=0.0, help=_PACE_HELP)
    p.add_argument(
        "--members", type=_members, default=None, help=_MEMBERS_HELP + "; default: the drill's own"
    )
    p.add_argument(
        "--html",
        type=_html_file,
        default=None,
        help="also write the report, with its chart, to this HTML file",
    )
    p = command("serve", "serve the dashboard to a browser through textual-serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    p.add_argument("--port", type=_port, default=8000, help="TCP port to listen on, 1-65535 (8000)")
    p.add_argument("--prefix", default="")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--pace", type=_pace, default=0.0, help=_PACE_HELP)
    p.add_argument("--theme", type=_theme, default=None, help=_THEME_HELP)
    p.add_argument("--font-size", type=_font_size, default=16, help="the page's font size in px, 8-64 (16)")
    p.add_argument("--members", type=_members, default=None, help=_MEMBERS_HELP)
    return parser


_PACE_HELP = "seconds a drill pauses after each step, so a room can follow (0)"
_THEME_HELP = "colour theme, e.g. projector (high contrast); remembered for the next run"
_MEMBERS_HELP = "start an embedded cluster of N members (1, 3 or 5) to break: kill, pause, restart"


def _members(raw: str) -> int:
    count = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else None
    problem = members_problem(count)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"must be {problem}, not {raw!r}")
    assert count is not None
    return count


def _theme(raw: str) -> str:
    from ..ui.theme import theme_names

    if raw not in theme_names():
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(theme_names())}, not {raw!r}")
    return raw


def _html_file(raw: str) -> Path:
    """Checked before the drill runs, so a typo does not cost the whole drill."""
    path = Path(raw).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{raw!r} is a directory, not a file to write")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {str(path.parent)!r} to write {path.name!r} in")
    return path


def _font_size(raw: str) -> int:
    if raw.isascii() and raw.isdigit() and len(raw) <= 2 and 8 <= int(raw) <= 64:
        return int(raw)
    raise argparse.ArgumentTypeError(f"must be a whole number of px from 8 to 64, not {raw!r}")


def _pace(raw: str) -> float:
    problem = pace_problem(raw)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"must be {problem}, not {raw!r}")
    return float(raw)


def _port(raw: str) -> int:
    """A TCP port in ASCII digits (int() would also take "٨٠٠٠", "+80" and "8_000")."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 5 and 0 < int(raw) < 65536:
        return int(raw)
    raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535, not {raw!r}")


def _one_line(message: str) -> str:
    """An error for stderr: one line, and nothing in it (a key, a file name) can drive the terminal."""
    return display(message.encode("utf-8", errors="backslashreplace"), limit=1 << 20)


def _defaults(args: argparse.Namespace) -> None:
    for name in ("endpoints", "cacert", "cert", "key", "user", "dial_timeout", "command_timeout"):
        if not hasattr(args, name):
            setattr(args, name, None)
    for name, value in (
        ("json", False),
        ("prefix", ""),
        ("demo", False),
        ("pace", 0.0),
        ("theme", None),
        ("html", None),
        ("members", None),
    ):
        if not hasattr(args, name):
            setattr(args, name, value)


def _check_foreground() -> None:
    """A dashboard started in the background (`cmd &`, `timeout` without --foreground) is stopped
    by the kernel at its first read of the terminal (SIGTTIN) and would sit there, silent."""
    try:
        fd = sys.stdin.fileno()
        background = os.isatty(fd) and os.tcgetpgrp(fd) != os.getpgrp()
    except (OSError, ValueError):  # no terminal, or not ours: nothing to check
        return
    if background:
        raise ConfigError(
            "the dashboard needs the terminal's foreground: run it without '&' (under timeout: timeout --foreground)"
        )


@contextlib.contextmanager
def _cluster(
    config: ClientConfig, members: int | None = None
) -> Iterator[tuple[ClientConfig, MemberControl | None]]:
    """The given cluster, or a throwaway embedded one of `members` (1) when no endpoint was given.

    The second item controls the embedded cluster's members (None: attached, read-only). Every
    member ends on every way out: stopped here, killed by the hard exit's last resort, and
    killed by the kernel should this process die without either (parent-death signal).
    """
    if config.endpoints:
        if members is not None:
            raise ConfigError(
                "--members starts an embedded cluster: it does not go with --endpoints (or ETCDCTL_ENDPOINTS)"
            )
        yield config, None
        return
    from .._exits import last_resort
    from ..embedded import EmbeddedEtcdError
    from ..live import start_embedded

    count = members or 1
    print(f"starting an embedded etcd{f' of {count} members' if count > 1 else ''}…", file=sys.stderr)
    try:
        control = start_embedded(count)
    except EmbeddedEtcdError as err:
        raise ConfigError(str(err)) from None
    with last_resort(control.etcd.kill):  # a hard exit must not leave it behind either
        try:
            print(f"embedded etcd: {','.join(control.endpoints)}", file=sys.stderr)
            yield replace(config, endpoints=tuple(control.endpoints)), control
        finally:
            control.stop()


def _run(args: argparse.Namespace) -> int:
    from . import commands

    command = args.command
    out = sys.stdout
    if command in ("observe", "campaign", "leader", "list", "history"):
        config = client_config(args, default_endpoints=ETCDCTL_DEFAULT)
        if command == "observe":
            return asyncio.run(commands.observe(config, args.name, as_json=args.json, out=out))
        if command == "leader":
            return asyncio.run(commands.leader(config, args.name, as_json=args.json, out=out))
        if command == "list":
            return asyncio.run(commands.list_elections(config, args.prefix, as_json=args.json, out=out))
        if command == "history":
            return asyncio.run(commands.history(config, args.name, as_json=args.json, out=out))
        ttl = commands.parse_ttl(args.ttl)
        if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
            raise ConfigError(f"--timeout must be positive (a finite number of seconds), not {args.timeout}")
        return asyncio.run(
            commands.campaign(
                config, args.name, args.value, ttl=ttl, timeout=args.timeout, as_json=args.json, out=out
            )
        )
    config = client_config(args)
    if command == "drill":
        from ..drill import ScenarioError, format_text, load_scenario, run_drill, to_json

        try:
            scenario = load_scenario(args.file)
            # Refused before any etcd starts: a member step on an attached cluster, a size mismatch.
            attached = bool(config.endpoints)
            members = args.members or (None if attached else scenario.members)
            problem = scenario.cluster_problem(None if attached else members or 1)
            if problem is not None:
                raise problem
        except ScenarioError as err:
            raise ConfigError(str(err)) from None
        with _cluster(config, members) as (cluster, control):

            async def drill() -> int:
                async with commands.connected(cluster) as client:
                    progress = None if args.json else (lambda line: print(line, file=sys.stderr))
                    report = await run_drill(
                        client, scenario, on_progress=progress, pace=args.pace, members=control
                    )
                print(commands.dumps(to_json(report)) if args.json else format_text(report))
                if args.html is not None:
                    from ..drill.html import report_page

                    try:
                        args.html.write_text(report_page(report), encoding="utf-8")
                    except OSError as err:
                        raise ConfigError(f"cannot write --html {str(args.html)!r}: {err.strerror}") from None
                    print(f"report with chart: {args.html}", file=sys.stderr)
                return 0 if report.ok else 1

            return asyncio.run(drill())
    if command == "serve":
        from .serve import check_listen, serve

        check_listen(args.host, args.port)  # before an embedded etcd starts for nothing
        with _cluster(config, args.members) as (cluster, _control):
            serve(
                cluster,
                host=args.host,
                port=args.port,
                prefix=args.prefix,
                demo=args.demo,
                pace=args.pace,
                theme=args.theme,
                font_size=args.font_size,
            )
        return 0
    from ..ui.app import run_dashboard

    _check_foreground()  # before an embedded etcd starts for nothing
    with _cluster(config, args.members) as (cluster, control):
        return run_dashboard(
            cluster,
            prefix=args.prefix,
            demo=args.demo,
            embedded=not config.endpoints,
            pace=args.pace,
            theme=args.theme,
            members=control,
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _defaults(args)
    try:
        return _run(args)
    except (ConfigError, EtcdError) as err:
        print(f"election-tui: error: {_one_line(str(err))}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
