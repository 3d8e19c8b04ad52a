"""The elections table: one row per election, updated by row-key diff, never rebuilt per event."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from ..model import ElectionState, ElectionView, LeaseClock, display
from .render import TTL_WIDTH, age, lease_hex, literal, ttl_bar

# (label, key, fixed width or None for "fit the content")
COLUMNS = (
    ("Election", "name", None),
    ("Leader", "leader", None),
    ("Lease", "lease", 8),
    ("TTL", "ttl", TTL_WIDTH),
    ("Cands", "cands", 5),
    ("Terms", "terms", 5),
    ("Changed", "changed", 7),
)


def row_key(name: bytes) -> str:
    return name.hex()


class ElectionsTable(DataTable[Text | str]):
    """Every election under the prefix; the highlighted one drives the queue panel."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, tuple[object, ...]] = {}
        self._names: dict[str, bytes] = {}
        self.filter_text = ""

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def selected_name(self) -> bytes | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._names.get(key) if key is not None else None

    def _visible(self, name: bytes) -> bool:
        return not self.filter_text or self.filter_text.lower() in display(name, 200).lower()

    def sync(self, state: ElectionState, changed: Iterable[bytes] | None) -> None:
        """Redraw the changed elections (all of them when `changed` is None)."""
        if changed is None:
            selected = self.selected_name()
            self.clear()
            self._rows.clear()
            self._names.clear()
            names: Iterable[bytes] = state.names()
        else:
            selected = None
            names = sorted(changed)
        added = False
        for name in names:
            key = row_key(name)
            view = state.election(name)
            if view is None or not self._visible(name):
                if key in self._rows:
                    self.remove_row(key)
                    del self._rows[key]
                    del self._names[key]
                continue
            data = self._row_data(view)
            if key not in self._rows:
                self.add_row(*self._cells(view, data), key=key)
                self._names[key] = name
                added = True
            elif self._rows[key] != data:
                for (_label, column, _width), cell, old, new in zip(
                    COLUMNS, self._cells(view, data), self._rows[key], data, strict=True
                ):
                    if old != new and column not in ("ttl", "changed"):
                        self.update_cell(key, column, cell)
            self._rows[key] = data
        if added and changed is not None:
            self.sort("name", key=lambda t: t.plain if isinstance(t, Text) else t)
        if selected is not None and row_key(selected) in self._rows:
            self.move_cursor(row=self.get_row_index(row_key(selected)))

    @staticmethod
    def _row_data(view: ElectionView) -> tuple[object, ...]:
        leader = view.leader
        return (
            view.name,
            leader.value if leader else None,
            leader.lease if leader else 0,
            None,
            len(view.candidates),
            view.terms,
            view.last_change_time,
        )

    @staticmethod
    def _cells(view: ElectionView, data: tuple[object, ...]) -> list[Text | str]:
        leader = view.leader
        return [
            literal(view.name, 32, "bold"),
            literal(leader.value, 24) if leader else Text("no leader", style="red italic"),
            lease_hex(leader.lease if leader else 0, short=True),
            Text(""),
            Text(str(data[4]), justify="right"),
            Text(str(data[5]), justify="right"),
            Text(""),
        ]

    def visible_keys(self) -> list[str]:
        """Row keys currently on screen (only those get countdowns redrawn)."""
        top = int(self.scroll_offset.y)
        height = max(self.size.height - 1, 0)
        keys = []
        for index in range(top, min(top + height, self.row_count)):
            key = self.ordered_rows[index].key.value
            if key is not None:
                keys.append(key)
        return keys

    def visible_leases(self) -> list[int]:
        return [lease for key in self.visible_keys() if (lease := int(self._rows[key][2]))]  # type: ignore[call-overload]

    def tick(self, clock: LeaseClock, granted: dict[int, int], now: float, wall: float) -> None:
        """Redraw countdowns and ages of the visible rows only (a frame, not an event, is the unit)."""
        for key in self.visible_keys():
            data = self._rows[key]
            lease = int(data[2])  # type: ignore[call-overload]
            if lease:
                self.update_cell(key, "ttl", ttl_bar(clock.remaining(lease, now), granted.get(lease)))
            self.update_cell(key, "changed", Text(age(wall - float(data[6])), style="dim"))  # type: ignore[arg-type]
