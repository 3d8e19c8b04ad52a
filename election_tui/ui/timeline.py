"""The timeline of leadership events: append-only, bounded, literal text."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..model import TimelineEntry
from .render import TIMELINE_STYLES, literal, matches

MAX_LINES = 1000
LINE_WIDTH = 106  # what entry_text() needs for a full line


def entry_text(entry: TimelineEntry, number: int | None = None) -> Text:
    """One line; `number` is our candidate's (#3), so candidates with one value can be told apart.

    An entry replayed from etcd's history has no clock time (etcd keeps none): "history" stands
    in its place and the whole line is dim, its revision being what is known.
    """
    if entry.time is None:
        text = Text("history  ", style="dim italic")
    else:
        text = Text(time.strftime("%H:%M:%S ", time.localtime(entry.time)), style="dim")
    text.append(f"r{entry.revision:<6} ", style="dim")
    text.append(f"{entry.kind:<11}", style=TIMELINE_STYLES.get(entry.kind, ""))  # "proclaimed" + a space
    name = literal(entry.election, 24, "bold")
    name.pad_right(25 - name.cell_len)
    text.append_text(name)
    who = Text(f"{'#' + str(number) if number is not None else '':<6}", style="bold cyan")
    text.append_text(who)
    value = literal(entry.value, 20)
    value.pad_right(21 - value.cell_len)
    text.append_text(value)
    if entry.lease:
        text.append(f"{entry.lease:x}", style="dim")
    if entry.time is None:
        text.stylize("dim")
    return text


class Timeline(ScrollView, can_focus=True):
    """Newest at the bottom, bounded; entries are formatted only when their line is drawn.

    At thousands of events a second most entries scroll past unseen, so formatting them all
    (as a RichLog would) is wasted work: here a frame costs the lines on screen, not the events.
    A filter shows only the entries whose election or value contains its text.
    """

    DEFAULT_CSS = """
    Timeline {
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None, max_lines: int = MAX_LINES) -> None:
        super().__init__(id=id)
        # (sequence number, entry, our candidate's number): sequence numbers stay stable as
        # old entries fall off, so cached lines and the filtered view never point at the wrong one.
        self._entries: deque[tuple[int, TimelineEntry, int | None]] = deque(maxlen=max_lines)
        self._shown: deque[int] = deque()  # sequence numbers that pass the filter, in order
        self._cache: dict[int, Strip] = {}
        self._added = 0
        self._needle = ""

    def __len__(self) -> int:
        return len(self._shown)

    def text(self) -> str:
        """Every entry shown, as plain text, oldest first (for tests and tools)."""
        return "\n".join(entry_text(e, n).plain for _, e, n in self._items())

    def _first(self) -> int:
        return self._added - len(self._entries)

    def _items(self) -> list[tuple[int, TimelineEntry, int | None]]:
        first = self._first()
        return [self._entries[seq - first] for seq in self._shown]

    def _passes(self, entry: TimelineEntry) -> bool:
        return matches(self._needle, entry.election, entry.value)

    def set_filter(self, text: str) -> None:
        self._needle = text.lower()
        self._shown = deque(seq for seq, entry, _ in self._entries if self._passes(entry))
        self._relayout(follow=True)

    def add(self, entries: Iterable[TimelineEntry], numbers: Mapping[bytes, int] | None = None) -> None:
        """Append entries; `numbers` maps a candidate key of ours to its number."""
        batch = list(entries)
        if not batch:
            return
        follow = self.scroll_offset.y >= self.max_scroll_y - 1
        for entry in batch:
            seq = self._added
            self._added += 1
            self._entries.append((seq, entry, numbers.get(entry.key) if numbers else None))
            if self._passes(entry):
                self._shown.append(seq)
        first = self._first()
        while self._shown and self._shown[0] < first:
            self._shown.popleft()
        if len(self._cache) > 256:
            self._cache = {k: v for k, v in self._cache.items() if k >= first}
        self._relayout(follow)

    def _relayout(self, follow: bool) -> None:
        self.virtual_size = Size(LINE_WIDTH, len(self._shown))
        if follow:
            # After the layout has taken the new size, or the end is the old one.
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._shown):
            return Strip.blank(width, base)
        seq = self._shown[index]
        strip = self._cache.get(seq)
        if strip is None:
            _, entry, number = self._entries[seq - self._first()]
            strip = self._cache[seq] = Strip(list(entry_text(entry, number).render(self.app.console, end="")))
        scroll_x = int(self.scroll_offset.x)
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
