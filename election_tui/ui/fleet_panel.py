"""Our simulated candidates: their own state machine, which the actions act on."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..model import ElectionState, ShownTTL
from ..sim import Candidate, Fleet
from .render import TTL_WIDTH, literal, state_text, ttl_bar


class FleetTable(DataTable[Text | str]):
    """One row per simulated candidate; the cursor picks the target of actions."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, tuple[object, ...]] = {}
        self._cands: dict[str, Candidate] = {}

    def on_mount(self) -> None:
        for label, key, width in (
            ("#", "id", 3),
            ("Election", "name", None),
            ("Value", "value", None),
            ("State", "state", 13),
            ("Keep-alive", "ttl", TTL_WIDTH),
        ):
            self.add_column(label, key=key, width=width)

    def selected(self) -> Candidate | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._cands.get(key) if key is not None else None

    def select(self, candidate: Candidate) -> None:
        key = str(candidate.id)
        if key in self._cands:
            self.move_cursor(row=self.get_row_index(key))

    def sync(self, fleet: Fleet, state: ElectionState) -> None:
        """Redraw changed rows; a value is what etcd holds for the candidate's key, when it has one."""
        present = {str(c.id): c for c in fleet}
        for key in [k for k in self._cands if k not in present]:
            self.remove_row(key)
            del self._cands[key], self._rows[key]
        for key, cand in present.items():
            held = state.candidate(cand.key) if cand.key is not None else None
            value = held.value if held is not None else cand.value
            shown = cand.state.value + (" ⏸" if cand.paused and not cand.state.terminal else "")
            data = (cand.name, value, shown)
            if key not in self._cands:
                self.add_row(
                    Text(key),
                    literal(cand.name, 20),
                    literal(value, 16),
                    state_text(shown),
                    Text(""),
                    key=key,
                )
                self._cands[key] = cand
            elif self._rows[key] != data:
                self.update_cell(key, "value", literal(value, 16))
                self.update_cell(key, "state", state_text(shown))
            self._rows[key] = data

    def tick(self) -> None:
        for key, cand in self._cands.items():
            remaining = cand.remaining()
            cell = (
                ttl_bar(ShownTTL.kept_alive(remaining, cand.ttl))
                if remaining is not None and not cand.state.terminal
                else Text("-")
            )
            self.update_cell(key, "ttl", cell)
