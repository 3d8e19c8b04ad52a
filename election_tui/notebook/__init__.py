"""The Jupyter view: a live anywidget and a scripting API, on the kernel's own event loop.

    from election_tui import notebook
    dash = await notebook.start()            # embedded etcd; or endpoints=..., prefix=..., demo=True
    dash                                     # the live widget (each display its own feed)
    cands = dash.launch("demo/payments", "pay", ttl=5, count=3)
    leader = await dash.wait_leader("demo/payments")
    await leader.crash()
    report = await dash.drill("crash")       # displays as a table + SVG chart
    await dash.close()                       # revokes every lease it created, stops its etcd

`%load_ext election_tui.notebook` registers HTML cards for KeyValue, LeaderKey, LeaseInfo,
election views and drill reports. Needs the `notebook` extra (anywidget, ipykernel); the CLI
and the TUI never import this package.
"""

from __future__ import annotations

from typing import Any

from .dashboard import ActionError, Candidate, Dashboard, current, start
from .html import DrillResult, ElectionList


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext election_tui.notebook`: escaped HTML cards for etcd's answers and reports."""
    from .html import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .html import unregister

    unregister(ipython)


__all__ = [
    "ActionError",
    "Candidate",
    "Dashboard",
    "DrillResult",
    "ElectionList",
    "current",
    "load_ipython_extension",
    "start",
    "unload_ipython_extension",
]
