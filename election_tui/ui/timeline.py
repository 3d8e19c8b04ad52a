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
_TIME, _KIND = 9, 11  # "12:34:56 ", "proclaimed " (history lines say "history  ")
_REV, _WHO = 8, 6  # "r123456 ", "#1234 " by default; a Timeline sizes both to what it holds
_NAME, _VALUE, _LEASE = 25, 21, 17  # the flexible fields at full width (with their gap)
_MIN_NAME, _MIN_VALUE = 11, 9
LINE_WIDTH = _TIME + _REV + _KIND + _WHO + _NAME + _VALUE + _LEASE  # what a full line needs


def fields_for(width: int, fixed: int = _TIME + _REV + _KIND + _WHO) -> tuple[int, int, bool]:
    """(election, value, lease shown) cells for a panel `width` wide, so a line fits it.

    The lease goes first; then value and election share the room (the value first: it says who
    the candidate is; the election is also in its own panel), names cut with "…"; then the value
    goes. Below that a line keeps its minimum and is cut at the panel's edge.
    """
    room = width - fixed
    if room >= _NAME + _VALUE + _LEASE:
        return _NAME, _VALUE, True
    if room >= _NAME + _VALUE:
        return _NAME, _VALUE, False
    if room >= _MIN_NAME + _MIN_VALUE:
        value = min(_VALUE, max(_MIN_VALUE, (room + 1) // 2))
        name = min(_NAME, max(_MIN_NAME, room - value))
        return name, room - name, False
    return max(_MIN_NAME, min(_NAME, room)), 0, False


def entry_text(
    entry: TimelineEntry,
    number: int | None = None,
    width: int = LINE_WIDTH,
    *,
    rev_cells: int = _REV,
    who_cells: int = _WHO,
) -> Text:
    """One line at most `width` cells (if it can); `number` is our candidate's (#3), so
    candidates with one value can be told apart.

    An entry replayed from etcd's history has no clock time (etcd keeps none): "history" stands
    in its place and the whole line is dim, its revision being what is known.
    """
    name_cells, value_cells, lease = fields_for(width, _TIME + rev_cells + _KIND + who_cells)
    if entry.time is None:
        text = Text("history  ", style="dim italic")
    else:
        text = Text(time.strftime("%H:%M:%S ", time.localtime(entry.time)), style="dim")
    text.append(f"r{entry.revision}".ljust(rev_cells - 1) + " ", style="dim")
    text.append(f"{entry.kind:<11}", style=TIMELINE_STYLES.get(entry.kind, ""))  # "proclaimed" + a space
    name = literal(entry.election, name_cells - 1, "bold")
    name.pad_right(name_cells - name.cell_len)
    text.append_text(name)
    if who_cells:
        who = f"#{number}" if number is not None else ""
        text.append(who.ljust(who_cells - 1) + " ", style="bold cyan")
    if value_cells:
        value = literal(entry.value, value_cells - 1)
        value.pad_right(value_cells - value.cell_len)
        text.append_text(value)
    if lease and entry.lease:
        text.append(f"{entry.lease:x}", style="dim")
    text.rstrip()
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
        self._cached_layout = (0, 0, 0)  # (width, revision cells, number cells) of the cache
        # The revision and number columns are as wide as the widest held (they only grow): a
        # fresh etcd's "r12" does not take a real cluster's eight cells, a watcher's lines no "#".
        self._rev_cells = 4
        self._who_cells = 0
        self._added = 0
        self._needle = ""
        # At the newest entry: kept while hidden (the Lanes in its place), when its size is 0
        # and its scroll offset says nothing, so it is back at the end when shown again.
        self._follow = True

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
        follow = self._following()
        for entry in batch:
            seq = self._added
            self._added += 1
            number = numbers.get(entry.key) if numbers else None
            self._entries.append((seq, entry, number))
            self._rev_cells = max(self._rev_cells, len(str(entry.revision)) + 2)
            if number is not None:
                self._who_cells = max(self._who_cells, len(str(number)) + 2)
            if self._passes(entry):
                self._shown.append(seq)
        first = self._first()
        while self._shown and self._shown[0] < first:
            self._shown.popleft()
        if len(self._cache) > 256:
            self._cache = {k: v for k, v in self._cache.items() if k >= first}
        self._relayout(follow)

    def _fit(self) -> int:
        """The width lines are laid out for: the vertical scrollbar's cells always left out, as
        it comes and goes with the line count (else its arrival would add a sideways one)."""
        return max(self.size.width - self.styles.scrollbar_size_vertical, 0)

    def _fixed(self) -> int:
        return _TIME + self._rev_cells + _KIND + self._who_cells

    def _line_cells(self) -> int:
        name, value, lease = fields_for(self._fit(), self._fixed())
        return self._fixed() + name + value + (_LEASE if lease else 0)

    def _following(self) -> bool:
        """Whether the view is at its newest entry (while hidden: as it was when last shown)."""
        if self.size.height > 0:
            self._follow = self.scroll_offset.y >= self.max_scroll_y - 1
        return self._follow

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following()  # a person scrolling up stops following; back at the end, follows

    def on_resize(self) -> None:
        self._relayout(follow=self.size.height > 0 and self._follow)

    def _relayout(self, follow: bool) -> None:
        self.virtual_size = Size(self._line_cells(), len(self._shown))
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
        fit = self._fit()
        layout = (fit, self._rev_cells, self._who_cells)
        if self._cached_layout != layout:
            self._cache.clear()
            self._cached_layout = layout
        strip = self._cache.get(seq)
        if strip is None:
            _, entry, number = self._entries[seq - self._first()]
            line = entry_text(entry, number, fit, rev_cells=self._rev_cells, who_cells=self._who_cells)
            strip = self._cache[seq] = Strip(list(line.render(self.app.console, end="")))
        scroll_x = int(self.scroll_offset.x)
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
