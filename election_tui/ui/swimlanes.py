"""Who led when: a swimlane per election over the last minutes, in the Timeline's place (`w`).

One row per election, by name (the live filter applies), its terms as bars with the leader's
value on them, the selected election marked. What this process saw is drawn by time, the axis
counting back to "now"; the part of the window from before it looked is drawn by revision,
dimmed, under "history r…–r…" (etcd keeps no time with a revision, so none is made up). A
leaderless stretch is hatched, what is not known dotted, and a stale leader's belief after its
key went gets a row of its own beneath. The segments come from the model (`model.lanes`); this
turns them into cells, for the rows on screen only, and repaints only when a row changed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..model import (
    ABSENT,
    GAP,
    LED,
    SEGMENT_MEANINGS,
    STALE,
    UNSEEN,
    BeliefLog,
    Lane,
    LaneWindow,
    Segment,
    Term,
    TermBook,
    display,
)
from .render import matches

SPAN = 120.0  # seconds of the window: "-2m … now"
NAME_WIDTH = (8, 24)  # the names' column, at least and at most
GLYPHS = {GAP: "╱", UNSEEN: "·"}
TICKS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)  # seconds between axis labels
TICK_ROOM = 10  # columns at least between two axis labels
NUMBERS_KEPT = 1024  # our candidates' keys remembered for their bars' labels

# For the help screen: each mark of a lane (a sample and its Rich style), and what it means.
LEGEND = (
    (" value ", "bold white on dark_green", SEGMENT_MEANINGS[LED] + "; neighbours alternate colours"),
    (
        " value ",
        "italic on #1f3d1f",
        "a term replayed from etcd's history, before this process looked: by revision, not time",
    ),
    ("╱╱╱╱╱╱╱", "bold red", SEGMENT_MEANINGS[GAP] + "; shown even when shorter than a column"),
    ("·······", "dim", SEGMENT_MEANINGS[UNSEEN]),
    ("(blank)", "dim italic", SEGMENT_MEANINGS[ABSENT]),
    (
        "↳ stale",
        "bold black on yellow",
        SEGMENT_MEANINGS[STALE] + ": from etcd's delete of its key to when it learned",
    ),
)


_BARS = frozenset(f"swimlanes--{bar}" for bar in ("led-a", "led-b", "history-a", "history-b", "stale"))


@dataclass(frozen=True, slots=True)
class Cell:
    """What one column of a lane shows."""

    kind: str
    term: Term | None = None
    ordinal: int = 0
    history: bool = False


def split(window: LaneWindow, width: int) -> tuple[int, int]:
    """Columns for the part before this process looked (by revision) and for the rest (by time)."""
    if width <= 1 or window.before_start <= 0:
        return 0, max(width, 0)
    history = round(width * window.before_start / (window.end - window.start))
    history = min(max(history, 1), width - 1)  # "now" always has a column
    return history, width - history


def _pick(segments: Sequence[Segment], lo: float, hi: float) -> Segment | None:
    """The segment a column [lo, hi) shows: a gap or stale belief if any (however short), else
    the newest term in it, else what is not known."""
    led: Segment | None = None
    other: Segment | None = None
    for seg in segments:
        if seg.start >= hi or seg.end <= lo:
            continue
        if seg.kind in (GAP, STALE):
            return seg
        if seg.kind == LED:
            led = seg
        else:
            other = other or seg
    return led or other


def cells(lane: Lane, window: LaneWindow, width: int, *, stale: bool = False) -> list[Cell | None]:
    """A lane as `width` columns; `stale`: its stale row instead (None where nothing is marked)."""
    history, live = split(window, width)
    out: list[Cell | None] = []
    if stale:  # beliefs are ours, seen live: none before this process looked
        out += [None] * history
    elif history:
        lo, hi = window.revisions
        step = (hi - lo) / history
        for c in range(history):
            seg = _pick(lane.history, lo + c * step, lo + (c + 1) * step)
            out.append(Cell(seg.kind, seg.term, seg.ordinal, True) if seg else Cell(UNSEEN, history=True))
    begin, end = window.live_start, window.end
    span = (end - begin) / live if live else 0.0
    for c in range(live):
        seg = _pick(lane.stale if stale else lane.live, begin + c * span, begin + (c + 1) * span)
        if seg is None:
            out.append(None if stale else Cell(UNSEEN))
        else:
            out.append(Cell(seg.kind, seg.term, seg.ordinal))
    return out


def _runs(row: Sequence[Cell | None]) -> list[tuple[Cell | None, int]]:
    runs: list[tuple[Cell | None, int]] = []
    for cell in row:
        if runs and runs[-1][0] == cell:
            runs[-1] = (cell, runs[-1][1] + 1)
        else:
            runs.append((cell, 1))
    return runs


def _goes_on(cell: Cell, after: Cell) -> bool:
    """`after` is the same term as `cell`, which led in the history and went on into live time."""
    return (
        cell.kind == after.kind == LED
        and cell.history
        and not after.history
        and cell.term == after.term
        and cell.ordinal == after.ordinal
    )


def _fill(label: str, width: int, glyph: str = " ") -> str:
    """`label` at the start of a run of `width` columns, cut with "…", the rest in `glyph`."""
    if len(label) > width:
        return label[: width - 1] + "…" if width > 2 else glyph * width
    return label + glyph * (width - len(label))


def _tick(seconds: float) -> str:
    whole = round(seconds)
    if whole % 60 == 0:
        return f"-{whole // 60}m"
    return f"-{whole}s" if whole < 60 else f"-{whole // 60}m{whole % 60:02d}s"


def span_text(seconds: float) -> str:
    """A window's length as a title says it: "2m", "90s"."""
    return _tick(seconds)[1:]


