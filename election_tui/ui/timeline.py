"""The timeline of leadership events: append-only, bounded, literal text."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..model import TimelineEntry
from .render import TIMELINE_STYLES, literal

MAX_LINES = 1000
LINE_WIDTH = 100  # what entry_text() needs for a full line


def entry_text(entry: TimelineEntry) -> Text:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
    text = Text(f"{stamp} ", style="dim")
    text.append(f"r{entry.revision:<6} ", style="dim")
    text.append(f"{entry.kind:<11}", style=TIMELINE_STYLES.get(entry.kind, ""))  # "proclaimed" + a space
    name = literal(entry.election, 24, "bold")
    name.pad_right(25 - name.cell_len)
    text.append_text(name)
    value = literal(entry.value, 20)
    value.pad_right(21 - value.cell_len)
    text.append_text(value)
    if entry.lease:
        text.append(f"{entry.lease:x}", style="dim")
    return text


class Timeline(ScrollView, can_focus=True):
    """Newest at the bottom, bounded; entries are formatted only when their line is drawn.

    At thousands of events a second most entries scroll past unseen, so formatting them all
    (as a RichLog would) is wasted work: here a frame costs the lines on screen, not the events.
    """

    DEFAULT_CSS = """
    Timeline {
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None, max_lines: int = MAX_LINES) -> None:
        super().__init__(id=id)
        self._entries: deque[TimelineEntry] = deque(maxlen=max_lines)
        self._cache: dict[int, Strip] = {}  # sequence number of an entry -> its rendered line
        self._added = 0  # entries ever added: numbers entries stably as old ones fall off

    def __len__(self) -> int:
        return len(self._entries)

    def text(self) -> str:
        """Every kept entry as plain text, oldest first (for tests and tools)."""
        return "\n".join(entry_text(e).plain for e in self._entries)

    def add(self, entries: Iterable[TimelineEntry]) -> None:
        batch = list(entries)
        if not batch:
            return
        follow = self.scroll_offset.y >= self.max_scroll_y - 1
        self._entries.extend(batch)
        self._added += len(batch)
        first = self._added - len(self._entries)
        if len(self._cache) > 256:
            self._cache = {k: v for k, v in self._cache.items() if k >= first}
        self.virtual_size = Size(LINE_WIDTH, len(self._entries))
        if follow:
            # After the layout has taken the new size, or the end is the old one.
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._entries):
            return Strip.blank(width, base)
        seq = self._added - len(self._entries) + index
        strip = self._cache.get(seq)
        if strip is None:
            text = entry_text(self._entries[index])
            strip = self._cache[seq] = Strip(list(text.render(self.app.console, end="")))
        scroll_x = int(self.scroll_offset.x)
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
