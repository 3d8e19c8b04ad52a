"""Member drills on a real 3-member embedded cluster: what losing etcd members does to an election.

Each drill's raft figures come from the members' own Status; the tests hold them against what
the members answer themselves, before and after. The two drills share one cluster (each brings
back what it took out) and each runs in an election under its own prefix.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import eventually

from election_tui.drill import (
    DrillReport,
    MemberEvent,
    MemberStep,
    RaftView,
    ScenarioError,
    format_text,
    load_scenario,
    parse_scenario,
    run_drill,
    to_json,
)
from election_tui.etcd import EtcdClient, Status
from election_tui.live import MemberControl, start_embedded

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def cluster() -> Iterator[MemberControl]:
    control = start_embedded(3, name="drill3")
    try:
        yield control
    finally:
        control.stop()


async def agreeing(cluster: MemberControl) -> list[Status]:
    """Every member answers and names the same raft leader (bounded wait: a drill may just have ended)."""

    async def all_agree() -> list[Status] | None:
        answers = await cluster.statuses()
        up = [a for a in answers if a is not None]
        if len(up) == len(answers) and len({a.leader for a in up}) == 1 and up[0].leader:
            return up
        return None

    return await eventually(all_agree, timeout=15, what="every member up, naming one raft leader")


def name_of(cluster: MemberControl, member_id: int) -> str:
    return next(n for i, n in enumerate(cluster.names) if cluster.member_id(i) == member_id)


async def test_killing_the_raft_leader_keeps_the_election_s_leader_and_hand_overs_work(
    cluster: MemberControl, prefix: bytes
) -> None:
    before = await agreeing(cluster)
    scenario = load_scenario("raft-leader")
    async with EtcdClient(cluster.endpoints) as client:
        report = await run_drill(client, scenario, members=cluster, election_prefix=prefix)
    print(format_text(report))  # shown when an assertion fails
    assert report.ok

    kill, restart = report.member_events
    # It killed the member that the members themselves named raft leader.
    assert (kill.verb, kill.chosen) == ("kill", "leader")
    assert kill.members == (name_of(cluster, before[0].leader),) == (kill.before.leader,)
    assert kill.before.term == max(s.raft_term for s in before)
    # The two left elected another at a higher term: quorum held.
    assert kill.after.leader not in (None, kill.before.leader)
    assert kill.after.term > kill.before.term
    assert (kill.after.up, kill.after.quorum, kill.settled_at is not None) == (2, True, True)
    # The election noticed nothing: the same leader key, no candidate gave up, hand-overs on time.
    assert kill.leader_kept and kill.leader_after == kill.leader_before
    assert report.losses == []
    assert report.failovers[0].old_value == kill.leader_before  # it still led a whole hold later
    assert all(f.ok for f in report.failovers) and len(report.failovers) == 2
    # The killed member came back as a follower: nobody changed leader for it.
    assert (restart.verb, restart.members, restart.after.up) == ("restart", kill.members, 3)
    assert restart.after.leader == kill.after.leader and restart.after.term == kill.after.term

    after = await agreeing(cluster)
    assert min(s.raft_term for s in after) >= restart.after.term
    if max(s.raft_term for s in after) == restart.after.term:  # no election since (a loaded machine may)
        assert name_of(cluster, after[0].leader) == restart.after.leader

    text = format_text(report)
    assert f"{kill.before.leader} t{kill.before.term} -> {kill.after.leader} t{kill.after.term}" in " ".join(
        text.split()
    )
    events = to_json(report)["member_events"]
    assert events[0]["before"]["leader"] == kill.before.leader and events[0]["after"]["quorum"] is True


async def test_without_quorum_the_election_stalls_then_recovers_when_the_members_return(
    cluster: MemberControl, prefix: bytes
) -> None:
    await agreeing(cluster)
    scenario = load_scenario("no-quorum")
    async with EtcdClient(cluster.endpoints) as client:
        report = await run_drill(client, scenario, members=cluster, election_prefix=prefix)
    print(format_text(report))  # shown when an assertion fails
    assert report.ok

    kill, restart = report.member_events
    assert (kill.verb, kill.chosen, len(kill.members)) == ("kill", "follower", 2)
    # The one left is no majority: it stops naming a leader.
    assert (kill.after.up, kill.after.quorum, kill.after.leader) == (1, False, None)
    assert kill.settled_at is not None
    # The stall: no keep-alive is answered, so every candidate gives up about a TTL later.
    assert sorted(loss.value for loss in report.losses) == ["c1", "c2", "c3"]
    assert all("no keep-alive answer within the TTL" in loss.detail for loss in report.losses)
    assert all(kill.at < loss.at < kill.at + 2 * scenario.ttl for loss in report.losses)
    # Quorum back: a new raft leader at a higher term, and etcd had kept every lease alive.
    assert restart.after.quorum and restart.after.leader is not None
    assert restart.after.term > kill.after.term and restart.settled_at is not None
    assert {lease.value for lease in restart.leases} == {"c1", "c2", "c3"}
    assert all(lease.ttl > 0 and lease.believed == "lost" for lease in restart.leases)
    # The old leader's key outlived its owner: it went when its extended lease ran out.
    old = next(loss for loss in report.losses if loss.value == kill.leader_before)
    assert old.key_gone_at is not None and old.key_gone_at - restart.settled_at >= scenario.ttl - 1
    # ... and so did the waiting candidates' (by then, or sooner: withdrawn with their campaigns).
    assert all(
        loss.key_gone_at is not None and loss.key_gone_at <= old.key_gone_at + 1 for loss in report.losses
    )
    # Then the election works again.
    assert len(report.failovers) == 1 and report.failovers[0].ok

    after = await agreeing(cluster)
    assert min(s.raft_term for s in after) >= restart.after.term > kill.before.term
    text = format_text(report)
    assert "NO QUORUM" in text and "candidates that gave up without being failed" in text
    losses = to_json(report)["losses"]
    assert {loss["value"] for loss in losses} == {"c1", "c2", "c3"}


# -- refused before anything runs ------------------------------------------------------------

_KILL = """
name = "x"
election = "x"
ttl = 2
{top}
[[steps]]
action = "launch"
count = 2

