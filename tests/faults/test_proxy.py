"""The fault proxy itself, against a tiny echo server: pass, blackhole, reset, refuse, heal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from election_tui.sim import ProxyMode, TcpProxy

pytestmark = pytest.mark.fault

BOUND = 2.0


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1024):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


async def _roundtrip(port: int, data: bytes = b"ping") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), BOUND)
    finally:
        writer.close()


async def test_pass_forwards_both_ways(echo: str) -> None:
    async with TcpProxy(echo) as proxy:
        assert await _roundtrip(proxy.port) == b"ping"
        assert proxy.stats.bytes_up == proxy.stats.bytes_down == 4


async def test_blackhole_keeps_the_socket_and_drops_bytes_then_heal_resets_the_torn_link(echo: str) -> None:
    async with TcpProxy(echo) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        assert await asyncio.wait_for(reader.readexactly(1), BOUND) == b"a"
        await proxy.blackhole()
        writer.write(b"lost")
        await writer.drain()
        with pytest.raises(TimeoutError):  # no answer, and no error either: a black hole
            await asyncio.wait_for(reader.read(1), 0.3)
        assert not reader.at_eof() and proxy.connections == 1
        assert proxy.stats.dropped == 4

        await proxy.pass_through()  # the link lost bytes: it is reset, a new one works
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), BOUND)
        writer.close()
        assert await _roundtrip(proxy.port) == b"ping"


@pytest.mark.parametrize("mode", [ProxyMode.RESET, ProxyMode.REFUSE])
async def test_reset_and_refuse_cut_open_connections_and_new_ones(echo: str, mode: ProxyMode) -> None:
    async with TcpProxy(echo) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        await asyncio.wait_for(reader.readexactly(1), BOUND)

        await proxy.set_mode(mode)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), BOUND)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await _roundtrip(proxy.port)
        assert proxy.stats.resets == 1

        await proxy.pass_through()  # same port again
        assert await _roundtrip(proxy.port) == b"ping"


async def test_a_dead_upstream_is_a_reset_and_only_loopback_is_allowed(echo: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        TcpProxy("10.0.0.1:2379")
    from ._support import closed_port

    async with TcpProxy(f"127.0.0.1:{closed_port()}") as proxy:
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await _roundtrip(proxy.port)
