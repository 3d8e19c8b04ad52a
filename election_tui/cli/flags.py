"""Connection flags and etcdctl's ETCDCTL_* environment, turned into one ClientConfig."""

from __future__ import annotations

import argparse
import getpass
import os
import ssl
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
    # No explicit defaults: a subcommand's parser must not overwrite what was given before it
    # (`election-tui --dial-timeout 1 leader x`); the parser's own default (None, or unset in a
    # subcommand) applies instead.
    group.add_argument("--dial-timeout", type=float, help="seconds to reach etcd (2)")
    group.add_argument("--command-timeout", type=float, help="seconds per request (5)")


def _path(value: str | None, what: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    try:
        if not path.exists():
            raise ConfigError(f"{what} {value!r}: no such file")
        if not path.is_file():
            raise ConfigError(f"{what} {value!r} is not a regular file")
    except OSError as err:  # e.g. a directory on the way we may not enter
        raise ConfigError(f"{what} {value!r}: {err.strerror or err}") from None
    return path


def _check_tls(config: ClientConfig, names: Mapping[str, str]) -> None:
    """Read and parse the TLS files now, so a bad one is named before any connection attempt.

    gRPC would only find out when it dials, log its complaint to stderr and keep retrying, which
    looks like an unreachable cluster. `names` says which flag (or variable) gave each file.
    """
    try:
        ca, key, cert = config.tls_files()
    except EtcdError as err:
        raise ConfigError(err.detail) from None
    for data, path, name in (
        (ca, config.ca_cert, "ca_cert"),
        (cert, config.cert, "cert"),
        (key, config.key, "key"),
    ):
        if data is not None and b"-----BEGIN" not in data:
            raise ConfigError(f"{names[name]} {str(path)!r} is not a PEM file (no -----BEGIN line)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for data, path, name in ((ca, config.ca_cert, "ca_cert"), (cert, config.cert, "cert")):
        if data is None:
            continue
        try:  # PEM text outside the -----BEGIN/END blocks is ASCII or ignored
            context.load_verify_locations(cadata=data.decode("ascii", errors="ignore"))
        except ssl.SSLError:
            raise ConfigError(f"{names[name]} {str(path)!r} holds no valid PEM certificate") from None
    if config.cert is not None and config.key is not None:
        try:
            context.load_cert_chain(config.cert, config.key, password=_no_password)
        except ssl.SSLError as err:
            if err.reason == "KEY_VALUES_MISMATCH":
                problem = f"does not belong to the certificate {names['cert']} {str(config.cert)!r}"
            else:
                problem = "holds no usable PEM private key (an encrypted key must be decrypted first)"
            raise ConfigError(f"{names['key']} {str(config.key)!r} {problem}") from None
        except OSError as err:  # the files changed under us
            raise ConfigError(f"cannot read {names['key']} {str(config.key)!r}: {err.strerror}") from None


def _no_password() -> bytes:
    return b""  # gRPC cannot decrypt a key: refuse it here rather than prompt on the terminal


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
    files: dict[str, str | None] = {}
    names: dict[str, str] = {}
    for name, flag, variable in (
        ("ca_cert", "--cacert", "ETCDCTL_CACERT"),
        ("cert", "--cert", "ETCDCTL_CERT"),
        ("key", "--key", "ETCDCTL_KEY"),
    ):
        given = getattr(args, flag.removeprefix("--"))
        files[name] = given or env.get(variable)
        names[name] = flag if given or not env.get(variable) else variable
    try:
        config = ClientConfig(
            endpoints=endpoints,
            ca_cert=_path(files["ca_cert"], names["ca_cert"]),
            cert=_path(files["cert"], names["cert"]),
            key=_path(files["key"], names["key"]),
            user=user,
            password=password,
            **timeouts,
        )
    except EtcdError as err:
        raise ConfigError(err.detail) from None
    _check_tls(config, names)
    return config


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
