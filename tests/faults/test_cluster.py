"""Case 6: a 3-member cluster loses the member the app talks to, then the raft leader."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from helpers import eventually
from rich.text import Text

from election_tui.embedded import EmbeddedEtcd, EmbeddedMember
from election_tui.etcd import CampaignTimeout, ClientConfig, EtcdClient
from election_tui.live import LiveSession
from election_tui.sim import State
from election_tui.ui.app import ElectionApp
from election_tui.ui.status import StatusLine

from ._support import SENTINEL, AppliedLog, assert_model_converges, history, wait_connection

pytestmark = pytest.mark.fault

TTL = 10


@pytest.fixture
def cluster() -> Iterator[EmbeddedEtcd]:
    with EmbeddedEtcd(members=3, name="fault3") as instance:
        yield instance


def _connected_member(cluster: EmbeddedEtcd, client: EtcdClient) -> EmbeddedMember:
    return next(m for m in cluster.members if m.client_port == client.endpoint.port)


async def _raft_leader(cluster: EmbeddedEtcd, client: EtcdClient) -> EmbeddedMember:
    leader_id = (await client.status()).leader
    return next(m for m in cluster.members if m.member_id == leader_id)


def _down(dash: LiveSession, member: EmbeddedMember) -> bool:
    return any(m.endpoint == member.client_url and not m.up for m in dash.cluster.members)


def _all_up(dash: LiveSession) -> bool:
    return len(dash.cluster.members) == 3 and all(m.up for m in dash.cluster.members)


def _status(app: ElectionApp) -> str:
    content = app.query_one(StatusLine).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_app_fails_over_when_its_member_then_the_raft_leader_dies(
    cluster: EmbeddedEtcd, prefix: bytes, applied_log: AppliedLog
) -> None:
    app = ElectionApp(ClientConfig(endpoints=tuple(cluster.endpoints)), prefix=prefix)
    async with app.run_test(size=(200, 40)) as pilot:
        dash, client = app.session, app.client
        assert client is not None
        dash.status_every = 0.5
        await asyncio.wait_for(dash.loaded.wait(), 10)
        await eventually(lambda: _all_up(dash), timeout=10, what="3 members up")
        name = prefix + b"e"
        cands = dash.launch(name, "c", TTL, count=2)
        await eventually(lambda: dash.fleet.leader(name), timeout=5, what="a leader")
        leader = dash.fleet.leader(name)
        assert leader is not None
        leases = {c.lease_id for c in cands}

        # 1. The member the app is connected to dies.
        first = _connected_member(cluster, client)
        first.kill()
        # Reads retry and fail over at once; a write may fail once with Unavailable (writes
        # are not retried blindly), the next goes to the new endpoint.
        assert (await client.get_prefix(name)).count == 2
        assert client.endpoint.port != first.client_port
        await client.put(prefix + b"after-first", b"1")
        await eventually(lambda: _down(dash, first), timeout=5, what="first member shown down")
        await pilot.pause(0.2)
        assert f"{first.name} down" in _status(app)  # by its name in MemberList, though it cannot answer
        assert dash.cluster.connection == "connected"
        (late,) = dash.launch(name, "late", TTL)  # the watch resumed: the model sees it join
        await eventually(lambda: dash.state.candidate(late.key or b"?"), timeout=5, what="late joiner seen")

        await asyncio.to_thread(first.restart)
        await eventually(lambda: _all_up(dash), timeout=10, what="first member back up")

        # 2. The raft leader dies (maybe the member the app talks to now, maybe not).
        raft = await _raft_leader(cluster, client)
        old_leader_name = dash.cluster.leader_member
        raft.kill()
        assert (await client.get_prefix(name)).count == 3  # retried across the election
        await eventually(lambda: _down(dash, raft), timeout=8, what="raft leader shown down")
        await eventually(
            lambda: dash.cluster.leader_member not in (None, old_leader_name),
            timeout=8,
            what="new raft leader",
        )
        await wait_connection(dash, "connected", timeout=5)
        await client.put(prefix + b"after-raft", b"2")
        (later,) = dash.launch(name, "later", TTL)
        await eventually(lambda: dash.state.candidate(later.key or b"?"), timeout=8, what="later joiner seen")

        # The election went on: same leader on the same lease, every lease alive.
        assert leader.state is State.LEADER and dash.fleet.leader(name) is leader
        for lease in leases:
            assert (await client.lease_time_to_live(lease)).ttl > 0
        await assert_model_converges(client, dash.state, prefix)
        # Resumed on other members, the watch neither skipped nor repeated an event.
        sentinel = (await client.put(prefix + SENTINEL, b"x")).revision
        await eventually(
            lambda: any(r == sentinel for r, _k, _t in applied_log.events(dash.state)),
            timeout=5,
            what="sentinel applied",
        )
        (first_load,) = applied_log.loads(dash.state)
        assert applied_log.events(dash.state) == await history(client, prefix, first_load + 1, sentinel)
        await pilot.press("q")


async def test_a_campaign_that_timed_out_without_quorum_leaves_no_key_when_quorum_returns(
    cluster: EmbeddedEtcd,
) -> None:
    """Its Txn sat in the raft leader's log, unanswered, when the campaign gave up; etcd applies
    it once the followers are back. The key must not then stand on a lease still kept alive."""
    statuses = [m.status() for m in cluster.members]
    leader = next(m for m, s in zip(cluster.members, statuses, strict=True) if s.header.member_id == s.leader)
    followers = [m for m in cluster.members if m is not leader]
    async with EtcdClient([leader.endpoint]) as client:
        lease = await client.lease_grant(60)
        for member in followers:
            member.pause()
        try:
            with pytest.raises(CampaignTimeout):
                await client.campaign("ghost", lease.id, b"v", timeout=0.5)
        finally:
            for member in followers:
                member.resume()

        async def none_stand() -> bool:
            return not (await client.get_prefix(b"ghost/")).kvs

        await eventually(none_stand, timeout=15, what="the timed-out campaign's key withdrawn")
        assert (await client.lease_time_to_live(lease.id)).ttl > 0  # the lease lives: not how it went
