"""Connection flags and etcdctl's ETCDCTL_* environment, turned into one ClientConfig."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ..etcd import ClientConfig, EtcdError


class ConfigError(Exception):
    """Bad input from the command line or environment: one clear line for the user."""


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


def client_config(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    *,
    default_endpoints: tuple[str, ...] = (),
    ask_password: bool = True,
) -> ClientConfig:
    """Flags win over ETCDCTL_* variables; a password is never taken from argv if avoidable.

    No endpoint and no default gives a config without endpoints: the caller starts an
    embedded etcd and fills them in (`dataclasses.replace`).
    """
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
    timeouts = {
        name: value
        for name, value in (("dial_timeout", args.dial_timeout), ("command_timeout", args.command_timeout))
        if value is not None
    }
    try:
        return ClientConfig(
            endpoints=endpoints,
            ca_cert=_path(args.cacert or env.get("ETCDCTL_CACERT"), "--cacert"),
            cert=_path(args.cert or env.get("ETCDCTL_CERT"), "--cert"),
            key=_path(args.key or env.get("ETCDCTL_KEY"), "--key"),
            user=user,
            password=password,
            **timeouts,
        )
    except EtcdError as err:
        raise ConfigError(err.detail) from None


def as_flags(config: ClientConfig) -> list[str]:
    """The same settings as command-line flags (for a child process); never the password."""
    out = ["--endpoints", ",".join(config.endpoints)] if config.endpoints else []
    for flag, path in (("--cacert", config.ca_cert), ("--cert", config.cert), ("--key", config.key)):
        if path is not None:
            out += [flag, str(path)]
    if config.user:
        out += ["--user", config.user]
    out += ["--dial-timeout", f"{config.dial_timeout:g}", "--command-timeout", f"{config.command_timeout:g}"]
    return out
