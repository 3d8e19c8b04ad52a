"""A throwaway TLS certificate authority (openssl on the PATH) for an embedded etcd and its tests."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class TlsError(RuntimeError):
    """openssl is missing or refused to make the certificates."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for TLS on etcd's client port: `ca` is for clients, `cert` and `key` for etcd."""

    ca: Path
    cert: Path
    key: Path


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = election-tui
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError("make_test_ca needs the `openssl` command line tool on PATH")
    done = subprocess.run(
        [openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _write_config(dir: Path) -> Path:
    # Our own config, so a system without (or with an odd) openssl.cnf still works.
    config = dir / "election-tui-openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    return config


def _self_signed_ca(dir: Path, stem: str, cn: str) -> tuple[Path, Path]:
    config = _write_config(dir)
    cert, key = dir / f"{stem}.pem", dir / f"{stem}-key.pem"
    _openssl(
        "req", "-x509", "-config", str(config), "-extensions", "v3_ca", *_EC_KEY,
        "-subj", f"/CN={cn}", "-days", "2", "-keyout", str(key), "-out", str(cert),
        cwd=dir,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def make_test_ca(dir: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, valid for two days."""
    dir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _self_signed_ca(dir, "ca", "election-tui test CA")
    config = _write_config(dir)
    csr, cert, key = dir / "server.csr", dir / "server.pem", dir / "server-key.pem"
    _openssl(
        "req", "-new", "-config", str(config), *_EC_KEY, "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(csr),
        cwd=dir,
    )  # fmt: skip
    key.chmod(0o600)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "2",
        "-extfile", str(config), "-extensions", "v3_server", "-out", str(cert),
        cwd=dir,
    )  # fmt: skip
    with contextlib.suppress(OSError):
        csr.unlink()
    return TlsFiles(ca=ca, cert=cert, key=key)


def make_unrelated_ca(dir: Path) -> Path:
    """A CA certificate that signed nothing we serve: a client trusting it must be refused."""
    dir.mkdir(parents=True, exist_ok=True)
    cert, _key = _self_signed_ca(dir, "unrelated-ca", "election-tui unrelated CA")
    return cert
