"""The candidate queue of the selected election, in create-revision order, leader first."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..model import ElectionView, TTLLookup
from ..sim import Candidate
from .render import TTL_WIDTH, lease_hex, literal, state_text, ttl_bar


class QueueTable(DataTable[Text | str]):
    """Rows keyed by candidate key; ours are marked with the simulated candidate's number."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.election: bytes | None = None
        self._leases: dict[str, int] = {}
        self._keys: dict[str, bytes] = {}

    def on_mount(self) -> None:
        for label, key, width in (
            ("#", "pos", 2),
            ("Value", "value", None),
            ("Lease", "lease", 8),
            ("TTL", "ttl", TTL_WIDTH),
            ("Who", "who", 8),
            ("State", "state", 11),
        ):
            self.add_column(label, key=key, width=width)

    def show(self, view: ElectionView | None, ours: dict[bytes, Candidate], ttl: TTLLookup) -> None:
        """Rebuild from the view: queues are short, and a rebuild keeps positions exact.

        TTL cells are filled at once from `ttl`, not left blank until the next tick.
        """
        selected = self.selected_key()
        self.clear()
        self._leases.clear()
        self._keys.clear()
        self.election = view.name if view else None
        if view is None:
            return
        for position, cand in enumerate(view.candidates):
            key = cand.key.hex()
            mine = ours.get(cand.key)
            nested = cand.name != view.name
            if mine is not None:
                who = Text(f"ours #{mine.id}", style="bold cyan")
                state = state_text(mine.state.value)
            else:
                who = Text("external", style="dim")
                state = state_text("leader" if position == 0 else "waiting")
            value = literal(cand.value, 24, "bold" if position == 0 else "")
            if nested:
                value.append(" ⤷" + cand.name[len(view.name) :].decode("utf-8", "replace")[:12], style="dim")
            pos = Text("★" if position == 0 else str(position), style="bold green" if position == 0 else "")
            ttl_cell = ttl_bar(ttl(cand.lease))
            self.add_row(pos, value, lease_hex(cand.lease, short=True), ttl_cell, who, state, key=key)
            self._leases[key] = cand.lease
            self._keys[key] = cand.key
        if selected is not None and selected.hex() in self._keys:
            self.move_cursor(row=self.get_row_index(selected.hex()))

    def selected_key(self) -> bytes | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._keys.get(key) if key is not None else None

    def leases(self) -> list[int]:
        return list(self._leases.values())

    def tick(self, ttl: TTLLookup) -> None:
        for key, lease in self._leases.items():
            self.update_cell(key, "ttl", ttl_bar(ttl(lease)))
