"""Who led when: each election's recent terms, and the lanes of a swimlane picture drawn from them.

`TermBook` folds the timeline's entries, in order, into a bounded `TermLog` per election;
`BeliefLog` keeps what our stale leaders believed; `lane()` turns one election's terms into
segments over a window of the last minutes. Pure: every time is an entry's or the caller's.

Only what is proven is drawn. What this process saw has times and is placed by time. What it
replayed from etcd's history has revisions and no time (etcd keeps none), so the part of the
window before this process looked is laid out by revision, apart, never on the clock. A
leaderless stretch is a segment of its own (`GAP`), so is what is not known (`UNSEEN`: not
read, forgotten past a bound, or while the session's watch or the quorum was down: `Blind`),
and so is a stale leader's belief that outlived its key.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .candidates import CandidateKey
from .keys import scopes
from .terms import UNKNOWN, Term, TermLog
from .timeline import ELECTED, LEFT, PROCLAIMED, REMOVAL_REASONS, TimelineEntry

LED: Final = "led"  # a leader held the election: etcd's Leader(name) named it
GAP: Final = "gap"  # no leader: no candidate key, Leader(name) answers "no leader"
UNSEEN: Final = "unseen"  # not known: before this process looked and not read, or forgotten
STALE: Final = "stale"  # one of our leaders still believed it led after etcd deleted its key
ABSENT: Final = "absent"  # before the election's first term: no candidate key yet, nothing to lead

SEGMENT_MEANINGS: Final = {
    LED: "a term: who led, from its election to its end (its value is written on the bar)",
    GAP: "no leader: the election had no candidate key left (etcd answers no leader)",
    UNSEEN: "not known: before this process looked and not in the history read, forgotten, "
    "or while its watch or the quorum was down",
    STALE: "one of our leaders, partitioned, still believed it led after etcd deleted its key",
    ABSENT: "before the election's first term: no candidate yet (not a gap: nothing to lead)",
}

_ENDINGS = REMOVAL_REASONS | {LEFT}
TERMS_KEPT = 64  # terms per election (the oldest go first: before them is not known)
VANISHED_KEPT = 1000  # elections with no leader left whose terms are kept (oldest end first)
BELIEFS_KEPT = 256
BLIND_KEPT = 64  # stretches the session did not know (the oldest go first)

Blind = tuple[float, float | None]  # [from, until): the watch or the quorum was down (None: still)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one lane; `start`/`end` are times in `Lane.live` and `Lane.stale`, revisions
    in `Lane.history` (a revision r spans [r, r + 1)).

    `term` is who led (LED) or who believed it still did (STALE); `ordinal` counts the
    election's terms from its first kept one, so neighbouring terms can be told apart.
    """

    kind: str
    start: float
    end: float
    term: Term | None = None
    ordinal: int = 0


@dataclass(frozen=True, slots=True)
class LaneWindow:
    """The stretch of time a picture shows, and where this process's own times begin.

    Entries after revision `until` were seen live, from `live_from` on. The part of [start, end]
    before `live_from` is drawn by revision: `history` is (baseline, last replayed) when etcd's
    history was read (its leaders known at the baseline), None when it was not. `blind`: the
    stretches after it when the session did not know (its watch or the quorum down): not known.
    """

    start: float
    end: float
    live_from: float
    until: int
    history: tuple[int, int] | None
    blind: tuple[Blind, ...] = ()

    @property
    def live_start(self) -> float:
        return max(self.start, min(self.live_from, self.end))

    @property
    def before_start(self) -> float:
        """Seconds of the window before this process looked (drawn by revision)."""
        return self.live_start - self.start

    @property
    def revisions(self) -> tuple[int, int]:
        """The revisions the part before `live_from` spans, [first, last + 1)."""
        first = self.history[0] if self.history is not None else self.until
        return first, self.until + 1


@dataclass(frozen=True, slots=True)
class Lane:
    """One election over a window: `history` by revision (empty when the window holds none of
    it), `live` by time from `window.live_start` to `window.end`, `stale` by time too."""

    election: bytes
    history: tuple[Segment, ...]
    live: tuple[Segment, ...]
    stale: tuple[Segment, ...]

    @property
    def led(self) -> bool:
        """Whether anyone led in the window (a lane of gaps alone is not worth a row)."""
        return any(s.kind == LED for s in (*self.history, *self.live))


@dataclass(frozen=True, slots=True)
class Belief:
    """One of our leaders, partitioned, believing it still led `election` with `key` after its
    lease ran out: stale from `since` until it learned it lost (`until`; None: it still believes).
    """

    election: bytes
    key: bytes
    since: float
    until: float | None = None


