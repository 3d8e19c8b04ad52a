"""Every action of the dashboard, described once: the footer, the palette, panel titles and help.

An action is the App's `action_<name>`; `needs` says which highlighted row it acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from textual.binding import Binding


class Needs(Enum):
    """What an action acts on, found by the selection rule (`ui.selection`)."""

    NOTHING = ""
    OURS = "one of our candidates"
    OUR_LEADER = "our candidate that leads"
    MEMBER = "a member of the embedded cluster"


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # the App's action_<name>
    key: str  # Textual key name(s), comma-separated
    shown_key: str  # how a person types it
    label: str  # footer
    title: str  # command palette
    help: str  # palette and help screen
    needs: Needs = Needs.NOTHING
    footer: bool = True  # shown in the footer (the palette and help have them all)
    verb: str = ""  # for "bob is external: not ours to <verb>"


ACTIONS: tuple[Action, ...] = (
    Action("launch", "n", "n", "Launch", "Launch candidates", "Start one or more simulated candidates"),
    Action(
        "proclaim",
        "p",
        "p",
        "Proclaim",
        "Proclaim",
        "Publish a new value as the highlighted leader",
        Needs.OUR_LEADER,
        verb="proclaim as",
    ),
    Action(
        "resign",
        "r",
        "r",
        "Resign",
        "Resign",
        "The candidate resigns, then its lease is revoked",
        Needs.OURS,
        verb="resign",
    ),
    Action(
        "expire",
        "e",
        "e",
        "Expire",
        "Let lease expire",
        "Stop renewing: the key dies with the lease after the TTL",
        Needs.OURS,
        verb="let expire",
    ),
    Action(
        "crash",
        "x",
        "x",
        "Crash",
        "Crash (revoke lease)",
        "The lease goes at once, no resign",
        Needs.OURS,
        verb="crash",
    ),
    Action(
        "pause_keepalive",
        "z",
        "z",
        "Pause",
        "Pause / resume keep-alive (simulated partition)",
        "The simulator's partition (inside the process): the leader goes stale, then learns it lost",
        Needs.OURS,
        verb="pause",
    ),
    Action(
        "blackhole",
        "b",
        "b",
        "Cut",
        "Network partition: cut / heal connection",
        "A real partition: the candidate's own connection drops every byte (the leader goes "
        "straight to lost, etcd expires its key after the TTL); b again heals it",
        Needs.OURS,
        footer=False,  # the footer is full at 80 columns; help and the palette have it
        verb="cut off",
    ),
    Action(
        "rejoin",
        "j",
        "j",
        "Rejoin",
        "Rejoin",
        "A departed candidate campaigns again with a new lease",
        Needs.OURS,
        footer=False,
        verb="rejoin",
    ),
    Action(
        "remove",
        "delete",
        "del",
        "Remove",
        "Remove candidate",
        "Forget the candidate, revoking its lease",
        Needs.OURS,
        footer=False,
        verb="remove",
    ),
    Action(
        "filter",
        "slash",
        "/",
        "Filter",
        "Filter",
        "Filter every panel as you type (elections, queue, timeline, ours); escape clears",
        footer=False,
    ),
    Action(
        "sort",
        "o",
        "o",
        "Sort",
        "Sort elections",
        "Sort Elections by the next column (or click a column's header)",
        footer=False,
    ),
    Action(
        "pause_view",
        "space",
        "space",
        "Freeze",
        "Freeze / unfreeze view",
        "Stop redrawing to read the screen",
        footer=False,
    ),
    Action(
        "cluster",
        "c",
        "c",
        "Cluster",
        "Show cluster / queue",
        "Show each etcd member (its own Status) in the Queue's place, or the Queue again",
        footer=False,  # the footer is full at 80 columns; the panels' titles name the key
    ),
    Action(
        "swimlanes",
        "w",
        "w",
        "Lanes",
        "Show who led when / timeline",
        "Who led when: each election's terms as bars over the last minutes, in the Timeline's place",
        footer=False,
    ),
    Action(
        "kill_member",
        "K",
        "K",
        "Kill",
        "Kill etcd member",
        "SIGKILL the highlighted member of the embedded cluster (its data stays)",
        Needs.MEMBER,
        footer=False,
        verb="kill",
    ),
    Action(
        "pause_member",
        "P",
        "P",
        "Pause",
        "Pause / resume etcd member",
        "SIGSTOP the highlighted member (alive but silent, like a hung machine), or resume it",
        Needs.MEMBER,
        footer=False,
        verb="pause",
    ),
    Action(
        "restart_member",
        "R",
        "R",
        "Restart",
        "Restart etcd member",
        "Start the highlighted member again on its own data; it rejoins the cluster",
        Needs.MEMBER,
        footer=False,
        verb="restart",
    ),
    Action("drill", "d", "d", "Drill", "Run a drill", "Run a failover drill and show its report"),
    Action("help", "question_mark", "?", "Help", "Help", "Keys, what each acts on, and what the states mean"),
)

BY_NAME = {action.name: action for action in ACTIONS}


def bindings() -> list[Binding]:
    """The App's key bindings, from the table (quit is Textual's own, added by the App)."""
    return [Binding(a.key, a.name, a.label, show=a.footer) for a in ACTIONS]


def candidate_keys_hint() -> str:
    """`n launch · r resign · ...`: the keys for our candidates, for that panel's title."""
    shown = [a for a in ACTIONS if (a.footer and a.needs in _CANDIDATE) or a.name == "launch"]
    return " · ".join(f"{a.shown_key} {a.label.lower()}" for a in shown if a.name != "proclaim")


def member_keys_hint() -> str:
    """`K kill · P pause · R restart`: the keys for etcd members, for the Cluster panel's title."""
    return " · ".join(f"{a.shown_key} {a.label.lower()}" for a in ACTIONS if a.needs is Needs.MEMBER)


_CANDIDATE = (Needs.OURS, Needs.OUR_LEADER)
