"""A drill report as HTML: a table and an SVG chart per fail-over, for notebooks and `drill --html`.

Everything that comes from etcd or a scenario file is escaped: a value can never become markup.
The page `report_page` writes is one self-contained file (no scripts, no fetched assets).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from ..model import display
from .report import DrillReport, format_text, ms_text

_STYLE = "font-family:var(--jp-code-font-family,monospace);font-size:12px;border-collapse:collapse;"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"


def escaped(data: bytes | str | None, limit: int = 80) -> str:
    """Untrusted bytes (or text) as escaped, cut HTML text."""
    if data is None:
        return "<i>none</i>"
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return html.escape(display(raw, limit))


def table(header: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """A plain HTML table; cells are HTML the caller has escaped already."""
    head = "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows
    )
    cap = f'<caption style="text-align:left;font-weight:bold">{caption}</caption>' if caption else ""
    return f'<table class="etui-card" style="{_STYLE}">{cap}<tr>{head}</tr>{body}</table>'


_DETECTION, _HANDOVER, _OVERLAP = "#d08000", "#2a8a2a", "#8a2be2"


def drill_chart_svg(report: DrillReport, width: int = 560) -> str:
    """One bar per fail-over: detection (failure -> key gone), hand-over (-> new leader), then
    the overlap past the election (the old leader still believed), which alone tells a
    keep-alive pause from a network cut; "-" where it was not measured."""
    rows = report.failovers
    bar, gap, left, top = 16, 6, 150, 36
    height = top + len(rows) * (bar + gap) + 24
    longest = max(
        [(f.gap or 0.0) + (f.overlap or 0.0) for f in rows] + [f.expect_within for f in rows] + [0.001]
    )
    scale = (width - left - 120) / longest  # room on the right for "gap · overlap" figures
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="etui-drill-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="12">{html.escape(report.scenario.name)}: '
        f'<tspan fill="{_DETECTION}">detection</tspan> + <tspan fill="{_HANDOVER}">hand-over</tspan> '
        "= leaderless gap</text>",
        f'<text x="0" y="27" class="etui-overlap-legend"><tspan fill="{_OVERLAP}">overlap</tspan>'
        " = the old leader still believed it led after the new one was elected</text>",
    ]
    for i, f in enumerate(rows):
        y = top + i * (bar + gap)
        parts.append(f'<text x="0" y="{y + 12}">#{f.index} {html.escape(f.how)}</text>')
        x = float(left)
        for value, colour, kind in (
            (f.detection, _DETECTION, "detection"),
            (f.handover, _HANDOVER, "handover"),
            (f.overlap, _OVERLAP, "overlap"),
        ):
            if value is not None and value > 0:
                w = max(1.0, value * scale)
                parts.append(
                    f'<rect class="etui-{kind}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                    f'fill="{colour}"/>'
                )
                x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 12}">{ms_text(f.gap)} · '
            f'<tspan fill="{_OVERLAP}">overlap {ms_text(f.overlap)}</tspan></text>'
        )
        limit = left + f.expect_within * scale
        parts.append(
            f'<line x1="{limit:.1f}" x2="{limit:.1f}" y1="{y - 2}" y2="{y + bar + 2}" '
            'stroke="#c00" stroke-dasharray="3,2"/>'
        )
    axis_y = top + len(rows) * (bar + gap) + 12
    parts.append(f'<text x="{left}" y="{axis_y}" fill="#666">0</text>')
    parts.append(
        f'<text x="{width - 20}" y="{axis_y}" fill="#666" text-anchor="end">{ms_text(longest)} '
        "(red: expected within)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def drill_html(report: DrillReport) -> str:
    """The report as an HTML fragment: the fail-over table, then the chart."""
    sc = report.scenario
    rows = [
        [
            str(f.index),
            html.escape(f.how),
            f"{html.escape(f.old_value)} → {html.escape(f.new_value or '?')}",
            ms_text(f.detection),
            ms_text(f.handover),
            ms_text(f.gap),
            ms_text(f.overlap),
            "yes" if f.ok else "LATE" if f.complete else "NO",
        ]
        for f in report.failovers
    ]
    caption = (
        f"drill {html.escape(sc.name)} · election {escaped(report.election)} · ttl {sc.ttl} s · "
        f"{report.candidates} candidates · {'ok' if report.ok else 'NOT OK'}"
    )
    grid = table(["#", "how", "old → new", "detection", "hand-over", "gap", "overlap", "ok"], rows, caption)
    error = f"<p><b>stopped early:</b> {html.escape(report.error)}</p>" if report.error else ""
    chart = drill_chart_svg(report) if report.failovers else "<p>no fail-over was measured</p>"
    return f'<div class="etui-drill">{grid}{error}{chart}</div>'


def report_page(report: DrillReport) -> str:
    """One self-contained HTML file: the table, the chart, and the text report as it prints."""
    title = html.escape(f"election-tui drill {report.scenario.name}")
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        '<body style="font-family:sans-serif;margin:2em">\n'
        f"<h1>{title}</h1>\n{drill_html(report)}\n"
        f"<h2>Report</h2>\n<pre>{html.escape(format_text(report))}</pre>\n"
        "</body></html>\n"
    )
