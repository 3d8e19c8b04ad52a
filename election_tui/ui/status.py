"""The status line: connection, what is wrong with the cluster, endpoint, revision, raft, view state."""

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
    # What is wrong with the cluster comes first: a long line is cut at the right.
    if info.quorum is False and len(info.members) > 1:  # one member down: the connection says it
        text.append(
            f" ✖ NO QUORUM: {info.members_up} of {len(info.members)} members answer ",
            style="bold white on red",
        )
    if len(info.members) > 1:  # one member: the connection says it all
        for member in info.members:
            state = member.state
            if state != "up":
                text.append(
                    f"  {member.name} {state} ", style="bold red" if state == "down" else "bold yellow"
                )
    text.append(f" {info.endpoint}", style="bold")
    text.append(f"  rev {info.revision}")
    if info.loading is not None:
        read, total = info.loading
        text.append(f"  reading keys: {read:,} / {total:,}…", style="bold yellow")
    if info.history is not None and not info.history.done:
        text.append(f"  {info.history.text}", style="bold yellow")
    if info.leader_member:
        text.append(f"  raft leader {info.leader_member}")
    elif len(info.members) > 1 and info.members_up:
        text.append("  raft leader none", style="bold red")
    if info.version:
        text.append(f"  etcd {info.version}", style="dim")
    if len(info.members) > 1:
        text.append(f"  members {info.members_up}/{len(info.members)} up", style="dim")
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
