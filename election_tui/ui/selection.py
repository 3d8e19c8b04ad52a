"""The one selection rule: an action acts on the highlighted row of the table in use, or says why not.

In Elections the highlighted election's leader; in Queue the highlighted candidate; in Our
candidates that candidate. Never a row of another table the cursor happens to rest on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import display
from ..sim import Candidate
from .actions import Action, Needs


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
    if target is None:
        return "nothing highlighted: launch candidates with n, then pick a row"
    if target.ours is None:
        return f"{target.label} is external: not ours to {action.verb}"
    if action.needs is Needs.OUR_LEADER and not target.ours.state.believes_leader:
        return f"{target.label} is {target.ours.state.value}: only a leader can {action.verb.split()[0]}"
    return None
