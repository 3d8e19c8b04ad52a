"""Failover drills: scenario files fail early and clearly; real drills time real hand-overs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers import eventually, pause_and_cut_report

from election_tui.drill import (
    DrillReport,
    Fail,
    Launch,
    ScenarioError,
    drill_election,
    format_text,
    load_scenario,
    parse_scenario,
    run_drill,
    shipped_scenarios,
    to_json,
)
from election_tui.drill.html import drill_chart_svg
from election_tui.etcd import EtcdClient
from election_tui.live import LiveSession
from election_tui.model import Segment

_VALID = """
name = "expiry"
description = "teaching text"
election = "drill/x"
ttl = 2

[[steps]]
action = "launch"
count = 3

[[steps]]
action = "wait_leader"

[[steps]]
action = "fail"
how = "expire"
repeat = 2
"""


def _write(tmp_path: Path, text: str, name: str = "expiry.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, text))
    return str(info.value)


# -- scenario files -------------------------------------------------------------------------


def test_a_valid_file_parses_with_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, _VALID))
    assert (scenario.name, scenario.election, scenario.ttl, scenario.source) == (
        "expiry",
        "drill/x",
        2,
        "expiry.toml",
    )
    assert scenario.steps[0] == Launch(count=3)
    assert scenario.steps[2] == Fail(how="expire", expect_within=3.5, repeat=2)
    assert scenario.failures == 2


def test_a_bad_how_names_the_file_the_step_and_the_choices(tmp_path: Path) -> None:
    message = _error(tmp_path, _VALID.replace('how = "expire"', 'how = "explode"'))
    assert message.startswith("expiry.toml: steps[2].how must be one of resign, expire, revoke, pause")
    assert "'explode'" in message


def test_a_ttl_of_zero_is_refused(tmp_path: Path) -> None:
    assert _error(tmp_path, _VALID.replace("ttl = 2", "ttl = 0")).startswith(
        "expiry.toml: ttl must be between 1"
    )


def test_an_unknown_action_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, _VALID.replace('action = "wait_leader"', 'action = "nap"'))
    assert message.startswith("expiry.toml: steps[1].action must be one of launch, wait_leader, fail")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    assert _error(tmp_path, _VALID.replace('election = "drill/x"', "")) == "expiry.toml: election is required"
    assert "steps[0].count is required" in _error(tmp_path, _VALID.replace("count = 3", ""))


def test_a_misspelt_field_is_not_ignored(tmp_path: Path) -> None:
    assert "steps[0].cuont is not a known field" in _error(tmp_path, _VALID.replace("count", "cuont"))


def test_more_failures_than_waiting_candidates_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, _VALID.replace("repeat = 2", "repeat = 3"))
    assert "steps[2].repeat is 3 but only 3 candidate(s)" in message
    assert "rejoin" in message


def test_wrong_types_and_bounds_are_refused() -> None:
    with pytest.raises(ScenarioError, match=r"steps\[2\]\.repeat must be a whole number"):
        parse_scenario(_VALID.replace("repeat = 2", 'repeat = "2"'))
    with pytest.raises(ScenarioError, match=r"ttl must be a whole number"):
        parse_scenario(_VALID.replace("ttl = 2", "ttl = true"))
    hold = _VALID + '\n[[steps]]\naction = "hold"\nseconds = 61\n'
    with pytest.raises(ScenarioError, match=r"steps\[3\]\.seconds must be more than 0 and at most 60"):
        parse_scenario(hold)
    with pytest.raises(ScenarioError, match="is not valid TOML"):
        parse_scenario("ttl = ")


def test_the_partition_drills_tell_a_keep_alive_pause_from_a_network_cut() -> None:
    pause = " ".join(load_scenario("partition").description.split())
    assert pause.startswith("A keep-alive pause") and "not a network partition" in pause
    assert "cut off" not in pause  # "cut" is the blackhole's word
    both = " ".join(load_scenario("network-partition").description.split())
    assert "its overlap is just heal_after" in both and "no overlap" in both


def test_overlap_is_in_the_summary_and_the_chart_and_unknown_shows_as_a_dash() -> None:
    report = pause_and_cut_report()
    text = format_text(report)
    summary = text[text.index("summary (median / p95)") :]
    header, *rows = summary.splitlines()[1:5]
    assert header.split()[-1] == "overlap"
    assert rows[0].startswith("pause") and rows[0].endswith("1000 ms / 1000 ms")
    assert rows[1].startswith("blackhole") and rows[1].endswith("0.0 ms / 0.0 ms")
    assert rows[2].startswith("resign") and rows[2].endswith(" -")  # never measured: not a zero
    assert to_json(report)["summary"]["resign"]["overlap"] is None
    svg = drill_chart_svg(report)
    assert svg.count('class="etui-overlap"') == 1  # only the paused leader overlapped
    assert "etui-overlap-legend" in svg and "overlap 1000 ms" in svg and "overlap -" in svg


def test_heal_after_out_of_bounds_says_between_0_and_60() -> None:
    for bad in ("-3", "61"):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(_VALID.replace('how = "expire"', f'how = "pause"\nheal_after = {bad}'))
        assert f"steps[2].heal_after must be between 0 and 60 seconds (got {bad})" in str(caught.value)


def test_heal_after_only_applies_to_the_partitions() -> None:
    with pytest.raises(
        ScenarioError, match=r'steps\[2\]\.heal_after only applies to how = "pause" or "blackhole"'
    ):
        parse_scenario(_VALID.replace("repeat = 2", "repeat = 2\nheal_after = 1"))
    cut = parse_scenario(_VALID.replace('how = "expire"', 'how = "blackhole"\nheal_after = 1'))
    assert cut.blackholes == [2] and cut.launched == 3


async def test_a_blackhole_drill_on_a_cluster_off_loopback_is_refused_before_it_starts() -> None:
    scenario = parse_scenario(_VALID.replace('how = "expire"', 'how = "blackhole"'), source="cut.toml")
    async with EtcdClient(["etcd.example:2379"]) as client:  # never dialled
        with pytest.raises(ScenarioError, match=r'cut.toml: steps\[2\]\.how is "blackhole".*loopback only'):
            await run_drill(client, scenario)


def test_an_unknown_shipped_name_lists_the_shipped_ones() -> None:
    with pytest.raises(
        ScenarioError,
        match="shipped: crash, expiry, network-partition, no-quorum, partition, raft-leader, resign",
    ):
        load_scenario("nosuchdrill")


@pytest.mark.parametrize("name", ["resign", "expiry", "crash", "partition", "network-partition"])
def test_each_shipped_scenario_parses_and_is_short(name: str) -> None:
    assert name in shipped_scenarios()
    scenario = load_scenario(name)
    assert scenario.name == name and scenario.description
    assert 2 <= scenario.ttl <= 3
    launched = sum(s.count for s in scenario.steps if isinstance(s, Launch))
    assert launched == 3 and 2 <= scenario.failures <= 4
    # Each fail-over costs about TTL + heal_after at most: the whole drill stays short.
    assert (
        sum((scenario.ttl + 0.5 + s.heal_after) * s.repeat for s in scenario.steps if isinstance(s, Fail))
        < 25
    )


# -- running drills against etcd ------------------------------------------------------------


async def _run(endpoints: list[str], prefix: bytes, name: str) -> tuple[DrillReport, list[str]]:
    """Run a shipped drill and check that it left no lease behind."""
    progress: list[str] = []
    async with EtcdClient(endpoints) as client:
        before = set(await client.leases())
        report = await run_drill(
            client, load_scenario(name), on_progress=progress.append, election_prefix=prefix
        )
        assert set(await client.leases()) - before == set()
    return report, progress


def _check_consistent(report: DrillReport) -> None:
    assert report.error is None, report.error
    assert len(report.failovers) == report.scenario.failures
    revisions: list[int] = []
    for f in report.failovers:
        assert f.new_value is not None and f.new_key is not None and f.new_value != f.old_value
        assert f.key_gone_at is not None and f.key_gone_revision is not None and f.elected_at is not None
        revisions.append(f.key_gone_revision)
        assert f.believed_until is not None
        assert f.detection is not None and f.handover is not None and f.gap is not None
        assert f.gap >= f.handover
        assert f.handover > -0.05  # our watch and the new leader hear of the deletion about together
        assert f.ok
    assert revisions == sorted(revisions)
    assert report.ok


def _check_formats(report: DrillReport, how: str) -> None:
    text = format_text(report)
    assert report.scenario.description.split()[0] in text
    for f in report.failovers:
        assert f"{f.old_value} -> {f.new_value}" in text
    assert "summary" in text and "result: ok" in text
    data = json.loads(json.dumps(to_json(report)))
    assert data["ok"] is True and data["error"] is None
    assert [row["how"] for row in data["failovers"]] == [how] * len(report.failovers)
    assert set(data["failovers"][0]) >= {
        "old_value",
        "new_value",
        "failed_at",
        "key_gone_at",
        "key_gone_revision",
        "elected_at",
        "detection",
        "handover",
        "gap",
        "ok",
    }
    assert data["summary"][how]["count"] == len(report.failovers)
    assert data["summary"][how]["gap"]["median"] > 0


async def test_resign_drill_hands_over_at_once(endpoints: list[str], prefix: bytes) -> None:
    report, progress = await _run(endpoints, prefix, "resign")
    _check_consistent(report)
    assert report.election == prefix + b"drill/resign"
    for f in report.failovers:
        assert f.detection is not None and f.detection < 0.5
        # The old leader marks itself resigned when its Resign (and revoke) call returns.
        assert f.overlap is not None and f.overlap < 0.05
    assert any(line.startswith("fail-over 4: resign") for line in progress)
    _check_formats(report, "resign")


def test_the_prefix_is_not_prepended_to_an_election_already_under_it() -> None:
    assert drill_election(b"drill/", "drill/network-partition") == b"drill/network-partition"
    assert drill_election(b"team/", "drill/resign") == b"team/drill/resign"
    assert drill_election(b"", "drill/resign") == b"drill/resign"


async def test_a_drill_under_a_prefix_its_election_already_has_runs_there_once(
    endpoints: list[str], prefix: bytes
) -> None:
    scenario = parse_scenario(
        f'name = "once"\nelection = "{prefix.decode()}drill/once"\nttl = 2\n'
        '[[steps]]\naction = "launch"\ncount = 2\n[[steps]]\naction = "fail"\nhow = "resign"\n'
    )
    async with EtcdClient(endpoints) as client:
        report = await run_drill(client, scenario, election_prefix=prefix)
    assert report.election == prefix + b"drill/once" and report.ok, report.error


async def test_expiry_drill_detects_after_the_ttl(endpoints: list[str], prefix: bytes) -> None:
    report, _ = await _run(endpoints, prefix, "expiry")
    _check_consistent(report)
    ttl = report.scenario.ttl
    for f in report.failovers:
        assert f.detection is not None and ttl - 0.1 <= f.detection < ttl + 1.5
        assert f.failed_at <= f.action_at + 0.1  # the last renewal, not the moment we let go
    summary = report.summary["expire"]
    assert summary.count == 4 and summary.failures == 0
    assert summary.detection is not None and summary.detection.median >= ttl - 0.1
    _check_formats(report, "expire")


async def test_the_network_partition_drill_shows_pause_and_blackhole_side_by_side(
    endpoints: list[str], prefix: bytes
) -> None:
    removals: list[tuple[bytes, str]] = []
    progress: list[str] = []
    async with EtcdClient(endpoints) as client, LiveSession(client, prefix, history=None) as live:
        await asyncio.wait_for(live.loaded.wait(), 10)
        before = set(await client.leases())
        report = await run_drill(
            client,
            load_scenario("network-partition"),
            on_progress=progress.append,
            on_removal=lambda key, why: removals.append((key, why)),
            on_transition=live.candidate_changed,  # as the TUI runs it: beside a live session
            election_prefix=prefix,
        )
        assert set(await client.leases()) - before == set()
        paused, cut = report.failovers
        # The drill's paused leader went stale: the session's swimlanes get its "↳ stale" row.
        name = prefix + b"drill/network-partition"
        (belief,) = live.beliefs.of(name)  # the cut one gave up first: it never went stale
        assert belief.key == paused.old_key.encode() and belief.until is not None

        def stale() -> tuple[Segment, ...]:
            window = live.terms.window(live.wall(), 120)
            assert window is not None
            return live.terms.lane(name, window, live.beliefs.of(name)).stale

        (overlap,) = await eventually(stale, timeout=10, what="the overlap drawn")
        assert overlap.term is not None and overlap.term.key == belief.key
    _check_consistent(report)
    assert (paused.how, cut.how) == ("pause", "blackhole")
    assert [why for _, why in removals] == ["paused", "blackholed"]
    ttl = report.scenario.ttl
    for f in (paused, cut):  # both detected by etcd's expiry, timed from the last renewal
        assert f.detection is not None and ttl - 0.1 <= f.detection < ttl + 1.5
    # The lesson: the paused leader still believed after the new one was elected; the cut one
    # had given up first (its client's own deadline), so nobody else ever shared its belief.
    assert paused.overlap is not None and paused.overlap > 0.5
    assert cut.overlap == 0.0 and cut.believed_until is not None and cut.elected_at is not None
    assert cut.believed_until <= cut.elected_at
    assert any("the old one knows it lost" in line for line in progress)
    assert "rejoined: " in progress[-1] and "nobody" not in progress[-1]
    _check_formats_mixed(report)


def _check_formats_mixed(report: DrillReport) -> None:
    data = json.loads(json.dumps(to_json(report)))
    assert [row["how"] for row in data["failovers"]] == ["pause", "blackhole"]
    assert set(data["summary"]) == {"pause", "blackhole"}
    assert "blackhole" in format_text(report)


async def test_an_occupied_election_ends_the_drill_with_a_clear_error(
    endpoints: list[str], prefix: bytes
) -> None:
    async with EtcdClient(endpoints) as client:
        await client.put(prefix + b"drill/resign/1234", b"someone else")
        report = await run_drill(client, load_scenario("resign"), election_prefix=prefix)
    assert report.error is not None and "already has 1 key(s)" in report.error
    assert not report.ok and report.failovers == []
    assert "drill stopped early" in format_text(report)


async def test_late_is_reported_and_a_stuck_step_ends_the_drill(endpoints: list[str], prefix: bytes) -> None:
    scenario = parse_scenario(
        """
        name = "stuck"
        election = "drill/stuck"
        ttl = 2
        [[steps]]
        action = "launch"
        count = 2
        [[steps]]
        action = "fail"
        how = "pause"
        expect_within = 0.5
        [[steps]]
        action = "launch"
        count = 1
        within = 0.0001
        """.replace("        ", ""),
        source="stuck.toml",
    )
    async with EtcdClient(endpoints) as client:
        before = set(await client.leases())
        report = await run_drill(client, scenario, election_prefix=prefix)
        assert set(await client.leases()) - before == set()
    # The pause takes ≈ TTL, far over 0.5 s: a row marked late, not an exception.
    (row,) = report.failovers
    assert row.complete and not row.ok
    # No candidate can get its key within 0.1 ms: the drill stops there, saying where and why.
    assert report.error is not None
    assert report.error.startswith("steps[2] (launch): launched candidates did not get their keys")
    text = format_text(report)
    assert "LATE" in text and "drill stopped early: steps[2]" in text and "result: NOT OK" in text


async def test_cancelling_a_drill_still_revokes_every_lease(endpoints: list[str], prefix: bytes) -> None:
    scenario = parse_scenario(
        'name = "long"\nelection = "drill/long"\nttl = 30\n'
        '[[steps]]\naction = "launch"\ncount = 3\n[[steps]]\naction = "wait_leader"\n'
        '[[steps]]\naction = "hold"\nseconds = 60\n'
    )
    async with EtcdClient(endpoints) as client:
        before = set(await client.leases())
        holding = asyncio.Event()
        task = asyncio.create_task(
            run_drill(
                client,
                scenario,
                election_prefix=prefix,
                on_progress=lambda line: holding.set() if line.startswith("holding") else None,
            )
        )
        async with asyncio.timeout(10):
            await holding.wait()
        assert len(set(await client.leases()) - before) == 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert set(await client.leases()) - before == set()
        assert (await client.get_prefix(prefix)).kvs == ()
