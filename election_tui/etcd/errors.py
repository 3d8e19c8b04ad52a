"""Typed errors, and the one table that turns a gRPC status into one of them.

    EtcdError                    every error of this client; str() says what to do
    ├── TransientError           may pass by itself: retry later (the client already retried
    │   │                        what was safe to send again, within the call's deadline)
    │   ├── Unavailable          no endpoint answers
    │   │   └── TlsHandshakeFailed   it answers, but the certificates do not match
    │   │       └── TlsNameMismatch  its certificate does not name the host dialled
    │   ├── EtcdTimeout          no answer within the deadline
    │   └── TooManyRequests      etcd sheds load
    ├── AuthError
    │   ├── AuthenticationFailed wrong or missing user / password
    │   └── PermissionDenied     the user's roles do not cover the key
    ├── ElectionError
    │   ├── NotLeaderError       leadership is gone
    │   ├── NoLeaderError        nobody leads
    │   └── CampaignTimeout      not elected in time (the key was withdrawn)
    ├── RequestError             etcd refused this request as it is
    │   ├── InvalidArgument
    │   ├── RequestTooLarge
    │   ├── NoSpace              etcd's database is full (an alarm is raised)
    │   ├── LeaseNotFound
    │   └── Compacted
    └── ClientClosed

Pure (no grpc import): `from_rpc_error` reads the status code's name and etcd's message text;
`from_cancel_reason` reads a refused watch's reason through the same table.
"""

from __future__ import annotations

import re
from typing import Protocol


class EtcdError(Exception):
    """Base of every error this client raises; `str()` says what happened and what to do."""

    hint = ""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.detail = message
        self.code = code
        super().__init__(f"{message}: {self.hint}" if self.hint else message)


class TransientError(EtcdError):
    """A condition that may pass by itself: the cluster is away, slow or shedding load."""


class Unavailable(TransientError):
    hint = "is etcd running and reachable at the given endpoints? (check --endpoints)"


class TlsHandshakeFailed(Unavailable):
    hint = "does --cacert name the CA that signed etcd's certificate, and --cert/--key a pair it trusts?"


class TlsNameMismatch(TlsHandshakeFailed):
    hint = (
        "etcd's certificate does not name the endpoint's host; dial a name it was issued for"
        " (e.g. https://localhost:2379 rather than an IP it does not list)"
    )


class EtcdTimeout(TransientError):
    hint = "the server did not answer in time; it may be overloaded, paused or partitioned"


class TooManyRequests(TransientError):
    hint = "etcd is shedding load (too many requests); slow down and try again"


class AuthError(EtcdError):
    """Who we are, or what we may touch."""


class AuthenticationFailed(AuthError):
    hint = "check --user and the password (ETCDCTL_PASSWORD)"


class PermissionDenied(AuthError):
    hint = "the user lacks a role that grants this key range; ask an admin (etcdctl role grant-permission)"


class ElectionError(EtcdError):
    """The election did not go our way."""


class NotLeaderError(ElectionError):
    hint = "leadership was lost (lease expired, key deleted or resigned); campaign again"


class NoLeaderError(ElectionError):
    hint = "nobody leads this election right now"


class CampaignTimeout(ElectionError):
    hint = "not elected before the timeout; the candidate key was withdrawn"


class RequestError(EtcdError):
    """etcd refuses this request as it is; sending it again will not help."""


class InvalidArgument(RequestError):
    hint = "the request was malformed"


class RequestTooLarge(RequestError):
    hint = "etcd refuses requests over --max-request-bytes (1.5 MiB by default); send less"


class NoSpace(RequestError):
    hint = "etcd's database is over its quota (alarm NOSPACE): compact, defragment, then disarm the alarm"


class LeaseNotFound(RequestError):
    hint = "the lease expired or was revoked; grant a new one"


class Compacted(RequestError):
    hint = "that revision was compacted; read the current state instead"


class ClientClosed(EtcdError):
    hint = "the client was closed"


class InvalidToken(AuthError):
    """The auth token expired or was revoked: the client renews it once and retries."""


class RpcStatus(Protocol):
    """What we read of a failed call (grpc.aio.AioRpcError has both)."""

    def code(self) -> object: ...

    def details(self) -> str | None: ...


