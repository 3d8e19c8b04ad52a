"""Case 11: bad input through the CLI, the API and the UI: refused clearly, or shown literally."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import LineReader, eventually, stop_process
from rich.text import Text
from textual.widgets import Button, Input, Label

from election_tui.cli import main
from election_tui.cli.commands import parse_ttl
from election_tui.cli.flags import client_config
from election_tui.cli.main import _defaults, _parser
from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, EtcdClient, InvalidArgument, LeaderElection, RequestTooLarge
from election_tui.live import LiveSession
from election_tui.model import display
from election_tui.sim import Candidate, Fleet, State
from election_tui.testing import make_test_ca, make_unrelated_ca
from election_tui.ui.app import ElectionApp
from election_tui.ui.modals import LaunchScreen

from ._support import ClientFactory, cli_env, closed_port, run_cli

pytestmark = pytest.mark.fault

MIB = 1024 * 1024
TOO_LARGE = [int(1.5 * MIB) + 1024, 3 * MIB]  # over etcd's limit; over gRPC's limit as well
MARKUP = b"[bold red]x[/]"
ESCAPES = b"\x1b[2J\x1b]0;pwned\x07\r\n\xe2\x80\xae"  # clear screen, set title, CR LF, bidi override
BAD_TTLS = ["0", "-1", "9000000001", "abc", "1.5", ""]


# -- CLI ------------------------------------------------------------------------------------


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("election-tui: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    "args, says",
    [
        (["leader", ""], "must not be empty"),
        (["leader", "   "], "must not be empty"),
        (["observe", " \t"], "must not be empty"),
        (["campaign", "", "v"], "must not be empty"),
        *[(["campaign", "e", "v", f"--ttl={ttl}"], "TTL") for ttl in BAD_TTLS],
        (["campaign", "e", "v", "--timeout=0"], "--timeout must be positive"),
        (["leader", "e", "--dial-timeout=-1"], "--dial-timeout must be a positive"),
        (["leader", "e", "--endpoints", "not an endpoint"], "invalid endpoint"),
        (["leader", "e", "--cacert", "/no/such/ca.pem"], "--cacert"),
    ],
)
def test_the_cli_refuses_bad_input_with_exit_2_and_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--endpoints" not in args:
        args = [*args, "--endpoints", f"127.0.0.1:{closed_port()}"]  # never reached
    assert main(args) == 2
    assert says in _one_error_line(capsys)


def test_the_cli_handles_a_non_utf8_name_and_prints_values_escaped(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    name = prefix + b"\xff\xfe-e"
    value = ESCAPES + MARKUP

    async def lead() -> tuple[EtcdClient, LeaderElection]:
        client = EtcdClient(etcd.endpoints)
        election = LeaderElection(client, name, value, ttl=10)
        await election.campaign(timeout=5)
        return client, election

    async def leave(client: EtcdClient, election: LeaderElection) -> None:
        await election.resign()
        await client.aclose()

    loop = asyncio.new_event_loop()
    try:
        client, election = loop.run_until_complete(lead())
        try:
            # argv bytes that are not UTF-8 arrive as surrogate escapes, like any file name.
            done = run_cli(["leader", name, "--endpoints", etcd.endpoints[0]], timeout=15)
        finally:
            loop.run_until_complete(leave(client, election))
    finally:
        loop.close()
    assert done.code == 0, done
    assert done.stdout == display(value, 1 << 30) + "\n"
    assert "\x1b" not in done.stdout and "\r" not in done.stdout


def test_the_cli_campaign_echoes_its_value_escaped(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "election_tui",
            "campaign",
            prefix + b"e",
            ESCAPES,
            "--endpoints",
            etcd.endpoints[0],
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
    )
    try:
        assert proc.stdout is not None
        lines = LineReader(proc.stdout).wait_for(lambda seen: len(seen) >= 2, timeout=10)
        proc.send_signal(signal.SIGTERM)  # our own child: resign and revoke
        assert proc.wait(timeout=10) == 0
    finally:
        stop_process(proc)
    assert all(b"\x1b" not in line for line in lines), lines


# -- CLI, in a child process: stderr is exactly one line, whatever was wrong ------------------

# gRPC's C core logs in glog's format: a severity letter, MMDD, then the time.
_GRPC_LOG = re.compile(r"^[DIWEF]\d{4} \d\d:\d\d:\d\d")
_SHIPPED = "crash, expiry, no-quorum, partition, raft-leader, resign"


def _refused(args: Sequence[str | bytes], env: dict[str, str] | None = None) -> str:
    """Run the CLI (no ETCDCTL_* of the user's); it must exit 2 with one line and nothing else."""
    done = run_cli(args, timeout=15, env=env)
    assert done.code == 2, done
    assert done.stdout == "", done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("election-tui") and " error: " in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not _GRPC_LOG.match(lines[0]), done.stderr
    assert "\x1b" not in done.stderr, done.stderr
    return lines[0]


def _unreached() -> list[str]:
    return ["--endpoints", f"127.0.0.1:{closed_port()}"]


_BAD_DRILLS = {
    "syntax-error": ('name = "x"\nttl = \n', "is not valid TOML"),
    "wrong-type": (
        'election = "e"\nttl = "two"\n[[steps]]\naction = "hold"\nseconds = 1\n',
        "ttl must be a whole number",
    ),
    "unknown-key": ('election = "e"\nttl = 2\ncolour = "red"\n', "colour is not a known field"),
    "unknown-step-key": (
        'election = "e"\nttl = 2\n[[steps]]\naction = "launch"\ncount = 2\nkount = 3\n',
        "steps[0].kount is not a known field",
    ),
    "nested-too-deeply": ("a = " + "[" * 50_000, "is not valid TOML"),
    "escape-in-a-key": ('"\\u001b[2J\\nx" = 1\n', "is not a known field"),
}


@pytest.mark.parametrize("content, says", list(_BAD_DRILLS.values()), ids=list(_BAD_DRILLS))
def test_a_bad_drill_file_is_one_line_naming_the_file_and_what_is_wrong(
    content: str, says: str, tmp_path: Path
) -> None:
    path = tmp_path / "my-drill.toml"
    path.write_text(content)

    line = _refused(["drill", str(path)])  # no endpoints: no embedded etcd starts either

    assert "my-drill.toml" in line and says in line


def test_an_unknown_drill_name_lists_the_shipped_ones() -> None:
    line = _refused(["drill", "nosuch"])
    assert "nosuch" in line and f"(shipped: {_SHIPPED})" in line


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "not-utf8", "too-large", "unreadable"])
def test_a_drill_file_that_cannot_be_read_is_one_line_naming_it(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    says = {
        "missing": "No such file",
        "directory": "is a directory",
        "fifo": "is not a regular file",
        "not-utf8": "is not UTF-8",
        "too-large": "too large",
        "unreadable": "Permission denied",
    }[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "not-utf8":
        path.write_bytes(b'name = "\xff"\n')
    elif kind == "too-large":
        path.write_bytes(b"# " + b"x" * (2 << 20))
    elif kind == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.write_text('election = "e"\n')
        path.chmod(0)

    line = _refused(["drill", str(path)])

    assert str(path) in line and says in line


def test_an_argument_with_control_characters_stays_one_escaped_line() -> None:
    line = _refused(["leader", "e", "x\x1b[2J\ny", *_unreached()])
    assert "unrecognized arguments" in line and "\\x1b[2J\\ny" in line


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad TLS files: a CA with a client certificate, and files that only look like them."""
    good = make_test_ca(tmp_path_factory.mktemp("ca"))
    other_ca = make_unrelated_ca(tmp_path_factory.mktemp("other-ca"))
    bad = tmp_path_factory.mktemp("bad")
    (bad / "not-pem.pem").write_text("this is not a certificate\n")
    (bad / "garbled.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    )
    return {
        "ca": good.ca,
        "cert": good.cert,
        "key": good.key,
        "other-key": other_ca.with_name("unrelated-ca-key.pem"),
        "not-pem": bad / "not-pem.pem",
        "garbled": bad / "garbled.pem",
        "directory": bad,
        "missing": bad / "missing.pem",
        "eio": Path("/proc/self/mem"),  # a regular file whose read fails (EIO), even for root
    }


_BAD_TLS = {
    "cacert-not-pem": (["--cacert", "{not-pem}"], "--cacert", "not-pem", "is not a PEM file"),
    "cacert-garbled-pem": (["--cacert", "{garbled}"], "--cacert", "garbled", "no valid PEM certificate"),
    "cacert-is-a-key": (["--cacert", "{key}"], "--cacert", "key", "no valid PEM certificate"),
    "cacert-directory": (["--cacert", "{directory}"], "--cacert", "directory", "is not a regular file"),
    "cacert-missing": (["--cacert", "{missing}"], "--cacert", "missing", "no such file"),
    "cacert-read-fails": (["--cacert", "{eio}"], "--cacert", "eio", "cannot read"),
    "cert-not-pem": (["--cert", "{not-pem}", "--key", "{key}"], "--cert", "not-pem", "is not a PEM file"),
    "cert-is-a-key": (["--cert", "{key}", "--key", "{cert}"], "--cert", "key", "no valid PEM certificate"),
    "key-not-pem": (["--cert", "{cert}", "--key", "{not-pem}"], "--key", "not-pem", "is not a PEM file"),
    "key-garbled-pem": (
        ["--cert", "{cert}", "--key", "{garbled}"],
        "--key",
        "garbled",
        "no usable PEM private key",
    ),
    "key-of-another-cert": (
        ["--cert", "{cert}", "--key", "{other-key}"],
        "--key",
        "other-key",
        "does not belong",
    ),
}


@pytest.mark.parametrize("flags, flag, file, says", list(_BAD_TLS.values()), ids=list(_BAD_TLS))
def test_a_bad_tls_file_is_named_before_any_connection_attempt(
    flags: list[str], flag: str, file: str, says: str, tls_files: dict[str, Path]
) -> None:
    args = [f.format_map({k: str(v) for k, v in tls_files.items()}) for f in flags]

    line = _refused(["leader", "e", *args, *_unreached(), "--dial-timeout", "5"])

    assert flag in line and f"'{tls_files[file]}'" in line and says in line
    assert "cannot reach" not in line


def test_a_tls_file_from_etcdctl_cacert_is_named_by_the_variable(tls_files: dict[str, Path]) -> None:
    env = cli_env({"ETCDCTL_CACERT": str(tls_files["not-pem"])})
    line = _refused(["leader", "e", *_unreached()], env=env)
    assert f"ETCDCTL_CACERT '{tls_files['not-pem']}' is not a PEM file" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_tls_file_without_read_permission_is_named(tls_files: dict[str, Path], tmp_path: Path) -> None:
    locked = tmp_path / "ca.pem"
    locked.write_bytes(tls_files["ca"].read_bytes())
    locked.chmod(0)
    line = _refused(["leader", "e", "--cacert", str(locked), *_unreached()])
    assert f"'{locked}'" in line and "Permission denied" in line


def test_good_tls_files_pass_the_checks(tls_files: dict[str, Path]) -> None:
    flags = [
        "--cacert",
        str(tls_files["ca"]),
        "--cert",
        str(tls_files["cert"]),
        "--key",
        str(tls_files["key"]),
    ]
    args = _parser().parse_args([*flags, "leader", "e"])
    _defaults(args)
    config = client_config(args, env={})
    assert (config.ca_cert, config.cert, config.key) == (tls_files["ca"], tls_files["cert"], tls_files["key"])


_COMMANDS = {
    "leader": ["leader", "e"],
    "observe": ["observe", "e"],
    "list": ["list"],
    "campaign": ["campaign", "e", "v"],
    "drill": ["drill", "resign"],
    "serve": ["serve", "--port", "1"],  # would not start anyway: the check must come first
    "dashboard": [],
}


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
@pytest.mark.parametrize("flag", ["--dial-timeout", "--command-timeout"])
@pytest.mark.parametrize("command", list(_COMMANDS))
def test_a_timeout_that_is_not_a_positive_finite_number_is_refused_by_every_command(
    command: str, flag: str, value: str
) -> None:
    """No endpoints: dashboard, serve and drill would start an embedded etcd; the check comes first."""
    line = _refused([*_COMMANDS[command], f"{flag}={value}"])
    assert f"{flag} must be a positive number of seconds" in line


@pytest.mark.parametrize(
    "ttl", ["²", "٣", "１０", "+5", "-5", " 5", "5 ", "1_0", "5.0", "0x10", "", "9" * 50, "9" * 5000]
)
def test_a_ttl_that_is_not_plain_ascii_digits_in_range_is_refused(ttl: str) -> None:
    line = _refused(["campaign", "e", "v", f"--ttl={ttl}", *_unreached()])
    assert "TTL" in line


def test_a_ttl_may_have_leading_zeros() -> None:
    assert parse_ttl("010") == 10


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "+80", "٣", "8_000", "", "80.0", "9" * 50])
def test_a_serve_port_out_of_range_is_refused(port: str) -> None:
    line = _refused(["serve", f"--port={port}"])
    assert "--port" in line and "1 to 65535" in line


@pytest.mark.parametrize("flag", ["--dial-timeout", "--command-timeout"])
def test_a_connection_flag_before_the_subcommand_counts_too(flag: str) -> None:
    line = _refused([flag, "0", "leader", "x", *_unreached()])
    assert f"{flag} must be a positive number" in line


@pytest.mark.parametrize("pace", ["-1", "61", "٣", "nan", "1e3", "", "0.0001"])
@pytest.mark.parametrize("where", [[], ["drill", "resign"], ["serve"]], ids=["dashboard", "drill", "serve"])
def test_a_pace_that_is_not_seconds_in_range_is_refused(where: list[str], pace: str) -> None:
    line = _refused([*where, f"--pace={pace}"])
    assert "--pace" in line and "seconds from 0 to 60" in line


@pytest.mark.parametrize("where", [[], ["serve"]], ids=["dashboard", "serve"])
def test_an_unknown_theme_is_refused_with_the_known_ones(where: list[str]) -> None:
    line = _refused([*where, "--theme=no-such-theme"])
    assert "--theme" in line and "projector" in line and "textual-dark" in line


@pytest.mark.parametrize("size", ["7", "65", "٣٢", "+20", "", "16.5"])
def test_a_serve_font_size_out_of_range_is_refused(size: str) -> None:
    line = _refused(["serve", f"--font-size={size}"])
    assert "--font-size" in line and "8 to 64" in line


@pytest.mark.parametrize("where", ["/no/such/dir/report.html", "/tmp"], ids=["no-dir", "a-dir"])
def test_a_drill_html_file_that_cannot_be_written_is_refused_before_the_drill(where: str) -> None:
    line = _refused(["drill", "resign", f"--html={where}"])
    assert "--html" in line


def test_serve_on_a_port_in_use_is_refused_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _refused(["serve", "--port", str(port)])
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_serve_on_an_unknown_host_is_refused() -> None:
    line = _refused(["serve", "--host", "no-such-host.invalid"])
    assert "--host 'no-such-host.invalid'" in line


# -- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"", b"   ", "", " \t\n"])
async def test_blank_election_names_are_invalid_everywhere(
    etcd: EmbeddedEtcd, name: bytes | str, clients: ClientFactory
) -> None:
    client = clients(etcd.endpoints)
    lease = await client.lease_grant(5)
    try:
        with pytest.raises(InvalidArgument, match="must not be empty"):
            await client.campaign(name, lease.id, b"v")
        with pytest.raises(InvalidArgument):
            await client.leader(name)
        with pytest.raises(InvalidArgument):
            LeaderElection(client, name, b"v")
        with pytest.raises(InvalidArgument):
            Candidate(client, name, b"v")
    finally:
        await client.lease_revoke(lease.id)


@pytest.mark.parametrize("ttl", [0, -1, 9_000_000_001, "10", 1.5, True, None])
async def test_bad_ttls_are_invalid_before_anything_is_sent(
    etcd: EmbeddedEtcd, prefix: bytes, ttl: object, clients: ClientFactory
) -> None:
    client = clients(etcd.endpoints)
    before = set(await client.leases())
    dash = LiveSession(client, prefix)
    with pytest.raises(InvalidArgument, match="TTL"):
        await client.lease_grant(ttl)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="TTL"):
        LeaderElection(client, prefix + b"e", b"v", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="TTL"):
        dash.launch(prefix + b"e", "v", ttl)  # type: ignore[arg-type]
    assert len(dash.fleet) == 0 and set(await client.leases()) == before


@pytest.mark.parametrize("size", TOO_LARGE, ids=["1.5MiB+1KiB", "3MiB"])
async def test_a_value_over_the_request_limit_is_refused_and_nothing_is_half_written(
    etcd: EmbeddedEtcd, prefix: bytes, size: int, clients: ClientFactory
) -> None:
    client = clients(etcd.endpoints)
    huge = b"x" * size
    name = prefix + b"e"
    with pytest.raises(RequestTooLarge, match=r"1\.5 MiB"):
        await client.put(prefix + b"k", huge)

    async with Fleet(client) as fleet:
        # A candidate whose value is too large: lost with the reason, no key written.
        big = fleet.launch(name, huge, 10)
        await big.wait_for(State.LOST, timeout=5)
        assert "--max-request-bytes" in (big.last_error or "")
        assert (await client.get_prefix(name + b"/")).count == 0
        # A leader proclaiming too much: refused, still leading with its old value.
        small = fleet.launch(name, "small", 10)
        await small.wait_for(State.LEADER, timeout=5)
        with pytest.raises(RequestTooLarge):
            await small.proclaim(huge)
        assert small.state is State.LEADER
        assert (await client.leader(name)).value == b"small"
        # The client is fine afterwards.
        await client.put(prefix + b"k", b"fits")
        assert (await client.get(prefix + b"k")).value == b"fits"  # type: ignore[union-attr]
        leases = fleet.lease_ids()
    assert not leases & set(await client.leases())  # closing the fleet revoked both leases


async def test_non_utf8_markup_and_escapes_round_trip_and_display_literally(
    etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    client = clients(etcd.endpoints)
    name = prefix + b"\xff\xfe[bold]e"
    value = b"\xc3\x28" + MARKUP + ESCAPES
    dash = LiveSession(client, prefix)
    dash.start()
    try:
        await asyncio.wait_for(dash.loaded.wait(), 5)
        (cand,) = dash.launch(name, value, 10)
        await cand.wait_for(State.LEADER, timeout=5)
        assert (await client.leader(name)).value == value  # bytes kept exactly
        await eventually(lambda: dash.state.leader(name), timeout=5, what="model sees the leader")
        lead = dash.state.leader(name)
        assert lead is not None and lead.value == value
        shown = display(lead.value, 200)
        assert shown == "\\xc3([bold red]x[/]\\x1b[2J\\x1b]0;pwned\\x07\\r\\n\\u202e"
        assert display(name, 200).endswith("\\xff\\xfe[bold]e")
        assert Text(shown).plain == shown  # a Text is never parsed as markup
        # str names: non-UTF-8 bytes that came as surrogate escapes (argv) map back to the
        # bytes; text that cannot be encoded at all is refused, not crashed on.
        assert Candidate(client, "e\udcff", b"v").name == b"e\xff"
        with pytest.raises(InvalidArgument, match="not valid text"):
            Candidate(client, "e\ud800", b"v")
    finally:
        await dash.close()


# -- UI -------------------------------------------------------------------------------------


async def test_the_app_shows_markup_and_escapes_literally_in_its_cells(etcd: EmbeddedEtcd) -> None:
    prefix = f"m{secrets.token_hex(2)}/".encode()  # short: the whole name fits in its cell
    name = prefix + b"[b]\x1b[2J"
    value = MARKUP + b"\x1b]0;t\x07"
    app = ElectionApp(ClientConfig(endpoints=tuple(etcd.endpoints)), prefix=prefix)
    async with app.run_test(size=(200, 40)) as pilot:
        dash = app.session
        await asyncio.wait_for(dash.loaded.wait(), 5)
        (cand,) = dash.launch(name, value, 10)
        await cand.wait_for(State.LEADER, timeout=5)
        table = app.elections

        def cell(column: str) -> str | None:
            return table.cell(name, column).plain if name in table else None

        await eventually(lambda: cell("leader"), timeout=5, what="a row for the election")
        await pilot.pause(0.1)
        assert cell("name") == display(name, 32) == f"{prefix.decode()}[b]\\x1b[2J"
        assert cell("leader") == display(value, 24)
        assert cell("leader").startswith("[bold red]x[/]\\x1b]0;t")  # type: ignore[union-attr]
        fleet_value = app.fleet_table.cell(cand.id, "value")
        assert isinstance(fleet_value, Text) and fleet_value.plain == display(value, 16)
        await pilot.press("q")


@pytest.mark.parametrize(
    "field, text, complaint",
    [
        ("name", "", "election name is needed"),
        ("name", "   ", "election name is needed"),
        *[("ttl", ttl, "whole number from 1 to 86400") for ttl in ["0", "-1", "abc", "1.5", "86401", ""]],
        ("count", "0", "whole number from 1 to 100"),
    ],
)
async def test_the_launch_form_refuses_bad_input_inline(field: str, text: str, complaint: str) -> None:
    app = ElectionApp(ClientConfig(endpoints=(f"127.0.0.1:{closed_port()}",)))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause(0.05)
        form = app.screen
        assert isinstance(form, LaunchScreen)
        assert not form.query_one("#ok", Button).disabled  # the defaults are fine
        form.query_one(f"#{field}", Input).value = text
        await pilot.pause(0.05)
        assert form.query_one("#ok", Button).disabled
        error = form.query_one(f"#{field}-error", Label).content
        assert complaint in (error.plain if isinstance(error, Text) else str(error))
        await pilot.press("enter")  # submitting is refused too: the form stays
        assert app.screen is form and len(app.session.fleet) == 0
        await pilot.press("escape")
        await pilot.press("q")


async def test_the_launch_form_refuses_a_value_over_the_request_limit() -> None:
    app = ElectionApp(ClientConfig(endpoints=(f"127.0.0.1:{closed_port()}",)))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause(0.05)
        form = app.screen
        assert isinstance(form, LaunchScreen)
        form.query_one("#value", Input).value = "é" * (int(0.75 * MIB) + 1)  # 2 bytes each
        await pilot.pause(0.05)
        assert form.query_one("#ok", Button).disabled
        await pilot.press("escape")
        await pilot.press("q")
