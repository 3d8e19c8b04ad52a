"""Pure election state: watch events in; elections, leaders, queues and a timeline out.

No I/O, no asyncio, no grpc, no Textual: everything here is driven by values and a caller's clock.
"""

from .candidates import CandidateKey
from .keys import scopes, sees
from .leases import LeaseClock, ShownTTL, TTLLookup
from .state import Changes, ElectionState, ElectionView
from .terms import UNKNOWN, Term, TermLog
from .text import display
from .timeline import KIND_MEANINGS, KINDS, REMOVAL_REASONS, TimelineEntry

__all__ = [
    "KINDS",
    "KIND_MEANINGS",
    "REMOVAL_REASONS",
    "UNKNOWN",
    "CandidateKey",
    "Changes",
    "ElectionState",
    "ElectionView",
    "LeaseClock",
    "ShownTTL",
    "TTLLookup",
    "Term",
    "TermLog",
    "TimelineEntry",
    "display",
    "scopes",
    "sees",
]
