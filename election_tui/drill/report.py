"""What a drill measured: one row per fail-over, a summary per kind of failure, text and JSON.

The three figures a drill reports:
- detection: failure -> the old leader's key is deleted (≈ TTL when the leader goes silent);
- hand-over: key deleted -> the next candidate's Campaign returned (it knows it leads);
- gap: failure -> new leader, the time nobody could act as leader.
"Failure" is the action for resign and revoke, and the old lease's last successful keep-alive
for expire, pause and blackhole: from that moment etcd's countdown runs, whatever the drill does.

Member steps (kill / pause / resume / restart an etcd member) add one row each: the raft leader
and term before and after, as the members' own Status answered, how long they took to settle,
and whether the election kept its leader; candidates that gave up on their own (no quorum to
renew a lease) are listed with how long etcd kept their keys afterwards.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .scenario import FailHow, MemberVerb, Scenario

_LEGEND = (
    "detection = failure -> old key deleted; hand-over = key deleted -> new leader knows; "
    "gap = leaderless time (failure -> new leader); overlap = the old leader still believed it "
    "led after the new one was elected. Failure = the action (resign, revoke) or the last "
    "keep-alive etcd accepted (expire, pause, blackhole)."
)


@dataclass(frozen=True, slots=True)
class Failover:
    """One measured leadership change; times are time.monotonic() values, None if never seen."""

    index: int  # 1-based, across the whole drill
    step: int  # index of the fail step in scenario.steps
    how: FailHow
    expect_within: float
    old_value: str
    old_key: str
    action_at: float  # when the drill pulled the handle
    failed_at: float  # the action, or the old lease's last renewal (expire, pause, blackhole)
    key_gone_at: float | None  # our watch saw the old key's DELETE
    key_gone_revision: int | None  # ... at this revision
    elected_at: float | None  # the new leader's LEADER transition
    new_value: str | None
    new_key: str | None
    believed_until: float | None  # the old leader stopped believing it led (None: still did)

    @property
    def complete(self) -> bool:
        return self.key_gone_at is not None and self.elected_at is not None

    @property
    def detection(self) -> float | None:
        return None if self.key_gone_at is None else self.key_gone_at - self.failed_at

    @property
    def handover(self) -> float | None:
        if self.key_gone_at is None or self.elected_at is None:
            return None
        return self.elected_at - self.key_gone_at

    @property
    def gap(self) -> float | None:
        return None if self.elected_at is None else self.elected_at - self.failed_at

    @property
    def overlap(self) -> float | None:
        """How long two candidates believed they led (0 when the old one stepped down first)."""
        if self.elected_at is None or self.believed_until is None:
            return None
        return max(0.0, self.believed_until - self.elected_at)

    @property
    def ok(self) -> bool:
        """A new leader within the scenario's expectation."""
        gap = self.gap
        return gap is not None and gap <= self.expect_within


@dataclass(frozen=True, slots=True)
class RaftView:
    """What the members' own Status answers said at one moment."""

    leader: str | None  # the raft leader most answering members name (None: none names one)
    term: int  # the highest raft term among the answers (0: nobody answered)
    up: int  # members that answered
    total: int

    @property
    def quorum(self) -> bool:
        return self.up > self.total // 2

    def text(self) -> str:
        return f"{self.leader or 'no leader'} t{self.term}"


@dataclass(frozen=True, slots=True)
class LeaseAfter:
    """One of our candidates' leases as etcd answered once a member step was over."""

    value: str
    lease: int
    ttl: int  # seconds etcd says are left (-1: the lease is gone)
    believed: str  # what our candidate believed then (its state: leader, lost, ...)


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """One member step: whom it hit, and what the members said before and after."""

    index: int  # 1-based, across the drill's member steps
    step: int  # index in scenario.steps
    verb: MemberVerb
    chosen: str  # how the step named them: leader, follower, failed, or a number
    members: tuple[str, ...]
    at: float  # when the drill acted (time.monotonic())
    settled_at: float | None  # when the members' Status settled (None: not within the step's bound)
    before: RaftView
    after: RaftView
    leader_before: str | None  # the election's leader in etcd (our watch), by value
    leader_after: str | None
    leader_kept: bool  # the same leader key throughout, never deleted in between
    leases: tuple[LeaseAfter, ...] = ()  # when it brought quorum back: our candidates' leases

    @property
    def settle(self) -> float | None:
        return None if self.settled_at is None else self.settled_at - self.at

    @property
    def raft_leader_changed(self) -> bool:
        return self.before.leader != self.after.leader