def axis(window: LaneWindow, width: int) -> tuple[str, str]:
    """The axis over the bars: (over the history part, over the live part)."""
    history, live = split(window, width)
    left = ""
    if history:
        lo, hi = window.revisions
        label = f"history r{lo}–r{hi - 1}" if window.history else "before start: not read"
        if window.history and len(label) + 13 <= history:
            label += ", by revision"
        left = _fill(label, history)
    chars = [" "] * live
    if live:
        step = (window.end - window.live_start) / live
        every = next((t for t in TICKS if step and t / step >= TICK_ROOM), TICKS[-1])
        labels = [(live - 1, "now")]
        k = 1
        while window.end - k * every >= window.live_start and k < 1000:
            labels.append((live - 1 - round(k * every / step), _tick(k * every)))
            k += 1
        free = live  # labels go right to left, each ending at its tick, none overlapping
        for col, label in labels:
            start = col - len(label) + 1
            if start < 0 or col >= free - (0 if free == live else 1):
                continue
            chars[start : col + 1] = label
            free = start
    return left, "".join(chars)


class Swimlanes(ScrollView):
    """The lanes of every election the book shows over the window; the axis stays on top."""

    DEFAULT_CSS = """
    Swimlanes {
        background: $surface;
    }
    Swimlanes > .swimlanes--axis {
        color: $text-muted;
        background: $panel;
    }
    Swimlanes > .swimlanes--name {
        color: $foreground;
    }
    Swimlanes > .swimlanes--selected {
        color: $accent;
        text-style: bold;
    }
    Swimlanes > .swimlanes--led-a {
        background: $success 70%;
        text-style: bold;
    }
    Swimlanes > .swimlanes--led-b {
        background: $secondary 70%;
        text-style: bold;
    }
    Swimlanes > .swimlanes--history-a {
        background: $success 30%;
        text-style: italic;
    }
    Swimlanes > .swimlanes--history-b {
        background: $secondary 30%;
        text-style: italic;
    }
    Swimlanes > .swimlanes--gap {
        color: $error;
        text-style: bold;
    }
    Swimlanes > .swimlanes--unseen {
        color: $text-muted;
    }
    Swimlanes > .swimlanes--stale {
        background: $warning;
        text-style: bold;
    }
    Swimlanes > .swimlanes--legend {
        color: $foreground;
    }
    Swimlanes > .swimlanes--absent {
        color: $text-muted;
    }
    Swimlanes > .swimlanes--stale-name {
        color: $warning;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "swimlanes--axis",
        "swimlanes--name",
        "swimlanes--selected",
        "swimlanes--led-a",
        "swimlanes--led-b",
        "swimlanes--history-a",
        "swimlanes--history-b",
        "swimlanes--gap",
        "swimlanes--unseen",
        "swimlanes--stale",
        "swimlanes--stale-name",
        "swimlanes--absent",
        "swimlanes--legend",
    }

    def __init__(self, *, id: str | None = None, span: float = SPAN) -> None:
        super().__init__(id=id)
        self.span = span
        self.filter_text = ""
        self.selected: bytes | None = None
        self._book: TermBook | None = None
        self._beliefs = BeliefLog()
        self._numbers: OrderedDict[bytes, int] = OrderedDict()  # our candidates' keys, kept
        self._window: LaneWindow | None = None
        self._rows: list[tuple[bytes, bool]] = []  # (election, its stale row)
        self._texts: dict[int, Text] = {}  # rows drawn since the last `show`, by index
        self._axis: Text | None = None
        self._names = NAME_WIDTH[0]  # the names' column, as wide as the longest name shown
        self._styles: dict[str, Style] = {}

    # -- fed by the app -----------------------------------------------------------------------

    def show(
        self,
        book: TermBook,
        beliefs: BeliefLog,
        now: float,
        *,
        selected: bytes | None = None,
        numbers: Mapping[bytes, int] | None = None,
    ) -> None:
        """Lay out the lanes at `now`; repaint only if a row on screen (or the axis) changed.

        `numbers` are our candidates' by key; a key is kept after its candidate let go of it (a
        crash, a rejoin), so its old bar still says whose it was.
        """
        self._book, self._beliefs = book, beliefs
        for key, number in (numbers or {}).items():
            self._numbers[key] = number
            self._numbers.move_to_end(key)
        while len(self._numbers) > NUMBERS_KEPT:
            self._numbers.popitem(last=False)
        moved = selected != self.selected
        self.selected = selected
        window = self._window = book.window(now, self.span)
        rows: list[tuple[bytes, bool]] = []
        if window is not None:
            needle = self.filter_text.lower()
            stale = beliefs.elections(window.start)
            for name in book.shown(window):
                if matches(needle, name):
                    rows.append((name, False))
                    if name in stale:
                        rows.append((name, True))
        resized = len(rows) != len(self._rows)
        self._rows = rows
        self._names = self._name_width()
        if resized:
            self.virtual_size = Size(self.size.width, len(rows) + 1)
        if moved:
            self._follow_selected()
        old, self._texts = self._texts, {}
        axis = self._axis_text()
        top = int(self.scroll_offset.y)
        visible = range(top, min(top + max(self.size.height - 1, 0), len(rows)))
        for index in visible:
            self._line(index)
        if resized or moved or axis != self._axis or any(self._texts[i] != old.get(i) for i in visible):
            self._axis = axis
            self.refresh()

    def _follow_selected(self) -> None:
        for index, (name, stale) in enumerate(self._rows):
            if name == self.selected and not stale:
                rows = max(self.size.height - 1, 1)
                top = int(self.scroll_offset.y)
                if index < top:
                    self.scroll_to(y=index, animate=False)
                elif index >= top + rows:
                    self.scroll_to(y=index - rows + 1, animate=False)
                return

    # -- for tests and tools -----------------------------------------------------------------

    @property
    def rows(self) -> list[tuple[bytes, bool]]:
        return list(self._rows)

    def row_text(self, name: bytes, *, stale: bool = False) -> str | None:
        """The plain text of a lane as drawn now (None: no such row)."""
        for index, row in enumerate(self._rows):
            if row == (name, stale):
                return self._line(index).plain
        return None

    def axis_text(self) -> str:
        return self._axis_text().plain

    def legend(self) -> Text:
        """A one-line key for the panel's border (the help screen says more)."""
        text = Text(no_wrap=True)
        words = self._style("swimlanes--legend")
        for sample, component, word in (
            ("  ", "swimlanes--led-a", " led "),
            ("  ", "swimlanes--history-a", " history, by revision "),
            ("╱╱", "swimlanes--gap", " no leader "),
            ("··", "swimlanes--unseen", " not known "),
            ("  ", "swimlanes--stale", " stale"),
        ):
            text.append(sample, style=self._style(component))
            text.append(word, style=words)
        return text

    # -- drawing -------------------------------------------------------------------------------

    def _width(self) -> int:
        return max(self.size.width - (1 if self.show_vertical_scrollbar else 0), 0)

    def _name_width(self) -> int:
        """The names' column: a marker, the longest name shown (within bounds), a space."""
        longest = max((len(display(name, NAME_WIDTH[1])) for name, _ in self._rows), default=0)
        return max(NAME_WIDTH[0], min(longest, NAME_WIDTH[1], self._width() // 3)) + 3

    def _style(self, name: str) -> Style:
        """A component's style; on a bar, black or white text, whichever reads on it in this theme."""
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(name)
            if name in _BARS and style.bgcolor is not None:
                style += Style(color=Color.from_rich_color(style.bgcolor).get_contrast_text(0.95).rich_color)
            self._styles[name] = style
        return style

    def _axis_text(self) -> Text:
        window = self._window
        names = self._names
        text = Text(no_wrap=True, style=self._style("swimlanes--axis"))
        text.append(_fill("  election", names))
        if window is None:
            return text.append("(starting…)")
        left, right = axis(window, self._width() - names)
        text.append(left, style="italic")
        text.append(right)
        return text

    def _line(self, index: int) -> Text:
        cached = self._texts.get(index)
        if cached is not None:
            return cached
        name, stale = self._rows[index]
        window, book = self._window, self._book
        assert window is not None and book is not None
        names = self._names
        text = Text(no_wrap=True)
        if stale:
            text.append(_fill("  ↳ stale", names), style=self._style("swimlanes--stale-name"))
        else:
            chosen = name == self.selected
            style = self._style("swimlanes--selected" if chosen else "swimlanes--name")
            text.append("▶ " if chosen else "  ", style=style)
            text.append(_fill(display(name, names - 3), names - 2), style=style)  # untrusted: escaped
        lane = book.lane(name, window, self._beliefs.of(name))
        runs = _runs(cells(lane, window, self._width() - names, stale=stale))
        i = 0
        while i < len(runs):
            cell, width = runs[i]
            after, more = runs[i + 1] if i + 1 < len(runs) else (None, 0)
            if cell is not None and cell.term is not None and after is not None and _goes_on(cell, after):
                # One term, led before this process looked and still after: one bar, one label,
                # its history part dim (two labels would read as a hand-over).
                bar = _fill(self._label(cell.term), width + more)
                text.append(bar[:width], style=self._bar_style(cell))
                text.append(bar[width:], style=self._bar_style(after))
                i += 2
                continue
            text.append(*self._run(cell, width))
            i += 1
        self._texts[index] = text
        return text

    def _label(self, term: Term) -> str:
        number = self._numbers.get(term.key)
        value = display(term.value, 40)
        return f" #{number} {value}" if number is not None else f" {value}"

    def _bar_style(self, cell: Cell) -> Style:
        tone = "b" if cell.ordinal % 2 else "a"
        return self._style(f"swimlanes--{'history' if cell.history else 'led'}-{tone}")

    def _run(self, cell: Cell | None, width: int) -> tuple[str, Style]:
        if cell is None:
            return " " * width, Style()
        if cell.kind == LED and cell.term is not None:
            return _fill(self._label(cell.term), width), self._bar_style(cell)
        if cell.kind == STALE and cell.term is not None:
            return _fill(self._label(cell.term) + " believed it led", width), self._style("swimlanes--stale")
        if cell.kind == ABSENT:
            return " " * width, self._style("swimlanes--absent")
        if cell.kind == GAP:
            label = "╱ no leader " if width >= 14 else ""
            return _fill(label, width, GLYPHS[GAP]), self._style("swimlanes--gap")
        return GLYPHS[UNSEEN] * width, self._style("swimlanes--unseen")

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        console = self.app.console
        if y == 0:
            if self._axis is None:
                self._axis = self._axis_text()
            return Strip(list(self._axis.render(console, end=""))).crop_extend(0, width, base)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows) or self._window is None:
            return Strip.blank(width, base)
        strip = Strip(list(self._line(index).render(console, end="")))
        return strip.crop_extend(0, width, base).apply_style(base)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)
        self._names = self._name_width()
        self._texts.clear()
        self._axis = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # a theme change: every cached row has the old colours
        self._styles.clear()
        self._texts.clear()
        self._axis = None
