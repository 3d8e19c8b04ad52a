"""The one mapping from a gRPC status (code + etcd's message) to our exceptions, pinned on etcd's
real texts (api/v3rpc/rpctypes/error.go, the election recipe, the auth store, gRPC's own).

Pure: `from_rpc_error` only reads `.code()` and `.details()`, so a plain status value stands in
for `grpc.aio.AioRpcError`; no etcd is needed to check a lookup table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from election_tui.etcd import (
    AuthenticationFailed,
    AuthError,
    CampaignTimeout,
    Compacted,
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
from election_tui.etcd.errors import InvalidToken, from_cancel_reason, from_rpc_error
from election_tui.etcd.retry import reopens_stream


@dataclass(frozen=True)
class Code:
    """What grpc.StatusCode offers the mapping: a `.name`."""

    name: str


@dataclass(frozen=True)
class Status:
    """A failed call's status, as `from_rpc_error` reads it."""

    code_name: str
    message: str | None

    def code(self) -> Code:
        return Code(self.code_name)

    def details(self) -> str | None:
        return self.message


def mapped(code: str, message: str | None) -> EtcdError:
    return from_rpc_error(Status(code, message))


# (code, etcd's message, the exception it must become)
ETCD_STATUSES = [
    ("RESOURCE_EXHAUSTED", "etcdserver: mvcc: database space exceeded", NoSpace),
    ("RESOURCE_EXHAUSTED", "etcdserver: too many requests", TooManyRequests),
    ("INVALID_ARGUMENT", "etcdserver: request is too large", RequestTooLarge),
    ("RESOURCE_EXHAUSTED", "Received message larger than max (4194309 vs. 4194304)", RequestTooLarge),
    ("RESOURCE_EXHAUSTED", "grpc: received message larger than max (2097186 vs. 2097152)", RequestTooLarge),
    ("UNKNOWN", "election: not leader", NotLeaderError),
    ("UNKNOWN", "election: no leader", NoLeaderError),
    ("NOT_FOUND", "etcdserver: requested lease not found", LeaseNotFound),
    ("UNAUTHENTICATED", "etcdserver: invalid auth token", InvalidToken),
    ("UNKNOWN", "etcdserver: invalid auth token", InvalidToken),  # inside Campaign, measured on 3.5.1
    ("INVALID_ARGUMENT", "etcdserver: revision of auth store is old", InvalidToken),
    ("UNKNOWN", "auth: revision in header is old", InvalidToken),
    (
        "INVALID_ARGUMENT",
        "etcdserver: authentication failed, invalid user ID or password",
        AuthenticationFailed,
    ),
    ("INVALID_ARGUMENT", "etcdserver: user name is empty", AuthenticationFailed),
    ("PERMISSION_DENIED", "etcdserver: permission denied", PermissionDenied),
    ("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted", Compacted),
    ("UNKNOWN", "context deadline exceeded", EtcdTimeout),
    ("DEADLINE_EXCEEDED", "Deadline Exceeded", EtcdTimeout),
    ("UNAVAILABLE", "failed to connect to all addresses", Unavailable),
    ("UNAVAILABLE", "etcdserver: no leader", Unavailable),  # raft's, not the election's
    ("UNAVAILABLE", "etcdserver: request timed out", Unavailable),
    ("UNKNOWN", "etcdserver: request timed out", Unavailable),  # inside Campaign, its raft leader killed
    (
        "UNAVAILABLE",
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:2379: "
        "Ssl handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:"
        "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
        TlsHandshakeFailed,
    ),
    ("INVALID_ARGUMENT", "etcdserver: key is not provided", InvalidArgument),
]


@pytest.mark.parametrize(("code", "message", "expected"), ETCD_STATUSES)
def test_etcds_status_maps_to_its_exception(code: str, message: str, expected: type[EtcdError]) -> None:
    error = mapped(code, message)

    assert type(error) is expected
    assert error.code == code


def test_a_future_revision_is_a_request_error_not_compacted() -> None:
    error = mapped("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")

    assert type(error) is RequestError
    assert not isinstance(error, Compacted)


def test_an_unknown_message_falls_back_to_its_code_or_to_etcd_error() -> None:
    assert type(mapped("FAILED_PRECONDITION", "etcdserver: member ID already exist")) is RequestError
    assert type(mapped("DATA_LOSS", "etcdserver: corrupt cluster")) is EtcdError