class BeliefLog:
    """Our stale leaders' beliefs, the newest `limit` kept: the swimlanes' stale overlap."""

    def __init__(self, limit: int = BELIEFS_KEPT) -> None:
        self._open: dict[bytes, Belief] = {}
        self._done: deque[Belief] = deque(maxlen=limit)

    def stale(self, election: bytes, key: bytes, now: float) -> None:
        """`key`'s candidate went stale at `now`: it believes it leads, its lease is gone."""
        self._open.setdefault(key, Belief(election, key, now))

    def learned(self, key: bytes, now: float) -> None:
        """`key`'s candidate stopped believing at `now` (no-op unless it was stale)."""
        belief = self._open.pop(key, None)
        if belief is not None:
            self._done.append(Belief(belief.election, key, belief.since, now))

    def of(self, election: bytes) -> list[Belief]:
        return [b for b in (*self._done, *self._open.values()) if b.election == election]

    def elections(self, since: float) -> set[bytes]:
        """Elections with a belief that still held at or after `since`."""
        return {
            b.election for b in (*self._done, *self._open.values()) if b.until is None or b.until >= since
        }


def _spans(led: list[Segment], lo: float, hi: float, born: float | None = None) -> list[Segment]:
    """`led` (sorted, not overlapping, within [lo, hi)) with the gaps between them as GAP, and
    as ABSENT what lies before `born`, the election's first term (None: it led before)."""
    out: list[Segment] = []
    at = lo
    for seg in [*led, Segment(GAP, hi, hi)]:
        if seg.start > at:
            out.append(Segment(ABSENT if born is not None and seg.start <= born else GAP, at, seg.start))
        if seg.kind == LED:
            out.append(seg)
        at = max(at, seg.end)
    return out


def lane(
    election: bytes,
    terms: Sequence[Term],
    window: LaneWindow,
    *,
    known_from: int,
    known_since: float | None = None,
    first: int = 0,
    beliefs: Iterable[Belief] = (),
) -> Lane:
    """The segments of one election over `window`: nothing placed where it is not known.

    `terms` are complete from revision `known_from` on (seen at `known_since`, when that was
    after `window.live_from`); before it is UNSEEN. `first` is the ordinal of `terms[0]`. A term
    whose start has no time led at `live_from` if it went on past `window.until`.
    """
    # Whether the election's first term is kept, and it began where the terms begin: before it,
    # nobody led because there was nothing to lead.
    born = terms[0] if terms and not first and terms[0].start is not None else None
    history: list[Segment] = []
    if window.before_start > 0:
        history = _history(terms, window, known_from, first, born.start if born else None)
    live: list[Segment] = []
    stale: list[Segment] = []
    lo, hi = window.live_start, window.end
    if hi > lo:
        cut = lo
        if known_from > window.until:
            cut = max(lo, known_since if known_since is not None else hi)
        led: list[Segment] = []
        for i, term in enumerate(terms):
            if term.start_time is not None:
                start = term.start_time
            elif term.leading or (term.end is not None and term.end > window.until):
                start = window.live_from  # it led when this process looked
            else:
                continue  # it ended in the history (or where nobody can tell)
            end = term.end_time if term.end_time is not None else hi if term.leading else None
            if end is not None and min(end, hi) > max(start, cut):
                led.append(Segment(LED, max(start, cut), min(end, hi), term, first + i))
        live = _spans(led, cut, hi, born.start_time if born and born.start_time is not None else None)
        if cut > lo:
            live.insert(0, Segment(UNSEEN, lo, cut))
        live = _blinded(live, window.blind, hi)
        stale = _stale(election, terms, first, beliefs, max(lo, cut), hi)
    return Lane(election, tuple(history), tuple(live), tuple(stale))


def _blinded(segments: list[Segment], blind: Sequence[Blind], hi: float) -> list[Segment]:
    """`segments` with what lies in a `blind` stretch made UNSEEN: nobody could tell then."""
    if not blind:
        return segments
    out: list[Segment] = []
    for seg in segments:
        parts = [seg]
        for since, until in blind:
            end = hi if until is None else until
            cut: list[Segment] = []
            for part in parts:
                if part.kind == UNSEEN or end <= part.start or since >= part.end:
                    cut.append(part)
                    continue
                if since > part.start:
                    cut.append(Segment(part.kind, part.start, since, part.term, part.ordinal))
                if end < part.end:
                    cut.append(Segment(part.kind, end, part.end, part.term, part.ordinal))
            parts = cut
        out += parts
    # Each blind stretch (within what the segments span) becomes one UNSEEN segment, in order.
    lo = segments[0].start if segments else hi
    for since, until in blind:
        start, end = max(since, lo), min(hi if until is None else until, hi)
        if end > start:
            out.append(Segment(UNSEEN, start, end))
    out.sort(key=lambda s: (s.start, s.end))
    return _merged(out)


