"""Case 8: TLS with a throwaway CA; a client trusting another CA is refused, clearly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import Unavailable
from election_tui.live import LiveSession
from election_tui.sim import Fleet, State
from election_tui.testing import TlsFiles, make_test_ca, make_unrelated_ca

from ._support import ClientFactory, CliRun, assert_model_converges, run_cli

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_unrelated_ca(tmp_path_factory.mktemp("wrong-ca"))


@pytest.fixture(scope="module")
def tls_etcd(ca: TlsFiles) -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="fault-tls", tls=ca) as etcd:
        yield etcd


async def test_a_client_verifying_the_server_runs_candidates_and_a_dashboard(
    tls_etcd: EmbeddedEtcd, ca: TlsFiles, prefix: bytes, clients: ClientFactory
) -> None:
    client = clients(tls_etcd.endpoints, ca_cert=ca.ca)
    assert client.endpoint.tls
    dash = LiveSession(client, prefix)
    dash.start()
    try:
        await asyncio.wait_for(dash.loaded.wait(), 5)
        async with Fleet(client) as fleet:
            cand = fleet.launch(prefix + b"e", "over tls", 5)
            await cand.wait_for(State.LEADER, timeout=5)
            await assert_model_converges(client, dash.state, prefix)
    finally:
        await dash.close()

    done = await asyncio.to_thread(
        run_cli,
        ["leader", f"{prefix.decode()}e", "--endpoints", tls_etcd.endpoints[0], "--cacert", str(ca.ca)],
        timeout=15,
    )
    assert done.code == 1 and "has no leader" in done.stderr, done  # it connected and asked


async def test_a_client_trusting_another_ca_is_refused_with_a_tls_hint(
    tls_etcd: EmbeddedEtcd, wrong_ca: Path, prefix: bytes, clients: ClientFactory
) -> None:
    client = clients(tls_etcd.endpoints, ca_cert=wrong_ca, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(Unavailable) as refused:
        await asyncio.wait_for(client.get_prefix(prefix), 5)
    assert time.monotonic() - started < 2.0
    assert "TLS handshake" in str(refused.value) and "--cacert" in str(refused.value)

    dash = LiveSession(client, prefix, status_every=0.5)
    dash.start()
    try:
        # The dashboard cannot load; it must say why rather than spin silently.
        await eventually(lambda: dash.cluster.error, timeout=5, what="an error on the status line")
        assert dash.cluster.connection != "connected"
        assert "TLS handshake" in (dash.cluster.error or ""), dash.cluster
    finally:
        await dash.close()


def _wrong_ca_cli(tls_etcd: EmbeddedEtcd, wrong_ca: Path) -> CliRun:
    return run_cli(
        [
            "leader",
            "x",
            "--endpoints",
            tls_etcd.endpoints[0],
            "--cacert",
            str(wrong_ca),
            "--dial-timeout",
            "1",
        ],
        timeout=15,
    )


def test_the_cli_with_a_wrong_ca_exits_2_with_one_line(tls_etcd: EmbeddedEtcd, wrong_ca: Path) -> None:
    done = _wrong_ca_cli(tls_etcd, wrong_ca)
    assert done.code == 2, done
    assert len(done.stderr_lines) == 1, done.stderr  # gRPC's own handshake logs are kept quiet
    assert done.stderr_lines[0].startswith("election-tui: error:")
    assert done.elapsed < 1 + 2 + 1.5  # dial timeout + 2 s (+ interpreter start)


def test_the_cli_with_a_wrong_ca_says_it_is_the_certificate(tls_etcd: EmbeddedEtcd, wrong_ca: Path) -> None:
    done = _wrong_ca_cli(tls_etcd, wrong_ca)
    assert "TLS" in done.stderr and "--cacert" in done.stderr, done.stderr