# etcd's own messages (api/v3rpc/rpctypes/error.go, and the bare errors of its auth store and
# election recipe that reach us as UNKNOWN), looked for first and in this order: one status code
# carries several meanings (RESOURCE_EXHAUSTED is a full database, load shedding, or a message
# over gRPC's size limit). Each entry: a fragment of the lowercased message, the class, and a
# replacement text ("{}" stands for etcd's) when etcd's own says too little.
_BY_MESSAGE: tuple[tuple[str, type[EtcdError], str | None], ...] = (
    ("election: not leader", NotLeaderError, None),
    ("election: no leader", NoLeaderError, None),  # not raft's "etcdserver: no leader" (UNAVAILABLE)
    ("lease not found", LeaseNotFound, None),  # "etcdserver: requested lease not found"
    ("invalid auth token", InvalidToken, None),
    # The auth store changed since the token was issued: a new token fixes it (as Go's client
    # does). etcd 3.5.1 sends the auth store's own text; later releases the rpctypes one.
    ("revision of auth store is old", InvalidToken, None),
    ("auth: revision in header is old", InvalidToken, None),
    ("user name is empty", AuthenticationFailed, "etcd has auth enabled and no user was given"),
    ("authentication failed", AuthenticationFailed, None),
    ("user name not found", AuthenticationFailed, None),
    ("permission denied", PermissionDenied, None),
    ("request is too large", RequestTooLarge, None),
    ("message larger than max", RequestTooLarge, None),  # gRPC's own limit, either side
    ("database space exceeded", NoSpace, None),
    ("too many requests", TooManyRequests, None),
    ("has been compacted", Compacted, None),
    ("context deadline exceeded", EtcdTimeout, None),  # a server-side deadline, as UNKNOWN
    # raft lost a proposal (its leader died under it): UNAVAILABLE from the KV service, UNKNOWN
    # from the election service's Campaign (measured on 3.5.1, after the request timeout, 7 s).
    ("etcdserver: request timed out", Unavailable, None),
    (
        "hostname verification check failed",
        TlsNameMismatch,
        "TLS: etcd's certificate does not match the host: {}",
    ),
    ("handshake failed", TlsHandshakeFailed, "TLS handshake with etcd failed: {}"),
)

# Then the status code alone.
_BY_CODE: dict[str, type[EtcdError]] = {
    "UNAVAILABLE": Unavailable,
    "DEADLINE_EXCEEDED": EtcdTimeout,
    "INVALID_ARGUMENT": InvalidArgument,
    "UNAUTHENTICATED": AuthenticationFailed,
    "PERMISSION_DENIED": PermissionDenied,
    "FAILED_PRECONDITION": RequestError,
    "OUT_OF_RANGE": RequestError,  # a compacted or a future revision; the message tells which
}


def from_status(code: str, details: str | None) -> EtcdError:
    """Map a status code's name (e.g. "UNAVAILABLE") and etcd's message onto our exception types."""
    text = details or code
    lowered = text.lower()
    for fragment, cls, replacement in _BY_MESSAGE:
        if fragment in lowered:
            return cls(replacement.format(text) if replacement else text, code=code)
    return _BY_CODE.get(code, EtcdError)(text, code=code)


def from_rpc_error(err: RpcStatus) -> EtcdError:
    """Map a failed call (its code and etcd's message text) onto our exception types."""
    code = err.code()
    return from_status(str(getattr(code, "name", code)), err.details())


# Go's status text, "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
# is what etcd puts in a refused watch's cancel reason (others carry a bare message).
_GO_STATUS = re.compile(r"rpc error: code = (\w+) desc = (.*)", re.DOTALL)
_GO_CODE_SPELLING = {"Canceled": "CANCELLED"}  # the one name gRPC-Go spells differently


def from_cancel_reason(reason: str) -> EtcdError:
    """Map the reason etcd gives for cancelling a watch, through the same table as a status."""
    found = _GO_STATUS.fullmatch(reason.strip())
    if found is None:
        return from_status("UNKNOWN", reason or "the server cancelled the watch")
    go_code, details = found.groups()
    code = _GO_CODE_SPELLING.get(go_code) or re.sub(r"(?<!^)(?=[A-Z])", "_", go_code).upper()
    return from_status(code, details)
