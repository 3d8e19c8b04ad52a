"""Simulated candidates driven by a person or a drill; they talk to etcd like any client.

`TcpProxy` is the loopback proxy that can cut a path to etcd (the fault tests' tool too).
"""

from .candidate import Candidate, CandidateError, State, Transition
from .fleet import Fleet
from .proxy import ProxyMode, ProxyStats, TcpProxy

__all__ = [
    "Candidate",
    "CandidateError",
    "Fleet",
    "ProxyMode",
    "ProxyStats",
    "State",
    "TcpProxy",
    "Transition",
]
