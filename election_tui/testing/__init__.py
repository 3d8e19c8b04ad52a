"""Fault-injection and test tools, loopback only: a TCP proxy (pass, blackhole, reset), a throwaway TLS CA."""

from .proxy import Mode, TcpProxy
from .tls import TlsError, TlsFiles, make_test_ca, make_unrelated_ca

__all__ = ["Mode", "TcpProxy", "TlsError", "TlsFiles", "make_test_ca", "make_unrelated_ca"]
