"""The one selection rule: an action acts on the highlighted row of the table in use, or says why not.

In Elections the highlighted election's leader; in Queue the highlighted candidate; in Our
candidates that candidate; in Cluster that etcd member. Never a row of another table the cursor
happens to rest on: a key that kills a member acts only with the Cluster table in use.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..live import ATTACHED, MemberInfo
from ..model import display
from ..sim import Candidate
from .actions import BY_NAME, Action, Needs

NOT_CANDIDATES = (
    "the Cluster panel lists etcd members, not candidates: pick a candidate in Elections, Queue "
    "or Our candidates (tab moves between tables)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a highlighted row points at: a candidate key in etcd, ours or not."""

    key: bytes | None  # None: our candidate holds no lease right now (departed, idle)
    value: bytes
    ours: Candidate | None

    @property
    def label(self) -> str:
        if self.ours is not None:
            return f"#{self.ours.id} ({display(self.ours.value, 24)})"
        return display(self.value, 24) or "(empty value)"


def refusal(action: Action, target: Target | None) -> str | None:
    """Why `action` cannot act on `target`, in words for the user; None when it can."""
    if action.needs is Needs.NOTHING:
        return None
    if action.needs is Needs.MEMBER:
        return f"{action.shown_key} acts on an etcd member: pick one in the Cluster panel"
    if target is None:
        return "nothing highlighted: launch candidates with n, then pick a row"
    if target.ours is None:
        return f"{target.label} is external: not ours to {action.verb}"
    if action.needs is Needs.OUR_LEADER and not target.ours.state.believes_leader:
        return f"{target.label} is {target.ours.state.value}: only a leader can {action.verb.split()[0]}"
    return None


def member_refusal(action: Action, member: MemberInfo | None, *, in_use: bool, shown: bool) -> str | None:
    """Why `action` cannot act on `member`, the highlighted row of the Cluster table (None: it can).

    `shown`: the Cluster panel is on screen; `in_use`: its table is the one in use.
    """
    key = BY_NAME["cluster"].shown_key
    if not shown:
        return (
            f"{action.shown_key} acts on an etcd member: press {key} to show the Cluster panel, then pick one"
        )
    if not in_use:
        return (
            f"{action.shown_key} acts on the highlighted member of the Cluster panel: move there first (tab)"
        )
    if member is None:
        return "no member is highlighted (the cluster has not answered yet)"
    if member.process is None:
        return f"{display(member.name.encode(), 24)}: {ATTACHED}"
    return None