def _merged(segments: list[Segment]) -> list[Segment]:
    """Neighbouring or overlapping UNSEEN segments as one."""
    out: list[Segment] = []
    for seg in segments:
        last = out[-1] if out else None
        if last is not None and last.kind == UNSEEN and seg.kind == UNSEEN and seg.start <= last.end:
            out[-1] = Segment(UNSEEN, last.start, max(last.end, seg.end))
        else:
            out.append(seg)
    return out


def _history(
    terms: Sequence[Term], window: LaneWindow, known_from: int, first: int, born: int | None
) -> list[Segment]:
    """The part before this process looked, by revision; UNSEEN where no history was read."""
    lo, hi = window.revisions
    if window.history is None:
        return [Segment(UNSEEN, lo, hi)]
    read = window.history[1] + 1  # revisions after the last replayed one were not read
    begin = max(lo, known_from)
    if begin >= read:
        return [Segment(UNSEEN, lo, hi)]
    led: list[Segment] = []
    for i, term in enumerate(terms):
        start = term.start
        if start is None:
            if i or first:
                continue  # it led at a later read, after revisions that were not read
            start = known_from  # it led at the baseline
        end = term.end if term.end is not None else read if term.leading or term.ended == UNKNOWN else None
        if end is not None and min(end, read) > max(start, begin):
            led.append(Segment(LED, max(start, begin), min(end, read), term, first + i))
    out = _spans(led, begin, read, born)
    if begin > lo:
        out.insert(0, Segment(UNSEEN, lo, begin))
    if read < hi:
        out.append(Segment(UNSEEN, read, hi))
    return out


def _stale(
    election: bytes, terms: Sequence[Term], first: int, beliefs: Iterable[Belief], lo: float, hi: float
) -> list[Segment]:
    """Where a belief outlived its term: from etcd's delete of the key to when the leader learned."""
    out: list[Segment] = []
    for belief in beliefs:
        if belief.election != election:
            continue
        for i, term in reversed(list(enumerate(terms))):
            if term.key != belief.key or term.end_time is None:
                continue
            start = max(term.end_time, lo)
            end = min(belief.until if belief.until is not None else hi, hi)
            if end > start:
                out.append(Segment(STALE, start, end, term, first + i))
            break
    out.sort(key=lambda s: s.start)
    return out


