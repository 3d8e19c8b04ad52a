"""Scripted failover drills: a scenario file, a runner that times every hand-over, a report.

    async def drill(client: EtcdClient) -> None:
        scenario = load_scenario("expiry")  # a shipped drill, or a path to a .toml file
        report = await run_drill(client, scenario, on_progress=print)
        print(format_text(report))

The CLI's `election-tui drill NAME` runs the same thing.
"""

from .report import (
    DrillReport,
    Failover,
    HowSummary,
    LeaseAfter,
    Loss,
    MemberEvent,
    RaftView,
    Spread,
    format_text,
    to_json,
)
from .runner import drill_election, run_drill
from .scenario import (
    ACTIONS,
    FAIL_HOWS,
    MEMBER_ACTIONS,
    Fail,
    FailHow,
    Hold,
    Launch,
    MemberAction,
    MemberChoice,
    MemberStep,
    MemberVerb,
    Rejoin,
    Scenario,
    ScenarioError,
    Step,
    WaitLeader,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)

__all__ = [
    "ACTIONS",
    "FAIL_HOWS",
    "MEMBER_ACTIONS",
    "DrillReport",
    "Fail",
    "FailHow",
    "Failover",
    "Hold",
    "HowSummary",
    "Launch",
    "LeaseAfter",
    "Loss",
    "MemberAction",
    "MemberChoice",
    "MemberEvent",
    "MemberStep",
    "MemberVerb",
    "RaftView",
    "Rejoin",
    "Scenario",
    "ScenarioError",
    "Spread",
    "Step",
    "WaitLeader",
    "drill_election",
    "format_text",
    "load_scenario",
    "parse_scenario",
    "run_drill",
    "shipped_scenarios",
    "to_json",
]
