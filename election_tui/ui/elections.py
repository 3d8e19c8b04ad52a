"""The elections table: one line per election; a changed election repaints its line only."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from rich.text import Text

from ..model import ElectionState, ElectionView, TTLLookup, display
from .linetable import Column, LineTable
from .render import TTL_WIDTH, age, lease_hex, literal, ttl_bar

COLUMNS = (
    Column("Election", "name", 8, max_width=32),
    Column("Leader", "leader", 6, max_width=24),
    Column("Lease", "lease", 8),
    Column("TTL", "ttl", TTL_WIDTH),
    Column("Cands", "cands", 5, justify="right"),
    Column("Terms", "terms", 5, justify="right"),
    Column("Changed", "changed", 7, max_width=18),
)


class ElectionsTable(LineTable[bytes]):
    """Every election under the prefix, sorted by name; the cursor drives the queue panel."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.filter_text = ""
        self._leases: dict[bytes, int] = {}
        self._changed_at: dict[bytes, float | None] = {}

    def selected_name(self) -> bytes | None:
        return self.cursor_key

    def _visible(self, name: bytes) -> bool:
        return not self.filter_text or self.filter_text.lower() in display(name, 200).lower()

    def sync(
        self, state: ElectionState, changed: Iterable[bytes] | None, ttl: TTLLookup, wall: float
    ) -> None:
        """Redraw the changed elections (all of them when `changed` is None), TTLs included."""
        if changed is None:
            names = [n for n in state.names() if self._visible(n)]
            for name in names:
                self._show(state.election(name), ttl, wall)
            self.set_order(names)
            return
        order: list[bytes] | None = None
        for name in changed:
            view = state.election(name)
            present = name in self
            if view is None or not self._visible(name):
                if present:
                    order = order if order is not None else list(self.keys)
                    order.remove(name)
                continue
            self._show(view, ttl, wall)
            if not present:
                order = order if order is not None else list(self.keys)
                bisect.insort(order, name)
        if order is not None:
            self.set_order(order)

    def _show(self, view: ElectionView | None, ttl: TTLLookup, wall: float) -> None:
        if view is None:
            return
        leader = view.leader
        lease = leader.lease if leader else 0
        self._leases[view.name] = lease
        self._changed_at[view.name] = view.last_change_time
        self.set_row(
            view.name,
            (
                literal(view.name, 32, "bold"),
                literal(leader.value, 24) if leader else Text("no leader", style="red italic"),
                lease_hex(lease, short=True),
                _ttl_cell(lease, ttl),  # now, not at the next tick: a new leader's, not the old one's
                Text(str(len(view.candidates))),
                Text(str(view.terms)),
                _changed_cell(view.last_change_time, leader.create_revision if leader else None, wall),
            ),
        )

    def set_order(self, keys: list[bytes]) -> None:  # type: ignore[override]
        super().set_order(keys)
        for gone in [k for k in self._leases if k not in self]:
            del self._leases[gone], self._changed_at[gone]

    def visible_leases(self) -> list[int]:
        return [lease for name in self.visible_keys() if (lease := self._leases.get(name, 0))]

    def tick(self, ttl: TTLLookup, wall: float) -> None:
        """Redraw TTLs and ages of the rows on screen only."""
        for name in self.visible_keys():
            row = list(self._cells[name])
            row[3] = _ttl_cell(self._leases.get(name, 0), ttl)
            changed_at = self._changed_at.get(name)
            if changed_at is not None:  # else "before start" stands: that age is not ours to tell
                row[6] = _changed_cell(changed_at, None, wall)
            self.set_row(name, row)


def _ttl_cell(lease: int, ttl: TTLLookup) -> Text:
    return ttl_bar(ttl(lease)) if lease else Text("")


def _changed_cell(changed_at: float | None, leader_revision: int | None, wall: float) -> Text:
    """The age of a change this process saw; else the leader's revision, "before start"."""
    if changed_at is not None:
        return Text(age(wall - changed_at), style="dim")
    since = f"r{leader_revision} " if leader_revision is not None else ""
    return Text(since + "before start", style="dim italic", no_wrap=True, overflow="ellipsis")
