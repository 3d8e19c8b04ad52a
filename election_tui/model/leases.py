"""Lease countdowns for the UI: a few server answers, extrapolated smoothly in between."""

from __future__ import annotations

from collections.abc import Iterable


class LeaseClock:
    """Remembers each lease's last TimeToLive answer and when it came, on a monotonic clock.

    The UI asks `due()` which leases on screen need a fresh answer (at most one per `every`
    seconds each), records answers with `observe()`, and draws `remaining()` every frame.
    """

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, float]] = {}
        self._asked: dict[int, float] = {}

    def observe(self, lease: int, ttl: int, at: float) -> None:
        """Record a server answer: `ttl` seconds left at time `at` (-1: expired or gone).

        An answer older than the one already held is ignored: replies can arrive out of order.
        """
        seen = self._seen.get(lease)
        if seen is not None and at < seen[1]:
            return
        self._seen[lease] = (ttl, at)
        if self._asked.get(lease, at) <= at:
            self._asked.pop(lease, None)

    def asked(self, leases: Iterable[int], at: float) -> None:
        """Note that a refresh was requested, so `due` does not ask again while it is in flight."""
        for lease in leases:
            self._asked[lease] = at

    def remaining(self, lease: int, now: float) -> float | None:
        """Seconds left at `now` (never below 0), or None if the lease was never observed."""
        seen = self._seen.get(lease)
        if seen is None:
            return None
        ttl, at = seen
        return max(0.0, ttl - (now - at))

    def due(self, leases: Iterable[int], now: float, every: float = 1.0) -> list[int]:
        """The leases, in the given order without repeats, whose answer is missing or stale."""
        out: list[int] = []
        picked: set[int] = set()
        for lease in leases:
            if lease in picked:
                continue
            seen = self._seen.get(lease)
            last = seen[1] if seen is not None else None
            asked = self._asked.get(lease)
            if asked is not None and (last is None or asked > last):
                last = asked
            if last is None or now - last >= every:
                out.append(lease)
                picked.add(lease)
        return out

    def forget(self, lease: int) -> None:
        """Drop a lease that left the screen or was revoked."""
        self._seen.pop(lease, None)
        self._asked.pop(lease, None)

    def __contains__(self, lease: object) -> bool:
        return lease in self._seen
