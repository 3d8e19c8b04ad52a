"""Small fault-injection tools for tests and drills (loopback only, no dependencies)."""

from .proxy import Mode, TcpProxy

__all__ = ["Mode", "TcpProxy"]
