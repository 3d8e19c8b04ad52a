"""Pure election state: watch events in; elections, leaders, queues and a timeline out.

No I/O, no asyncio, no Textual: everything here is driven by values and a caller's clock.
"""

from .index import Candidate
from .keys import candidate_key, display, parse_candidate_key, scopes, sees
from .leases import LeaseClock
from .state import Changes, ElectionState, ElectionView
from .timeline import KINDS, REMOVAL_REASONS, TimelineEntry

__all__ = [
    "KINDS",
    "REMOVAL_REASONS",
    "Candidate",
    "Changes",
    "ElectionState",
    "ElectionView",
    "LeaseClock",
    "TimelineEntry",
    "candidate_key",
    "display",
    "parse_candidate_key",
    "scopes",
    "sees",
]
