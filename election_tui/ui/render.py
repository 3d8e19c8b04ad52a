"""Cell renderers: untrusted bytes become literal `Text` (never markup), numbers become bars."""

from __future__ import annotations

from rich.text import Text

from ..model import ShownTTL, display

BAR_WIDTH = 6


def literal(data: bytes, limit: int = 40, style: str = "") -> Text:
    """etcd bytes as literal, escaped, cut text: a value like `[bold]x` shows as typed."""
    return Text(display(data, limit), style=style, no_wrap=True, overflow="ellipsis")


def matches(needle: str, *fields: bytes) -> bool:
    """The live filter's one rule, for every panel: `needle` (lower case) in any field as shown."""
    return not needle or any(needle in display(f, 200).lower() for f in fields)


def lease_hex(lease: int, short: bool = False) -> Text:
    """A lease id as etcdctl prints it (hex); `short` keeps the distinctive tail."""
    if not lease:
        return Text("-", style="dim")
    text = format(lease, "x")
    return Text("…" + text[-7:] if short and len(text) > 8 else text, style="dim")


TTL_WIDTH = BAR_WIDTH + 7


def ttl_bar(shown: ShownTTL | None) -> Text:
    """`███▌░░  7.3s`: a TTL that reads at a glance; red when under a third of the grant.

    The number is never better than what is known: "≥3s" is etcd's word held between polls, a
    decimal falls with the clock (our own leases, or one left to expire), "gone" is etcd's -1.
    """
    if shown is None:
        return Text("…", style="dim")
    if shown.gone:
        return Text("░" * BAR_WIDTH, style="dim").append("  gone", style="magenta")
    low = shown.low
    frac = max(0.0, min(1.0, low / max(shown.granted or shown.high, 0.001)))
    cells = frac * BAR_WIDTH
    whole = int(cells)
    half = "▌" if cells - whole >= 0.5 and whole < BAR_WIDTH else ""
    bar = "█" * whole + half
    style = "red" if frac < 1 / 3 else "yellow" if frac < 2 / 3 else "green"
    text = Text(bar, style=style)
    text.append("░" * (BAR_WIDTH - len(bar)), style="dim")
    if shown.counting:
        text.append(f" {low:4.1f}s")
    else:
        text.append(f" {'<1' if low < 1 else f'≥{int(low)}':>4}s")
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
    "paused": "bold red",
    "blackholed": "bold red",
    "left": "yellow",
}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))
