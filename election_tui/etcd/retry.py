"""Which calls may be sent again after a broken connection, and how long to wait in between.

One table for the unary policy (as etcd's client/v3/retry.go has), one rule for re-opening a
stream, and one `Backoff` for every loop that reconnects: unary retries, the watch, observe, the
keep-alive stream, the live session, and the embedded etcd's readiness probe.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Final

from .errors import EtcdError, TransientError

# Every unary RPC we make, by "<stub>.<method>", and whether it is safe to send again after
# UNAVAILABLE (the request may or may not have reached the server). Retries stop at the call's
# deadline; other errors are never retried here.
REPEATABLE: Final[dict[str, bool]] = {
    "kv.Range": True,  # a read
    "kv.Put": False,  # a second put is a second revision: a fenced reader would see two writes
    "kv.DeleteRange": False,  # the second would report 0 deleted, hiding the first one's count
    "kv.Txn": False,  # its compares ran against a state that may have moved on
    "kv.Compact": True,  # compacting to the same revision twice: the second says "compacted"
    "lease.LeaseGrant": False,  # a repeated grant would leave an orphan lease nobody revokes
    "lease.LeaseRevoke": True,  # the second finds the lease gone (LeaseNotFound, suppressed)
    "lease.LeaseTimeToLive": True,
    "lease.LeaseLeases": True,
    "maintenance.Status": True,
    "cluster.MemberList": True,
    "auth.Authenticate": True,
    "election.Campaign": True,  # idempotent for one lease: the key is `<name>/<lease>`
    "election.Proclaim": True,  # the same value proclaimed twice
    "election.Leader": True,
    "election.Resign": True,  # a second resign of a gone key is a no-op
}

# A stream (watch, observe) is re-opened, not failed, after anything transient for any call
# (`TransientError`: etcd away, slow or shedding load) and after what only a long-lived stream
# sees when its server goes away under it: CANCELLED (the channel was shut by a GOAWAY), UNKNOWN
# ("Stream removed", an RST_STREAM) and INTERNAL (a torn HTTP/2 frame after a reset connection).
# A refused token is renewed first, wherever it shows up; everything else is raised.
STREAM_BROKEN: Final[frozenset[str]] = frozenset({"CANCELLED", "UNKNOWN", "INTERNAL"})


def reopens_stream(error: EtcdError) -> bool:
    """Whether a stream that failed with `error` (already mapped) should be opened again."""
    return isinstance(error, TransientError) or error.code in STREAM_BROKEN


class Backoff:
    """Jittered exponential delays, so a dead server is not hammered; `reset()` after success."""

    def __init__(self, first: float = 0.05, cap: float = 1.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next_delay(self, deadline: float | None = None) -> float:
        """The next delay (half to all of the current step), never past `deadline` (monotonic)."""
        delay = self._next * (0.5 + random.random() / 2)
        self._next = min(self._next * 2, self.cap)
        if deadline is not None:
            delay = min(delay, max(deadline - time.monotonic(), 0.0))
        return delay

    async def sleep(self, deadline: float | None = None) -> None:
        await asyncio.sleep(self.next_delay(deadline))
