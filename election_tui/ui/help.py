"""The help screen: every key from the actions table, what it acts on, and a legend of the states."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..model import KIND_MEANINGS
from ..sim import State
from .actions import ACTIONS, Needs
from .cluster_panel import STATE_MEANINGS
from .render import TIMELINE_STYLES, state_text

_ACTS_ON = {
    Needs.NOTHING: "",
    Needs.OURS: "ours",
    Needs.OUR_LEADER: "our leader",
    Needs.MEMBER: "a member (embedded)",
}
_ROW_RULE = (
    "Actions act on the highlighted row of the table in use: in Elections, that election's "
    "leader; in Queue, that candidate; in Our candidates, that one; in Cluster, that etcd member "
    "(only members of a cluster this app started can be killed, paused or restarted). Tab moves "
    "between tables."
)
_QUEUE_STATES = (
    ("leader", "heads the queue: what etcd's Leader(name) answers"),
    ("waiting", "an external candidate behind the leader (not ours: another client's key)"),
)


def keys_table() -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    table.add_column("key", no_wrap=True, style="bold cyan")
    table.add_column("does")
    table.add_column("acts on the row", style="dim", no_wrap=True)
    for action in ACTIONS:
        table.add_row(action.shown_key, Text(action.help), _ACTS_ON[action.needs])
    table.add_row("q, ctrl+c", "Quit: every lease this app created is revoked", "")
    table.add_row("ctrl+p", "Command palette: every action by name", "")
    return table


def legend_table() -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    table.add_column("state", no_wrap=True)
    table.add_column("means")
    for state in State:
        table.add_row(state_text(state.value), state.meaning)
    for name, meaning in _QUEUE_STATES:
        table.add_row(state_text(name), meaning)
    return table


def members_table() -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    table.add_column("member", no_wrap=True)
    table.add_column("means")
    for state, meaning in STATE_MEANINGS.items():
        table.add_row(state, meaning)
    table.add_row("★", "the raft leader, as the members that answer name it")
    table.add_row("NO QUORUM", "fewer than a majority answer: nothing can be written, no lease renewed")
    return table


def timeline_table() -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    table.add_column("timeline", no_wrap=True)
    table.add_column("means")
    for kind, meaning in KIND_MEANINGS.items():
        table.add_row(Text(kind, style=TIMELINE_STYLES.get(kind, "")), meaning)
    return table


class HelpScreen(ModalScreen[None]):
    """Built from the actions table and the states' own meanings, so it cannot drift from them."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog report", id="help"):
            yield Label("Help · escape closes", classes="dialog-title")
            with VerticalScroll():
                yield Static(keys_table(), id="help-keys")
                yield Static(Text(_ROW_RULE, style="italic"), classes="help-rule")
                yield Static(legend_table(), id="help-states")
                yield Static(timeline_table(), id="help-timeline")
                yield Static(members_table(), id="help-members")

    def action_close(self) -> None:
        self.dismiss(None)
