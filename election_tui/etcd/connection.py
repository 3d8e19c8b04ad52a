"""Channels to the cluster's endpoints: TLS, auth token, failover and the unary call wrapper.

Every RPC goes through `Connection.unary` (or opens a stream on `Connection.stubs()`), so error
mapping, token renewal and endpoint failover live in exactly one place.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final

import grpc

from ._pb import rpc_pb2, rpc_pb2_grpc, v3election_pb2_grpc
from .errors import (
    AuthenticationFailed,
    ClientClosed,
    EtcdError,
    InvalidArgument,
    _InvalidToken,
    from_rpc_error,
    is_invalid_token,
)


class _Default(Enum):
    """Sentinel: use the client's default timeout (None already means "no deadline")."""

    TOKEN = 0


DEFAULT: Final = _Default.TOKEN

Metadata = tuple[tuple[str, str], ...]  # gRPC call metadata: here, the auth token

# etcd enforces a 5 s minimum between client pings (--grpc-keepalive-min-time); stay above it.
_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 0),  # etcd answers idle pings with GOAWAY too_many_pings
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.enable_retries", 0),
]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One client URL; `target` is what gRPC dials."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return ("https://" if self.tls else "http://") + self.target


def parse_endpoint(text: str, *, default_tls: bool = False) -> Endpoint:
    """Accept etcdctl's forms: `host:port`, `http://host:port`, `https://host:port`, `[::1]:port`."""
    raw = text.strip()
    tls = default_tls
    for scheme, is_tls in (("https://", True), ("http://", False), ("unix://", None)):
        if raw.startswith(scheme):
            if is_tls is None:
                raise InvalidArgument(f"unsupported endpoint {text!r}: use host:port")
            tls = is_tls
            raw = raw[len(scheme) :]
    raw = raw.rstrip("/")
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = raw.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument(f"invalid endpoint {text!r}: expected host:port, e.g. 127.0.0.1:2379")
    return Endpoint(host, int(port_text), tls)


