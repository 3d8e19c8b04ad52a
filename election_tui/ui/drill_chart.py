"""A drill report as a picture in the terminal: detection, hand-over, then overlap, one bar per fail-over.

Drawn by plotext (textual-plotext), so the bars, axis and legend are a kept library's, not ours.
plotext draws its legend in the plot's top-left corner, over whatever is there: the chart keeps
that corner empty (headroom above the top bar) so the legend never hides a bar.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ..drill import DrillReport

ROWS_PER_BAR = 2
SERIES = ("detection", "hand-over", "overlap")
LEGEND_ROWS = len(SERIES) + 1  # one line per series, and one blank line between it and the top bar
FRAME_ROWS = 5  # title, top and bottom border, the x ticks and the x label
MIN_HEIGHT = 8
MAX_HEIGHT = 24


def chart_height(bars: int) -> int:
    """Rows for `bars` bars of ROWS_PER_BAR each, the legend's rows above them, and the frame."""
    return max(MIN_HEIGHT, min(MAX_HEIGHT, FRAME_ROWS + LEGEND_ROWS + ROWS_PER_BAR * bars))


def headroom(bars: int, height: int) -> float:
    """How far past the top bar the y axis reaches, in bar units, so LEGEND_ROWS of the plot's
    rows stay empty for the legend (plotext scales the axis range onto the rows it has)."""
    rows = height - FRAME_ROWS
    free = max(1, rows - LEGEND_ROWS)  # rows left for the bars
    return LEGEND_ROWS * bars / free


class DrillChart(PlotextPlot):
    """Milliseconds per fail-over, stacked: detection (failure -> key gone) + hand-over = the gap,
    then the overlap (the old leader still believed it led): what tells a pause from a cut."""

    DEFAULT_CSS = """
    DrillChart {
        height: auto;
        min-height: 8;
    }
    """

    def __init__(self, report: DrillReport, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report = report
        self.bars = len([f for f in report.failovers if f.detection is not None])
        self.styles.height = chart_height(self.bars)

    def on_mount(self) -> None:
        plt = self.plt
        failovers = [f for f in self.report.failovers if f.detection is not None]
        if not failovers:
            plt.title(f"{self.report.scenario.name}: no fail-over was measured")
            return
        plt.title(f"{self.report.scenario.name}: detection + hand-over = gap, then overlap (ms)")
        labels = [f"#{f.index} {f.how}" for f in failovers]
        figures = [
            [round((value or 0.0) * 1000, 1) for value in (f.detection, f.handover, f.overlap)]
            for f in failovers
        ]
        # plotext takes `labels` (one per series); textual-plotext's stub says `label`.
        plt.stacked_bar(  # type: ignore[call-arg]
            labels,
            [list(series) for series in zip(*figures, strict=True)],
            labels=list(SERIES),
            orientation="horizontal",
            width=0.6,
        )
        # Bars sit at 1..n; the empty band above the top one is where plotext puts the legend.
        plt.ylim(0.5, len(failovers) + 0.5 + headroom(len(failovers), chart_height(len(failovers))))
        plt.xlabel("ms")
