"""Untrusted bytes from etcd as text that can never drive a terminal or a page."""

from __future__ import annotations

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
