"""A candidate's own link to etcd: a loopback proxy per endpoint and a client that dials them.

With a link, everything the candidate itself sends (lease grant, keep-alive, campaign, proclaim,
resign, the watch on its own key) goes over a gRPC channel of its own through `TcpProxy`s, so it
can be partitioned from etcd for real (`blackhole()`: bytes vanish both ways, sockets stay open)
while every other candidate and the dashboard go on talking to etcd. `heal()` passes bytes again:
the torn connections are reset and its client reconnects by itself.

One proxy per endpoint, so the candidate's client fails over across the same cluster as the
shared one, starting where the shared client is now (a member that died before the launch is not
tried first); blackholing cuts it from every member at once. The proxy only runs on
loopback, so only a cluster on loopback can be cut this way (`link_problem` says why not).
Over TLS the proxy passes the bytes through unchanged and the client checks each certificate
against its endpoint's own host name (`ClientConfig.dial_via`), as a direct dial does.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import replace

from ..etcd import ClientConfig, Endpoint, EtcdClient, InvalidArgument
from .proxy import ProxyMode, TcpProxy

__all__ = ["Link", "LinkError", "link_problem"]


class LinkError(Exception):
    """A link cannot be made here (a non-loopback endpoint, no free socket); says why."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def link_problem(config: ClientConfig) -> str | None:
    """Why candidates on `config` cannot have a link of their own (None: they can)."""
    try:
        targets = config.targets()
    except InvalidArgument as err:
        return str(err)
    if not targets:
        return "no endpoints to link to"
    for endpoint in targets:
        if not _loopback(endpoint.host):
            return (
                f"{endpoint} is not on this machine: the partition proxy runs on loopback only, "
                "so only a local cluster's candidates can be cut off"
            )
    return None


class Link:
    """Proxies (bound at once, served from `start()`) and a client that goes through them.

    `start()` before the first call (idempotent); `aclose()` closes the client, then the proxies.
    """

    def __init__(self, config: ClientConfig, *, first: Endpoint | None = None) -> None:
        """`first`: the endpoint to try first (the shared client's current one: it answers)."""
        problem = link_problem(config)
        if problem is not None:
            raise LinkError(problem)
        targets = config.targets()
        start = targets.index(first) if first in targets else 0
        # Rotated, not reordered: failover goes round the same cluster in the same order.
        order = [*range(start, len(targets)), *range(start)]
        config = replace(config, endpoints=tuple(config.endpoints[i] for i in order))
        self.proxies = [TcpProxy((targets[i].host, targets[i].port)) for i in order]
        try:
            for proxy in self.proxies:
                proxy.bind()  # the port now, so the client can be made before a loop runs it
        except OSError as err:
            for proxy in self.proxies:
                proxy.unbind()
            raise LinkError(f"no socket for a proxy on loopback: {err.strerror or err}") from err
        self.client = EtcdClient(replace(config, dial_via=tuple(p.address for p in self.proxies)))
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<Link {self.mode.value} via {', '.join(p.address for p in self.proxies)}>"

    @property
    def mode(self) -> ProxyMode:
        """PASS, or BLACKHOLE while cut (every proxy of a link is in the same mode)."""
        return self.proxies[0].mode

    @property
    def cut(self) -> bool:
        return self.mode is not ProxyMode.PASS

    async def start(self) -> None:
        if self._started or self._closed:
            return
        self._started = True
        for proxy in self.proxies:
            await proxy.start()

    async def blackhole(self) -> None:
        """Drop every byte both ways on every endpoint: nothing errs, nothing arrives."""
        for proxy in self.proxies:
            await proxy.blackhole()

    async def heal(self) -> None:
        """Forward again; connections that lost bytes are reset, and the client reconnects."""
        for proxy in self.proxies:
            await proxy.pass_through()

    def discard(self) -> None:
        """Let go of a link that was never started (its client has opened no channel yet)."""
        if not self._started:
            self._closed = True
            for proxy in self.proxies:
                proxy.unbind()

    async def aclose(self) -> None:
        """Close the client (its calls end at once, even cut off), then every proxy."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.client.aclose()
        finally:
            for proxy in self.proxies:
                with contextlib.suppress(OSError):
                    await proxy.stop()
