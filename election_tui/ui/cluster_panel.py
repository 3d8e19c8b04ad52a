"""The Cluster panel: each etcd member as its own Status answered, and the keys that break one.

It shares the Queue's place (`c` switches): breaking members is about whether the election keeps
its leader, which Elections and the Timeline show, so the queue of one election is what can step
aside at 80x24. Rows are keyed by endpoint; nothing here asks etcd, it draws `ClusterInfo`.
"""

from __future__ import annotations

from rich.text import Text

from ..live import ClusterInfo, MemberInfo
from .linetable import Column, LineTable
from .render import literal

# Member, state and term stay; the endpoint goes first, then the DB size, the index, whom it names.
COLUMNS = (
    Column("Member", "name", 8, max_width=18),
    Column("State", "state", 7),
    Column("Names leader", "leader", 6, max_width=16, priority=1),
    Column("Term", "term", 4, justify="right"),
    Column("Index", "index", 6, justify="right", priority=2),
    Column("DB", "db", 7, justify="right", priority=3),
    Column("Endpoint", "endpoint", 8, max_width=24, priority=4),
)

STATE_MEANINGS = {
    "up": "it answered its Status just now",
    "paused": "ours, SIGSTOPped: alive but silent, like a hung machine (P resumes it)",
    "silent": "ours and running, yet no answer: restarted without a quorum to rejoin, say",
    "down": "no answer: killed, crashed or unreachable (R restarts one of ours)",
    "unknown": "a member that none of our endpoints reaches: not asked",
}
_STATE_STYLES = {
    "up": "green",
    "paused": "bold yellow",
    "silent": "bold yellow",
    "down": "bold red",
    "unknown": "dim",
}


def size_text(size: int | None) -> str:
    """A database size as a person reads it: "24.0 KiB"."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _number(value: int | None) -> Text:
    return Text("-" if value is None else str(value), style="" if value is not None else "dim")


def member_cells(member: MemberInfo) -> tuple[Text, ...]:
    name = Text("★ " if member.is_leader else "  ", style="bold green")
    name.append_text(literal(member.name.encode(), 18, "bold" if member.is_leader else ""))
    state = member.state
    if member.up:
        names = literal(member.leader_name.encode(), 16) if member.leader_name else Text("none", "bold red")
    else:
        names = Text("-", style="dim")
    return (
        name,
        Text(state, style=_STATE_STYLES[state]),
        names,
        _number(member.raft_term),
        _number(member.raft_index),
        Text(size_text(member.db_size)),
        literal(member.endpoint.encode(), 24, "dim"),
    )


def panel_title(info: ClusterInfo, switch: str, keys: str) -> str:
    """`Cluster 2/3 up · NO QUORUM  (c queue · K kill · ...)`: the panel's border."""
    title = f"Cluster {info.members_up}/{len(info.members)} up"
    if info.quorum is False:
        title += " · NO QUORUM"
    return f"{title}  ({switch} · {keys if info.embedded else 'read-only: not started here'})"


class ClusterTable(LineTable[str]):
    """One row per member, in the order of our endpoints (then members none of them reaches)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self._members: dict[str, MemberInfo] = {}

    def sync(self, info: ClusterInfo) -> None:
        self._members = {m.endpoint or m.name: m for m in info.members}
        for key, member in self._members.items():
            self.set_row(key, member_cells(member))
        self.set_order(list(self._members))

    def selected(self) -> MemberInfo | None:
        key = self.cursor_key
        return self._members.get(key) if key is not None else None

    def select(self, name: str) -> None:
        """Put the cursor on the member called `name`, if it is listed."""
        for i, key in enumerate(self.keys):
            if self._members[key].name == name:
                self.cursor_row = i
                return
