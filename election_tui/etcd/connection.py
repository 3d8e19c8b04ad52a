"""Channels to the cluster's endpoints: TLS, auth token, failover and the unary call wrapper.

Every RPC goes through `Connection.unary` (or opens a stream on `Connection.stubs()`), so error
mapping, token renewal and endpoint failover live in exactly one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from enum import Enum
from typing import Any, Final

import grpc

from ._pb import rpc_pb2, rpc_pb2_grpc, v3election_pb2_grpc
from .config import ClientConfig, Endpoint
from .errors import (
    AuthenticationFailed,
    ClientClosed,
    InvalidArgument,
    InvalidToken,
    Unavailable,
    from_rpc_error,
)
from .retry import REPEATABLE, Backoff


class _Default(Enum):
    """Sentinel: use the client's default timeout (None already means "no deadline")."""

    TOKEN = 0


DEFAULT: Final = _Default.TOKEN

Metadata = tuple[tuple[str, str], ...]  # gRPC call metadata: here, the auth token

# Called, when its caller was cancelled mid-call, with an awaitable of the call's answer (None
# if the call failed); the call goes on.
OnCancel = Callable[[Awaitable[Any]], None]

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


class Connection:
    """Owns one channel per endpoint, the current endpoint and the auth token."""

    def __init__(self, config: ClientConfig) -> None:
        if not config.endpoints:
            raise InvalidArgument("no endpoints given")
        self.config = config
        self.endpoints = list(config.targets())
        self._dial = config.dial_targets()
        self.timeout = config.command_timeout
        self._credentials: grpc.ChannelCredentials | None = None
        if config.secure or any(e.tls for e in self.endpoints):
            ca, key, cert = config.tls_files()
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=ca, private_key=key, certificate_chain=cert
            )
        self._user = config.user
        self._password = config.password or ""
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        self._channels: dict[int, tuple[grpc.aio.Channel, Stubs]] = {}
        self._methods: dict[tuple[int, str], Any] = {}  # (endpoint index, rpc) -> the stub's method
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
            target = self._dial[i]
            if self._credentials is not None:
                options = list(_CHANNEL_OPTIONS)
                if target != self.endpoints[i].target:
                    # Dialled through a proxy: check the certificate against the server's own name.
                    options.append(("grpc.ssl_target_name_override", self.endpoints[i].host))
                channel = grpc.aio.secure_channel(target, self._credentials, options=options)
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
        self._methods.clear()
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
            resp = await self._call("auth.Authenticate", request, self.timeout, auth=False)
            self._token = resp.token

    # -- calls ------------------------------------------------------------------------------

    def unary(
        self,
        rpc: str,
        request: Any,
        *,
        timeout: float | _Default | None = DEFAULT,
        on_cancel: OnCancel | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Call one unary RPC ("<stub>.<method>") with our metadata, mapping errors, failing over.

        Whether it is sent again after UNAVAILABLE is `retry.REPEATABLE[rpc]`; retries stop at
        the call's deadline. A refused auth token is renewed once and the call sent again.

        With `on_cancel`, cancelling the caller does not cancel a call on the wire (which the
        server may apply anyway): `on_cancel(answer)` gets an awaitable of its answer (None if
        it fails; the call keeps its deadline) and CancelledError is raised at once, so the
        caller can undo what the call did once it is known.

        (A plain function handing back the call loop's coroutine: every RPC goes through here,
        and an `async def` would be one more coroutine per call.)
        """
        return self._call(rpc, request, timeout, None, on_cancel)

    async def unary_from(
        self, rpc: str, request: Any, *, timeout: float | _Default | None = DEFAULT
    ) -> tuple[Any, int]:
        """`unary`, and the index (in `endpoints`) of the endpoint that answered."""
        where: list[int] = []
        return await self._call(rpc, request, timeout, None, where=where), where[0]

    def unary_at(
        self, index: int, rpc: str, request: Any, *, timeout: float | _Default | None = DEFAULT
    ) -> Coroutine[Any, Any, Any]:
        """`unary` sent to `endpoints[index]` only: no failover, never sent again after
        UNAVAILABLE (a refused token is still renewed once), for a read that must come from the
        member that answered an earlier call."""
        return self._call(rpc, request, timeout, index)

    def _method(self, index: int, rpc: str) -> Any:
        """The stub's bound method for `rpc` on endpoint `index` (looked up once per channel)."""
        service, _, method = rpc.partition(".")
        found = self._methods[(index, rpc)] = getattr(getattr(self.stubs(index), service), method)
        return found

    async def _call(
        self,
        rpc: str,
        request: Any,
        timeout: float | _Default | None,
        pin: int | None = None,
        on_cancel: OnCancel | None = None,
        *,
        auth: bool = True,
        where: list[int] | None = None,
    ) -> Any:
        """The call loop: fail over (and, if the table allows, send again) on UNAVAILABLE, unless
        pinned to one endpoint; renew a refused token once (not for `auth=False`, the call that
        gets one). The index of the endpoint that answered is appended to `where`."""
        budget = self.timeout if isinstance(timeout, _Default) else timeout
        left = budget
        deadline = None if budget is None else time.monotonic() + budget
        backoff = None
        renewed = False
        while True:
            metadata = None if self._user is None or not auth else await self.metadata()
            generation = self.generation
            index = self._index if pin is None else pin
            try:
                method = self._methods.get((index, rpc)) or self._method(index, rpc)
                call = method(request, timeout=left, metadata=metadata)
                if on_cancel is not None:
                    try:
                        await _when_done(call)  # cancelling us cancels this future, not the call
                    except asyncio.CancelledError:
                        on_cancel(asyncio.ensure_future(_answer(call)))
                        raise
                answer = await call
                if where is not None:
                    where.append(index)
                return answer
            except grpc.aio.AioRpcError as err:
                mapped = from_rpc_error(err)
                if isinstance(mapped, InvalidToken) and auth:
                    if renewed or self._user is None:
                        raise AuthenticationFailed(
                            "the auth token was refused again right after renewal", code=mapped.code
                        ) from err
                    renewed = True
                    await self.renew_token(metadata)
                elif isinstance(mapped, Unavailable) and pin is None:
                    self.failover(generation)
                    if not REPEATABLE[rpc] or (deadline is not None and time.monotonic() >= deadline):
                        raise mapped from err
                    backoff = backoff or Backoff()
                    await backoff.sleep(deadline)
                else:
                    raise mapped from err
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)


async def _answer(call: Any) -> Any:
    """The answer of a unary call, or None if it failed."""
    with contextlib.suppress(grpc.aio.AioRpcError):
        return await call
    return None


def _when_done(call: Any) -> asyncio.Future[None]:
    """A future that is done when the unary `call` is: awaiting it, unlike awaiting the call,
    leaves the call running if the awaiting task is cancelled."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def finished(_call: object) -> None:
        if not done.done():
            done.set_result(None)

    call.add_done_callback(finished)
    return done
