"""`--members N`: the CLI starts an embedded cluster of N members, or says in one line why not."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faults._support import closed_port
from helpers import LineReader, eventually, stop_process

from election_tui.cli import main
from election_tui.etcd import EtcdClient, EtcdError

START = 30.0  # seconds for a CLI process to import, start 3 members and say where they are


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    try:
        code = main(args)
    except SystemExit as done:  # argparse refuses a flag by exiting
        code = done.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    assert len(err.splitlines()) == 1 and err.startswith("election-tui") and " error: " in err, err
    return err


@pytest.mark.parametrize("count", ["2", "4", "0", "6", "three", "-1", "", "٣", "3.0"])
@pytest.mark.parametrize("where", [[], ["serve"], ["drill", "resign"]], ids=["dashboard", "serve", "drill"])
def test_a_member_count_other_than_1_3_or_5_exits_2_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: list[str], count: str
) -> None:
    monkeypatch.delenv("ETCDCTL_ENDPOINTS", raising=False)
    err = _one_line_exit_2(capsys, [*where, f"--members={count}"])
    assert "--members" in err and "1, 3 or 5" in err


def test_members_with_endpoints_exits_2_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(capsys, ["--members", "3", "--endpoints", f"127.0.0.1:{closed_port()}"])
    assert "--members starts an embedded cluster" in err


def test_a_member_drill_on_given_endpoints_is_refused_before_it_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _one_line_exit_2(capsys, ["drill", "raft-leader", "--endpoints", f"127.0.0.1:{closed_port()}"])
    assert "'kill_member' breaks etcd members" in err and "embedded cluster" in err


def test_a_drill_written_for_3_members_is_refused_on_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETCDCTL_ENDPOINTS", raising=False)
    err = _one_line_exit_2(capsys, ["drill", "no-quorum", "--members", "1"])
    assert "written for 3 members, the cluster has 1" in err


def test_a_kill_member_drill_on_the_default_single_member_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ETCDCTL_ENDPOINTS", raising=False)
    scenario = tmp_path / "lone.toml"
    scenario.write_text(_SMALL.replace("members = 3\n", "").replace("member = 2", 'member = "leader"'))
    err = _one_line_exit_2(capsys, ["drill", str(scenario)])
    assert "'kill_member' needs --members 3 or more" in err


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            ("member = 2", "member = 7"),
            "member must be a member number from 1 to 3 (got 7: this drill has members = 3)",
        ),
        (
            ("member = 2", "member = 2\nwithin = -3"),
            "within must be more than 0 and at most 300 seconds (got -3)",
        ),
    ],
)
def test_a_bad_member_step_exits_2_in_one_line_naming_the_drill_s_own_size(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    change: tuple[str, str], said: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("ETCDCTL_ENDPOINTS", raising=False)
    scenario = tmp_path / "bad.toml"
    scenario.write_text(_SMALL.replace(*change))
    assert said in _one_line_exit_2(capsys, ["drill", str(scenario)])


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=_env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _answers(endpoint: str) -> bool:
    async with EtcdClient([endpoint], timeout=0.5) as client:
        try:
            await client.status(0, timeout=0.5)
        except EtcdError:
            return False
        return True


async def test_serve_with_3_members_starts_3_and_they_die_with_it_even_on_sigkill() -> None:
    argv = [sys.executable, "-m", "election_tui", "serve", "--members", "3", "--port", str(closed_port())]
    proc = _spawn(argv)
    try:
        assert proc.stderr is not None
        err = LineReader(proc.stderr)
        lines = await err.wait_for_async(lambda ls: any(b"embedded etcd: " in x for x in ls), START)
        where = next(x for x in lines if x.startswith(b"embedded etcd: ")).decode()
        endpoints = where.removeprefix("embedded etcd: ").split(",")
        assert len(endpoints) == 3
        async with EtcdClient(endpoints) as client:
            members = await client.member_list()
        assert len(members) == 3 and len({m.id for m in members}) == 3
        assert sorted(m.name for m in members) == ["election-tui-1", "election-tui-2", "election-tui-3"]

        proc.send_signal(signal.SIGKILL)  # no cleanup at all: the kernel's parent-death signal
        await asyncio.to_thread(proc.wait, 5)

        async def all_gone() -> bool:
            return not any(await asyncio.gather(*(_answers(e) for e in endpoints)))

        await eventually(all_gone, timeout=5, what="every member gone with its parent")
    finally:
        stop_process(proc)


_SMALL = """
name = "small"
election = "drill/small"
ttl = 2
members = 3

[[steps]]
action = "launch"
count = 2

[[steps]]
action = "wait_leader"

[[steps]]
action = "kill_member"
member = 2

[[steps]]
action = "restart_member"
"""


async def test_a_member_drill_starts_the_cluster_it_is_written_for_and_reports_in_json(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(_SMALL, encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "election_tui", "drill", str(scenario), "--json"],
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "starting an embedded etcd of 3 members" in done.stderr
    report = json.loads(done.stdout)
    kill, restart = report["member_events"]
    assert (kill["action"], kill["members"], kill["before"]["members"]) == ("kill", ["election-tui-2"], 3)
    assert kill["after"]["up"] == 2 and kill["after"]["quorum"] is True
    assert (restart["action"], restart["chosen"], restart["after"]["up"]) == ("restart", "failed", 3)
    assert report["losses"] == [] and report["ok"] is True
