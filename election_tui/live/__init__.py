"""The live session both views follow: watch -> model, TTLs, cluster status, our candidates."""

from .cluster import ClusterInfo, ConnectionState, MemberInfo
from .feed import Feed, Frame
from .session import DEMO_ELECTIONS, LiveSession
from .snapshot import Progress, Snapshot, read_candidates

__all__ = [
    "DEMO_ELECTIONS",
    "ClusterInfo",
    "ConnectionState",
    "Feed",
    "Frame",
    "LiveSession",
    "MemberInfo",
    "Progress",
    "Snapshot",
    "read_candidates",
]
