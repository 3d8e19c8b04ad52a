"""Test tools, loopback only: a throwaway TLS CA. (The TCP proxy is a product part: `election_tui.sim`.)"""

from .tls import TlsError, TlsFiles, make_test_ca, make_unrelated_ca

__all__ = ["TlsError", "TlsFiles", "make_test_ca", "make_unrelated_ca"]