[[steps]]
action = "kill_member"
{step}
"""


async def test_a_member_drill_on_an_attached_cluster_is_refused_before_it_starts(
    cluster: MemberControl, prefix: bytes
) -> None:
    scenario = load_scenario("raft-leader")
    async with EtcdClient(cluster.endpoints) as client:
        with pytest.raises(ScenarioError, match=r"steps\[2\]\.action 'kill_member' breaks etcd members"):
            await run_drill(client, scenario, election_prefix=prefix)  # no member control
        assert (await client.get_prefix(prefix)).count == 0  # nothing was launched


def test_member_steps_parse_and_bad_ones_name_the_field() -> None:
    step = parse_scenario(_KILL.format(top="", step='member = "follower"\ncount = 2')).steps[1]
    assert step == MemberStep("kill_member", "follower", 2, 10.0)
    restart = parse_scenario(
        _KILL.format(top="", step="member = 2") + '\n[[steps]]\naction = "restart_member"\n'
    )
    assert restart.steps[2] == MemberStep("restart_member", "failed", 1, 20.0)
    for top, body, problem in (
        ("", "", r"steps\[1\]\.member is required"),
        ("", 'member = "failed"', r"steps\[1\]\.member must be \"leader\" or \"follower\""),
        ("", 'member = "leader"\ncount = 2', r"steps\[1\]\.count only applies to member = \"follower\""),
        ("", "member = 0", r"steps\[1\]\.member must be a member number from 1 to 5"),
        ("members = 3", "member = 7", r"steps\[1\]\.member must be a member number from 1 to 3 \(got 7: "),
        ("members = 1", 'member = "leader"', r"steps\[1\]\.action 'kill_member' needs --members 3 or more"),
        ("members = 3", 'member = "follower"\ncount = 3', r"steps\[1\]\.count is 3 but a cluster of 3 has 2"),
        ("members = 7", 'member = "leader"', r"members must be between 1 and 5"),
    ):
        with pytest.raises(ScenarioError, match=problem):
            parse_scenario(_KILL.format(top=top, step=body))


def test_a_drill_written_for_three_members_is_refused_on_one() -> None:
    scenario = load_scenario("no-quorum")
    problem = scenario.cluster_problem(1)
    assert problem is not None and "written for 3 members, the cluster has 1" in str(problem)
    assert scenario.cluster_problem(3) is None


def test_a_kill_on_the_only_member_is_refused_before_it_starts() -> None:
    scenario = parse_scenario(_KILL.format(top="", step='member = "leader"'))  # no `members`: any size
    problem = scenario.cluster_problem(1)
    assert problem is not None and "'kill_member' needs --members 3 or more" in str(problem)
    assert scenario.cluster_problem(3) is None


def test_without_quorum_the_report_does_not_claim_the_election_kept_its_leader() -> None:
    report = DrillReport(load_scenario("no-quorum"), b"drill/no-quorum", 0.0, 0.0, 5.0, 2)
    event = MemberEvent(
        1, 2, "kill", "follower", ("election-tui-2", "election-tui-3"), 1.0, 1.5,
        RaftView("election-tui-1", 2, 3, 3), RaftView(None, 2, 1, 3), "c1", "c1", True,
    )  # fmt: skip
    report.member_events.append(event)
    text = " ".join(format_text(report).split())
    assert "1 of 3 up, NO QUORUM" in text
    assert "election leader unknown without quorum (last seen: c1)" in text and "(kept)" not in text
