"""The headless CLI in real subprocesses against a real etcd: what a user types and what they see."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Grant, LineReader, eventually, stop_process

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient

BOUND = 10.0  # seconds a CLI process may take to start, connect and answer


@pytest.fixture
def env(etcd: EmbeddedEtcd) -> dict[str, str]:
    """Our environment without the user's ETCDCTL_*, aimed at the fixture etcd like etcdctl would be."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return {**clean, "ETCDCTL_ENDPOINTS": etcd.endpoints[0]}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "election_tui", *args]


async def run(env: dict[str, str], *args: str, timeout: float = BOUND) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion (bounded) without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        cli(*args),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Running:
    """A long-running CLI (or etcdctl) process whose output lines we can wait for."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out = LineReader(self.proc.stdout)
        self.err = LineReader(self.proc.stderr)

    async def lines(self, count: int, timeout: float = BOUND) -> list[bytes]:
        return await self.out.wait_for_async(lambda lines: len(lines) >= count, timeout)

    async def printed(self, line: bytes, timeout: float = BOUND) -> list[bytes]:
        return await self.out.wait_for_async(lambda lines: line in lines, timeout)

    async def exit_code(self, timeout: float = BOUND) -> int:
        return await asyncio.to_thread(self.proc.wait, timeout)


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str]) -> Iterator[Running]:
    process = Running(argv, env)
    try:
        yield process
    finally:
        stop_process(process.proc)


def etcdctl_elect(etcd: EmbeddedEtcd, name: str, value: str) -> contextlib.AbstractContextManager[Running]:
    return running(etcd.etcdctl_cmd("elect", name, value), etcd.etcdctl_env())


async def candidate_keys(client: EtcdClient, name: str) -> list[bytes]:
    return [kv.key for kv in (await client.get_prefix(name.encode() + b"/", sort_by_create=True)).kvs]


async def queued(client: EtcdClient, name: str, count: int) -> list[bytes]:
    async def enough() -> list[bytes] | None:
        keys = await candidate_keys(client, name)
        return keys if len(keys) == count else None

    keys = await eventually(enough, timeout=BOUND, what=f"{count} candidates in {name!r}")
    assert keys is not None
    return keys


async def lease_alive(client: EtcdClient, lease_id: int) -> bool:
    return (await client.lease_time_to_live(lease_id)).ttl > 0


# -- leader ---------------------------------------------------------------------------------


async def test_leader_prints_the_leaders_value_and_with_json_its_key_and_lease(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix + b"election"
    lease = await grant()
    leader = await client.campaign(name, lease, b"node-1")

    text, as_json = await run(env, "leader", name.decode()), await run(env, "leader", name.decode(), "--json")

    assert (text.returncode, text.stdout) == (0, "node-1\n")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == {
        "key": leader.key.decode(),
        "value": "node-1",
        "lease": format(lease, "x"),
        "create_revision": leader.rev,
        "mod_revision": leader.rev,
    }


async def test_leader_of_an_election_nobody_leads_exits_1_and_says_so(
    env: dict[str, str], prefix: bytes
) -> None:
    done = await run(env, "leader", prefix.decode() + "empty")

    assert (done.returncode, done.stdout) == (1, "")
    assert "has no leader" in done.stderr


async def test_the_endpoints_flag_wins_over_etcdctl_endpoints(
    client: EtcdClient, grant: Grant, env: dict[str, str], etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    name = prefix + b"election"
    await client.campaign(name, await grant(), b"node-1")
    unreachable = {**env, "ETCDCTL_ENDPOINTS": f"127.0.0.1:{_closed_port()}"}

    done = await run(unreachable, "--endpoints", etcd.endpoints[0], "leader", name.decode())

    assert (done.returncode, done.stdout) == (0, "node-1\n")


# -- list -----------------------------------------------------------------------------------


async def test_list_counts_candidates_and_nested_elections_like_etcd_does(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    """Election `a` also sees the candidates of `a/b`: its leader is whichever key is oldest."""
    a, ab, c = prefix + b"a", prefix + b"a/b", prefix + b"c"
    await client.campaign(ab, await grant(), b"ab-1")  # the oldest key under a/: a's leader too
    waiting = [asyncio.create_task(client.campaign(a, await grant(), f"a-{i}")) for i in (1, 2)]
    await client.campaign(c, await grant(), b"c-1")
    try:
        await queued(client, a.decode(), 3)
        as_json = await run(env, "list", "--prefix", prefix.decode(), "--json")
        text = await run(env, "list", "--prefix", prefix.decode())
        leader_of_a = await client.leader(a)
    finally:
        for task in waiting:
            task.cancel()

    assert as_json.returncode == 0 and text.returncode == 0
    rows = {
        row["name"]: (row["candidates"], row["leader"]) for row in json.loads(as_json.stdout)["elections"]
    }
    assert rows == {a.decode(): (3, "ab-1"), ab.decode(): (1, "ab-1"), c.decode(): (1, "c-1")}
    assert leader_of_a.value == b"ab-1"  # the list agrees with etcd's Leader("a")
    header, *lines = text.stdout.splitlines()
    assert header.split() == ["ELECTION", "CANDIDATES", "LEADER"]
    assert [line.split() for line in lines] == [
        [a.decode(), "3", "ab-1"],
        [ab.decode(), "1", "ab-1"],
        [c.decode(), "1", "c-1"],
    ]


# -- observe --------------------------------------------------------------------------------


async def test_observe_json_prints_a_line_per_leader_change(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix + b"election"
    a = await client.campaign(name, await grant(), b"a1")
    with running(cli("observe", name.decode(), "--json"), env) as observe:
        await observe.lines(1)  # the current leader first: the stream is open
        await client.proclaim(a, b"a2")
        await observe.lines(2)
        b_campaign = asyncio.create_task(client.campaign(name, await grant(), b"b1"))
        await queued(client, name.decode(), 2)
        await client.resign(a)
        b = await asyncio.wait_for(b_campaign, BOUND)
        lines = await observe.lines(3)
        observe.proc.terminate()
        await observe.exit_code()

    seen = [json.loads(line) for line in lines]
    assert [(s["key"], s["value"]) for s in seen] == [
        (a.key.decode(), "a1"),
        (a.key.decode(), "a2"),
        (b.key.decode(), "b1"),
    ]
    assert seen[2]["lease"] == format(b.lease, "x")
    assert seen[0]["mod_revision"] < seen[1]["mod_revision"] < seen[2]["mod_revision"]


async def test_observe_sees_an_etcdctl_elect_leader(
    etcd: EmbeddedEtcd, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    with etcdctl_elect(etcd, name, "go-leader") as go:
        await go.printed(b"go-leader")
        with running(cli("observe", name), env) as observe:
            assert await observe.lines(1) == [b"go-leader"]


# -- campaign -------------------------------------------------------------------------------


async def test_campaign_prints_key_and_value_holds_until_sigterm_then_resigns_and_revokes(
    client: EtcdClient, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    with running(cli("campaign", name, "py-leader", "--ttl", "5"), env) as campaign:
        key, value = (await campaign.lines(2))[:2]
        held = await client.get(key)
        assert held is not None and held.value == value == b"py-leader"
        assert key == name.encode() + b"/" + format(held.lease, "x").encode()
        assert await lease_alive(client, held.lease)
        assert campaign.proc.poll() is None  # holding

        campaign.proc.send_signal(signal.SIGTERM)
        code = await campaign.exit_code()

    assert code == 0
    assert await candidate_keys(client, name) == []
    assert not await lease_alive(client, held.lease)


async def test_campaign_exits_1_with_a_message_when_its_key_is_deleted(
    client: EtcdClient, etcd: EmbeddedEtcd, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    with running(cli("campaign", name, "py-leader"), env) as campaign:
        key = (await campaign.lines(2))[0]
        held = await client.get(key)
        assert held is not None

        etcd.etcdctl("del", key.decode(), check=True)
        code = await campaign.exit_code()
        errors = campaign.err.wait_for(lambda lines: any(b"leadership lost" in x for x in lines), BOUND)

    assert code == 1
    assert any(b"deleted" in line for line in errors)
    assert not await lease_alive(client, held.lease)  # it still revokes on the way out


async def test_campaign_gives_up_after_its_timeout_and_leaves_nothing_behind(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix + b"election"
    holder = await client.campaign(name, await grant(), b"holder")
    before = set(await client.leases())

    done = await run(env, "campaign", name.decode(), "late", "--timeout", "0.5")

    assert (done.returncode, done.stdout) == (1, "")
    assert "not elected within 0.5 s" in done.stderr
    assert await candidate_keys(client, name.decode()) == [holder.key]
    assert set(await client.leases()) <= before  # its lease was revoked, not left to expire


async def test_campaign_interrupted_while_queued_withdraws_and_exits_130(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix + b"election"
    holder = await client.campaign(name, await grant(), b"holder")
    before = set(await client.leases())
    with running(cli("campaign", name.decode(), "waiting"), env) as waiting:
        await queued(client, name.decode(), 2)

        waiting.proc.send_signal(signal.SIGINT)  # Ctrl+C
        code = await waiting.exit_code()

    assert code == 130
    assert waiting.out.lines == []
    assert await candidate_keys(client, name.decode()) == [holder.key]
    assert set(await client.leases()) <= before


# -- interop with etcdctl elect -------------------------------------------------------------


async def test_our_campaign_queued_behind_etcdctl_wins_when_etcdctl_is_interrupted(
    client: EtcdClient, etcd: EmbeddedEtcd, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    with etcdctl_elect(etcd, name, "go-leader") as go:
        go_key = (await go.printed(b"go-leader"))[0]
        with running(cli("campaign", name, "py-candidate"), env) as ours:
            await queued(client, name, 2)
            assert ours.out.lines == []  # waiting: nothing printed yet

            go.proc.send_signal(signal.SIGINT)  # etcdctl resigns and revokes its session
            key, value = (await ours.lines(2))[:2]

            assert value == b"py-candidate"
            assert (await client.leader(name)).key == key
            assert go_key not in await candidate_keys(client, name)
            ours.proc.send_signal(signal.SIGTERM)
            assert await ours.exit_code() == 0
        assert await go.exit_code() == 0


async def test_an_etcdctl_candidate_waits_behind_our_campaign_and_wins_when_we_stop(
    client: EtcdClient, etcd: EmbeddedEtcd, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    with running(cli("campaign", name, "py-leader", "--json"), env) as ours:
        elected = json.loads((await ours.lines(1))[0])
        assert elected["elected"] is True and elected["key"].startswith(name + "/")
        with etcdctl_elect(etcd, name, "go-candidate") as go:
            await queued(client, name, 2)
            assert go.out.lines == []  # etcdctl still waits

            ours.proc.send_signal(signal.SIGTERM)
            assert await ours.exit_code() == 0
            lines = await go.printed(b"go-candidate")

            go_key = lines[lines.index(b"go-candidate") - 1]
            assert (await client.leader(name)).key == go_key
            assert elected["key"].encode() not in await candidate_keys(client, name)


# -- lossless --json ------------------------------------------------------------------------

ESC = b"\x1b[2J"  # a real ESC byte
LITERAL = b"\\x1b[2J"  # the text backslash, x, 1, b: what ESC looks like once escaped
NOT_UTF8 = b"\xff\xfe\x1b\x00bin"


def _raw(record: dict[str, Any], field: str) -> bytes:
    """The bytes a --json field stands for, by the documented rule (README, Headless commands)."""
    if record.get(f"{field}_encoding") == "base64":
        return base64.b64decode(record[field], validate=True)
    assert f"{field}_encoding" not in record, record
    text: str = record[field]
    return text.encode("utf-8")


def _arg(raw: bytes) -> str:
    return os.fsdecode(raw)  # non-UTF-8 bytes reach argv as surrogate escapes, like a file name


async def test_json_output_gives_back_the_exact_bytes_of_keys_and_values(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    values = {prefix + b"esc": ESC, prefix + b"literal": LITERAL, prefix + b"bin\xff\x1b": NOT_UTF8}
    keys = {name: (await client.campaign(name, await grant(), value)).key for name, value in values.items()}

    for name, value in values.items():
        done = await run(env, "leader", _arg(name), "--json")
        assert done.returncode == 0, done.stderr
        assert done.stdout.isascii() and "\x1b" not in done.stdout  # JSON escapes, never raw bytes
        record = json.loads(done.stdout)
        assert (_raw(record, "key"), _raw(record, "value")) == (keys[name], value)
    listed = await run(env, "list", "--prefix", prefix.decode(), "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.isascii()
    rows = {_raw(row, "name"): row for row in json.loads(listed.stdout)["elections"]}
    assert rows.keys() == values.keys()
    for name, row in rows.items():
        assert (_raw(row, "leader"), _raw(row, "leader_key")) == (values[name], keys[name])


async def test_json_of_an_esc_byte_differs_from_json_of_its_escaped_text(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    for name, value in ((b"esc", ESC), (b"literal", LITERAL)):
        await client.campaign(prefix + name, await grant(), value)

    esc = json.loads((await run(env, "leader", (prefix + b"esc").decode(), "--json")).stdout)
    literal = json.loads((await run(env, "leader", (prefix + b"literal").decode(), "--json")).stdout)
    text = [(await run(env, "leader", (prefix + n).decode())).stdout for n in (b"esc", b"literal")]

    assert (esc["value"], literal["value"]) == ("\x1b[2J", "\\x1b[2J")  # text, no marker
    assert "value_encoding" not in esc and "value_encoding" not in literal
    assert text == ["\\x1b[2J\n", "\\x1b[2J\n"]  # the terminal gets the escaped (lossy) display


async def test_observe_and_campaign_json_give_back_bytes_that_are_not_utf8(
    client: EtcdClient, grant: Grant, env: dict[str, str], prefix: bytes
) -> None:
    name = prefix + b"bin\xff"
    with running(cli("campaign", _arg(name), _arg(NOT_UTF8[:2] + b"-v"), "--json"), env) as ours:
        elected = json.loads((await ours.lines(1))[0])
        held = await client.get(_raw(elected, "key"))
        assert held is not None and held.value == b"\xff\xfe-v"
        assert elected["key_encoding"] == "base64"
        with running(cli("observe", _arg(name), "--json"), env) as observe:
            seen = json.loads((await observe.lines(1))[0])
        ours.proc.send_signal(signal.SIGTERM)
        assert await ours.exit_code() == 0

    assert (_raw(seen, "key"), _raw(seen, "value")) == (held.key, b"\xff\xfe-v")
    assert seen["value_encoding"] == "base64"


# -- bad input: exit 2, one line, no traceback ----------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["campaign", "", "v"], id="empty-name"),
        pytest.param(["leader", "   "], id="whitespace-name"),
        pytest.param(["campaign", "n", "v", "--ttl", "0"], id="ttl-0"),
        pytest.param(["campaign", "n", "v", "--ttl", "-3"], id="ttl-negative"),
        pytest.param(["campaign", "n", "v", "--ttl", "abc"], id="ttl-not-a-number"),
        pytest.param(["campaign", "n", "v", "--ttl", "99999999999"], id="ttl-too-large"),
        pytest.param(["campaign", "n", "v", "--timeout", "abc"], id="timeout-not-a-number"),
        pytest.param(["campaign", "n", "v", "--timeout", "nan"], id="timeout-nan"),
        pytest.param(["campaign", "n"], id="missing-value"),
        pytest.param(["leader", "n", "--cacert", "/nonexistent/ca.pem"], id="missing-cacert"),
        pytest.param(["leader", "n", "--cert", "{cert}"], id="cert-without-key"),
        pytest.param(["leader", "n", "--user", "root"], id="user-without-password"),
    ],
)
async def test_bad_input_exits_2_with_one_line_on_stderr(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("not really a certificate\n")

    done = await run(env, *(a.format(cert=cert) for a in args))

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("election-tui") and " error: " in done.stderr
    assert "Traceback" not in done.stderr


async def test_an_unreachable_endpoint_exits_2_within_a_few_seconds(env: dict[str, str]) -> None:
    started = time.monotonic()
    done = await run({**env, "ETCDCTL_ENDPOINTS": f"127.0.0.1:{_closed_port()}"}, "leader", "n")
    elapsed = time.monotonic() - started

    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "cannot reach etcd" in done.stderr
    assert elapsed < 6  # the 2 s dial timeout plus process start, not gRPC's endless retrying


# -- drill ----------------------------------------------------------------------------------


async def test_drill_resign_json_reports_each_fail_over(env: dict[str, str]) -> None:
    done = await run(env, "drill", "resign", "--json", timeout=30)

    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and done.stdout.isascii()  # one object per line, as --json says
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["scenario"]["name"] == "resign"
    assert len(report["failovers"]) == 4
    for failover in report["failovers"]:
        assert failover["how"] == "resign" and failover["ok"] is True
        assert failover["new_key"] != failover["old_key"]
        assert 0 <= failover["gap"] <= failover["expect_within"]


async def test_drill_html_writes_one_self_contained_page_with_the_chart(
    env: dict[str, str], tmp_path: Path
) -> None:
    scenario = tmp_path / "loud.toml"
    scenario.write_text(
        'name = "<b>loud</b>"\nelection = "drill/loud"\nttl = 3\n'
        '[[steps]]\naction = "launch"\ncount = 2\n'
        '[[steps]]\naction = "fail"\nhow = "resign"\n'
    )
    page = tmp_path / "report.html"
    done = await run(env, "drill", str(scenario), "--html", str(page), timeout=30)
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "hand-over" in text
    assert "<script" not in text and "src=" not in text and "href=" not in text  # nothing to fetch
    assert "<b>loud</b>" not in text and "&lt;b&gt;loud&lt;/b&gt;" in text  # a name is text, not markup


async def test_drill_pace_pauses_after_each_step_without_changing_the_figures(env: dict[str, str]) -> None:
    pace = 0.5
    done = await run(env, "drill", "resign", "--json", "--pace", str(pace), timeout=30)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    pauses = 5 + 1  # resign.toml: after each of its 5 steps, and between its first step's 2 fail-overs
    assert report["duration"] >= pauses * pace
    assert all(f["ok"] and f["gap"] < pace for f in report["failovers"])
