"""The live session both views follow: watch -> model, TTLs, cluster status, our candidates."""

from .cluster import ClusterInfo, ConnectionState, MemberInfo, MemberState
from .feed import Feed, Frame
from .forms import (
    FIELD_LABELS,
    LAUNCH_CHECKS,
    MAX_COUNT,
    MAX_VALUE_BYTES,
    Check,
    LaunchRequest,
    launch_problems,
    pace_problem,
    parse_launch,
    value_problem,
)
from .history import ElectionHistory, HistoryInfo, HistoryLimits, read_history
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
from .snapshot import Progress, Snapshot, read_candidates

__all__ = [
    "ATTACHED",
    "DEMO_ELECTIONS",
    "FIELD_LABELS",
    "LAUNCH_CHECKS",
    "MAX_COUNT",
    "MAX_VALUE_BYTES",
    "MEMBER_COUNTS",
    "Check",
    "ClusterInfo",
    "ConnectionState",
    "ElectionHistory",
    "Feed",
    "Frame",
    "HistoryInfo",
    "HistoryLimits",
    "LaunchRequest",
    "LiveSession",
    "MemberControl",
    "MemberError",
    "MemberInfo",
    "MemberState",
    "ProcessState",
    "Progress",
    "Snapshot",
    "launch_problems",
    "members_problem",
    "pace_problem",
    "parse_launch",
    "read_candidates",
    "read_history",
    "start_embedded",
    "value_problem",
]
