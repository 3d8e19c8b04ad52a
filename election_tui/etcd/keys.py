"""Keys and values as etcd wants them, and how its election recipe names a candidate's key.

Pure: no grpc, so the model can share these facts without loading the network stack.
"""

from __future__ import annotations

from .errors import InvalidArgument

BytesLike = str | bytes

SEP = b"/"
MAX_TTL = 9_000_000_000  # etcd's own limit on a lease TTL, in seconds


def to_bytes(value: BytesLike, what: str = "value") -> bytes:
    """`value` as bytes; a str is UTF-8, and non-UTF-8 that reached us as a str goes back as it came."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            # surrogateescape: non-UTF-8 bytes that reached us as a str (argv, file names) go
            # back to the very bytes they came from, as etcdctl would send them.
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as err:
            raise InvalidArgument(f"{what} is not valid text: {err.reason} at position {err.start}") from None
    raise InvalidArgument(f"{what} must be str or bytes, not {type(value).__name__}")


def prefix_range_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix` (b"\\0" means "all keys")."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def election_name(name: BytesLike) -> bytes:
    """A valid election name: not empty, not blank (etcd would accept both, and mean all keys)."""
    raw = to_bytes(name, "election name")
    if not raw.strip():
        raise InvalidArgument("election name must not be empty or blank")
    return raw


def validate_ttl(ttl: object) -> int:
    """A lease TTL etcd will grant: a positive whole number of seconds, within its maximum."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise InvalidArgument(f"TTL must be a whole number of seconds, not {ttl!r}")
    if ttl <= 0:
        raise InvalidArgument(f"TTL must be positive, not {ttl}")
    if ttl > MAX_TTL:
        raise InvalidArgument(f"TTL {ttl} is too large (etcd's maximum is {MAX_TTL:,} s)")
    return ttl


def candidate_key(name: bytes, lease: int) -> bytes:
    """The key etcd's Campaign writes for `lease` in election `name`: `<name>/<lease in hex>`."""
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


_HEX = frozenset(b"0123456789abcdef")
_MAX_LEASE_DIGITS = 16  # a lease id is a positive int64


def may_be_candidate_key(key: bytes) -> bool:
    """Whether some lease could make `key` a candidate key (see `parse_candidate_key`).

    Decided on the key alone, so a watch can drop the events of every other key before it
    decodes them: their values never reach the model, and no lease could ever make them count.
    """
    _name, sep, tail = key.rpartition(SEP)
    if not sep or not tail or len(tail) > _MAX_LEASE_DIGITS or tail[0] == ord("0"):
        return False
    return _HEX.issuperset(tail) and int(tail, 16) < 1 << 63
