"""Connection settings from flags and etcdctl's ETCDCTL_* environment, checked before use."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .etcd import EtcdClient


class ConfigError(Exception):
    """Bad input from the command line or environment: one clear line for the user."""


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    endpoints: tuple[str, ...]  # empty: start the embedded etcd (dashboard, drill, serve)
    ca_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    user: str | None = None
    password: str | None = None
    dial_timeout: float = 2.0
    command_timeout: float = 5.0

    def client(self, endpoints: tuple[str, ...] | None = None) -> EtcdClient:
        return EtcdClient(
            list(endpoints or self.endpoints),
            ca_cert=self.ca_cert,
            cert=self.cert,
            key=self.key,
            user=self.user,
            password=self.password,
            timeout=self.command_timeout,
        )

    def flags(self) -> list[str]:
        """The same settings as command-line flags (for a child process); no password here."""
        out = ["--endpoints", ",".join(self.endpoints)] if self.endpoints else []
        for flag, path in (("--cacert", self.ca_cert), ("--cert", self.cert), ("--key", self.key)):
            if path is not None:
                out += [flag, str(path)]
        if self.user:
            out += ["--user", self.user]
        return out


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (etcdctl's flags; ETCDCTL_* variables work too)")
    group.add_argument("--endpoints", help="comma-separated etcd endpoints (ETCDCTL_ENDPOINTS)")
    group.add_argument("--cacert", help="CA bundle to verify the server (ETCDCTL_CACERT)")
    group.add_argument("--cert", help="client certificate for TLS (ETCDCTL_CERT)")
    group.add_argument("--key", help="client key for TLS (ETCDCTL_KEY)")
    group.add_argument(
        "--user", help="user[:password]; the password is else read from ETCDCTL_PASSWORD or asked"
    )
    group.add_argument("--dial-timeout", type=float, default=None, help="seconds to reach etcd (2)")
    group.add_argument("--command-timeout", type=float, default=None, help="seconds per request (5)")


def _path(value: str | None, what: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{what} {value!r} is not a readable file")
    return path


def _positive(value: float | None, default: float, what: str) -> float:
    if value is None:
        return default
    if not value > 0:
        raise ConfigError(f"{what} must be a positive number of seconds, not {value}")
    return value


def connection_config(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    *,
    default_endpoints: tuple[str, ...] = (),
    ask_password: bool = True,
) -> ConnectionConfig:
    """Flags win over ETCDCTL_* variables; a password is never taken from argv if avoidable."""
    env = os.environ if env is None else env
    raw = args.endpoints or env.get("ETCDCTL_ENDPOINTS") or ""
    endpoints = tuple(e.strip() for e in raw.split(",") if e.strip()) or default_endpoints
    user = args.user or env.get("ETCDCTL_USER") or None
    password: str | None = None
    if user is not None:
        if ":" in user:
            user, _, password = user.partition(":")
        if not user:
            raise ConfigError("--user needs a user name")
        password = password or env.get("ETCDCTL_PASSWORD")
        if password is None:
            if not (ask_password and sys.stdin.isatty()):
                raise ConfigError(f"no password for user {user!r}: set ETCDCTL_PASSWORD")
            password = getpass.getpass(f"Password for {user}: ")
    cert = _path(args.cert or env.get("ETCDCTL_CERT"), "--cert")
    key = _path(args.key or env.get("ETCDCTL_KEY"), "--key")
    if (cert is None) != (key is None):
        raise ConfigError("--cert and --key go together")
    return ConnectionConfig(
        endpoints=endpoints,
        ca_cert=_path(args.cacert or env.get("ETCDCTL_CACERT"), "--cacert"),
        cert=cert,
        key=key,
        user=user,
        password=password,
        dial_timeout=_positive(args.dial_timeout, 2.0, "--dial-timeout"),
        command_timeout=_positive(args.command_timeout, 5.0, "--command-timeout"),
    )
