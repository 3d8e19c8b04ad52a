"""What a notebook view shows, as plain JSON-able rows built from the live session.

Everything from etcd goes through `model.display` here (escaped, cut), so the page only ever
receives text; the page sets it as `textContent`, never as HTML. Countdowns are sent as a
deadline on the kernel's monotonic clock plus the granted TTL: a deadline only moves when the
server answers again, so an unchanged row is an unchanged message, and the browser animates
the bar with its own clock in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..live import LiveSession
from ..model import ElectionView, ShownTTL, TimelineEntry, TTLLookup, display
from ..sim import Candidate, State

Row = dict[str, Any]

NAME_CHARS = 64
VALUE_CHARS = 48
QUEUE_ROWS = 50  # most queue rows sent; the rest are counted
FLEET_ROWS = 200
TIMELINE_ROWS = 50

_RESIGNABLE = (State.CAMPAIGNING, State.LEADER, State.STALE)
_PAUSABLE = (State.CAMPAIGNING, State.LEADER)


def shown_name(name: bytes, prefix: bytes) -> str:
    """An election name as the view shows it: inside the dashboard's prefix (as `launch` takes it)."""
    return display(name[len(prefix) :] if prefix and name.startswith(prefix) else name, NAME_CHARS)


def lease_hex(lease: int) -> str:
    return format(lease, "x") if lease else ""


def ttl_fields(shown: ShownTTL | None, now: float) -> Row:
    """A TTL cell as the page draws it, by the model's rule (`LeaseClock.shown`).

    `deadline` (kernel clock) when the number counts down, which the page animates with its own
    clock; `held` when it is etcd's last answer, drawn as "≥N s" and never counted below it.
    """
    if shown is None:
        return {"deadline": None, "held": None, "granted": None}
    if shown.gone:
        return {"deadline": 0.0, "held": None, "granted": shown.granted}
    if shown.counting:
        return {"deadline": round(now + shown.low, 1), "held": None, "granted": shown.granted}
    return {"deadline": None, "held": shown.low, "granted": shown.granted}


def election_row(view: ElectionView, ttl: TTLLookup, now: float, prefix: bytes = b"") -> Row:
    leader = view.leader
    lease = leader.lease if leader is not None else 0
    return {
        "id": view.name.hex(),
        "name": shown_name(view.name, prefix),
        "leader": display(leader.value, VALUE_CHARS) if leader is not None else None,
        "lease": lease_hex(lease),
        **ttl_fields(ttl(lease) if lease else None, now),
        "cands": len(view.candidates),
        "terms": view.terms,
        # None: the change happened before this session looked; the page says so, with a revision.
        "changed": round(view.last_change_time, 3) if view.last_change_time is not None else None,
        "since_rev": view.last_change_revision
        if view.last_change_revision is not None
        else (leader.create_revision if leader is not None else None),
    }


def allowed_actions(cand: Candidate) -> list[str]:
    """The buttons that can act on `cand` now (the others are drawn disabled)."""
    state = cand.state
    out: list[str] = []
    if state in _RESIGNABLE:
        out += ["resign", "crash"]
    if state in _PAUSABLE and not cand.paused and not cand.expiring:
        out += ["expire", "pause"]
    if cand.paused and state in _RESIGNABLE:
        out.append("resume")
    if state.terminal:
        out.append("rejoin")
    out.append("remove")
    return out


def fleet_row(cand: Candidate, now: float, prefix: bytes = b"") -> Row:
    remaining = cand.remaining() if not cand.state.terminal else None
    return {
        "id": cand.id,
        "election": shown_name(cand.name, prefix),
        "election_id": cand.name.hex(),
        "value": display(cand.value, VALUE_CHARS),
        "state": cand.state.value,
        "paused": cand.paused,
        "lease": lease_hex(cand.lease_id),
        "deadline": None if remaining is None else round(now + remaining, 1),
        "held": None,
        "granted": cand.ttl,
        "actions": allowed_actions(cand),
        "error": display(cand.last_error.encode(), 120) if cand.last_error else None,
    }


def queue_rows(
    session: LiveSession, view: ElectionView | None, now: float, *, limit: int = QUEUE_ROWS
) -> tuple[list[Row], int]:
    """The queue of `view` in create-revision order (leader first), and how many were left out.

    Our candidates that still believe they lead this election but whose key is gone (stale,
    partitioned) are added at the end, flagged: the split-brain window made visible.
    """
    if view is None:
        return [], 0
    ours = {c.key: c for c in session.fleet if c.key is not None}  # a lost one of ours stays ours
    ttl = session.ttls(now)
    rows: list[Row] = []
    present: set[int] = set()
    for position, cand in enumerate(view.candidates[:limit]):
        mine = ours.get(cand.key)
        if mine is not None:
            present.add(mine.id)
        state = mine.state.value if mine is not None else ("leader" if position == 0 else "waiting")
        rows.append(
            {
                "key": shown_name(cand.key, session.prefix),
                "pos": position,
                "leader": position == 0,
                "value": display(cand.value, VALUE_CHARS),
                "nested": display(cand.name[len(view.name) + 1 :], 24) if cand.name != view.name else "",
                "lease": lease_hex(cand.lease),
                **ttl_fields(ttl(cand.lease), now),
                "ours": mine.id if mine is not None else None,
                "state": state,
                "stale": mine is not None and (mine.state is State.STALE or mine.paused),
                "rev": cand.create_revision,
            }
        )
    for mine in session.fleet.believers(view.name):
        if mine.id not in present:
            rows.append(
                {
                    "key": shown_name(mine.key or b"", session.prefix),
                    "pos": None,
                    "leader": False,
                    "value": display(mine.value, VALUE_CHARS),
                    "nested": "",
                    "lease": lease_hex(mine.lease_id),
                    "deadline": None,
                    "held": None,
                    "granted": mine.ttl,
                    "ours": mine.id,
                    "state": mine.state.value,
                    "stale": True,
                    "gone": True,
                    "rev": None,
                }
            )
    return rows, max(0, len(view.candidates) - limit)


def timeline_row(entry: TimelineEntry, prefix: bytes = b"") -> Row:
    return {
        "kind": entry.kind,
        "election": shown_name(entry.election, prefix),
        "value": display(entry.value, VALUE_CHARS),
        "lease": lease_hex(entry.lease),
        "rev": entry.revision,
        # None: replayed from etcd's history, which keeps no time; the page shows the revision.
        "time": round(entry.time, 3) if entry.time is not None else None,
        "history": entry.history,
    }


def timeline_rows(
    entries: Iterable[TimelineEntry], prefix: bytes = b"", limit: int = TIMELINE_ROWS
) -> list[Row]:
    """Newest first."""
    recent: Sequence[TimelineEntry] = list(entries)[-limit:]
    return [timeline_row(e, prefix) for e in reversed(recent)]


def cluster_row(session: LiveSession) -> Row:
    info = session.cluster
    return {
        "connection": info.connection,
        "endpoint": display(info.endpoint.encode(), 80),
        "prefix": display(session.prefix, NAME_CHARS),
        "revision": info.revision,
        "error": display(info.error.encode(), 200) if info.error else None,
        "leader_member": display(info.leader_member.encode(), 40) if info.leader_member else None,
        "version": display(info.version.encode(), 20),
        "members": [
            {"name": display(m.name.encode(), 40), "up": m.up, "leader": m.is_leader} for m in info.members
        ],
        "ours": len(session.fleet),
        "history": display(info.history.text.encode(), 200) if info.history is not None else None,
    }
