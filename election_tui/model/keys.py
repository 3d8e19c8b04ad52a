"""How etcd names an election's candidates, and how to show untrusted bytes on a terminal."""

from __future__ import annotations

SEP = b"/"


def candidate_key(name: bytes, lease: int) -> bytes:
    """The key etcd's Campaign writes for `lease` in election `name`."""
    return name + SEP + format(lease, "x").encode("ascii")


def parse_candidate_key(key: bytes, lease: int) -> bytes | None:
    """The election `key` is a candidate of, or None if it is not a candidate key.

    Only `NAME/<lease in lowercase hex>` attached to that very lease counts: anything else under
    a prefix (a stray key, a lease-less copy) is not something Campaign wrote.
    """
    if lease <= 0:
        return None
    name, sep, tail = key.rpartition(SEP)
    if not sep or tail != format(lease, "x").encode("ascii"):
        return None
    return name


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


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def display(b: bytes, limit: int = 60) -> str:
    """`b` as printable text of at most `limit` characters (cut ones end in "…").

    Invalid UTF-8 becomes `\\xNN`; control and other non-printable characters (ESC, newline,
    bidi overrides…) become visible escapes, so a key can never drive the terminal.
    """
    if limit <= 0:
        return ""
    # Each shown character comes from at most 4 bytes, so the rest of a huge value is never read.
    text = b[: 4 * limit + 4].decode("utf-8", errors="backslashreplace")
    if len(text) <= limit and text.isprintable() and len(b) <= 4 * limit + 4:
        return text
    pieces: list[str] = []
    used = 0
    for i, ch in enumerate(text):
        piece = _escape(ch)
        rest_fits = i == len(text) - 1 and len(b) <= 4 * limit + 4
        budget = limit if rest_fits else limit - 1
        if used + len(piece) > budget:
            pieces.append("…")
            return "".join(pieces)
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)
