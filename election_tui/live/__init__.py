"""The live session both views follow: watch -> model, TTLs, cluster status, our candidates."""

from .cluster import ClusterInfo, ConnectionState, MemberInfo, MemberState
from .feed import Feed, Frame
from .forms import (
    LAUNCH_CHECKS,
    Check,
    LaunchRequest,
    launch_problems,
    pace_problem,
    parse_launch,
    value_problem,
)
from .members import (
    ATTACHED,
    MEMBER_COUNTS,
    MemberControl,
    MemberError,
    ProcessState,
    members_problem,
    start_embedded,
)
from .session import DEMO_ELECTIONS, LiveSession

__all__ = [
    "ATTACHED",
    "DEMO_ELECTIONS",
    "LAUNCH_CHECKS",
    "MEMBER_COUNTS",
    "Check",
    "ClusterInfo",
    "ConnectionState",
    "Feed",
    "Frame",
    "LaunchRequest",
    "LiveSession",
    "MemberControl",
    "MemberError",
    "MemberInfo",
    "MemberState",
    "ProcessState",
    "launch_problems",
    "members_problem",
    "pace_problem",
    "parse_launch",
    "start_embedded",
    "value_problem",
]
