"""Rich HTML for notebook cells: cards for etcd's answers, election tables, drill reports + SVG.

Every piece of data is escaped (`html.escape` of `model.display`, so non-UTF-8 and control
characters are visible escapes and long values are cut): a value can never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from ..drill import DrillReport, format_text
from ..etcd import KeyValue, LeaderKey, LeaseInfo
from ..model import ElectionView, display
from ..sim import Candidate

_STYLE = "font-family:var(--jp-code-font-family,monospace);font-size:12px;border-collapse:collapse;"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"


def text(data: bytes | str | None, limit: int = 80) -> str:
    """Untrusted bytes (or text) as escaped, cut HTML text."""
    if data is None:
        return "<i>none</i>"
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return html.escape(display(raw, limit))


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """Cells are HTML already escaped by the caller."""
    head = "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows
    )
    cap = f'<caption style="text-align:left;font-weight:bold">{caption}</caption>' if caption else ""
    return f'<table class="etui-card" style="{_STYLE}">{cap}<tr>{head}</tr>{body}</table>'


def _card(title: str, fields: Sequence[tuple[str, str]]) -> str:
    return _table(["field", "value"], [[html.escape(k), v] for k, v in fields], html.escape(title))


# -- etcd's answers -------------------------------------------------------------------------


def key_value_html(kv: KeyValue) -> str:
    return _card(
        "KeyValue",
        [
            ("key", text(kv.key)),
            ("value", text(kv.value)),
            ("lease", format(kv.lease, "x") if kv.lease else "-"),
            ("create revision", str(kv.create_revision)),
            ("mod revision", str(kv.mod_revision)),
            ("version", str(kv.version)),
        ],
    )


def leader_key_html(leader: LeaderKey) -> str:
    return _card(
        "LeaderKey",
        [
            ("election", text(leader.name)),
            ("key", text(leader.key)),
            ("rev (fencing token)", str(leader.rev)),
            ("lease", format(leader.lease, "x")),
        ],
    )


def lease_info_html(info: LeaseInfo) -> str:
    ttl = "expired or gone" if info.ttl < 0 else f"{info.ttl} s of {info.granted_ttl} s"
    keys = ", ".join(text(k, 60) for k in info.keys[:10]) + (" …" if len(info.keys) > 10 else "")
    return _card("LeaseInfo", [("lease", format(info.id, "x")), ("remaining", ttl), ("keys", keys or "-")])


def election_view_html(view: ElectionView) -> str:
    rows = [
        [
            "★" if i == 0 else str(i),
            text(c.value, 48),
            text(c.key, 80),
            format(c.lease, "x"),
            str(c.create_revision),
        ]
        for i, c in enumerate(view.candidates[:50])
    ]
    more = len(view.candidates) - len(rows)
    caption = f"election {text(view.name)} · {view.terms} term(s)" + (f" · {more} more" if more > 0 else "")
    return _table(["#", "value", "key", "lease", "create rev"], rows, caption)


class ElectionList(tuple[ElectionView, ...]):
    """Elections as the watch showed them at one moment; a table in a notebook."""

    def __new__(cls, views: Iterable[ElectionView]) -> ElectionList:
        return super().__new__(cls, tuple(views))

    def _repr_html_(self) -> str:
        return elections_html(self)


def elections_html(views: Sequence[ElectionView], limit: int = 200) -> str:
    rows = [
        [
            text(v.name, 64),
            text(v.leader.value, 48) if v.leader is not None else "<i>no leader</i>",
            format(v.leader.lease, "x") if v.leader is not None else "-",
            str(len(v.candidates)),
            str(v.terms),
        ]
        for v in list(views)[:limit]
    ]
    more = len(views) - len(rows)
    caption = f"{len(views)} election(s)" + (f", first {limit} shown" if more > 0 else "")
    return _table(["election", "leader", "lease", "candidates", "terms"], rows, caption)


def candidate_html(cand: Candidate, *, leads: bool) -> str:
    return _card(
        f"Candidate #{cand.id}",
        [
            ("election", text(cand.name)),
            ("value", text(cand.value)),
            ("state", html.escape(cand.state.value + (" (paused)" if cand.paused else ""))),
            ("lease", format(cand.lease_id, "x") if cand.lease_id else "-"),
            ("etcd's leader", "yes" if leads else "no"),
        ],
    )


# -- drill reports --------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def drill_chart_svg(report: DrillReport, width: int = 560) -> str:
    """One bar per fail-over: detection (failure -> key gone) then hand-over (-> new leader)."""
    rows = report.failovers
    bar, gap, left, top = 16, 6, 150, 22
    height = top + len(rows) * (bar + gap) + 24
    longest = max([f.gap or 0.0 for f in rows] + [f.expect_within for f in rows] + [0.001])
    scale = (width - left - 20) / longest
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="etui-drill-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="12">{html.escape(report.scenario.name)}: '
        '<tspan fill="#d08000">detection</tspan> + <tspan fill="#2a8a2a">hand-over</tspan> '
        "= leaderless gap</text>",
    ]
    for i, f in enumerate(rows):
        y = top + i * (bar + gap)
        parts.append(f'<text x="0" y="{y + 12}">#{f.index} {html.escape(f.how)}</text>')
        x = float(left)
        for value, colour in ((f.detection, "#d08000"), (f.handover, "#2a8a2a")):
            if value is not None and value > 0:
                w = max(1.0, value * scale)
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>')
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 12}">{_ms(f.gap)}</text>')
        limit = left + f.expect_within * scale
        parts.append(
            f'<line x1="{limit:.1f}" x2="{limit:.1f}" y1="{y - 2}" y2="{y + bar + 2}" '
            'stroke="#c00" stroke-dasharray="3,2"/>'
        )
    axis_y = top + len(rows) * (bar + gap) + 12
    parts.append(f'<text x="{left}" y="{axis_y}" fill="#666">0</text>')
    parts.append(
        f'<text x="{width - 20}" y="{axis_y}" fill="#666" text-anchor="end">{_ms(longest)} '
        "(red: expected within)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def drill_html(report: DrillReport) -> str:
    sc = report.scenario
    rows = [
        [
            str(f.index),
            html.escape(f.how),
            f"{html.escape(f.old_value)} → {html.escape(f.new_value or '?')}",
            _ms(f.detection),
            _ms(f.handover),
            _ms(f.gap),
            _ms(f.overlap),
            "yes" if f.ok else "LATE" if f.complete else "NO",
        ]
        for f in report.failovers
    ]
    caption = (
        f"drill {html.escape(sc.name)} · election {text(report.election)} · ttl {sc.ttl} s · "
        f"{report.candidates} candidates · {'ok' if report.ok else 'NOT OK'}"
    )
    table = _table(["#", "how", "old → new", "detection", "hand-over", "gap", "overlap", "ok"], rows, caption)
    error = f"<p><b>stopped early:</b> {html.escape(report.error)}</p>" if report.error else ""
    chart = drill_chart_svg(report) if report.failovers else "<p>no fail-over was measured</p>"
    return f'<div class="etui-drill">{table}{error}{chart}</div>'


class DrillResult:
    """A drill's report that displays as a table and an SVG chart (`.report` is the data)."""

    def __init__(self, report: DrillReport) -> None:
        self.report = report

    @property
    def ok(self) -> bool:
        return self.report.ok

    def __repr__(self) -> str:
        return format_text(self.report)

    def _repr_html_(self) -> str:
        return drill_html(self.report)


# -- %load_ext ------------------------------------------------------------------------------

FORMATTERS: tuple[tuple[type, Any], ...] = (
    (KeyValue, key_value_html),
    (LeaderKey, leader_key_html),
    (LeaseInfo, lease_info_html),
    (ElectionView, election_view_html),
    (DrillReport, drill_html),
)


def register(shell: Any) -> None:
    """Register the HTML formatters with an IPython shell (what `%load_ext` does)."""
    formatter = shell.display_formatter.formatters["text/html"]
    for kind, render in FORMATTERS:
        formatter.for_type(kind, render)


def unregister(shell: Any) -> None:
    formatter = shell.display_formatter.formatters["text/html"]
    for kind, _ in FORMATTERS:
        formatter.pop(kind, None)
