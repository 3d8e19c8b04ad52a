"""Lease TTLs for the UI: what etcd's answers show, never a countdown that outruns them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

HOLD = 2.0  # seconds an answer is held as a floor: two poll periods (`due` asks once a second)
# Two answers of one-second resolution can hide an expiry move of up to 2 s (+ round trips).
RUN_SLACK = 2.5


@dataclass(frozen=True, slots=True)
class ShownTTL:
    """What a TTL cell may claim about one lease at one instant, in seconds.

    `low` is the number drawn (a lower bound, see `LeaseClock.shown`); `high` bounds the truth
    from above; `granted` sizes the bar. `counting` says `low` falls with the clock; otherwise
    it is etcd's newest answer, held between polls (drawn as "≥N s": what etcd said).
    """

    low: float
    high: float
    granted: int
    counting: bool

    @property
    def gone(self) -> bool:
        """etcd said the lease does not exist (expired or revoked)."""
        return self.high <= 0

    @classmethod
    def kept_alive(cls, remaining: float, granted: int) -> ShownTTL:
        """One of our own leases: its keep-alive dates every renewal, so it knows to a round trip."""
        remaining = max(0.0, remaining)
        return cls(remaining, remaining, granted, counting=True)


TTLLookup = Callable[[int], ShownTTL | None]  # lease -> what to draw (None: nothing known yet)


@dataclass(frozen=True, slots=True)
class _Seen:
    """One lease's answers so far, reduced to what the rule needs."""

    ttl: int  # the newest answer
    at: float  # when the newest was asked for
    granted: int
    proven: float  # the latest expiry the answers prove: max(asked + ttl)
    run_at: float  # asked time of the first answer of the current run (see `shown`)
    run_lo: float  # the window of expiries every answer of the run allows
    run_hi: float


class LeaseClock:
    """Remembers each lease's TimeToLive answers and shows what they prove.

    The session asks `due()` which leases on screen need a fresh answer (at most one per
    `every` seconds each), records answers with `observe()`, and views draw `shown()`.
    """

    def __init__(self, hold: float = HOLD) -> None:
        self.hold = hold
        self._seen: dict[int, _Seen] = {}
        self._asked: dict[int, float] = {}

    def observe(
        self, lease: int, ttl: int, at: float, granted: int = 0, *, answered: float | None = None
    ) -> None:
        """Record a server answer: `ttl` whole seconds left (-1: expired or gone).

        `at` is when the request was sent and `answered` when the reply came (default: `at`):
        the server answered in between, so the lease then expired in [at + ttl, answered +
        ttl + 1). An answer asked for before the one already held is ignored (replies overtake).
        """
        seen = self._seen.get(lease)
        if seen is not None and at < seen.at:
            return
        granted = granted or (seen.granted if seen is not None else 0)
        lo, hi = at + ttl, (at if answered is None else max(at, answered)) + ttl + 1
        if ttl < 0:
            self._seen[lease] = _Seen(ttl, at, granted, at, at, at, at)
        elif seen is None or seen.ttl < 0 or max(lo, seen.run_lo) >= min(hi, seen.run_hi):
            # No expiry fits this answer and the run's: the lease was renewed meanwhile.
            proven = lo if seen is None else max(lo, seen.proven)
            self._seen[lease] = _Seen(ttl, at, granted, proven, at, lo, hi)
        else:
            run_lo, run_hi = max(lo, seen.run_lo), min(hi, seen.run_hi)
            self._seen[lease] = _Seen(ttl, at, granted, max(lo, seen.proven), seen.run_at, run_lo, run_hi)
        if self._asked.get(lease, at) <= at:
            self._asked.pop(lease, None)

    def asked(self, leases: Iterable[int], at: float) -> None:
        """Note that a refresh was requested, so `due` does not ask again while it is in flight."""
        for lease in leases:
            self._asked[lease] = at

    def shown(self, lease: int, now: float) -> ShownTTL | None:
        """What to draw for `lease` at `now` (None if it was never observed). The rule:

        etcd answers whole seconds, truncated: an answer `ttl` asked at `a` and answered at `b`
        says the lease expires in [a + ttl, b + ttl + 1). A *run* is a stretch of answers that
        one unmoved expiry explains; an answer no such expiry fits proves a renewal and starts
        a new run. `proven` = max(a + ttl) over all answers is a lower bound on the expiry,
        since a lease's expiry never moves back.

        1. Newest answer < 0: gone; low = high = 0.
        2. Counting, low = max(0, proven - now), when the run has lasted more than
           granted / 2 + RUN_SLACK s (from the asking of its first answer to its newest): a
           lease renewed at least every granted / 2 s (Go renews every TTL/3) moves its
           expiry by over 2 s in that time, which no two one-second answers can hide; so it
           is left to expire. Or when answers stopped (the newest asked over `hold` s ago).
        3. Otherwise held: low = the newest answer. Other clients renew between our polls,
           so a countdown from the last answer falls below the truth (a TTL-4 lease drawn as
           1.2 s while etcd says 3); we draw etcd's own word until the next.

        high = 0 when gone, else max(newest + 1, granted): a renewal restarts the lease at
        `granted`, and it had less than newest + 1 when etcd answered.

        Promises: 0 <= low <= high. Held, low is never below etcd's newest answer between
        polls, so a lease whose newest answer is > 0 is drawn at 0 only once counting (left
        unrenewed for a run as above, or answers stopped). Counting, low is proven. Either way
        low exceeds the proven bound by at most `hold` (the age of a held answer).
        """
        seen = self._seen.get(lease)
        if seen is None:
            return None
        if seen.ttl < 0:
            return ShownTTL(0.0, 0.0, seen.granted, counting=False)
        high = float(max(seen.ttl + 1, seen.granted))
        if seen.at - seen.run_at > seen.granted / 2 + RUN_SLACK or now - seen.at > self.hold:
            return ShownTTL(max(0.0, min(seen.proven - now, high)), high, seen.granted, counting=True)
        return ShownTTL(float(seen.ttl), high, seen.granted, counting=False)

    def due(self, leases: Iterable[int], now: float, every: float = 1.0) -> list[int]:
        """The leases, in the given order without repeats, whose answer is missing or stale."""
        out: list[int] = []
        picked: set[int] = set()
        for lease in leases:
            if lease in picked:
                continue
            seen = self._seen.get(lease)
            last = seen.at if seen is not None else None
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
