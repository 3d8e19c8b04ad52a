"""How to reach a cluster: endpoints, TLS, auth and timeouts, validated once when made.

`EtcdClient`, `BlockingEtcdClient` and the CLI all take one `ClientConfig`. Pure: no grpc.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

from .errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One client URL; `target` is what gRPC dials."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return ("https://" if self.tls else "http://") + self.target


def parse_endpoint(text: str, *, default_tls: bool = False) -> Endpoint:
    """Accept etcdctl's forms: `host:port`, `http://host:port`, `https://host:port`, `[::1]:port`."""
    raw = text.strip()
    tls = default_tls
    for scheme, is_tls in (("https://", True), ("http://", False), ("unix://", None)):
        if raw.startswith(scheme):
            if is_tls is None:
                raise InvalidArgument(f"unsupported endpoint {text!r}: use host:port")
            tls = is_tls
            raw = raw[len(scheme) :]
    raw = raw.rstrip("/")
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = raw.rpartition(":")
    if not host or not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise InvalidArgument(f"invalid endpoint {text!r}: expected host:port, e.g. 127.0.0.1:2379")
    return Endpoint(host, int(port_text), tls)


def split_endpoints(endpoints: Sequence[str] | str) -> tuple[str, ...]:
    """etcdctl's "host:port,host:port" or a list, without blanks."""
    items = endpoints.split(",") if isinstance(endpoints, str) else endpoints
    return tuple(e.strip() for e in items if e.strip())


def _seconds(value: float, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise InvalidArgument(f"{what} must be a positive number of seconds, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Connection settings; bad ones raise InvalidArgument here, before any connection attempt.

    `endpoints` may be empty only until a caller decides where to connect (the CLI starts an
    embedded etcd then); a client refuses an empty list. A `user` of "name:password" is split.
    `dial_via`, when given, holds one host:port per endpoint, in order, that is dialled instead
    (a local proxy in front of it); TLS still checks each server's certificate against its
    endpoint's own host, so going through a proxy verifies exactly what a direct dial does.
    """

    endpoints: tuple[str, ...] = ()
    ca_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dial_timeout: float = 2.0
    command_timeout: float = 5.0
    dial_via: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "endpoints", split_endpoints(self.endpoints))
        for name in ("ca_cert", "cert", "key"):
            path = getattr(self, name)
            if path is not None and not isinstance(path, Path):
                set_(self, name, Path(path))
        if (self.cert is None) != (self.key is None):
            raise InvalidArgument("--cert and --key go together")
        if self.user is not None and ":" in self.user and self.password is None:
            user, _, password = self.user.partition(":")
            set_(self, "user", user)
            set_(self, "password", password)
        if self.user is not None and not self.user:
            raise InvalidArgument("--user needs a user name")
        set_(self, "dial_timeout", _seconds(self.dial_timeout, "--dial-timeout"))
        set_(self, "command_timeout", _seconds(self.command_timeout, "--command-timeout"))
        self.targets()  # every endpoint parses
        set_(self, "dial_via", split_endpoints(self.dial_via))
        if self.dial_via:
            if len(self.dial_via) != len(self.endpoints):
                raise InvalidArgument(
                    f"dial_via needs one address per endpoint ({len(self.endpoints)}), "
                    f"not {len(self.dial_via)}"
                )
            for address in self.dial_via:
                parse_endpoint(address)

    @property
    def secure(self) -> bool:
        return self.ca_cert is not None or self.cert is not None

    def targets(self) -> tuple[Endpoint, ...]:
        return tuple(parse_endpoint(e, default_tls=self.secure) for e in self.endpoints)

    def dial_targets(self) -> tuple[str, ...]:
        """What gRPC dials for each endpoint: its own address, or its `dial_via` one."""
        if not self.dial_via:
            return tuple(e.target for e in self.targets())
        return tuple(parse_endpoint(a).target for a in self.dial_via)

    def tls_files(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(CA bundle, client key, client certificate) as bytes; a file that cannot be read is named."""
        return (
            _read(self.ca_cert, "CA certificate (--cacert)"),
            _read(self.key, "client key (--key)"),
            _read(self.cert, "client certificate (--cert)"),
        )


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.expanduser().read_bytes()
    except OSError as err:
        raise InvalidArgument(f"cannot read {what} {str(path)!r}: {err.strerror}") from None


class ConnectOptions(TypedDict, total=False):
    """The keywords a client takes besides its endpoints (etcdctl's names, `timeout` per request)."""

    ca_cert: str | Path | None
    cert: str | Path | None
    key: str | Path | None
    user: str | None
    password: str | None
    timeout: float


def make_config(
    endpoints: ClientConfig | Sequence[str] | str, **options: Unpack[ConnectOptions]
) -> ClientConfig:
    """A ClientConfig as given, or made from endpoints and keywords (not both)."""
    if isinstance(endpoints, ClientConfig):
        if options:
            raise InvalidArgument("pass either a ClientConfig or connection keywords, not both")
        return endpoints

    def path(name: str) -> Path | None:
        value = options.get(name)
        return Path(value) if isinstance(value, str | Path) else None

    return ClientConfig(
        split_endpoints(endpoints),
        ca_cert=path("ca_cert"),
        cert=path("cert"),
        key=path("key"),
        user=options.get("user"),
        password=options.get("password"),
        command_timeout=options.get("timeout", 5.0),
    )