def test_a_status_without_details_is_named_by_its_code() -> None:
    error = mapped("UNAVAILABLE", None)

    assert type(error) is Unavailable
    assert error.detail == "UNAVAILABLE"


def test_the_message_says_what_happened_and_what_to_do() -> None:
    error = mapped("RESOURCE_EXHAUSTED", "etcdserver: mvcc: database space exceeded")

    assert str(error).startswith("etcdserver: mvcc: database space exceeded: ")
    assert "compact" in str(error)
    assert error.detail == "etcdserver: mvcc: database space exceeded"


def test_an_empty_user_gets_a_text_that_says_auth_is_on() -> None:
    assert "auth enabled" in mapped("INVALID_ARGUMENT", "etcdserver: user name is empty").detail


def test_a_tls_failure_says_it_was_the_handshake() -> None:
    error = mapped("UNAVAILABLE", "Ssl handshake failed: CERTIFICATE_VERIFY_FAILED")

    assert error.detail.startswith("TLS handshake with etcd failed: ")
    assert "--cacert" in str(error)


def test_a_certificate_for_another_host_says_to_dial_a_name_it_lists() -> None:
    error = mapped(
        "UNAVAILABLE",
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:2379: Custom verification"
        " check failed with error: UNAUTHENTICATED: Hostname Verification Check failed.",
    )

    assert isinstance(error, TlsNameMismatch) and isinstance(error, TlsHandshakeFailed)
    assert error.detail.startswith("TLS: etcd's certificate does not match the host: ")
    assert "localhost" in str(error) and "is etcd running" not in str(error)


# -- the groups -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Unavailable, TlsHandshakeFailed, EtcdTimeout, TooManyRequests])
def test_transient_errors_are_the_ones_that_may_pass_by_themselves(cls: type[EtcdError]) -> None:
    assert issubclass(cls, TransientError)


@pytest.mark.parametrize(
    "cls", [CampaignTimeout, NoSpace, LeaseNotFound, PermissionDenied, NotLeaderError, Compacted]
)
def test_errors_that_need_a_change_are_not_transient(cls: type[EtcdError]) -> None:
    assert not issubclass(cls, TransientError)


def test_a_refused_token_is_an_auth_error_whatever_its_code() -> None:
    assert isinstance(mapped("UNAUTHENTICATED", "etcdserver: invalid auth token"), AuthError)


# -- a refused watch's cancel reason goes through the same table ----------------------------


@pytest.mark.parametrize(
    ("reason", "expected", "code"),
    [
        (
            "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
            PermissionDenied,
            "PERMISSION_DENIED",
        ),
        (
            "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token",
            InvalidToken,
            "UNAUTHENTICATED",
        ),
        (
            "rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old",
            InvalidToken,
            "INVALID_ARGUMENT",
        ),
        (
            "rpc error: code = InvalidArgument desc = etcdserver: key is not provided",
            InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        ("rpc error: code = Canceled desc = context canceled", EtcdError, "CANCELLED"),
        ("etcdserver: mvcc: required revision has been compacted", Compacted, "UNKNOWN"),
        ("", EtcdError, "UNKNOWN"),
    ],
)
def test_a_watch_cancel_reason_maps_like_a_status(reason: str, expected: type[EtcdError], code: str) -> None:
    error = from_cancel_reason(reason)

    assert type(error) is expected
    assert error.code == code
    assert error.detail  # never an empty message


# -- which broken streams are opened again --------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("UNAVAILABLE", "Socket closed"),
        ("DEADLINE_EXCEEDED", "Deadline Exceeded"),
        ("RESOURCE_EXHAUSTED", "etcdserver: too many requests"),
        ("CANCELLED", "Channel closed!"),  # what a stream sees when its server goes away
        ("UNKNOWN", "Stream removed"),
        ("INTERNAL", "Received RST_STREAM with error code 2"),
    ],
)
def test_a_stream_is_reopened_after_transient_or_server_gone_errors(code: str, message: str) -> None:
    assert reopens_stream(mapped(code, message))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("PERMISSION_DENIED", "etcdserver: permission denied"),
        ("INVALID_ARGUMENT", "etcdserver: request is too large"),
        ("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted"),
        ("RESOURCE_EXHAUSTED", "etcdserver: mvcc: database space exceeded"),
    ],
)
def test_a_stream_is_not_reopened_after_a_refusal(code: str, message: str) -> None:
    assert not reopens_stream(mapped(code, message))
