"""Shared fixtures: one real etcd for the whole session, and a key prefix of each test's own."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest

from election_tui.embedded import EmbeddedEtcd

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