class TermBook:
    """Every election's recent terms under a watched prefix, fed the timeline's entries in order.

    `begin` at a read (a first read, or a history replay's baseline) with the leaders there;
    `add` the entries that follow; `live` when entries start to carry times. Bounded: `terms`
    per election, and elections left without a leader past `vanished` are forgotten, oldest
    ending first (an election made again after that is known from its new start only).
    """

    def __init__(self, *, terms: int = TERMS_KEPT, vanished: int = VANISHED_KEPT) -> None:
        self._limit = terms
        self._vanished_limit = vanished
        self._logs: dict[bytes, TermLog] = {}
        self._known: dict[bytes, tuple[int, float | None]] = {}  # logs that begin after the book
        self._vanished: OrderedDict[bytes, None] = OrderedDict()
        self._forgot = False
        self._names: list[bytes] | None = None  # sorted, made on demand
        self.since = 0  # the revision the book begins at: its leaders there are known
        self.history: tuple[int, int] | None = None  # (baseline, last replayed), when history was read
        self.until = 0  # entries after this revision carry times
        self.live_from: float | None = None  # when they started to (None: not live yet)
        self._blind: deque[Blind] = deque(maxlen=BLIND_KEPT)

    def begin(
        self, leaders: Iterable[tuple[bytes, CandidateKey | None]], revision: int, *, history: bool
    ) -> None:
        """Start over at `revision`, where `leaders` led; `history`: what follows is replayed."""
        self._logs = {name: TermLog(name, leader, limit=self._limit) for name, leader in leaders}
        self._known.clear()
        self._vanished.clear()
        self._forgot = False
        self._names = None
        self.since = self.until = revision
        self.history = (revision, revision) if history else None
        self.live_from = None

    def add(self, entries: Iterable[TimelineEntry]) -> None:
        for entry in entries:
            if entry.kind == ELECTED:
                self._log(entry).add((entry,))
                self._vanished.pop(entry.election, None)
            elif entry.kind == PROCLAIMED:
                log = self._logs.get(entry.election)
                if log is not None:
                    log.add((entry,))
            elif entry.kind in _ENDINGS:
                # A candidate of `a/b` may lead `a` too: its key ends a term in each.
                for scope in scopes(entry.election):
                    log = self._logs.get(scope)
                    if log is not None and log.current is not None and log.current.key == entry.key:
                        log.add((entry,))
                        if log.current is None:
                            self._vanish(scope)

    def restart(self, leaders: Iterable[tuple[bytes, CandidateKey | None]]) -> None:
        """A replay stopped short and the present read (with `leaders`) was taken as the truth."""
        present = dict(leaders)
        for name, log in self._logs.items():
            log.restart(present.pop(name, None))
        for name, leader in present.items():
            self._logs[name] = TermLog(name, leader, limit=self._limit)
            self._names = None

    def live(self, revision: int, now: float, *, read: int | None = None) -> None:
        """Entries after `revision` (the present read) are seen live from `now` on; `read`: the
        last revision a history replay got to (it may have stopped short of `revision`)."""
        self.until = revision
        self.live_from = now
        if self.history is not None:
            self.history = (self.history[0], min(revision, read if read is not None else revision))

    def blind(self, since: float) -> None:
        """From `since` on, the session does not know (watch down, no quorum): terms go unseen."""
        if not self._blind or self._blind[-1][1] is not None:
            self._blind.append((since, None))

    def sees(self, now: float) -> None:
        """The session knows again from `now` (its watch is live, a quorum answers)."""
        if self._blind and self._blind[-1][1] is None:
            since = self._blind[-1][0]
            self._blind[-1] = (since, max(since, now))

    def terms(self, name: bytes) -> tuple[Term, ...]:
        log = self._logs.get(name)
        return log.terms if log is not None else ()

    def names(self) -> list[bytes]:
        """Every election with terms kept, sorted."""
        if self._names is None:
            self._names = sorted(self._logs)
        return self._names

    def shown(self, window: LaneWindow) -> list[bytes]:
        """The elections worth a row over `window`, sorted: those led now, and those whose last
        term ended inside it (their gap is news), or in the history it draws."""
        out: list[bytes] = []
        for name in self.names():
            last = self._logs[name].last
            if last is None:
                continue
            if last.leading or (
                last.end_time >= window.start if last.end_time is not None else window.before_start > 0
            ):
                out.append(name)
        return out

    def leads(self, name: bytes) -> bool:
        log = self._logs.get(name)
        return log is not None and log.current is not None

    def window(self, now: float, span: float) -> LaneWindow | None:
        """The last `span` seconds up to `now` (None until the book is live)."""
        if self.live_from is None:
            return None
        start = now - span
        blind = tuple(b for b in self._blind if b[1] is None or b[1] > start)
        return LaneWindow(start, now, self.live_from, self.until, self.history, blind)

    def lane(self, name: bytes, window: LaneWindow, beliefs: Iterable[Belief] = ()) -> Lane:
        log = self._logs.get(name)
        if log is None:
            return lane(name, (), window, known_from=self.since, beliefs=beliefs)
        terms = log.terms
        known_from, known_since = self._known.get(name, (self.since, None))
        if log.dropped and terms:  # what led before the first kept term is forgotten
            oldest = terms[0]
            if oldest.start is not None and oldest.start > known_from:
                known_from, known_since = oldest.start, oldest.start_time
        return lane(
            name,
            terms,
            window,
            known_from=known_from,
            known_since=known_since,
            first=log.dropped,
            beliefs=beliefs,
        )

    def _log(self, entry: TimelineEntry) -> TermLog:
        log = self._logs.get(entry.election)
        if log is None:
            log = self._logs[entry.election] = TermLog(entry.election, None, limit=self._limit)
            self._names = None
            if self._forgot:  # it may be one of those forgotten: known from here on only
                self._known[entry.election] = (entry.revision, entry.time)
        return log

    def _vanish(self, name: bytes) -> None:
        self._vanished[name] = None
        self._vanished.move_to_end(name)
        while len(self._vanished) > self._vanished_limit:
            gone, _ = self._vanished.popitem(last=False)
            del self._logs[gone]
            self._known.pop(gone, None)
            self._forgot = True
            self._names = None
