"""Pure election state: watch events in; elections, leaders, queues, a timeline and terms out.

No I/O, no asyncio, no grpc, no Textual: everything here is driven by values and a caller's clock.
"""

from .candidates import CandidateKey
from .keys import scopes, sees
from .lanes import (
    ABSENT,
    GAP,
    LED,
    SEGMENT_MEANINGS,
    STALE,
    UNSEEN,
    Belief,
    BeliefLog,
    Lane,
    LaneWindow,
    Segment,
    TermBook,
    lane,
)
from .leases import LeaseClock, ShownTTL, TTLLookup
from .state import Changes, ElectionState, ElectionView
from .terms import UNKNOWN, Term, TermLog
from .text import display
from .timeline import BLACKHOLED, KIND_MEANINGS, KINDS, PAUSED, REMOVAL_REASONS, TimelineEntry

__all__ = [
    "ABSENT",
    "BLACKHOLED",
    "GAP",
    "KINDS",
    "KIND_MEANINGS",
    "LED",
    "PAUSED",
    "REMOVAL_REASONS",
    "SEGMENT_MEANINGS",
    "STALE",
    "UNKNOWN",
    "UNSEEN",
    "Belief",
    "BeliefLog",
    "CandidateKey",
    "Changes",
    "ElectionState",
    "ElectionView",
    "Lane",
    "LaneWindow",
    "LeaseClock",
    "Segment",
    "ShownTTL",
    "TTLLookup",
    "Term",
    "TermBook",
    "TermLog",
    "TimelineEntry",
    "display",
    "lane",
    "scopes",
    "sees",
]
