"""Case 7: auth on, with auth tokens that expire after 2 s of idleness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from helpers import eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import AuthenticationFailed, EtcdClient, PermissionDenied
from election_tui.live import LiveSession
from election_tui.sim import Fleet, State

from ._support import ClientFactory, cli_env, run_cli, wait_connection

pytestmark = pytest.mark.fault

TOKEN_TTL = 2
ROOT, ROOT_PW = "root", "rootpw"
ALICE, ALICE_PW = "alice", "alicepw"  # read-write on t/ (every test prefix)
BOB, BOB_PW = "bob", "bobpw"  # read-write on elsewhere/ only


@pytest.fixture(scope="module")
def auth_etcd() -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(name="fault-auth", auth_token_ttl=TOKEN_TTL) as etcd:

        def ctl(*args: str, root: bool = True) -> None:
            etcd.etcdctl(*([f"--user={ROOT}:{ROOT_PW}"] if root else []), *args, timeout=10, check=True)

        ctl("user", "add", f"{ROOT}:{ROOT_PW}", root=False)
        ctl("auth", "enable", root=False)
        for user, password, role, granted in (
            (ALICE, ALICE_PW, "ra", "t/"),
            (BOB, BOB_PW, "rb", "elsewhere/"),
        ):
            ctl("user", "add", f"{user}:{password}")
            ctl("role", "add", role)
            ctl("role", "grant-permission", role, "--prefix=true", "readwrite", granted)
            ctl("user", "grant-role", user, role)
        yield etcd


async def test_a_candidate_blocked_longer_than_its_token_lives_still_wins(
    auth_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    holder = clients(auth_etcd.endpoints, user=ALICE, password=ALICE_PW)
    waiting = clients(auth_etcd.endpoints, user=ALICE, password=ALICE_PW)
    logins = 0
    authenticate = waiting._conn._authenticate

    async def counted(stale: str | None) -> None:
        nonlocal logins
        logins += 1
        await authenticate(stale)

    waiting._conn._authenticate = counted  # type: ignore[method-assign]
    dash = LiveSession(holder, prefix)
    dash.start()
    async with Fleet(waiting) as fleet:
        try:
            (leader,) = dash.launch(name, "leader", 10)
            await leader.wait_for(State.LEADER, timeout=5)
            waiter = fleet.launch(name, "waiter", 10)
            await eventually(lambda: dash.state.candidate(waiter.key or b"?"), timeout=5, what="waiter seen")
            assert logins == 1
            # Blocked in Campaign, with only keep-alives (which do not use the token) meanwhile:
            # the token dies (TTL + the server's 1 s checker tick + margin).
            await asyncio.sleep(TOKEN_TTL + 1.5)
            assert waiter.state is State.CAMPAIGNING

            await dash.resign(leader)
            await waiter.wait_for(State.LEADER, timeout=5)
            assert logins >= 2, "the token never expired: the scenario did not happen"
            await eventually(
                lambda: (lead := dash.state.leader(name)) is not None and lead.key == waiter.key,
                timeout=3,
                what="dashboard shows the waiter leading",
            )
        finally:
            await dash.close()


async def test_a_wrong_password_is_a_clear_authentication_failure_everywhere(
    auth_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    client = clients(auth_etcd.endpoints, user=ALICE, password="wrong")
    with pytest.raises(AuthenticationFailed, match="check --user and the password"):
        await client.get_prefix(prefix)

    dash = LiveSession(client, prefix)
    dash.start()
    try:
        await wait_connection(dash, "stale", timeout=5)
        assert isinstance(dash.error, AuthenticationFailed)
        assert "authentication failed" in (dash.cluster.error or "")
        async with Fleet(client) as fleet:
            cand = fleet.launch(prefix + b"e", "x", 5)
            await cand.wait_for(State.LOST, timeout=5)
            assert "authentication failed" in (cand.last_error or "")
    finally:
        await dash.close()

    done = await asyncio.to_thread(
        run_cli,
        ["leader", f"{prefix.decode()}e", "--endpoints", auth_etcd.endpoints[0], "--user", ALICE],
        timeout=15,
        env=cli_env({"ETCDCTL_PASSWORD": "wrong"}),
    )
    assert done.code == 2, done
    assert len(done.stderr_lines) == 1, done.stderr
    assert done.stderr_lines[0].startswith("election-tui: error:")
    assert "authentication failed" in done.stderr and "ETCDCTL_PASSWORD" in done.stderr


async def test_a_user_without_permission_on_the_prefix_is_a_clear_permission_denied_everywhere(
    auth_etcd: EmbeddedEtcd, prefix: bytes, clients: ClientFactory
) -> None:
    name = prefix + b"e"
    client = clients(auth_etcd.endpoints, user=BOB, password=BOB_PW)
    assert (await client.get_prefix(b"elsewhere/")).count == 0  # bob is fine where granted
    with pytest.raises(PermissionDenied, match="grant-permission"):
        await client.get_prefix(prefix)
    lease = await client.lease_grant(5)
    with pytest.raises(PermissionDenied):
        await asyncio.wait_for(client.campaign(name, lease.id, b"bob"), 5)
    await client.lease_revoke(lease.id)

    dash = LiveSession(client, prefix)
    dash.start()
    try:
        await wait_connection(dash, "stale", timeout=5)
        assert isinstance(dash.error, PermissionDenied)
        async with Fleet(client) as fleet:
            cand = fleet.launch(name, "bob", 5)
            await cand.wait_for(State.LOST, timeout=5)
            assert "permission denied" in (cand.last_error or "")
            bobs_lease = cand.lease_id
    finally:
        await dash.close()
    # Nothing of bob's is left: no key, and the failed candidate's lease was revoked.
    async with EtcdClient(auth_etcd.endpoints, user=ROOT, password=ROOT_PW) as root:
        assert (await root.get_prefix(prefix)).count == 0
        assert bobs_lease not in await root.leases()

    for command in (["leader", name.decode()], ["list", "--prefix", prefix.decode()]):
        done = await asyncio.to_thread(
            run_cli,
            [*command, "--endpoints", auth_etcd.endpoints[0], "--user", f"{BOB}:{BOB_PW}"],
            timeout=15,
        )
        assert done.code == 2, done
        assert len(done.stderr_lines) == 1, done.stderr
        assert "permission denied" in done.stderr
