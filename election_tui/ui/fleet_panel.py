"""Our simulated candidates: their own state machine, which the actions act on."""

from __future__ import annotations

from rich.text import Text

from ..model import ElectionState, ShownTTL
from ..sim import Candidate, Fleet
from .linetable import Column, LineTable
from .render import TTL_WIDTH, literal, matches, state_text, ttl_bar

# Number, value and state stay; the keep-alive bar goes first, then the election's name.
COLUMNS = (
    Column("#", "id", 3),
    Column("Election", "name", 8, max_width=20, priority=2),
    Column("Value", "value", 5, max_width=16),
    Column("State", "state", 13),
    Column("Keep-alive", "ttl", TTL_WIDTH, priority=1),
)
_TTL = 4
# Beside the state: its keep-alive is paused, or its own connection is black-holed (cut).
_PARTITION_MARKS: dict[str | None, str] = {"pause": " ⏸", "blackhole": " ✂"}


class FleetTable(LineTable[int]):
    """One row per simulated candidate, keyed by its number."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.filter_text = ""
        self._cands: dict[int, Candidate] = {}

    def selected(self) -> Candidate | None:
        key = self.cursor_key
        return self._cands.get(key) if key is not None else None

    def select(self, candidate: Candidate) -> None:
        if candidate.id in self:
            self.cursor_row = list(self.keys).index(candidate.id)

    def sync(self, fleet: Fleet, state: ElectionState) -> None:
        """Redraw changed rows; a value is what etcd holds for the candidate's key, when it has one."""
        needle = self.filter_text.lower()
        self._cands = {c.id: c for c in fleet if matches(needle, c.name, c.value)}
        for cand in self._cands.values():
            held = state.candidate(cand.key) if cand.key is not None else None
            value = held.value if held is not None else cand.value
            shown = cand.state.value + _PARTITION_MARKS.get(cand.partition, "")
            old = self._cells.get(cand.id)
            self.set_row(
                cand.id,
                (
                    Text(str(cand.id)),
                    literal(cand.name, 20),
                    literal(value, 16),
                    state_text(shown),
                    old[_TTL] if old else self._ttl_cell(cand),
                ),
            )
        self.set_order(list(self._cands))

    @staticmethod
    def _ttl_cell(cand: Candidate) -> Text:
        remaining = cand.remaining()
        if remaining is None or cand.state.terminal:
            return Text("-")
        return ttl_bar(ShownTTL.kept_alive(remaining, cand.ttl))

    def tick(self) -> None:
        for key, cand in self._cands.items():
            row = list(self._cells[key])
            row[_TTL] = self._ttl_cell(cand)
            self.set_row(key, row)
