"""Timeline entries, and the hints that name why a candidate's key is about to disappear."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

ELECTED: Final = "elected"
PROCLAIMED: Final = "proclaimed"
JOINED: Final = "joined"
LEFT: Final = "left"
# Why one of our candidates' keys went, as we say before acting (the two partitions apart).
PAUSED: Final = "paused"
BLACKHOLED: Final = "blackholed"
REMOVAL_REASONS: Final = frozenset({"resigned", "expired", "revoked", PAUSED, BLACKHOLED})
KINDS: Final = frozenset({ELECTED, PROCLAIMED, JOINED, LEFT}) | REMOVAL_REASONS

# What each kind of entry means, for a legend.
KIND_MEANINGS: Final = {
    ELECTED: "a new leader: the oldest key of the election changed",
    PROCLAIMED: "the leader published a new value",
    JOINED: "a candidate's key appeared (it waits in the queue)",
    "resigned": "a key went because its candidate resigned",
    "expired": "a key went with its lease, after the TTL without renewal",
    "revoked": "a key went because its lease was revoked (a crash)",
    PAUSED: "partitioned (keep-alive paused): its lease expired while the candidate, unaware, "
    "withheld renewals; a leader goes stale before it learns",
    BLACKHOLED: "partitioned (network: blackhole): its lease expired while its connection dropped "
    "every byte; its client had given the lease up by then, so a leader goes straight to lost",
    LEFT: "a key went and nobody said why (another client, or by hand)",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to an election, at a revision, as this process saw it at `time`.

    `election` is the election the entry is about: the candidate's own election for joins and
    removals, the election whose leader or value changed for "elected" and "proclaimed".
    `time` is None for an entry read from etcd's history (before this process looked): etcd
    keeps no time with a revision, so only the revision is known.
    """

    kind: str
    election: bytes
    key: bytes
    value: bytes
    lease: int
    revision: int
    time: float | None

    @property
    def history(self) -> bool:
        """Read from etcd's retained revisions, not seen happen: its revision is all that is known."""
        return self.time is None


class RemovalHints:
    """Why a key is expected to go: a DELETE event alone can't tell resign from expiry.

    Bounded, oldest dropped first, so hints for deletes that never come cannot pile up.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._hints: OrderedDict[bytes, str] = OrderedDict()

    def expect(self, key: bytes, reason: str) -> None:
        if reason not in REMOVAL_REASONS:
            raise ValueError(f"removal reason must be one of {sorted(REMOVAL_REASONS)}, not {reason!r}")
        self._hints[key] = reason
        self._hints.move_to_end(key)
        while len(self._hints) > self._limit:
            self._hints.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._hints.pop(key, None)

    def get(self, key: bytes) -> str | None:
        """The reason expected for `key` now, without consuming it."""
        return self._hints.get(key)

    def withdraw(self, key: bytes, reason: str, previous: str | None) -> None:
        """Undo `expect(key, reason)` of an action that was refused: `previous` holds again.

        Nothing changes once the hint was taken (the key went meanwhile) or replaced since.
        """
        if self._hints.get(key) != reason:
            return
        if previous is None:
            del self._hints[key]
        else:
            self._hints[key] = previous

    def take(self, key: bytes) -> str:
        """The hinted reason for `key` (consuming it), or "left" when nobody said."""
        return self._hints.pop(key, LEFT)

    def __len__(self) -> int:
        return len(self._hints)
