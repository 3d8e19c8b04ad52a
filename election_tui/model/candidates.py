"""A key Campaign wrote, and every election's queue of them kept cheap to read and update."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .keys import scopes

_Slot = tuple[int, bytes]  # (create_revision, key): etcd's order, key breaking ties in one txn


@dataclass(frozen=True, slots=True)
class CandidateKey:
    """A key Campaign wrote: `name` is the election it was written for (its direct election)."""

    key: bytes
    name: bytes
    lease: int
    value: bytes
    create_revision: int
    mod_revision: int

    @property
    def slot(self) -> _Slot:
        return (self.create_revision, self.key)


class CandidateIndex:
    """Every candidate, plus one sorted queue per election name that can see candidates.

    A candidate of `a/b/c` sits in the queues of `a/b/c`, `a/b` and `a` (see `keys.scopes`), so
    an update costs a bisect in each of those few queues and a leader is the head of one queue.
    An election *exists* while it has a direct candidate; the queues of other prefixes are kept
    because `Leader(prefix)` answers from them all the same.
    """

    def __init__(self) -> None:
        self._by_key: dict[bytes, CandidateKey] = {}
        self._queues: dict[bytes, list[_Slot]] = {}
        self._direct: dict[bytes, int] = {}
        self._names: list[bytes] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[CandidateKey]:
        return iter(self._by_key.values())

    def get(self, key: bytes) -> CandidateKey | None:
        return self._by_key.get(key)

    def exists(self, name: bytes) -> bool:
        """Whether `name` is an election: it has at least one direct candidate."""
        return name in self._direct

    def names(self) -> list[bytes]:
        return list(self._names)

    def name_count(self) -> int:
        """How many elections exist, without copying their names (a frame asks for it)."""
        return len(self._names)

    def leader(self, name: bytes) -> CandidateKey | None:
        """What etcd's `Leader(name)` answers: the lowest create revision under `name/`."""
        queue = self._queues.get(name)
        return self._by_key[queue[0][1]] if queue else None

    def queue(self, name: bytes) -> tuple[CandidateKey, ...]:
        by_key = self._by_key
        return tuple(by_key[key] for _, key in self._queues.get(name, ()))

    def add(self, cand: CandidateKey) -> None:
        """Insert a candidate whose key is not in the index."""
        assert cand.key not in self._by_key, cand.key
        self._by_key[cand.key] = cand
        slot = cand.slot
        for scope in scopes(cand.name):
            insort(self._queues.setdefault(scope, []), slot)
        count = self._direct.get(cand.name, 0)
        self._direct[cand.name] = count + 1
        if count == 0:
            insort(self._names, cand.name)

    def update(self, cand: CandidateKey) -> None:
        """Replace a candidate by a newer version of the same key and create revision."""
        old = self._by_key[cand.key]
        assert old.slot == cand.slot, (old, cand)
        self._by_key[cand.key] = cand

    def remove(self, key: bytes) -> CandidateKey | None:
        cand = self._by_key.pop(key, None)
        if cand is None:
            return None
        slot = cand.slot
        for scope in scopes(cand.name):
            queue = self._queues[scope]
            del queue[bisect_left(queue, slot)]
            if not queue:
                del self._queues[scope]
        count = self._direct[cand.name] - 1
        if count:
            self._direct[cand.name] = count
        else:
            del self._direct[cand.name]
            del self._names[bisect_left(self._names, cand.name)]
        return cand

    def reset(self, cands: Iterable[CandidateKey]) -> None:
        """Replace everything at once, sorting each queue once instead of inserting one by one."""
        self._by_key = {c.key: c for c in cands}
        queues: dict[bytes, list[_Slot]] = {}
        direct: dict[bytes, int] = {}
        for cand in self._by_key.values():
            slot = cand.slot
            for scope in scopes(cand.name):
                queues.setdefault(scope, []).append(slot)
            direct[cand.name] = direct.get(cand.name, 0) + 1
        for queue in queues.values():
            queue.sort()
        self._queues = queues
        self._direct = direct
        self._names = sorted(direct)
