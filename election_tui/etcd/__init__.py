"""Async etcd v3 client with the complete election API; knows nothing of dashboards or views.

    async with EtcdClient(["127.0.0.1:2379"]) as client:
        lease = await client.lease_grant(10)
        keep = await client.keep_alive(lease)
        leader = await client.campaign("my-election", lease.id, "candidate-1", timeout=5)
        await client.proclaim(leader, "new-value")
        await client.resign(leader)
        await client.lease_revoke(lease.id)

Every public name is here; nothing outside this package imports its modules. The pure parts
(values, errors, keys, config) load at once; the ones that need grpc load on first use, so the
pure model can share `KeyValue` and `Event` without pulling in the network stack.
"""

import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING, Any

# gRPC's C core logs failed TLS handshakes (and more) to stderr at INFO level by default, which
# breaks "one line on stderr" for the CLI and scribbles over the TUI. It reads the variable when
# it is first imported, which is after this line whichever module of ours imports it; a user's
# own setting wins.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from .config import ClientConfig, Endpoint, parse_endpoint
from .errors import (
    AuthenticationFailed,
    AuthError,
    CampaignTimeout,
    ClientClosed,
    Compacted,
    ElectionError,
    EtcdError,
    EtcdTimeout,
    InvalidArgument,
    LeaseNotFound,
    NoLeaderError,
    NoSpace,
    NotLeaderError,
    PermissionDenied,
    RequestError,
    RequestTooLarge,
    TlsHandshakeFailed,
    TlsNameMismatch,
    TooManyRequests,
    TransientError,
    Unavailable,
)
from .keys import (
    SEP,
    BytesLike,
    candidate_key,
    election_name,
    may_be_candidate_key,
    parse_candidate_key,
    prefix_range_end,
    to_bytes,
    validate_ttl,
)
from .retry import Backoff
from .types import (
    DeleteResult,
    Event,
    EventType,
    KeyValue,
    LeaderKey,
    Lease,
    LeaseInfo,
    Member,
    PutResult,
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

# name -> module, for the parts that import grpc
_LAZY = {
    "BlockingEtcdClient": ".blocking",
    "BlockingKeepAlive": ".blocking",
    "Compare": ".client",
    "EtcdClient": ".client",
    "Op": ".client",
    "KeepAlive": ".keepalive",
    "LeaderElection": ".election",
    "LeaseSession": ".election",
    "Watch": ".watch",
}

if TYPE_CHECKING:
    from .blocking import BlockingEtcdClient, BlockingKeepAlive
    from .client import Compare, EtcdClient, Op
    from .election import LeaderElection, LeaseSession
    from .keepalive import KeepAlive
    from .watch import Watch


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "SEP",
    "AuthError",
    "AuthenticationFailed",
    "Backoff",
    "BlockingEtcdClient",
    "BlockingKeepAlive",
    "BytesLike",
    "CampaignTimeout",
    "ClientClosed",
    "ClientConfig",
    "Compacted",
    "Compare",
    "DeleteResult",
    "ElectionError",
    "Endpoint",
    "EtcdClient",
    "EtcdError",
    "EtcdTimeout",
    "Event",
    "EventType",
    "InvalidArgument",
    "KeepAlive",
    "KeyValue",
    "LeaderElection",
    "LeaderKey",
    "Lease",
    "LeaseInfo",
    "LeaseNotFound",
    "LeaseSession",
    "Member",
    "NoLeaderError",
    "NoSpace",
    "NotLeaderError",
    "Op",
    "PermissionDenied",
    "PutResult",
    "RangeResult",
    "RequestError",
    "RequestTooLarge",
    "Status",
    "TlsHandshakeFailed",
    "TlsNameMismatch",
    "TooManyRequests",
    "TransientError",
    "TxnResult",
    "Unavailable",
    "Watch",
    "WatchCompacted",
    "WatchDisconnected",
    "WatchEvents",
    "WatchItem",
    "WatchProgress",
    "WatchResumed",
    "candidate_key",
    "election_name",
    "may_be_candidate_key",
    "parse_candidate_key",
    "parse_endpoint",
    "prefix_range_end",
    "to_bytes",
    "validate_ttl",
]
