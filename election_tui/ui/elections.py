"""The elections table: one line per election; a changed election repaints its line only."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text

from ..model import ElectionState, ElectionView, TTLLookup
from .linetable import Column, LineTable
from .render import TTL_WIDTH, age, lease_hex, literal, matches, ttl_bar

# Narrow panels drop the lease id first, then the count (the Queue has it), then ages, then terms.
COLUMNS = (
    Column("Election", "name", 8, max_width=32),
    Column("Leader", "leader", 6, max_width=24),
    Column("Lease", "lease", 8, priority=4),
    Column("TTL", "ttl", TTL_WIDTH),
    Column("Cands", "cands", 5, justify="right", priority=3),
    Column("Terms", "terms", 5, justify="right", priority=1),
    Column("Changed", "changed", 7, max_width=18, priority=2),
)


SortKey = tuple[float | int | bytes, bytes]
# What each column sorts by (the name breaks ties); the TTL column sorts by lease, as it moves.
_SORTS: dict[str, Callable[[ElectionView], float | int | bytes]] = {
    "name": lambda v: v.name,
    "leader": lambda v: v.value or b"",
    "lease": lambda v: v.leader.lease if v.leader else 0,
    "ttl": lambda v: v.leader.lease if v.leader else 0,
    "cands": lambda v: len(v.candidates),
    "terms": lambda v: v.terms,
    "changed": lambda v: v.last_change_time if v.last_change_time is not None else float("-inf"),
}
SORTABLE = tuple(c.key for c in COLUMNS)


class ElectionsTable(LineTable[bytes]):
    """Every election under the prefix, sorted by a column (name first); the cursor drives the queue."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.filter_text = ""
        self.sorted_by = ("name", False)
        self._leases: dict[bytes, int] = {}
        self._changed_at: dict[bytes, float | None] = {}
        self._sort_keys: dict[bytes, SortKey] = {}

    def selected_name(self) -> bytes | None:
        return self.cursor_key

    def _visible(self, view: ElectionView) -> bool:
        return matches(self.filter_text.lower(), view.name, view.value or b"")

    @property
    def sort(self) -> tuple[str, bool]:
        """(column, descending): what the rows are sorted by."""
        return self.sorted_by or ("name", False)

    def sort_by(self, column: str) -> None:
        """Sort by `column` from the next full sync; the same column again flips the direction."""
        current, was = self.sort
        self.sorted_by = (column, not was if column == current else False)

    def _ordered(self, names: Iterable[bytes]) -> list[bytes]:
        descending = self.sort[1]
        return sorted(names, key=self._sort_keys.__getitem__, reverse=descending)

    def sync(
        self, state: ElectionState, changed: Iterable[bytes] | None, ttl: TTLLookup, wall: float
    ) -> None:
        """Redraw the changed elections (all of them when `changed` is None), TTLs included."""
        if changed is None:
            self._sort_keys.clear()
            views = [v for n in state.names() if (v := state.election(n)) is not None and self._visible(v)]
            for shown in views:
                self._show(shown, ttl, wall)
            self.set_order(self._ordered(v.name for v in views))
            return
        members = set(self.keys)
        moved = False
        for name in changed:
            view = state.election(name)
            if view is None or not self._visible(view):
                if name in members:
                    members.discard(name)
                    moved = True
                continue
            before = self._sort_keys.get(name)
            self._show(view, ttl, wall)
            moved |= name not in members or self._sort_keys[name] != before
            members.add(name)
        if moved:
            self.set_order(self._ordered(members))

    def _show(self, view: ElectionView | None, ttl: TTLLookup, wall: float) -> None:
        if view is None:
            return
        leader = view.leader
        lease = leader.lease if leader else 0
        self._leases[view.name] = lease
        self._changed_at[view.name] = view.last_change_time
        self._sort_keys[view.name] = (_SORTS[self.sort[0]](view), view.name)
        self.set_row(
            view.name,
            (
                literal(view.name, 32, "bold"),
                literal(leader.value, 24) if leader else Text("no leader", style="red italic"),
                lease_hex(lease, short=True),
                _ttl_cell(lease, ttl),  # now, not at the next tick: a new leader's, not the old one's
                Text(str(len(view.candidates))),
                Text(str(view.terms)),
                _changed_cell(view.last_change_time, _since(view), wall),
            ),
        )

    def set_order(self, keys: list[bytes]) -> None:  # type: ignore[override]
        super().set_order(keys)
        for gone in [k for k in self._leases if k not in self]:
            del self._leases[gone], self._changed_at[gone]
            self._sort_keys.pop(gone, None)

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


def _since(view: ElectionView) -> int | None:
    """The revision of the last change when history told it, else the leader key's creation."""
    if view.last_change_revision is not None:
        return view.last_change_revision
    return view.leader.create_revision if view.leader else None


def _changed_cell(changed_at: float | None, leader_revision: int | None, wall: float) -> Text:
    """The age of a change this process saw; else its revision (or the leader's), "before start"."""
    if changed_at is not None:
        return Text(age(wall - changed_at), style="dim")
    since = f"r{leader_revision} " if leader_revision is not None else ""
    return Text(since + "before start", style="dim italic", no_wrap=True, overflow="ellipsis")
