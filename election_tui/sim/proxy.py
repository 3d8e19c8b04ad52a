"""A pure-asyncio TCP proxy on loopback that can cut, black-hole or reset the path to a server.

It is what a simulated candidate's own link to etcd goes through (`link.py`: a real network
partition of one candidate), and what the fault tests put between a client and etcd.

    async with TcpProxy("127.0.0.1:2379") as proxy:
        client = EtcdClient([proxy.address])   # this client goes through the proxy
        await proxy.blackhole()                # sockets stay open, bytes vanish both ways
        await proxy.reset()                    # every connection is reset (RST); new ones too
        await proxy.refuse()                   # resets, and connect() is refused (no listener)
        await proxy.pass_through()             # heal: forward again (on the same port)

Modes (`ProxyMode`):

- `pass`: bytes are forwarded both ways.
- `blackhole`: connections (old and new) stay open and every byte read from either side is
  dropped, like a partition where nothing comes back and nothing times out at the TCP level.
  A connection that dropped bytes has a torn byte stream, so healing (`pass`) resets it; the
  peer reconnects, as it would after a real partition once its own timeouts fired.
- `reset`: every open connection is reset (RST to both sides); new connections are accepted
  and reset at once.
- `refuse`: like `reset`, and the listening socket is closed, so connecting is refused;
  leaving this mode listens again on the same port.

It only ever binds 127.0.0.1 and only forwards to a loopback address. `bind()` takes the port
at once, without a loop (a client can be told the address before the proxy serves: connections
wait in the listen backlog until `start()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

__all__ = ["ProxyMode", "ProxyStats", "TcpProxy"]

_HOST = "127.0.0.1"
_CHUNK = 64 * 1024
_CONNECT_TIMEOUT = 5.0


class ProxyMode(StrEnum):
    PASS = "pass"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    REFUSE = "refuse"


@dataclass(slots=True)
class ProxyStats:
    """Counters since start, for tests to check what the proxy did."""

    accepted: int = 0
    refused: int = 0  # accepted in `reset` mode and reset at once
    resets: int = 0  # connections reset by a mode change or by healing a black-holed one
    bytes_up: int = 0  # forwarded client -> server
    bytes_down: int = 0  # forwarded server -> client
    dropped: int = 0  # bytes swallowed in `blackhole` mode


def _parse_upstream(upstream: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(upstream, tuple):
        host, port = upstream
    else:
        text = upstream.split("://", 1)[-1].rstrip("/")
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest.removeprefix(":")
        else:
            host, _, port_text = text.rpartition(":")
        if not port_text.isdigit():
            raise ValueError(f"upstream {upstream!r} is not host:port")
        port = int(port_text)
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the proxy only forwards to loopback, not {host!r}")
    return host, port


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST (SO_LINGER 0), not a FIN: the peer sees 'connection reset'."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One proxied connection: the client side and the server side."""

    __slots__ = ("client", "server", "torn")

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.torn = False  # bytes were dropped: the stream can never be whole again

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.server)

    def close(self) -> None:
        """A graceful close (FIN), after one side ended its stream."""
        for writer in (self.client, self.server):
            if writer is not None and not writer.transport.is_closing():
                writer.close()


