"""Async etcd v3 client with the complete election API; knows nothing of the dashboard.

async with EtcdClient(["127.0.0.1:2379"]) as client:
    lease = await client.lease_grant(10)
    keep = await client.keep_alive(lease)
    leader = await client.campaign("my-election", lease.id, "candidate-1", timeout=5)
    await client.proclaim(leader, "new-value")
    await client.resign(leader)
    await client.lease_revoke(lease.id)
"""

import os as _os

# gRPC's C core logs failed TLS handshakes (and more) to stderr at INFO level by default, which
# breaks "one line on stderr" for the CLI and scribbles over the TUI. It reads the variable when
# it is first imported, which is below; a user's own setting wins.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from .blocking import BlockingEtcdClient, BlockingKeepAlive
from .client import Compare, EtcdClient, Op, prefix_range_end
from .errors import (
    AuthenticationFailed,
    CampaignTimeout,
    ClientClosed,
    Compacted,
    EtcdError,
    EtcdTimeout,
    InvalidArgument,
    LeaseNotFound,
    NoLeaderError,
    NotLeaderError,
    PermissionDenied,
    RequestTooLarge,
    Unavailable,
)
from .keepalive import KeepAlive
from .types import (
    Event,
    EventType,
    KeyValue,
    LeaderKey,
    Lease,
    LeaseInfo,
    Member,
    RangeResult,
    Status,
    TxnResult,
    WatchCompacted,
    WatchDisconnected,
    WatchEvents,
    WatchItem,
    WatchProgress,
    WatchResumed,
)
from .watch import Watch

__all__ = [
    "AuthenticationFailed",
    "BlockingEtcdClient",
    "BlockingKeepAlive",
    "CampaignTimeout",
    "ClientClosed",
    "Compacted",
    "Compare",
    "EtcdClient",
    "EtcdError",
    "EtcdTimeout",
    "Event",
    "EventType",
    "InvalidArgument",
    "KeepAlive",
    "KeyValue",
    "LeaderKey",
    "Lease",
    "LeaseInfo",
    "LeaseNotFound",
    "Member",
    "NoLeaderError",
    "NotLeaderError",
    "Op",
    "PermissionDenied",
    "RangeResult",
    "RequestTooLarge",
    "Status",
    "TxnResult",
    "Unavailable",
    "Watch",
    "WatchCompacted",
    "WatchDisconnected",
    "WatchEvents",
    "WatchItem",
    "WatchProgress",
    "WatchResumed",
    "prefix_range_end",
]