def _read(path: str | Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise InvalidArgument(f"cannot read {what} {str(path)!r}: {err.strerror}") from None


class Stubs:
    """The generated stubs bound to one channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.kv = rpc_pb2_grpc.KVStub(channel)
        self.watch = rpc_pb2_grpc.WatchStub(channel)
        self.lease = rpc_pb2_grpc.LeaseStub(channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
        self.auth = rpc_pb2_grpc.AuthStub(channel)
        self.election = v3election_pb2_grpc.ElectionStub(channel)


class Backoff:
    """Jittered exponential delays for reconnect loops, so a dead server is not hammered."""

    def __init__(self, first: float = 0.05, cap: float = 1.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    async def sleep(self, deadline: float | None = None) -> None:
        """Sleep the next delay, but never past `deadline` (a monotonic time)."""
        delay = self._next * (0.5 + random.random() / 2)
        self._next = min(self._next * 2, self.cap)
        if deadline is not None:
            delay = min(delay, max(deadline - time.monotonic(), 0.0))
        await asyncio.sleep(delay)


class Connection:
    """Owns one channel per endpoint, the current endpoint and the auth token."""

    def __init__(
        self,
        endpoints: Sequence[str] | str,
        *,
        ca_cert: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if isinstance(endpoints, str):  # etcdctl's "host:port,host:port"
            endpoints = [e for e in endpoints.split(",") if e.strip()]
        if not endpoints:
            raise InvalidArgument("no endpoints given")
        if (cert is None) != (key is None):
            raise InvalidArgument("--cert and --key go together")
        secure = ca_cert is not None or cert is not None
        self.endpoints = [parse_endpoint(e, default_tls=secure) for e in endpoints]
        self.timeout = timeout
        self._credentials: grpc.ChannelCredentials | None = None
        if secure or any(e.tls for e in self.endpoints):
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_cert, "CA certificate"),
                private_key=_read(key, "client key"),
                certificate_chain=_read(cert, "client certificate"),
            )
        if user is not None and ":" in user and password is None:
            user, _, password = user.partition(":")
        self._user = user
        self._password = password or ""
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        self._channels: dict[int, tuple[grpc.aio.Channel, Stubs]] = {}
        self._index = 0
        self._closed = False
        self.generation = 0

    # -- channels ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint calls go to now."""
        return self.endpoints[self._index]

    def stubs(self, index: int | None = None) -> Stubs:
        if self._closed:
            raise ClientClosed("the client is closed")
        i = self._index if index is None else index
        if i not in self._channels:
            target = self.endpoints[i].target
            if self._credentials is not None:
                channel = grpc.aio.secure_channel(target, self._credentials, options=_CHANNEL_OPTIONS)
            else:
                channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
            self._channels[i] = (channel, Stubs(channel))
        return self._channels[i][1]

    def failover(self, generation: int) -> None:
        """Move to the next endpoint, once per failure however many calls saw it."""
        if generation != self.generation:
            return  # another call already moved on from that failure
        self._index = (self._index + 1) % len(self.endpoints)
        self.generation += 1

    async def close(self) -> None:
        self._closed = True
        channels = [c for c, _ in self._channels.values()]
        self._channels.clear()
        await asyncio.gather(*(c.close(grace=None) for c in channels), return_exceptions=True)

    # -- auth -------------------------------------------------------------------------------

    async def metadata(self) -> Metadata | None:
        if self._user is None:
            return None
        if self._token is None:
            await self._authenticate(None)
        assert self._token is not None
        return (("token", self._token),)

    async def renew_token(self, used: Metadata | None) -> None:
        """The token sent in `used` was refused: get a new one, unless another call already did."""
        await self._authenticate(used[0][1] if used else None)

    async def _authenticate(self, stale: str | None) -> None:
        async with self._token_lock:
            if self._token is not None and self._token != stale:
                return  # another call renewed it meanwhile
            request = rpc_pb2.AuthenticateRequest(name=self._user or "", password=self._password)
            deadline = time.monotonic() + self.timeout
            while True:
                generation = self.generation
                try:
                    resp = await self.stubs().auth.Authenticate(request, timeout=self.timeout)
                except grpc.aio.AioRpcError as err:
                    if err.code() is grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                        self.failover(generation)
                        await asyncio.sleep(0.05)
                        continue
                    raise from_rpc_error(err) from err
                self._token = resp.token
                return

    # -- calls ------------------------------------------------------------------------------

    async def unary(
        self,
        method: Callable[[Stubs], Callable[..., Any]],
        request: Any,
        *,
        timeout: float | _Default | None = DEFAULT,
        retry: bool = True,
        campaign: bool = False,
    ) -> Any:
        """Call one unary RPC with our metadata, mapping errors and failing over.

        `retry` says the call is safe to send again after UNAVAILABLE (reads, and writes whose
        repetition is harmless); retries stop at the call's deadline.
        """
        budget = self.timeout if isinstance(timeout, _Default) else timeout
        deadline = None if budget is None else time.monotonic() + budget
        renewed = False
        backoff = Backoff()
        while True:
            generation = self.generation
            metadata = await self.metadata()
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                return await method(self.stubs())(request, timeout=left, metadata=metadata)
            except grpc.aio.AioRpcError as err:
                if is_invalid_token(err) and not renewed and self._user is not None:
                    renewed = True
                    await self.renew_token(metadata)
                    continue
                if err.code() is grpc.StatusCode.UNAVAILABLE:
                    self.failover(generation)
                    if retry and (deadline is None or time.monotonic() < deadline):
                        await backoff.sleep(deadline)
                        continue
                raise _mapped(err, campaign) from err


def _mapped(err: grpc.aio.AioRpcError, campaign: bool) -> EtcdError:
    mapped = from_rpc_error(err, campaign=campaign)
    if isinstance(mapped, _InvalidToken):
        return AuthenticationFailed("the auth token was refused again right after renewal", code=mapped.code)
    return mapped
