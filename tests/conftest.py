"""Shared fixtures: one real etcd for the whole session, and a key prefix of each test's own."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from helpers import Grant

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, LeaseNotFound


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


@pytest.fixture(scope="session")
def etcd() -> Iterator[EmbeddedEtcd]:
    """A started single-member etcd shared by the session; tests keep apart by `prefix`."""
    with EmbeddedEtcd() as instance:
        yield instance


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
