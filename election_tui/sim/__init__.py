"""Simulated candidates driven by a person or a drill; they talk to etcd like any client."""

from .candidate import Candidate, CandidateError, State, Transition
from .fleet import Fleet

__all__ = ["Candidate", "CandidateError", "Fleet", "State", "Transition"]
