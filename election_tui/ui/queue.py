"""The candidate queue of the selected election, in create-revision order, leader first."""

from __future__ import annotations

from rich.text import Text

from ..model import ElectionView, TTLLookup
from ..sim import Candidate
from .linetable import Column, LineTable
from .render import TTL_WIDTH, lease_hex, literal, matches, state_text, ttl_bar

# Position, value, who and state tell the story; the lease id goes first, then the TTL bar.
COLUMNS = (
    Column("#", "pos", 2),
    Column("Value", "value", 6, max_width=30),
    Column("Lease", "lease", 8, priority=2),
    Column("TTL", "ttl", TTL_WIDTH, priority=1),
    Column("Who", "who", 8, max_width=9),
    Column("State", "state", 11),
)
_TTL = 3  # the TTL column's index


class QueueTable(LineTable[bytes]):
    """Rows keyed by candidate key; ours are marked with the simulated candidate's number."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.election: bytes | None = None
        self.filter_text = ""
        self._leases: dict[bytes, int] = {}

    def show(self, view: ElectionView | None, ours: dict[bytes, Candidate], ttl: TTLLookup) -> None:
        """Redraw from the view (queues are short); TTL cells are filled at once from `ttl`."""
        self.election = view.name if view else None
        self._leases.clear()
        if view is None:
            self.set_order([])
            return
        needle = self.filter_text.lower()
        shown = [c.key for c in view.candidates if matches(needle, c.value, c.name)]
        wanted = set(shown)
        for position, cand in enumerate(view.candidates):
            if cand.key not in wanted:
                continue  # filtered out; the others keep their true place in the queue
            mine = ours.get(cand.key)
            if mine is not None:
                who = Text(f"ours #{mine.id}", style="bold cyan")
                state = state_text(mine.state.value)
            else:
                who = Text("external", style="dim")
                state = state_text("leader" if position == 0 else "waiting")
            value = literal(cand.value, 24, "bold" if position == 0 else "")
            if cand.name != view.name:  # a nested election's candidate, counted by this one
                value.append(" ⤷" + cand.name[len(view.name) :].decode("utf-8", "replace")[:12], style="dim")
            pos = Text("★" if position == 0 else str(position), style="bold green" if position == 0 else "")
            self.set_row(
                cand.key,
                (pos, value, lease_hex(cand.lease, short=True), ttl_bar(ttl(cand.lease)), who, state),
            )
            self._leases[cand.key] = cand.lease
        self.set_order(shown)

    def selected_key(self) -> bytes | None:
        return self.cursor_key

    def select(self, key: bytes) -> None:
        """Put the cursor on the candidate with `key`, if it is listed."""
        if key in self:
            self.cursor_row = list(self.keys).index(key)

    def leases(self) -> list[int]:
        return list(self._leases.values())

    def tick(self, ttl: TTLLookup) -> None:
        for key, lease in self._leases.items():
            row = list(self._cells[key])
            row[_TTL] = ttl_bar(ttl(lease))
            self.set_row(key, row)
