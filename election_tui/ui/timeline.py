"""The timeline of leadership events: append-only, bounded, literal text."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from ..model import TimelineEntry
from .render import TIMELINE_STYLES, literal

MAX_LINES = 1000


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


class Timeline(RichLog):
    """Newest at the bottom; `max_lines` keeps memory flat however long the session runs."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False, **kwargs)  # type: ignore[arg-type]
        self.filter: bytes | None = None

    def add(self, entries: Iterable[TimelineEntry]) -> None:
        for entry in entries:
            self.write(entry_text(entry))
