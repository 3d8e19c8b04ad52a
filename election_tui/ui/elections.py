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
    Column("Changed", "changed", 7),
)


class ElectionsTable(LineTable[bytes]):
    """Every election under the prefix, sorted by name; the cursor drives the queue panel."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.filter_text = ""
        self._leases: dict[bytes, int] = {}
        self._changed_at: dict[bytes, float] = {}

    def selected_name(self) -> bytes | None:
        return self.cursor_key

    def _visible(self, name: bytes) -> bool:
        return not self.filter_text or self.filter_text.lower() in display(name, 200).lower()

    def sync(self, state: ElectionState, changed: Iterable[bytes] | None, ttl: TTLLookup) -> None:
        """Redraw the changed elections (all of them when `changed` is None), TTLs included."""
        if changed is None:
            names = [n for n in state.names() if self._visible(n)]
            for name in names:
                self._show(state.election(name), ttl)
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
            self._show(view, ttl)
            if not present:
                order = order if order is not None else list(self.keys)
                bisect.insort(order, name)
        if order is not None:
            self.set_order(order)

    def _show(self, view: ElectionView | None, ttl: TTLLookup) -> None:
        if view is None:
            return
        leader = view.leader
        old = self._cells.get(view.name)
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
                old[6] if old else Text(""),
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
            row[6] = Text(age(wall - self._changed_at.get(name, wall)), style="dim")
            self.set_row(name, row)


def _ttl_cell(lease: int, ttl: TTLLookup) -> Text:
    return ttl_bar(ttl(lease)) if lease else Text("")
