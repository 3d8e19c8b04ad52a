"""A view's own cursor on a live session: what changed since *its* last frame.

Every view (a TUI, each notebook widget) follows the session through a `Feed` of its own, so
two views never take each other's changes. A feed is bounded whatever its view does: elections
are a set, and the timeline keeps the newest entries a view could still show.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..model import TimelineEntry

TIMELINE_LIMIT = 1000  # as many as a view keeps on screen; older ones would scroll away unseen


@dataclass(slots=True)
class Frame:
    """Changes accumulated between two frames of one view."""

    reset: bool = False
    elections: set[bytes] = field(default_factory=set)
    timeline: deque[TimelineEntry] = field(default_factory=lambda: deque(maxlen=TIMELINE_LIMIT))
    cluster: bool = False
    fleet: bool = False

    def __bool__(self) -> bool:
        return self.reset or bool(self.elections) or bool(self.timeline) or self.cluster or self.fleet


class Feed:
    """Made by `LiveSession.follow()`; `close()` when the view goes."""

    def __init__(self, on_close: Callable[[Feed], None]) -> None:
        self._pending = Frame(reset=True)  # a new view draws everything once
        self._on_close = on_close
        self.leases: tuple[int, ...] = ()
        self.closed = False

    def take(self) -> Frame:
        """What changed since the last call (and forget it)."""
        frame, self._pending = self._pending, Frame()
        return frame

    def show_leases(self, ids: Iterable[int]) -> None:
        """The leases this view has on screen now: the session keeps their TTLs fresh."""
        self.leases = tuple(ids)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)

    # -- fed by the session -----------------------------------------------------------------

    def add(self, elections: Iterable[bytes], timeline: Iterable[TimelineEntry], *, reset: bool) -> None:
        pending = self._pending
        pending.reset |= reset
        pending.elections.update(elections)
        pending.timeline.extend(timeline)

    def mark(self, *, cluster: bool = False, fleet: bool = False) -> None:
        self._pending.cluster |= cluster
        self._pending.fleet |= fleet
