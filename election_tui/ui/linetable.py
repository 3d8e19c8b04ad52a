"""A table drawn line by line (Textual's Line API): changing one row repaints one line.

DataTable re-renders every visible cell whenever any cell changes, which is too much at
thousands of events per second. Here a row is rendered once into a cached strip, only rows on
screen are ever rendered, and an update to an off-screen row costs a dict assignment.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    key: str
    width: int  # cells; "fit" columns grow up to max_width as wider content arrives
    max_width: int | None = None
    justify: str = "left"
    # 0: always shown. Otherwise, when the table is narrower than its columns, the highest
    # number goes first: the columns that tell the story (leader, state, ours) stay whole.
    priority: int = 0

    @property
    def fits(self) -> bool:
        return self.max_width is not None


class LineTable(ScrollView, Generic[K], can_focus=True):
    """Rows keyed by K in a given order, a fixed header, a cursor row."""

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
    }
    LineTable > .linetable--header {
        text-style: bold;
        background: $panel;
    }
    LineTable > .linetable--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    LineTable:blur > .linetable--cursor {
        background: $block-cursor-blurred-background;
    }
    LineTable > .linetable--odd {
        background: $surface-lighten-1 20%;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "linetable--header",
        "linetable--cursor",
        "linetable--odd",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class HeaderClicked(Message):
        """A column's header was clicked (e.g. to sort by it)."""

        def __init__(self, table: LineTable[Hashable], column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> LineTable[Hashable]:
            return self.table

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: LineTable[Hashable], key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable[Hashable]:
            return self.table

    def __init__(self, columns: Sequence[Column], *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.columns = list(columns)
        self._widths = [c.width for c in self.columns]  # what the content wants
        self._shown: list[int] = list(range(len(self.columns)))  # what fits, by priority
        self._drawn: list[int] = list(self._widths)  # widths as drawn (fit columns may give way)
        self.sorted_by: tuple[str, bool] | None = None  # (column, descending): the header shows it
        self._order: list[K] = []
        self._index: dict[K, int] = {}
        self._cells: dict[K, tuple[Text, ...]] = {}
        self._strips: dict[K, Strip] = {}
        self._highlighted: K | None = None

    # -- data -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def keys(self) -> Sequence[K]:
        return self._order

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def cell(self, key: K, column: str) -> Text:
        """The cell as drawn (for tests and tools)."""
        return self._cells[key][self._column_index(column)]

    def column_texts(self, column: str) -> list[str]:
        """One column's plain text, top to bottom (for tests and tools)."""
        i = self._column_index(column)
        return [self._cells[key][i].plain for key in self._order]

    def _column_index(self, column: str) -> int:
        for i, c in enumerate(self.columns):
            if c.key == column:
                return i
        raise KeyError(column)

    def set_row(self, key: K, cells: Sequence[Text]) -> None:
        """Set a row's cells; repaints its line only if it is on screen and changed."""
        row = tuple(cells)
        if self._cells.get(key) == row:
            return
        self._cells[key] = row
        self._strips.pop(key, None)
        if self._grow_widths(row):
            self._strips.clear()
            self._resize()
            self.refresh()
            return
        index = self._index.get(key)
        if index is not None:
            self._refresh_row(index)

    def set_order(self, keys: Sequence[K]) -> None:
        """Which rows to show and in which order (rows must have cells); the cursor follows its row."""
        keep = self._highlighted
        self._order = list(keys)
        self._index = {k: i for i, k in enumerate(self._order)}
        for gone in [k for k in self._cells if k not in self._index]:
            del self._cells[gone]
            self._strips.pop(gone, None)
        self._resize()
        if keep is not None and keep in self._index:
            self.cursor_row = self._index[keep]
        else:
            self.cursor_row = min(self.cursor_row, max(len(self._order) - 1, 0))
        self.refresh()

    def visible_keys(self) -> list[K]:
        top = int(self.scroll_offset.y)
        rows = max(self.size.height - 1, 0)
        return self._order[top : top + rows]

    @property
    def cursor_key(self) -> K | None:
        if 0 <= self.cursor_row < len(self._order):
            return self._order[self.cursor_row]
        return None

    # -- geometry ---------------------------------------------------------------------------

    def _grow_widths(self, row: tuple[Text, ...]) -> bool:
        grew = False
        for i, (column, cell) in enumerate(zip(self.columns, row, strict=True)):
            if column.max_width is not None and cell.cell_len > self._widths[i]:
                self._widths[i] = min(cell.cell_len, column.max_width)
                grew = True
        return grew

    def _layout(self) -> None:
        """Choose the columns that fit the width (by priority) and their drawn widths."""
        room = self.size.width - (1 if self.show_vertical_scrollbar else 0)
        shown = list(range(len(self.columns)))
        # A header is never cut, sort arrow included.
        drawn = [max(w, len(self._header_label(c))) for w, c in zip(self._widths, self.columns, strict=True)]

        def need() -> int:
            return sum(drawn[i] + 2 for i in shown)

        optional = sorted(
            (i for i, c in enumerate(self.columns) if c.priority),
            key=lambda i: (-self.columns[i].priority, -i),
        )
        while room > 0 and need() > room and optional:
            shown.remove(optional.pop(0))
        for i in shown:  # still too wide: fit columns give way down to their minimum
            excess = need() - room
            if room <= 0 or excess <= 0:
                break
            if self.columns[i].fits:
                floor = max(self.columns[i].width, len(self._header_label(self.columns[i])))
                drawn[i] = max(floor, drawn[i] - excess)
        if (shown, drawn) != (self._shown, self._drawn):
            self._shown, self._drawn = shown, drawn
            self._strips.clear()

    def column_offset(self, column: str) -> int | None:
        """Where `column` starts on a drawn line (None when it is hidden): for clicks and tools."""
        x = 0
        for i in self._shown:
            if self.columns[i].key == column:
                return x
            x += self._drawn[i] + 2
        return None

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now."""
        return [self.columns[i].key for i in self._shown]

    def on_resize(self) -> None:
        self._resize()
        self.refresh()

    def _resize(self) -> None:
        self._layout()
        width = sum(self._drawn[i] + 2 for i in self._shown)
        self.virtual_size = Size(width, len(self._order) + 1)

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- drawing ----------------------------------------------------------------------------

    def _render_cells(self, cells: Sequence[Text]) -> Strip:
        """A row without background: the row style (zebra, cursor) goes under it when drawn."""
        segments: list[Segment] = []
        console = self.app.console
        for i in self._shown:
            column, width, cell = self.columns[i], self._drawn[i], cells[i]
            text = cell.copy()
            text.truncate(width, overflow="ellipsis")
            text.align(column.justify, width)  # type: ignore[arg-type]
            text.no_wrap = True
            segments.append(Segment(" "))
            segments.extend(text.render(console, end=""))
            segments.append(Segment(" "))
        return Strip(segments)

    def render_line(self, y: int) -> Strip:
        scroll_x = int(self.scroll_offset.x)
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = tuple(Text(self._header_label(c)) for c in self.columns)
            style = base + self.get_component_rich_style("linetable--header")
            return (
                self._render_cells(header).crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
            )
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._order):
            return Strip.blank(width, base)
        key = self._order[index]
        cached = self._strips.get(key)
        if cached is None:
            cached = self._strips[key] = self._render_cells(self._cells[key])
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("linetable--cursor")
        elif index % 2:
            style = base + self.get_component_rich_style("linetable--odd")
        else:
            style = base
        return cached.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)

    def _header_label(self, column: Column) -> str:
        if self.sorted_by is None or self.sorted_by[0] != column.key:
            return column.label
        return column.label + (" ▼" if self.sorted_by[1] else " ▲")

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    # -- the cursor -------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        if self._order:
            clamped = max(0, min(new, len(self._order) - 1))
            if clamped != new:
                self.cursor_row = clamped
                return
        self._refresh_row(old)
        self._refresh_row(new)
        top = int(self.scroll_offset.y)
        rows = max(self.size.height - 2, 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + rows:
            self.scroll_to(y=new - rows + 1, animate=False)
        key = self.cursor_key
        if key != self._highlighted:
            self._highlighted = key
            self.post_message(self.Highlighted(self, key))  # type: ignore[arg-type]

    def action_cursor(self, delta: int) -> None:
        self.cursor_row = self.cursor_row + delta

    def action_page(self, direction: int) -> None:
        self.cursor_row = self.cursor_row + direction * max(self.size.height - 2, 1)

    def action_jump(self, where: int) -> None:
        self.cursor_row = 0 if where == 0 else len(self._order) - 1

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x + int(self.scroll_offset.x)
            for i in self._shown:
                x -= self._drawn[i] + 2
                if x < 0:
                    self.post_message(self.HeaderClicked(self, self.columns[i].key))  # type: ignore[arg-type]
                    break
            return
        if event.y >= 1:
            index = int(self.scroll_offset.y) + event.y - 1
            if index < len(self._order):
                self.cursor_row = index
