"""Rich HTML for notebook cells: cards for etcd's answers, election tables, drill reports + SVG.

Every piece of data is escaped (`html.escape` of `model.display`, so non-UTF-8 and control
characters are visible escapes and long values are cut): a value can never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from ..drill import DrillReport, format_text
from ..drill.html import drill_html, escaped, table
from ..etcd import KeyValue, LeaderKey, LeaseInfo
from ..model import ElectionView
from ..sim import Candidate


def _card(title: str, fields: Sequence[tuple[str, str]]) -> str:
    return table(["field", "value"], [[html.escape(k), v] for k, v in fields], html.escape(title))


# -- etcd's answers -------------------------------------------------------------------------


def key_value_html(kv: KeyValue) -> str:
    return _card(
        "KeyValue",
        [
            ("key", escaped(kv.key)),
            ("value", escaped(kv.value)),
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
            ("election", escaped(leader.name)),
            ("key", escaped(leader.key)),
            ("rev (fencing token)", str(leader.rev)),
            ("lease", format(leader.lease, "x")),
        ],
    )


def lease_info_html(info: LeaseInfo) -> str:
    ttl = "expired or gone" if info.ttl < 0 else f"{info.ttl} s of {info.granted_ttl} s"
    keys = ", ".join(escaped(k, 60) for k in info.keys[:10]) + (" …" if len(info.keys) > 10 else "")
    return _card("LeaseInfo", [("lease", format(info.id, "x")), ("remaining", ttl), ("keys", keys or "-")])


def election_view_html(view: ElectionView) -> str:
    rows = [
        [
            "★" if i == 0 else str(i),
            escaped(c.value, 48),
            escaped(c.key, 80),
            format(c.lease, "x"),
            str(c.create_revision),
        ]
        for i, c in enumerate(view.candidates[:50])
    ]
    more = len(view.candidates) - len(rows)
    caption = f"election {escaped(view.name)} · {view.terms} term(s)" + (
        f" · {more} more" if more > 0 else ""
    )
    return table(["#", "value", "key", "lease", "create rev"], rows, caption)


class ElectionList(tuple[ElectionView, ...]):
    """Elections as the watch showed them at one moment; a table in a notebook."""

    def __new__(cls, views: Iterable[ElectionView]) -> ElectionList:
        return super().__new__(cls, tuple(views))

    def _repr_html_(self) -> str:
        return elections_html(self)


def elections_html(views: Sequence[ElectionView], limit: int = 200) -> str:
    rows = [
        [
            escaped(v.name, 64),
            escaped(v.leader.value, 48) if v.leader is not None else "<i>no leader</i>",
            format(v.leader.lease, "x") if v.leader is not None else "-",
            str(len(v.candidates)),
            str(v.terms),
        ]
        for v in list(views)[:limit]
    ]
    more = len(views) - len(rows)
    caption = f"{len(views)} election(s)" + (f", first {limit} shown" if more > 0 else "")
    return table(["election", "leader", "lease", "candidates", "terms"], rows, caption)


def candidate_html(cand: Candidate, *, leads: bool) -> str:
    return _card(
        f"Candidate #{cand.id}",
        [
            ("election", escaped(cand.name)),
            ("value", escaped(cand.value)),
            ("state", html.escape(cand.state.value + (" (paused)" if cand.paused else ""))),
            ("lease", format(cand.lease_id, "x") if cand.lease_id else "-"),
            ("etcd's leader", "yes" if leads else "no"),
        ],
    )


# -- drill reports --------------------------------------------------------------------------


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
