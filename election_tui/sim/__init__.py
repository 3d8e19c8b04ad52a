"""Simulated candidates driven by a person or a drill; they talk to etcd like any client.

A candidate may have a link of its own (a loopback proxy and a channel) so it can be cut off
from etcd for real; `TcpProxy` is that proxy, also the fault tests' tool.
"""

from .candidate import Candidate, CandidateError, Listener, State, Transition
from .fleet import Fleet
from .link import Link, LinkError, link_problem
from .proxy import ProxyMode, ProxyStats, TcpProxy

__all__ = [
    "Candidate",
    "CandidateError",
    "Fleet",
    "Link",
    "LinkError",
    "Listener",
    "ProxyMode",
    "ProxyStats",
    "State",
    "TcpProxy",
    "Transition",
    "link_problem",
]
