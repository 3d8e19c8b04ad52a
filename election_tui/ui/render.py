"""Cell renderers: untrusted bytes become literal `Text` (never markup), numbers become bars."""

from __future__ import annotations

from rich.text import Text

from ..model import display

BAR_WIDTH = 6


def literal(data: bytes, limit: int = 40, style: str = "") -> Text:
    """etcd bytes as literal, escaped, cut text: a value like `[bold]x` shows as typed."""
    return Text(display(data, limit), style=style, no_wrap=True, overflow="ellipsis")


def lease_hex(lease: int, short: bool = False) -> Text:
    """A lease id as etcdctl prints it (hex); `short` keeps the distinctive tail."""
    if not lease:
        return Text("-", style="dim")
    text = format(lease, "x")
    return Text("…" + text[-7:] if short and len(text) > 8 else text, style="dim")


TTL_WIDTH = BAR_WIDTH + 7


def ttl_bar(remaining: float | None, granted: float | None) -> Text:
    """`███▌░░░░ 7.3s`: a countdown that reads at a glance; red when under a third."""
    if remaining is None:
        return Text("…", style="dim")
    full = max(granted or remaining, 0.001)
    frac = max(0.0, min(1.0, remaining / full))
    cells = frac * BAR_WIDTH
    whole = int(cells)
    half = "▌" if cells - whole >= 0.5 and whole < BAR_WIDTH else ""
    bar = "█" * whole + half
    style = "red" if frac < 1 / 3 else "yellow" if frac < 2 / 3 else "green"
    text = Text(bar, style=style)
    text.append("░" * (BAR_WIDTH - len(bar)), style="dim")
    text.append(f" {remaining:4.1f}s")
    return text


def age(seconds: float) -> str:
    if seconds < 0:
        seconds = 0
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


STATE_STYLES = {
    "idle": "dim",
    "campaigning": "cyan",
    "leader": "bold green",
    "stale": "bold yellow reverse",
    "resigned": "dim",
    "expired": "magenta",
    "revoked": "red",
    "lost": "bold red",
    "waiting": "cyan",
}

TIMELINE_STYLES = {
    "elected": "bold green",
    "proclaimed": "blue",
    "joined": "cyan",
    "resigned": "dim",
    "expired": "magenta",
    "revoked": "red",
    "lost": "bold red",
    "left": "yellow",
}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))
