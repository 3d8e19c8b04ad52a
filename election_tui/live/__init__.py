"""The live session both views follow: watch -> model, TTLs, cluster status, our candidates."""

from .cluster import ClusterInfo, ConnectionState, MemberInfo
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
from .session import DEMO_ELECTIONS, LiveSession
from .snapshot import Progress, Snapshot, read_candidates

__all__ = [
    "DEMO_ELECTIONS",
    "FIELD_LABELS",
    "LAUNCH_CHECKS",
    "MAX_COUNT",
    "MAX_VALUE_BYTES",
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
    "MemberInfo",
    "Progress",
    "Snapshot",
    "launch_problems",
    "pace_problem",
    "parse_launch",
    "read_candidates",
    "read_history",
    "value_problem",
]
