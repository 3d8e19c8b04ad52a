"""Typed errors, and the one place where a gRPC status becomes one of them."""

from __future__ import annotations

import grpc


class EtcdError(Exception):
    """Base of every error this client raises; `str()` says what happened and what to do."""

    hint = ""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.detail = message
        self.code = code
        super().__init__(f"{message}: {self.hint}" if self.hint else message)


class Unavailable(EtcdError):
    hint = "is etcd running and reachable at the given endpoints? (check --endpoints)"


class EtcdTimeout(EtcdError):
    hint = "the server did not answer in time; it may be overloaded, paused or partitioned"


class AuthenticationFailed(EtcdError):
    hint = "check --user and the password (ETCDCTL_PASSWORD)"


class PermissionDenied(EtcdError):
    hint = "the user lacks a role that grants this key range; ask an admin (etcdctl role grant-permission)"


class NotLeaderError(EtcdError):
    hint = "leadership was lost (lease expired, key deleted or resigned); campaign again"


class NoLeaderError(EtcdError):
    hint = "nobody leads this election right now"


class LeaseNotFound(EtcdError):
    hint = "the lease expired or was revoked; grant a new one"


class CampaignTimeout(EtcdError):
    hint = "not elected before the timeout; the candidate key was withdrawn"


class RequestTooLarge(EtcdError):
    hint = "etcd refuses requests over --max-request-bytes (1.5 MiB by default); send less"


class InvalidArgument(EtcdError):
    hint = "the request was malformed"


class Compacted(EtcdError):
    hint = "that revision was compacted; read the current state instead"


class ClientClosed(EtcdError):
    hint = "the client was closed"


class _InvalidToken(EtcdError):
    """The auth token expired or was revoked: internal, triggers one re-authentication."""


_TLS_ADVICE = "does --cacert name the CA that signed etcd's certificate, and --cert/--key a pair it trusts?"

_INVALID_TOKEN = ("invalid auth token", "auth token is expired", "user name is empty")


def is_invalid_token(err: grpc.aio.AioRpcError) -> bool:
    details = err.details() or ""
    return any(s in details for s in _INVALID_TOKEN[:2])


def from_rpc_error(err: grpc.aio.AioRpcError, *, campaign: bool = False) -> EtcdError:
    """Map a gRPC status (code and etcd's message text) onto our exception types."""
    code = err.code()
    details = err.details() or code.name
    name = code.name
    if campaign and (code is grpc.StatusCode.DEADLINE_EXCEEDED or "context deadline exceeded" in details):
        return CampaignTimeout(details, code=name)
    if "election: not leader" in details:
        return NotLeaderError(details, code=name)
    if "election: no leader" in details:
        return NoLeaderError(details, code=name)
    if "requested lease not found" in details or "lease not found" in details:
        return LeaseNotFound(details, code=name)
    if "authentication failed" in details or "user name not found" in details:
        return AuthenticationFailed(details, code=name)
    if "user name is empty" in details:
        return AuthenticationFailed("etcd has auth enabled and no user was given", code=name)
    if any(s in details for s in _INVALID_TOKEN[:2]):
        return _InvalidToken(details, code=name)
    if code is grpc.StatusCode.PERMISSION_DENIED or "permission denied" in details:
        return PermissionDenied(details, code=name)
    if "request is too large" in details or code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return RequestTooLarge(details, code=name)
    if "has been compacted" in details:
        return Compacted(details, code=name)
    if code is grpc.StatusCode.UNAVAILABLE:
        if "handshake failed" in details.lower():
            return Unavailable(f"TLS handshake with etcd failed; {_TLS_ADVICE}: {details}", code=name)
        return Unavailable(details, code=name)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return EtcdTimeout(details, code=name)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(details, code=name)
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationFailed(details, code=name)
    return EtcdError(details, code=name)
