"""Shared fixtures: one real etcd for the whole session, and a key prefix of each test's own."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from helpers import Grant

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient, LeaseNotFound

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
