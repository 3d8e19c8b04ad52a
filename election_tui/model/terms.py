"""Terms of one election (who led, from which revision to which, how it ended) from timeline entries."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .candidates import CandidateKey
from .timeline import ELECTED, LEFT, PROCLAIMED, REMOVAL_REASONS, TimelineEntry

_ENDINGS = REMOVAL_REASONS | {LEFT}
UNKNOWN = "unknown"  # a term's end fell in revisions that were not read


@dataclass(frozen=True, slots=True)
class Term:
    """One leader's time at the head of an election, by revisions.

    `start` is None when it already led where the entries begin, `end` None while it still leads
    where they stop. `ended` says how its term ended as the model can tell: the removal kind of
    its key ("left": the key was deleted and nobody said why), "unknown" when its end fell in
    revisions that were not read, None while it leads (or if a new leader came with no removal).
    Times are those this process saw; None for what was replayed from etcd's history.
    """

    election: bytes
    key: bytes
    lease: int
    value: bytes  # what it led with at the start
    last_value: bytes  # what it led with at the end (after its proclaims)
    start: int | None
    end: int | None = None
    ended: str | None = None
    start_time: float | None = None
    end_time: float | None = None

    @property
    def leading(self) -> bool:
        return self.end is None and self.ended is None


class TermLog:
    """Folds timeline entries, in order, into the terms of `election`; keeps the newest `limit`.

    Pure: the caller passes the leader where its entries begin (None: no leader then), and
    `restart` when a read stopped short and the present was taken as the truth (`rebase`).
    """

    def __init__(self, election: bytes, leader: CandidateKey | None, *, limit: int = 10_000) -> None:
        self.election = election
        self._done: deque[Term] = deque(maxlen=limit)
        self._open: Term | None = None
        if leader is not None:
            self._open = Term(election, leader.key, leader.lease, leader.value, leader.value, None)

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every term kept, oldest first; the last one may still lead."""
        return (*self._done, self._open) if self._open is not None else tuple(self._done)

    def add(self, entries: Iterable[TimelineEntry]) -> None:
        for entry in entries:
            current = self._open
            if entry.kind == ELECTED and entry.election == self.election:
                if current is not None:  # no removal seen first: its end is the new term's start
                    self._close(replace(current, end=entry.revision, end_time=entry.time))
                self._open = Term(
                    self.election,
                    entry.key,
                    entry.lease,
                    entry.value,
                    entry.value,
                    entry.revision,
                    start_time=entry.time,
                )
            elif current is None or entry.key != current.key:
                continue
            elif entry.kind == PROCLAIMED and entry.election == self.election:
                self._open = replace(current, last_value=entry.value)
            elif entry.kind in _ENDINGS:
                self._close(replace(current, end=entry.revision, ended=entry.kind, end_time=entry.time))

    def restart(self, leader: CandidateKey | None) -> None:
        """The present (with `leader`) was taken as the truth after revisions that were not read.

        A term still open then ended unseen, or went on: nobody can tell, so it closes as
        "unknown" and the present leader opens a term whose start is unknown too.
        """
        if self._open is not None:
            self._close(replace(self._open, ended=UNKNOWN))
        if leader is not None:
            self._open = Term(self.election, leader.key, leader.lease, leader.value, leader.value, None)

    def _close(self, term: Term) -> None:
        self._done.append(term)
        self._open = None