@dataclass(frozen=True, slots=True)
class Loss:
    """One of our candidates gave up without the drill failing it (no quorum to renew, say)."""

    value: str
    key: str
    at: float
    detail: str
    key_gone_at: float | None = None  # when our watch saw its key go (etcd kept it until then)
    key_gone_revision: int | None = None

    @property
    def key_outlived(self) -> float | None:
        """How long etcd kept the key after its owner gave up."""
        return None if self.key_gone_at is None else self.key_gone_at - self.at


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 95th percentile (nearest rank: with few samples, the worst one) in seconds."""

    median: float
    p95: float

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        if not values:
            return None
        ordered = sorted(values)
        rank = max(1, math.ceil(0.95 * len(ordered)))
        return cls(statistics.median(ordered), ordered[rank - 1])


@dataclass(frozen=True, slots=True)
class HowSummary:
    """The figures of every fail-over of one kind."""

    how: FailHow
    count: int
    failures: int  # not ok: too slow, or no new leader at all
    detection: Spread | None
    handover: Spread | None
    gap: Spread | None
    overlap: Spread | None = None  # None: never measured for this kind (shown as "-")


@dataclass(slots=True)
class DrillReport:
    """Rows, summary and the reason the drill stopped early (if it did); never raised, reported."""

    scenario: Scenario
    election: bytes
    started_at: float  # time.monotonic()
    started_wall: float  # time.time()
    finished_at: float | None = None
    candidates: int = 0
    failovers: list[Failover] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    member_events: list[MemberEvent] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    @property
    def ok(self) -> bool:
        """Every planned fail-over happened, each within its expectation."""
        return (
            self.error is None
            and len(self.failovers) == self.scenario.failures
            and all(f.ok for f in self.failovers)
        )

    @property
    def summary(self) -> dict[str, HowSummary]:
        """Per kind of failure, in the order the drill first used it."""
        out: dict[str, HowSummary] = {}
        for how in dict.fromkeys(f.how for f in self.failovers):
            rows = [f for f in self.failovers if f.how == how]
            out[how] = HowSummary(
                how,
                len(rows),
                sum(not f.ok for f in rows),
                Spread.of([v for f in rows if (v := f.detection) is not None]),
                Spread.of([v for f in rows if (v := f.handover) is not None]),
                Spread.of([v for f in rows if (v := f.gap) is not None]),
                Spread.of([v for f in rows if (v := f.overlap) is not None]),
            )
        return out


# -- text -----------------------------------------------------------------------------------


def ms_text(seconds: float | None) -> str:
    """A duration as a person reads it: "4.3 ms", "812 ms", "-" when unknown."""
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if abs(ms) < 10 else f"{ms:.0f} ms"


def _table(header: list[str], rows: list[list[str]], left: int) -> list[str]:
    """Aligned columns: the first `left` ones to the left, the figures to the right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _fit(header: list[str], rows: list[list[str]], left: int, width: int, optional: list[str]) -> list[str]:
    """The table, dropping the `optional` columns (least important first) until it fits `width`."""
    keep = list(range(len(header)))
    while True:
        lines = _table([header[i] for i in keep], [[r[i] for i in keep] for r in rows], left)
        if max(len(line) for line in lines) <= width or not optional:
            return lines
        keep.remove(header.index(optional.pop(0)))  # only right-aligned figures are optional


