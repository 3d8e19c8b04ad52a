"""TLS and user/password auth against etcd instances of this module's own (never the shared one)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from helpers import binary_version

from election_tui.embedded import EmbeddedEtcd, EmbeddedMember
from election_tui.etcd import (
    AuthenticationFailed,
    ClientConfig,
    EtcdClient,
    InvalidArgument,
    PermissionDenied,
    TlsNameMismatch,
    Unavailable,
    Watch,
    WatchDisconnected,
    WatchEvents,
    WatchItem,
    WatchResumed,
)
from election_tui.etcd._pb import rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc
from election_tui.etcd.errors import InvalidToken, from_cancel_reason
from election_tui.sim import Fleet, State, TcpProxy
from election_tui.testing import TlsFiles, make_test_ca, make_unrelated_ca

pytestmark = [pytest.mark.fault, pytest.mark.etcd_versions]

BOUND = 5.0
ROOT, ROOT_PW = "root", "rootpw"
ALICE, ALICE_PW = "alice", "pw"
TOKEN_TTL = 2  # seconds a simple token lives without being used


def _as_root(etcd: EmbeddedEtcd, *args: str) -> None:
    etcd.etcdctl(f"--user={ROOT}:{ROOT_PW}", *args, timeout=10, check=True)


def _enable_auth(etcd: EmbeddedEtcd) -> None:
    """root with the root role, then alice with role r (which grants nothing until a test asks)."""
    etcd.etcdctl("user", "add", f"{ROOT}:{ROOT_PW}", timeout=10, check=True)
    etcd.etcdctl("auth", "enable", timeout=10, check=True)
    _as_root(etcd, "user", "add", f"{ALICE}:{ALICE_PW}")
    _as_root(etcd, "role", "add", "r")
    _as_root(etcd, "user", "grant-role", ALICE, "r")


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_etcd(tls_files: TlsFiles, etcd_binary: Path) -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(tls=tls_files, name="tls", etcd_bin=etcd_binary) as instance:
        yield instance


async def test_a_client_trusting_the_servers_ca_talks_tls(
    tls_etcd: EmbeddedEtcd, tls_files: TlsFiles, prefix: bytes
) -> None:
    assert all(e.startswith("https://") for e in tls_etcd.endpoints)
    async with EtcdClient(tls_etcd.endpoints, ca_cert=tls_files.ca) as client:
        await client.put(prefix + b"k", b"over tls")
        kv = await client.get(prefix + b"k")

    assert kv is not None and kv.value == b"over tls"


async def test_a_ca_cert_alone_implies_tls_for_bare_host_port_endpoints(
    tls_etcd: EmbeddedEtcd, tls_files: TlsFiles
) -> None:
    async with EtcdClient([tls_etcd.members[0].address], ca_cert=tls_files.ca) as client:
        assert client.endpoint.tls
        assert (await client.status()).version == binary_version(tls_etcd.etcd_bin)


async def test_a_client_trusting_an_unrelated_ca_is_unavailable_with_a_tls_hint(
    tls_etcd: EmbeddedEtcd, tmp_path: Path
) -> None:
    unrelated = make_unrelated_ca(tmp_path)
    async with EtcdClient(tls_etcd.endpoints, ca_cert=unrelated, timeout=0.5) as client:
        with pytest.raises(Unavailable) as refused:
            await asyncio.wait_for(client.get(b"k"), BOUND)

    message = str(refused.value)
    assert "TLS handshake" in message
    assert "--cacert" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


async def test_a_plain_client_cannot_talk_to_a_tls_server(tls_etcd: EmbeddedEtcd) -> None:
    async with EtcdClient([tls_etcd.members[0].address], timeout=0.5) as client:
        with pytest.raises(Unavailable):
            await asyncio.wait_for(client.get(b"k"), BOUND)


async def test_through_a_proxy_tls_checks_the_certificate_against_the_endpoints_own_host(
    tls_etcd: EmbeddedEtcd, tls_files: TlsFiles, prefix: bytes
) -> None:
    address = tls_etcd.members[0].address
    port = address.rsplit(":", 1)[1]
    async with TcpProxy(address) as proxy:
        # The certificate names localhost: what a direct dial of https://localhost checks, via the proxy.
        named = ClientConfig((f"https://localhost:{port}",), ca_cert=tls_files.ca, dial_via=(proxy.address,))
        async with EtcdClient(named) as client:
            await client.put(prefix + b"k", b"through the proxy")
            assert str(client.endpoint) == f"https://localhost:{port}"  # the server, not the proxy
        assert proxy.stats.bytes_up > 0
        # A host the certificate does not name is refused, though the bytes reach the same server.
        wrong = ClientConfig(
            (f"https://127.0.0.2:{port}",),
            ca_cert=tls_files.ca,
            dial_via=(proxy.address,),
            command_timeout=0.5,
        )
        async with EtcdClient(wrong) as client:
            with pytest.raises(TlsNameMismatch) as refused:
                await asyncio.wait_for(client.get(b"k"), BOUND)
    assert "Hostname Verification Check failed" in str(refused.value)  # gRPC's own words, kept
    assert "does not name the endpoint's host" in str(refused.value)  # and what to do


async def test_a_candidates_own_link_reaches_a_tls_cluster(
    tls_etcd: EmbeddedEtcd, tls_files: TlsFiles, prefix: bytes
) -> None:
    async with (
        EtcdClient(tls_etcd.endpoints, ca_cert=tls_files.ca) as client,
        Fleet(client, links=1) as fleet,
    ):
        cand = fleet.launch(prefix + b"e", "over tls", 5)
        await cand.wait_for(State.LEADER, timeout=BOUND)
        assert cand.link is not None and cand.link.proxies[0].stats.bytes_down > 0


@pytest.mark.parametrize("option", ["ca_cert", "cert", "key"])
def test_an_unreadable_tls_file_is_invalid_argument_naming_the_path(
    tls_files: TlsFiles, tmp_path: Path, option: str
) -> None:
    missing = tmp_path / "no-such-file.pem"
    files = {"ca_cert": tls_files.ca, "cert": tls_files.cert, "key": tls_files.key, option: missing}

    with pytest.raises(InvalidArgument, match=r"no-such-file\.pem"):
        EtcdClient(["https://127.0.0.1:2379"], **files)  # type: ignore[arg-type]


def test_cert_without_key_is_invalid_argument(tls_files: TlsFiles) -> None:
    with pytest.raises(InvalidArgument, match="go together"):
        EtcdClient(["https://127.0.0.1:2379"], cert=tls_files.cert)


# -- auth -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_etcd(etcd_binary: Path) -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="auth", etcd_bin=etcd_binary) as instance:
        _enable_auth(instance)
        yield instance


@pytest.fixture
def granted(auth_etcd: EmbeddedEtcd, prefix: bytes) -> bytes:
    """Grant alice's role read-write on this test's prefix; returns the prefix."""
    _as_root(auth_etcd, "role", "grant-permission", "r", "--prefix=true", "readwrite", prefix.decode())
    return prefix


async def test_root_with_its_password_can_read_and_write(auth_etcd: EmbeddedEtcd, prefix: bytes) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=ROOT, password=ROOT_PW) as client:
        await client.put(prefix + b"k", b"v")
        kv = await client.get(prefix + b"k")

    assert kv is not None and kv.value == b"v"


async def test_a_user_works_within_the_prefix_its_role_grants(
    auth_etcd: EmbeddedEtcd, granted: bytes
) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=ALICE, password=ALICE_PW) as client:
        await client.put(granted + b"k", b"v")
        assert (await client.get_prefix(granted)).count == 1


async def test_user_colon_password_in_one_string_works(auth_etcd: EmbeddedEtcd, granted: bytes) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=f"{ALICE}:{ALICE_PW}") as client:
        await client.put(granted + b"k", b"v")


async def test_a_wrong_password_is_authentication_failed(auth_etcd: EmbeddedEtcd, prefix: bytes) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=ALICE, password="wrong") as client:
        with pytest.raises(AuthenticationFailed, match="check --user and the password"):
            await client.get(prefix + b"k")


async def test_an_unknown_user_is_authentication_failed(auth_etcd: EmbeddedEtcd, prefix: bytes) -> None:
    async with EtcdClient(auth_etcd.endpoints, user="mallory", password="x") as client:
        with pytest.raises(AuthenticationFailed):
            await client.get(prefix + b"k")


async def test_no_user_is_authentication_failed_saying_auth_is_on(
    auth_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with EtcdClient(auth_etcd.endpoints) as client:
        with pytest.raises(AuthenticationFailed, match="auth enabled and no user was given"):
            await client.put(prefix + b"k", b"v")


async def test_a_key_outside_the_users_grant_is_permission_denied(
    auth_etcd: EmbeddedEtcd, granted: bytes
) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=ALICE, password=ALICE_PW) as client:
        with pytest.raises(PermissionDenied, match="grant-permission"):
            await client.put(granted.rstrip(b"/") + b"-elsewhere/k", b"v")
        with pytest.raises(PermissionDenied):
            await client.get(b"not-granted/k")


async def test_watching_outside_the_users_grant_is_permission_denied(
    auth_etcd: EmbeddedEtcd, granted: bytes
) -> None:
    """etcd answers such a watch "created" and "canceled" at once; the watch must not hang."""
    async with (
        EtcdClient(auth_etcd.endpoints, user=ALICE, password=ALICE_PW) as client,
        client.watch_prefix(b"not-granted/") as watch,
    ):
        with pytest.raises(PermissionDenied):
            await asyncio.wait_for(anext(watch), BOUND)


async def test_a_user_can_campaign_in_an_election_under_its_grant(
    auth_etcd: EmbeddedEtcd, granted: bytes
) -> None:
    async with EtcdClient(auth_etcd.endpoints, user=ALICE, password=ALICE_PW) as client:
        lease = await client.lease_grant(10)
        leader = await asyncio.wait_for(client.campaign(granted + b"election", lease.id, b"alice"), BOUND)
        assert (await client.leader(granted + b"election")).key == leader.key
        await client.lease_revoke(lease.id)


# -- expiring auth tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_token_etcd(etcd_binary: Path) -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="short-token", auth_token_ttl=TOKEN_TTL, etcd_bin=etcd_binary) as instance:
        _enable_auth(instance)
        yield instance


@contextlib.asynccontextmanager
async def _raw_token(etcd: EmbeddedEtcd) -> AsyncIterator[tuple[str, rpc_pb2_grpc.KVStub]]:
    """A token fetched with bare stubs (nothing renews it) and a KV stub to try it with."""
    async with grpc.aio.insecure_channel(etcd.members[0].address) as channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        resp = await auth.Authenticate(
            rpc_pb2.AuthenticateRequest(name=ROOT, password=ROOT_PW), timeout=BOUND
        )
        yield resp.token, rpc_pb2_grpc.KVStub(channel)


async def test_a_simple_token_expires_after_its_ttl_of_idleness(short_token_etcd: EmbeddedEtcd) -> None:
    async with _raw_token(short_token_etcd) as (token, kv):
        await kv.Range(rpc_pb2.RangeRequest(key=b"k"), metadata=(("token", token),), timeout=BOUND)
        # Measured on etcd 3.5.1: gone between TTL and TTL + 1 s after its last use.
        await asyncio.sleep(TOKEN_TTL + 1.5)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await kv.Range(rpc_pb2.RangeRequest(key=b"k"), metadata=(("token", token),), timeout=BOUND)

    assert "invalid auth token" in (refused.value.details() or "")


async def test_a_campaign_blocked_past_the_token_ttl_still_wins(
    short_token_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    """The waiting Campaign fails with "invalid auth token" when the leader resigns; the client
    re-authenticates and campaigns again with the same lease, which finds its key and wins."""
    name = prefix + b"election"
    endpoints = short_token_etcd.endpoints
    async with (
        EtcdClient(endpoints, user=ROOT, password=ROOT_PW) as leader_client,
        EtcdClient(endpoints, user=ROOT, password=ROOT_PW) as waiting_client,
        _raw_token(short_token_etcd) as (probe, kv),
    ):
        leader = await leader_client.campaign(name, (await leader_client.lease_grant(30)).id, b"leader")
        waiting_lease = (await waiting_client.lease_grant(30)).id
        waiting = asyncio.create_task(waiting_client.campaign(name, waiting_lease, b"waiting"))
        await asyncio.sleep(TOKEN_TTL + 1.5)  # the scenario: stay blocked longer than a token lives
        assert not waiting.done()
        with pytest.raises(grpc.aio.AioRpcError, match="invalid auth token"):  # tokens did expire
            await kv.Range(rpc_pb2.RangeRequest(key=b"k"), metadata=(("token", probe),), timeout=BOUND)

        await leader_client.resign(leader)
        won = await asyncio.wait_for(waiting, BOUND)

        assert won.lease == waiting_lease
        assert (await leader_client.leader(name)).value == b"waiting"


async def _items_until(watch: Watch, revision: int) -> list[WatchItem]:
    """Watch items up to the event at `revision`, within BOUND."""
    items: list[WatchItem] = []
    async with asyncio.timeout(BOUND):
        async for item in watch:
            items.append(item)
            if isinstance(item, WatchEvents) and item.events[-1].revision >= revision:
                return items
    raise AssertionError(f"the watch ended before revision {revision}: {items!r}")


# How a watch opened with an expired token is refused (in-band: created, then cancelled, with a
# reason), measured: etcd 3.5.1 cannot tell an expired token from a missing permission; 3.4.23
# (like 3.6) says what it is. Either way the watch must try one fresh token before giving up.
EXPIRED_TOKEN_WATCH_REFUSAL = {
    "3.4": ("rpc error: code = Unauthenticated desc = etcdserver: invalid auth token", InvalidToken),
    "3.5": ("rpc error: code = PermissionDenied desc = etcdserver: permission denied", PermissionDenied),
}


async def _watch_refusal(member: EmbeddedMember, token: str) -> str:
    """The cancel reason etcd gives a watch opened with `token` (bare stubs: nothing renews it)."""
    async with grpc.aio.insecure_channel(member.address) as channel:
        call = rpc_pb2_grpc.WatchStub(channel).Watch(metadata=(("token", token),))
        await call.write(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k")))
        resp = await asyncio.wait_for(call.read(), BOUND)
        call.cancel()
    assert isinstance(resp, rpc_pb2.WatchResponse) and resp.created and resp.canceled, resp
    return resp.cancel_reason


async def test_a_watch_reopened_after_its_token_expired_renews_it_and_resumes(
    short_token_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    """A watch re-opened with an expired token is refused in-band, in words that depend on the
    version (EXPIRED_TOKEN_WATCH_REFUSAL): the watch renews its token once and resumes."""
    member = short_token_etcd.members[0]
    version = binary_version(short_token_etcd.etcd_bin)
    reason, mapped_to = EXPIRED_TOKEN_WATCH_REFUSAL[".".join(version.split(".")[:2])]
    async with (
        TcpProxy(member.address) as proxy,
        EtcdClient([proxy.address], user=ROOT, password=ROOT_PW) as client,
        EtcdClient(short_token_etcd.endpoints, user=ROOT, password=ROOT_PW) as writer,
        _raw_token(short_token_etcd) as (probe, _),
    ):
        first = await writer.put(prefix + b"a", b"1")
        async with client.watch_prefix(prefix, start_revision=first.revision) as watch:
            await _items_until(watch, first.revision)
            await asyncio.sleep(TOKEN_TTL + 1.5)  # the scenario: the watch's token idles out
            refusal = await _watch_refusal(member, probe)  # tokens did expire, and this is how it shows
            assert (refusal, type(from_cancel_reason(refusal))) == (reason, mapped_to), version

            await proxy.reset()  # the stream breaks; the watch re-opens it with its old token
            await proxy.pass_through()
            second = await writer.put(prefix + b"b", b"2")
            items = await _items_until(watch, second.revision)

    kinds = [type(item) for item in items]
    assert WatchDisconnected in kinds and WatchResumed in kinds
    events = [e for item in items if isinstance(item, WatchEvents) for e in item.events]
    assert [e.revision for e in events] == [second.revision]


async def _observe_answer(member: EmbeddedMember, token: str, name: bytes) -> tuple[grpc.StatusCode, int]:
    """How an Observe opened with `token` ends (bare stubs): its status and how many leaders it gave."""
    async with grpc.aio.insecure_channel(member.address) as channel:
        call = v3election_pb2_grpc.ElectionStub(channel).Observe(
            v3election_pb2.LeaderRequest(name=name), metadata=(("token", token),)
        )
        given = 0
        async with asyncio.timeout(BOUND):
            async for _ in call:
                given += 1
            return await call.code(), given


async def test_observe_renews_an_expired_token_instead_of_reopening_with_it_forever(
    short_token_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    """etcd (3.4.23 and 3.5.1 alike) answers an Observe sent with an expired token by ending the
    stream at once with status OK and no leader, not with an error: observe must take a fresh
    token before it re-opens, or it re-opens with the stale one and never sees a leader again."""
    name = prefix + b"election"
    member = short_token_etcd.members[0]
    async with (
        TcpProxy(member.address) as proxy,
        EtcdClient([proxy.address], user=ROOT, password=ROOT_PW) as observer,
        EtcdClient(short_token_etcd.endpoints, user=ROOT, password=ROOT_PW) as leader_client,
        _raw_token(short_token_etcd) as (probe, _),
    ):
        leader = await leader_client.campaign(name, (await leader_client.lease_grant(30)).id, b"v1")
        observed = observer.observe(name)
        try:
            assert (await asyncio.wait_for(anext(observed), BOUND)).value == b"v1"
            await asyncio.sleep(TOKEN_TTL + 1.5)  # the scenario: the observer's token idles out
            assert await _observe_answer(member, probe, name) == (grpc.StatusCode.OK, 0)  # how it shows

            await proxy.reset()  # the stream breaks; observe re-opens it with its old token
            await proxy.pass_through()
            await leader_client.proclaim(leader, b"v2")

            assert (await asyncio.wait_for(anext(observed), BOUND)).value == b"v2"
        finally:
            await observed.aclose()
