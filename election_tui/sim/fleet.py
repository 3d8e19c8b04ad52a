"""A fleet owns many simulated candidates and guarantees their leases go when it closes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import TracebackType

from ..etcd import BytesLike, EtcdClient, to_bytes
from .candidate import Candidate, Listener, State


class Fleet:
    """`async with Fleet(client) as fleet:`; closing revokes every lease it created."""

    def __init__(self, client: EtcdClient) -> None:
        self.client = client
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

    def launch(
        self,
        name: BytesLike,
        value: BytesLike,
        ttl: int = 10,
        *,
        campaign_timeout: float | None = None,
    ) -> Candidate:
        candidate = Candidate(self.client, name, value, ttl, campaign_timeout=campaign_timeout)
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