def format_text(report: DrillReport, width: int = 100) -> str:
    """A readable report: what the drill teaches, one row per fail-over, then the summary.

    Prose wraps at `width`; where the table would not fit, its less important columns go
    (the expectation, the deletion revision, the overlap), never the figures that matter.
    """
    sc = report.scenario
    election = report.election.decode(errors="backslashreplace")
    took = "" if report.duration is None else f", took {report.duration:.1f} s"
    lines = textwrap.wrap(
        f"drill {sc.name} ({sc.source}): election {election}, ttl {sc.ttl} s, "
        f"{report.candidates} candidates{took}",
        width,
        break_long_words=False,  # an election name stays whole, to be found and copied
        break_on_hyphens=False,
    )
    if sc.description:
        lines += textwrap.wrap(" ".join(sc.description.split()), width)
    lines.append("")
    rows = [
        [
            str(f.index),
            f.how,
            f"{f.old_value} -> {f.new_value or '?'}",
            ms_text(f.detection),
            ms_text(f.handover),
            ms_text(f.gap),
            ms_text(f.overlap),
            "-" if f.key_gone_revision is None else str(f.key_gone_revision),
            f"<= {ms_text(f.expect_within)}",
            "yes" if f.ok else "LATE" if f.complete else "NO",
        ]
        for f in report.failovers
    ]
    if rows:
        header = [
            "#",
            "how",
            "old -> new",
            "detection",
            "hand-over",
            "gap",
            "overlap",
            "del rev",
            "expected",
            "ok",
        ]
        lines += _fit(header, rows, 3, width, ["expected", "del rev", "overlap"])
        lines += ["", *textwrap.wrap(_LEGEND, width)]
    else:
        lines.append("no fail-over was measured")
    summary = report.summary
    if summary:
        lines += ["", "summary (median / p95)"]
        srows = [
            [
                s.how,
                str(s.count),
                str(s.failures),
                *(
                    "-" if sp is None else f"{ms_text(sp.median)} / {ms_text(sp.p95)}"
                    for sp in (s.detection, s.handover, s.gap, s.overlap)
                ),
            ]
            for s in summary.values()
        ]
        # Overlap is what tells a keep-alive pause (the old leader still believes) from a cut.
        sheader = ["how", "n", "not ok", "detection", "hand-over", "gap", "overlap"]
        lines += _fit(sheader, srows, 1, width, ["not ok"])
    if report.member_events:
        lines += ["", *_members_text(report, width)]
    if report.losses:
        lines += ["", *_losses_text(report, width)]
    for note in report.notes:
        lines += textwrap.wrap(f"note: {note}", width)
    if report.error is not None:
        lines += ["", *textwrap.wrap(f"drill stopped early: {report.error}", width)]
    lines += ["", "result: ok" if report.ok else "result: NOT OK"]
    return "\n".join(lines)


def _members_text(report: DrillReport, width: int) -> list[str]:
    """One wrapped line per member step: prose keeps every figure at any width."""
    lines = textwrap.wrap("etcd members (raft leader and term as the members' own Status answered)", width)
    for e in report.member_events:
        quorum = "" if e.after.quorum else ", NO QUORUM"
        settled = f"settled in {ms_text(e.settle)}" if e.settle is not None else "did not settle"
        kept = "kept" if e.leader_kept else f"was {e.leader_before or 'none'}"
        leader = f"election leader {e.leader_after or 'none'} ({kept})"
        if not e.after.quorum:  # no member can answer for etcd: what our watch last saw is all we know
            leader = f"election leader unknown without quorum (last seen: {e.leader_after or 'none'})"
        text = (
            f"{e.index}. {e.verb} {', '.join(e.members)} ({e.chosen}): raft {e.before.text()} -> "
            f"{e.after.text()}, {e.after.up} of {e.after.total} up{quorum}; {settled}; {leader}"
        )
        if e.leases:
            alive = sum(lease.ttl > 0 for lease in e.leases)
            parts = ", ".join(
                f"{lease.value} {f'alive, {lease.ttl} s left' if lease.ttl > 0 else 'gone'}"
                f" (it believed: {lease.believed})"
                for lease in e.leases
            )
            text += f"; quorum back, {alive} of our {len(e.leases)} leases alive in etcd: {parts}"
        lines += textwrap.wrap(text, width, subsequent_indent="   ", break_on_hyphens=False)
    return lines


