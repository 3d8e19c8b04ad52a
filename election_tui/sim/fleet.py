"""A fleet owns many simulated candidates and guarantees their leases go when it closes.

Who can be cut off from the network alone: a candidate with a link of its own (`link.py`).
Each link costs a gRPC channel and a loopback proxy (a listening socket and two more per open
connection), so a fleet gives links to at most `links` candidates at a time, chosen at launch
(a link cannot be added to a running candidate: its campaign and keep-alive would have to move
to another connection, and a Campaign cancelled half-way withdraws its key). The others share
the fleet's client; `Candidate.no_link` says why, for a person pressing the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import TracebackType

from ..etcd import BytesLike, EtcdClient, to_bytes
from .candidate import Candidate, CandidateError, Listener, State
from .link import Link, LinkError, link_problem


class Fleet:
    """`async with Fleet(client) as fleet:`; closing revokes every lease it created.

    `links`: how many candidates may hold a link of their own at once (0: none, every candidate
    shares `client`). Closing stops every link's proxies and channel.
    """

    def __init__(self, client: EtcdClient, *, links: int = 0) -> None:
        self.client = client
        self.links = links
        self._link_problem = link_problem(client.config) if links > 0 else None
        self._candidates: dict[int, Candidate] = {}
        self._listeners: list[Listener] = []

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __iter__(self) -> Iterator[Candidate]:
        return iter(list(self._candidates.values()))

    def __len__(self) -> int:
        return len(self._candidates)

    def get(self, candidate_id: int) -> Candidate | None:
        return self._candidates.get(candidate_id)

    def by_key(self, key: bytes) -> Candidate | None:
        """Our candidate whose current candidate key is `key` (None: not ours, or not any more)."""
        for candidate in self._candidates.values():
            if candidate.key == key:
                return candidate
        return None

    def subscribe(self, listener: Listener) -> None:
        """Hear every transition of every candidate, present and future."""
        self._listeners.append(listener)
        for candidate in self._candidates.values():
            candidate.subscribe(listener)

    @property
    def linked(self) -> int:
        """Candidates holding a link of their own now."""
        return sum(1 for c in self._candidates.values() if c.link is not None)

    def no_link(self) -> str | None:
        """Why a candidate launched now would get no link of its own (None: it would get one)."""
        if self.links <= 0:
            return "this fleet gives no candidate a link of its own"
        if self._link_problem is not None:
            return self._link_problem
        if self.linked >= self.links:
            if self.links == 1:
                return "only one candidate at a time gets a link of its own"
            return f"only {self.links} candidates at a time get a link of their own"
        return None

    def _link(self, want: bool | None) -> tuple[Link | None, str]:
        if want is False:
            return None, "it was launched without a link of its own"
        why = self.no_link()
        if why is None:
            try:
                return Link(self.client.config, first=self.client.endpoint), ""
            except LinkError as err:
                why = str(err)
        if want:
            raise CandidateError(f"no link of its own: {why}")
        return None, why

    def launch(
        self,
        name: BytesLike,
        value: BytesLike,
        ttl: int = 10,
        *,
        campaign_timeout: float | None = None,
        link: bool | None = None,
    ) -> Candidate:
        """Start a candidate. `link`: True needs a link of its own (CandidateError if none can be
        had), False shares the fleet's client, None (default) takes one while the fleet has one free."""
        own, why = self._link(link)
        try:
            candidate = Candidate(
                self.client, name, value, ttl, campaign_timeout=campaign_timeout, link=own, no_link=why
            )
        except BaseException:
            if own is not None:
                own.discard()
            raise
        for listener in self._listeners:
            candidate.subscribe(listener)
        self._candidates[candidate.id] = candidate
        candidate.start()
        return candidate

    def launch_many(self, name: BytesLike, value: BytesLike, count: int, ttl: int = 10) -> list[Candidate]:
        """`count` candidates whose values are `value-1` … `value-N`, so each can be told apart."""
        raw = to_bytes(value)
        return [self.launch(name, raw + b"-%d" % (i + 1), ttl) for i in range(count)]

    def in_election(self, name: bytes) -> list[Candidate]:
        return [c for c in self._candidates.values() if c.name == name]

    def believers(self, name: bytes) -> list[Candidate]:
        """Candidates that believe they lead `name` (stale ones included)."""
        return [c for c in self.in_election(name) if c.state.believes_leader]

    def leader(self, name: bytes) -> Candidate | None:
        leaders = [c for c in self.in_election(name) if c.state is State.LEADER]
        return leaders[0] if len(leaders) == 1 else None

    def lease_ids(self) -> set[int]:
        return {c.lease_id for c in self._candidates.values() if c.lease_id}

    async def remove(self, candidate: Candidate) -> None:
        await candidate.close()
        self._candidates.pop(candidate.id, None)

    async def close(self) -> None:
        """Close every candidate concurrently; each resigns if it can and revokes its lease."""
        candidates = list(self._candidates.values())
        self._candidates.clear()
        results = await asyncio.gather(*(c.close() for c in candidates), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
