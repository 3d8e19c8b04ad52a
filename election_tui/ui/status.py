"""The status line: endpoint, connection, revision, raft leader, members, view state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..live import ClusterInfo

CONNECTION_STYLES = {
    "connecting": ("◌ connecting", "yellow"),
    "connected": ("● connected", "green"),
    "reconnecting": ("◌ reconnecting", "bold yellow"),
    "stale": ("✖ stale", "bold red"),
}


def status_text(
    info: ClusterInfo, *, paused: bool = False, filter_text: str = "", ours: int = 0, activity: str = ""
) -> Text:
    """The line; `activity` is what the app is doing now (a drill's running step), shown first."""
    label, style = CONNECTION_STYLES[info.connection]
    text = Text()  # not Text(label, style=...): that style would colour the whole line
    text.append(f" {label} ", style=f"{style} reverse" if info.connection != "connected" else style)
    if activity:
        text.append(f" ▶ {activity} ", style="bold black on yellow")
    text.append(f" {info.endpoint}", style="bold")
    text.append(f"  rev {info.revision}")
    if info.loading is not None:
        read, total = info.loading
        text.append(f"  reading keys: {read:,} / {total:,}…", style="bold yellow")
    if info.history is not None and not info.history.done:
        text.append(f"  {info.history.text}", style="bold yellow")
    if info.leader_member:
        text.append(f"  raft leader {info.leader_member}")
    if info.version:
        text.append(f"  etcd {info.version}", style="dim")
    for member in info.members:
        text.append(f"  {member.name}", style="green" if member.up else "red strike")
        if not member.up:
            text.append(" down", style="bold red")
    if ours:
        text.append(f"  ours {ours}", style="cyan")
    if paused:
        text.append("  ⏸ VIEW PAUSED", style="bold yellow")
    if filter_text:
        text.append("  filter ", style="dim")
        text.append(filter_text, style="bold")  # Text.append never parses markup
    if info.error and info.connection != "connected":
        text.append(f"  {info.error}"[:120], style="red")
    return text


class StatusLine(Static):
    """One line, redrawn only when its text changes and without a relayout (its height is fixed)."""

    _last: Text | None = None

    def show(self, info: ClusterInfo, **kwargs: object) -> None:
        text = status_text(info, **kwargs)  # type: ignore[arg-type]
        if text != self._last:
            self._last = text
            self.update(text, layout=False)