def _losses_text(report: DrillReport, width: int) -> list[str]:
    origin = report.started_at
    lines = textwrap.wrap("candidates that gave up without being failed by the drill", width)
    for loss in report.losses:
        kept = (
            "its key is still in etcd"
            if loss.key_gone_at is None
            else f"etcd kept its key {ms_text(loss.key_outlived)} longer (deleted at rev {loss.key_gone_revision})"
        )
        lines += textwrap.wrap(f"- {loss.value} at +{loss.at - origin:.1f} s: {loss.detail}; {kept}", width)
    return lines


# -- JSON -----------------------------------------------------------------------------------


def _rel(at: float | None, origin: float) -> float | None:
    return None if at is None else round(at - origin, 6)


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _spread(sp: Spread | None) -> dict[str, float] | None:
    return None if sp is None else {"median": round(sp.median, 6), "p95": round(sp.p95, 6)}


def _raft(view: RaftView) -> dict[str, Any]:
    return {
        "leader": view.leader,
        "term": view.term,
        "up": view.up,
        "members": view.total,
        "quorum": view.quorum,
    }


def to_json(report: DrillReport) -> dict[str, Any]:
    """Stable keys; durations in seconds (floats); times in seconds since the drill started."""
    origin = report.started_at
    sc = report.scenario
    return {
        "scenario": {
            "name": sc.name,
            "source": sc.source,
            "description": sc.description,
            "election": sc.election,
            "ttl": sc.ttl,
        },
        "election": report.election.decode(errors="backslashreplace"),
        "started_wall": report.started_wall,
        "duration": _secs(report.duration),
        "candidates": report.candidates,
        "ok": report.ok,
        "error": report.error,
        "notes": list(report.notes),
        "failovers": [
            {
                "index": f.index,
                "step": f.step,
                "how": f.how,
                "old_value": f.old_value,
                "old_key": f.old_key,
                "new_value": f.new_value,
                "new_key": f.new_key,
                "action_at": _rel(f.action_at, origin),
                "failed_at": _rel(f.failed_at, origin),
                "key_gone_at": _rel(f.key_gone_at, origin),
                "key_gone_revision": f.key_gone_revision,
                "elected_at": _rel(f.elected_at, origin),
                "believed_until": _rel(f.believed_until, origin),
                "detection": _secs(f.detection),
                "handover": _secs(f.handover),
                "gap": _secs(f.gap),
                "overlap": _secs(f.overlap),
                "expect_within": f.expect_within,
                "ok": f.ok,
            }
            for f in report.failovers
        ],
        "member_events": [
            {
                "index": e.index,
                "step": e.step,
                "action": e.verb,
                "chosen": e.chosen,
                "members": list(e.members),
                "at": _rel(e.at, origin),
                "settled_at": _rel(e.settled_at, origin),
                "settle": _secs(e.settle),
                "before": _raft(e.before),
                "after": _raft(e.after),
                "raft_leader_changed": e.raft_leader_changed,
                "election_leader_before": e.leader_before,
                "election_leader_after": e.leader_after,
                "election_leader_kept": e.leader_kept,
                "leases": [
                    {"value": x.value, "lease": format(x.lease, "x"), "ttl": x.ttl, "believed": x.believed}
                    for x in e.leases
                ],
            }
            for e in report.member_events
        ],
        "losses": [
            {
                "value": loss.value,
                "key": loss.key,
                "at": _rel(loss.at, origin),
                "detail": loss.detail,
                "key_gone_at": _rel(loss.key_gone_at, origin),
                "key_gone_revision": loss.key_gone_revision,
                "key_outlived": _secs(loss.key_outlived),
            }
            for loss in report.losses
        ],
        "summary": {
            how: {
                "count": s.count,
                "failures": s.failures,
                "detection": _spread(s.detection),
                "handover": _spread(s.handover),
                "gap": _spread(s.gap),
                "overlap": _spread(s.overlap),
            }
            for how, s in report.summary.items()
        },
    }