class TcpProxy:
    """A TCP proxy from 127.0.0.1:`port` (0 = any free port) to a loopback `upstream`."""

    def __init__(self, upstream: str | tuple[str, int], *, port: int = 0) -> None:
        self.upstream = _parse_upstream(upstream)
        self._port = port
        self._mode = ProxyMode.PASS
        self._server: asyncio.base_events.Server | None = None
        self._bound: socket.socket | None = None  # listening, not yet served (bind() before start())
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.stats = ProxyStats()
        self._started = False

    def __repr__(self) -> str:
        host, port = self.upstream
        return f"<TcpProxy {self.address} -> {host}:{port} {self._mode.value} links={len(self._links)}>"

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the proxy has not been started")
        return self._port

    @property
    def address(self) -> str:
        """host:port to give a client instead of the server's."""
        return f"{_HOST}:{self.port}"

    @property
    def mode(self) -> ProxyMode:
        return self._mode

    @property
    def connections(self) -> int:
        """Connections open through the proxy now."""
        return len(self._links)

    # -- lifetime ---------------------------------------------------------------------------

    def bind(self) -> TcpProxy:
        """Take the port and listen now (no loop needed); `start()` then serves this socket."""
        if self._bound is not None or self._started:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((_HOST, self._port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._bound = sock
        return self

    def unbind(self) -> None:
        """Close a socket `bind()` took that was never served (nothing to wait for)."""
        if self._bound is not None:
            self._bound.close()
            self._bound = None

    async def start(self) -> TcpProxy:
        if self._started:
            raise RuntimeError("the proxy is already started")
        self._started = True
        await self._listen()
        return self

    async def stop(self) -> None:
        """Close the listener, reset every connection and wait for the handlers to end."""
        self._started = False
        self._close_listener()
        self.unbind()
        for link in list(self._links):
            link.reset()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        bound, self._bound = self._bound, None
        if bound is not None:
            self._server = await asyncio.start_server(self._accept, sock=bound, limit=_CHUNK)
        else:
            self._server = await asyncio.start_server(
                self._accept, _HOST, self._port, reuse_address=True, limit=_CHUNK
            )
        self._port = self._server.sockets[0].getsockname()[1]

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()  # not wait_closed(): on 3.12+ it also waits for the handlers
            self._server = None

    # -- modes ------------------------------------------------------------------------------

    async def set_mode(self, mode: ProxyMode | str) -> None:
        mode = ProxyMode(mode)
        previous, self._mode = self._mode, mode
        if mode in (ProxyMode.RESET, ProxyMode.REFUSE):
            self._reset_all(lambda link: True)
        if mode is ProxyMode.REFUSE:
            self._close_listener()
        elif previous is ProxyMode.REFUSE and self._started:
            await self._listen()
        if mode is ProxyMode.PASS:
            self._reset_all(lambda link: link.torn)

    async def pass_through(self) -> None:
        await self.set_mode(ProxyMode.PASS)

    async def blackhole(self) -> None:
        await self.set_mode(ProxyMode.BLACKHOLE)

    async def reset(self) -> None:
        await self.set_mode(ProxyMode.RESET)

    async def refuse(self) -> None:
        await self.set_mode(ProxyMode.REFUSE)

    def _reset_all(self, which: object) -> None:
        for link in list(self._links):
            if which(link):  # type: ignore[operator]
                link.reset()
                self._links.discard(link)
                self.stats.resets += 1

    # -- forwarding -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Only stop() (or the loop's own end) cancels a handler: end it quietly, since Python
        # 3.11's stream server reports a cancelled handler as an error in a callback.
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.stats.accepted += 1
        link = _Link(writer)
        try:
            if self._mode in (ProxyMode.RESET, ProxyMode.REFUSE):
                self.stats.refused += 1
                return  # reset below: never in the link set
            self._links.add(link)
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream, limit=_CHUNK), _CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                self._links.discard(link)  # the server is down: reset, as if the client had dialled it
                return
            link.server = up_writer
            if link not in self._links:  # reset while we were dialling
                return
            pumps = [
                asyncio.create_task(self._pump(link, reader, up_writer, up=True)),
                asyncio.create_task(self._pump(link, up_reader, writer, up=False)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            if link in self._links:  # it ended by itself: pass the close on
                self._links.discard(link)
                link.close()
            else:  # refused, or reset by a mode change (a no-op on sides already reset)
                link.reset()
            self._handlers.discard(task)

    async def _pump(
        self, link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, up: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                data = await src.read(_CHUNK)
                if not data:
                    return  # EOF from one side: the link ends
                if self._mode is ProxyMode.PASS and not link.torn:
                    dst.write(data)
                    await dst.drain()
                    if up:
                        self.stats.bytes_up += len(data)
                    else:
                        self.stats.bytes_down += len(data)
                else:
                    link.torn = True
                    self.stats.dropped += len(data)
