"""Which elections see which candidates: election `a` counts the keys of `a/b` too."""

from __future__ import annotations

from election_tui.etcd import SEP


def scopes(name: bytes) -> list[bytes]:
    """`name` and every election that also sees its candidates, nearest first.

    Election X sees the candidates of Y when Y's keys start with `X/`, i.e. X is Y cut just
    before one of its b"/" (so `a` and `a/` both see `a//b`).
    """
    out = [name]
    i = name.rfind(SEP)
    while i >= 0:
        out.append(name[:i])
        i = name.rfind(SEP, 0, i)
    return out


def sees(election: bytes, name: bytes) -> bool:
    """Whether election `election` counts the candidates of election `name` (itself included)."""
    return name == election or name.startswith(election + SEP)
