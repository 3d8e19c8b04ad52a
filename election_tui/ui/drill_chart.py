"""A drill report as a picture in the terminal: detection then hand-over, one bar per fail-over.

Drawn by plotext (textual-plotext), so the bars, axis and legend are a kept library's, not ours.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ..drill import DrillReport

ROWS_PER_BAR = 2
MIN_HEIGHT = 8
MAX_HEIGHT = 16


class DrillChart(PlotextPlot):
    """Milliseconds per fail-over, stacked: detection (failure -> key gone) + hand-over = the gap."""

    DEFAULT_CSS = """
    DrillChart {
        height: auto;
        min-height: 8;
    }
    """

    def __init__(self, report: DrillReport, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report = report
        rows = len(report.failovers)
        self.styles.height = max(MIN_HEIGHT, min(MAX_HEIGHT, 5 + ROWS_PER_BAR * rows))

    def on_mount(self) -> None:
        plt = self.plt
        failovers = [f for f in self.report.failovers if f.detection is not None]
        labels = [f"#{f.index} {f.how}" for f in failovers]
        detection = [round((f.detection or 0.0) * 1000, 1) for f in failovers]
        handover = [round((f.handover or 0.0) * 1000, 1) for f in failovers]
        plt.title(f"{self.report.scenario.name}: detection + hand-over = leaderless gap (ms)")
        if not failovers:
            plt.title(f"{self.report.scenario.name}: no fail-over was measured")
            return
        # plotext takes `labels` (one per series); textual-plotext's stub says `label`.
        plt.stacked_bar(  # type: ignore[call-arg]
            labels,
            [detection, handover],
            labels=["detection", "hand-over"],
            orientation="horizontal",
            width=0.6,
        )
        plt.xlabel("ms")
