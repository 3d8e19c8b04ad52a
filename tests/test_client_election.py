"""The election API against a real etcd: campaign, leader, proclaim, resign, observe, and etcdctl interop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from helpers import Grant, LineReader, eventually, stop_process

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    CampaignTimeout,
    Compare,
    EtcdClient,
    InvalidArgument,
    KeyValue,
    LeaseNotFound,
    NoLeaderError,
    NotLeaderError,
    Op,
    candidate_key,
)
from election_tui.etcd._pb import v3election_pb2, v3election_pb2_grpc
from election_tui.etcd.errors import from_rpc_error
from election_tui.etcd.witness import WITNESS_MAX_AHEAD

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

BOUND = 5.0  # seconds any expected election outcome may take


async def candidates(client: EtcdClient, name: bytes) -> list[bytes]:
    """The candidate keys of an election, oldest (the leader) first."""
    return [kv.key for kv in (await client.get_prefix(name + b"/", sort_by_create=True)).kvs]


async def queued(client: EtcdClient, name: bytes, count: int) -> None:
    """Wait until `count` candidates stand, i.e. a background campaign has put its key."""
    await eventually(
        lambda: _has_count(client, name, count), timeout=BOUND, what=f"{count} candidates in {name!r}"
    )


async def _has_count(client: EtcdClient, name: bytes, count: int) -> bool:
    return len(await candidates(client, name)) == count


_STARTED = re.compile(r'^grpc_server_started_total\{grpc_method="(\w+)".*\} (\d+)$', re.MULTILINE)


async def served(etcd: EmbeddedEtcd) -> Counter[str]:
    """How many RPCs of each method etcd's gRPC server has begun (its /metrics), e.g. "Campaign"."""

    def read() -> str:
        with urllib.request.urlopen(etcd.members[0].client_url + "/metrics", timeout=5) as page:
            return str(page.read().decode())

    counts: Counter[str] = Counter()
    for method, count in _STARTED.findall(await asyncio.to_thread(read)):
        counts[method] += int(count)
    return counts


async def gauge(etcd: EmbeddedEtcd, name: str) -> float:
    """One of etcd's gauges (its /metrics), e.g. "etcd_debugging_mvcc_watcher_total"."""

    def read() -> str:
        with urllib.request.urlopen(etcd.members[0].client_url + "/metrics", timeout=5) as page:
            return str(page.read().decode())

    found = re.search(rf"^{name} (\S+)$", await asyncio.to_thread(read), re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


async def calls_during(etcd: EmbeddedEtcd, before: Counter[str]) -> dict[str, int]:
    after = await served(etcd)
    return {
        m: after[m] - before[m]
        for m in ("Txn", "Range", "Campaign", "Proclaim", "Watch")
        if after[m] > before[m]
    }


# -- campaign / leader / proclaim / resign --------------------------------------------------


async def test_campaign_in_an_empty_election_wins_at_once(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    lease = await grant()

    leader = await asyncio.wait_for(client.campaign(name, lease, b"me"), BOUND)

    assert leader.name == name
    assert leader.key == name + b"/" + b"%x" % lease  # etcd's recipe: <name>/<lease id in hex>
    assert leader.lease == lease
    kv = await client.get(leader.key)
    assert kv is not None
    assert (kv.value, kv.create_revision, kv.lease) == (b"me", leader.rev, lease)


async def test_leader_returns_the_leaders_key_and_value(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"me")

    kv = await client.leader(name)

    assert (kv.key, kv.value, kv.create_revision) == (leader.key, b"me", leader.rev)


async def test_leader_of_an_empty_election_is_no_leader_error(client: EtcdClient, prefix: bytes) -> None:
    with pytest.raises(NoLeaderError, match="nobody leads"):
        await client.leader(prefix + b"election")


async def test_proclaim_changes_the_value_but_not_the_leader_key(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"v1")

    await client.proclaim(leader, b"v2")

    kv = await client.leader(name)
    assert (kv.key, kv.value, kv.create_revision) == (leader.key, b"v2", leader.rev)


async def test_resign_ends_leadership_but_keeps_the_lease(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    lease = await grant()
    leader = await client.campaign(name, lease, b"me")

    await client.resign(leader)

    with pytest.raises(NoLeaderError):
        await client.leader(name)
    assert (await client.lease_time_to_live(lease)).ttl > 0


async def test_resigning_twice_is_harmless(client: EtcdClient, grant: Grant, prefix: bytes) -> None:
    leader = await client.campaign(prefix + b"election", await grant(), b"me")
    await client.resign(leader)

    await client.resign(leader)


async def test_proclaim_after_resigning_is_not_leader_error(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    leader = await client.campaign(prefix + b"election", await grant(), b"me")
    await client.resign(leader)

    with pytest.raises(NotLeaderError, match="campaign again"):
        await client.proclaim(leader, b"too late")


async def test_proclaim_after_the_lease_is_revoked_is_not_leader_error(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    lease = await grant()
    leader = await client.campaign(prefix + b"election", lease, b"me")
    await client.lease_revoke(lease)

    with pytest.raises(NotLeaderError):
        await client.proclaim(leader, b"too late")


async def test_a_second_candidate_wins_when_the_leader_resigns(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    first = await client.campaign(name, await grant(), b"first")
    second_lease = await grant()
    second = asyncio.create_task(client.campaign(name, second_lease, b"second"))
    await queued(client, name, 2)
    assert not second.done()

    await client.resign(first)
    won = await asyncio.wait_for(second, BOUND)

    assert won.lease == second_lease
    assert won.rev > first.rev
    assert (await client.leader(name)).value == b"second"


async def test_campaign_again_with_a_standing_key_returns_the_same_leadership(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    lease = await grant()
    first = await client.campaign(name, lease, b"v1")
    before = await served(etcd)

    again = await client.campaign(name, lease, b"v2")

    assert (again.key, again.rev) == (first.key, first.rev)
    assert (await client.leader(name)).value == b"v2"  # a new value is proclaimed, as etcd's Campaign does
    assert await calls_during(etcd, before) == {"Txn": 1, "Proclaim": 1}


async def test_campaign_again_with_the_same_value_changes_nothing(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    first = await client.campaign(name, await grant(), b"v1")
    kv = await client.get(first.key)
    before = await served(etcd)

    again = await client.campaign(name, first.lease, b"v1")

    assert await calls_during(etcd, before) == {"Txn": 1}
    assert again == first
    assert await client.get(first.key) == kv  # not even a new mod revision


async def test_leadership_ends_with_the_lease(client: EtcdClient, grant: Grant, prefix: bytes) -> None:
    name = prefix + b"election"
    lease = await grant()
    await client.campaign(name, lease, b"me")

    await client.lease_revoke(lease)

    with pytest.raises(NoLeaderError):
        await client.leader(name)


async def test_an_election_sees_the_keys_of_a_nested_election(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    """The leader of `a` is the oldest key under `a/`, and that includes election `a/b`'s keys."""
    nested = await client.campaign(prefix + b"a/b", await grant(), b"nested")

    assert (await client.leader(prefix + b"a")).key == nested.key


# -- the one-round-trip campaign, the fallback, and the checks ------------------------------


async def test_an_uncontended_campaign_is_one_txn_and_no_campaign_rpc(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """Nobody to wait for: one Txn puts the key and reads the election's oldest key, which is ours."""
    name = prefix + b"election"
    lease = await grant()
    before = await served(etcd)

    leader = await client.campaign(name, lease, b"me")

    assert await calls_during(etcd, before) == {"Txn": 1}
    kv = await client.get(leader.key)
    assert kv is not None
    assert (kv.key, kv.value, kv.lease, kv.version) == (candidate_key(name, lease), b"me", lease, 1)
    assert leader.rev == kv.create_revision  # the fencing token is the key's create revision
    assert (await client.leader(name)).key == leader.key  # etcd agrees


async def test_a_contended_campaign_waits_on_the_key_its_txn_put(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    first = await client.campaign(name, await grant(), b"first")
    lease = await grant()
    before = await served(etcd)
    second = asyncio.create_task(client.campaign(name, lease, b"second"))
    await queued(client, name, 2)
    standing = await client.get(candidate_key(name, lease))
    assert standing is not None

    await client.resign(first)
    won = await asyncio.wait_for(second, BOUND)

    assert won.rev == standing.create_revision  # etcd's Campaign kept the key our Txn put
    calls = await calls_during(etcd, before)
    assert (calls["Txn"], calls["Campaign"]) == (1, 1)


async def test_a_waiting_retry_keeps_its_place_and_gets_its_new_value(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    """A candidate key already standing (an earlier attempt) is waited on, not written again; the
    new value is proclaimed while it waits (etcd's Campaign does that)."""
    name = prefix + b"election"
    first = await client.campaign(name, await grant(), b"first")
    lease = await grant()
    earlier = await client.put(candidate_key(name, lease), b"old value", lease=lease)
    retry = asyncio.create_task(client.campaign(name, lease, b"new value"))
    await eventually(
        lambda: _value_is(client, candidate_key(name, lease), b"new value"), timeout=BOUND, what="proclaimed"
    )
    assert await candidates(client, name) == [first.key, candidate_key(name, lease)]

    await client.resign(first)
    won = await asyncio.wait_for(retry, BOUND)

    assert won.rev == earlier.revision  # its place in the queue: the first key's create revision
    assert (await client.leader(name)).value == b"new value"


async def _value_is(client: EtcdClient, key: bytes, value: bytes) -> bool:
    kv = await client.get(key)
    return kv is not None and kv.value == value


async def test_etcd_withdraws_a_key_put_by_txn_when_a_campaign_rpc_on_it_is_cancelled(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """The fallback relies on this: etcd's Campaign adopts a key already standing, and when that
    Campaign is cancelled, etcd deletes the key, although a Txn, not the Campaign, put it."""
    name = prefix + b"election"
    await client.campaign(name, await grant(), b"leader")
    lease = await grant()
    key = candidate_key(name, lease)
    await client.txn([Compare("create", key, "==", 0)], [Op.put(key, b"waiting", lease=lease)])
    async with grpc.aio.insecure_channel(etcd.endpoints[0]) as channel:  # the raw RPC, not our client
        rpc = v3election_pb2_grpc.ElectionStub(channel).Campaign(
            v3election_pb2.CampaignRequest(name=name, lease=lease, value=b"waiting"), timeout=BOUND
        )
        await asyncio.sleep(0.3)  # etcd is waiting in it
        assert not rpc.done()
        assert await client.get(key) is not None

        rpc.cancel()

    await eventually(lambda: _has_count(client, name, 1), timeout=BOUND, what="the key withdrawn by etcd")


async def test_the_win_of_a_waiting_candidate_is_checked_by_watching_not_by_a_read(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """While it waits, a candidate whose Txn put its key watches the election's deletions; once
    every older key went before its own, Campaign's answer is believed without another read."""
    name = prefix + b"election"
    first = await client.campaign(name, await grant(), b"first")
    second = asyncio.create_task(client.campaign(name, await grant(), b"second"))
    await queued(client, name, 2)
    await asyncio.sleep(0.3)  # past etcd's 100 ms watcher sync, so the watch is live
    before = await served(etcd)

    await client.resign(first)
    won = await asyncio.wait_for(second, BOUND)

    assert (await client.leader(name)).key == won.key
    assert "Range" not in await calls_during(etcd, before)


async def test_the_witnesses_of_waiting_campaigns_share_one_watch_stream_and_leave_no_watcher(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    names = [prefix + b"e%d" % i for i in range(5)]
    leaders = [await client.campaign(name, await grant(), b"leader") for name in names]
    await asyncio.sleep(0.3)  # earlier tests' watchers gone (etcd cancels them when it notices)
    streams = await gauge(etcd, "etcd_debugging_mvcc_watch_stream_total")
    watchers = await gauge(etcd, "etcd_debugging_mvcc_watcher_total")
    waiting = [asyncio.create_task(client.campaign(name, await grant(), b"waiting")) for name in names]
    for name in names:
        await queued(client, name, 2)
    # etcd's Campaigns watch too (their own watchers, on their own in-process stream).
    await eventually(
        lambda: _gauge_at_least(etcd, "etcd_debugging_mvcc_watcher_total", watchers + 2 * len(names)),
        timeout=BOUND,
        what="a watcher for each Campaign and each witness",
    )
    assert await gauge(etcd, "etcd_debugging_mvcc_watch_stream_total") - streams <= 2

    for leader in leaders:
        await client.resign(leader)
    won = await asyncio.wait_for(asyncio.gather(*waiting), BOUND)

    assert [w.key for w in won] == [(await client.leader(name)).key for name in names]
    await eventually(
        lambda: _gauge_at_most(etcd, "etcd_debugging_mvcc_watcher_total", watchers),
        timeout=BOUND,
        what="every witness's watcher cancelled",
    )


async def test_a_candidate_far_back_in_the_queue_waits_without_a_witness_and_reads_when_it_wins(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    ahead = [name + b"/k%02d" % i for i in range(WITNESS_MAX_AHEAD + 1)]
    for key in ahead:  # any key under the prefix counts, lease or not
        await client.put(key, b"ahead")
    await asyncio.sleep(0.3)  # earlier tests' watchers gone
    watchers = await gauge(etcd, "etcd_debugging_mvcc_watcher_total")
    waiting = asyncio.create_task(client.campaign(name, await grant(), b"far back"))
    await queued(client, name, len(ahead) + 1)
    await asyncio.sleep(0.3)
    assert await gauge(etcd, "etcd_debugging_mvcc_watcher_total") == watchers + 1  # etcd's Campaign only
    before = await served(etcd)

    for key in ahead:
        await client.delete(key)
    won = await asyncio.wait_for(waiting, BOUND)

    assert (await client.leader(name)).key == won.key
    assert (await calls_during(etcd, before))["Range"] >= 1  # the check after Campaign's answer


async def _gauge_at_least(etcd: EmbeddedEtcd, name: str, value: float) -> bool:
    return await gauge(etcd, name) >= value


async def _gauge_at_most(etcd: EmbeddedEtcd, name: str, value: float) -> bool:
    return await gauge(etcd, name) <= value


async def etcd_campaign_waits(etcd: EmbeddedEtcd, watchers: float) -> None:
    """Wait until etcd's own Campaign has stood on the key our Txn put and waits for the older
    ones: it watches only then (after its txn), so its watcher beside our witness's (etcd had
    `watchers` before the campaign began) proves the lease no longer matters to it. Seeing our
    key alone is not enough: the Txn puts it before the Campaign RPC is even sent."""
    await eventually(
        lambda: _gauge_at_least(etcd, "etcd_debugging_mvcc_watcher_total", watchers + 2),
        timeout=BOUND,
        what="etcd's Campaign watching beside our witness",
    )


async def test_a_waiting_candidate_whose_key_was_deleted_does_not_falsely_win(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """etcd answers "elected" here too: its Campaign waits for the older keys, never for ours."""
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")
    lease = await grant()
    watchers = await gauge(etcd, "etcd_debugging_mvcc_watcher_total")
    doomed = asyncio.create_task(client.campaign(name, lease, b"doomed"))
    await etcd_campaign_waits(etcd, watchers)

    assert await client.delete(candidate_key(name, lease)) == 1
    await client.resign(leader)

    with pytest.raises(
        NotLeaderError,
        match=r"no longer exists at revision \d+ as the oldest of the election \(it went while",
    ):
        await asyncio.wait_for(doomed, BOUND)
    with pytest.raises(NoLeaderError):
        await client.leader(name)


@pytest.mark.parametrize("how", ["lease revoked", "key deleted"])
async def test_a_waiting_retry_whose_key_went_does_not_falsely_win(
    client: EtcdClient, grant: Grant, prefix: bytes, how: str
) -> None:
    """A key that stood before the campaign began has no witness (etcd's count of older keys
    includes newer ones), so the read after Campaign's answer refuses the false win."""
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")
    lease = await grant()
    await client.put(candidate_key(name, lease), b"earlier", lease=lease)
    doomed = asyncio.create_task(client.campaign(name, lease, b"doomed"))
    # etcd's Campaign proclaims the new value of the key it found, then waits: the value says so.
    await eventually(
        lambda: _value_is(client, candidate_key(name, lease), b"doomed"), timeout=BOUND, what="proclaimed"
    )

    if how == "lease revoked":
        await client.lease_revoke(lease)
    else:
        await client.delete(candidate_key(name, lease))
    await queued(client, name, 1)
    assert not doomed.done()  # etcd's Campaign waits on, for the leader's key only
    await client.resign(leader)

    # A lease gone needs a new one (LeaseNotFound); a key deleted by hand, a new campaign.
    refusal = LeaseNotFound if how == "lease revoked" else NotLeaderError
    with pytest.raises(refusal, match=r"the campaign returned, but .*no longer exists"):
        await asyncio.wait_for(doomed, BOUND)
    with pytest.raises(NoLeaderError):
        await client.leader(name)


# -- argument checks ------------------------------------------------------------------------


async def test_campaign_without_a_lease_is_invalid(client: EtcdClient, prefix: bytes) -> None:
    with pytest.raises(InvalidArgument, match="campaign needs a lease"):
        await client.campaign(prefix + b"election", 0, b"me")
    assert await candidates(client, prefix + b"election") == []


@pytest.mark.parametrize("name", [b"", b"   ", "", " \t"], ids=repr)
async def test_an_empty_or_blank_election_name_is_invalid(
    client: EtcdClient, grant: Grant, name: bytes | str
) -> None:
    lease = await grant()
    with pytest.raises(InvalidArgument, match="election name"):
        await client.campaign(name, lease, b"me")
    with pytest.raises(InvalidArgument, match="election name"):
        await client.leader(name)
    with pytest.raises(InvalidArgument, match="election name"):
        client.observe(name)


# -- timeouts and cancellation --------------------------------------------------------------


async def test_campaign_timeout_raises_and_withdraws_the_candidate_key(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")

    with pytest.raises(CampaignTimeout, match=r"within 0\.5 s"):
        await asyncio.wait_for(client.campaign(name, await grant(), b"waiting", timeout=0.5), BOUND)

    await eventually(lambda: _has_count(client, name, 1), timeout=BOUND, what="the candidate key withdrawn")
    assert await candidates(client, name) == [leader.key]


async def test_cancelling_a_waiting_campaign_withdraws_the_candidate_key(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")
    waiting = asyncio.create_task(client.campaign(name, await grant(), b"waiting"))
    await queued(client, name, 2)

    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, BOUND)
    await eventually(lambda: _has_count(client, name, 1), timeout=BOUND, what="the candidate key withdrawn")
    assert await candidates(client, name) == [leader.key]


async def test_a_waiting_candidate_whose_lease_was_revoked_does_not_falsely_win(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """etcd 3.4 and 3.5 answer such a candidate "elected" once the leader resigns
    (etcd-io/etcd#19597); the client refuses the false win, as LeaseNotFound: the lease is gone."""
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")
    doomed_lease = await grant()
    watchers = await gauge(etcd, "etcd_debugging_mvcc_watcher_total")
    doomed = asyncio.create_task(client.campaign(name, doomed_lease, b"doomed"))
    await etcd_campaign_waits(etcd, watchers)

    await client.lease_revoke(doomed_lease)
    await queued(client, name, 1)
    assert not doomed.done()  # still waiting behind the leader, its own key already gone
    await client.resign(leader)

    with pytest.raises(LeaseNotFound, match=f"the campaign returned, but its lease {doomed_lease:x} is gone"):
        await asyncio.wait_for(doomed, BOUND)
    with pytest.raises(NoLeaderError):
        await client.leader(name)


async def test_a_waiting_candidate_deleted_in_the_revision_that_deletes_the_leader_does_not_win(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """One revision deletes the last older key and ours (a prefix delete): its events come in
    key order, the leader's first here, and the witness must not call that a win."""
    name = prefix + b"election"
    first, second = sorted([await grant(), await grant()], key=lambda lease: format(lease, "x"))
    await client.campaign(name, first, b"leader")  # its key sorts before the waiter's
    watchers = await gauge(etcd, "etcd_debugging_mvcc_watcher_total")
    doomed = asyncio.create_task(client.campaign(name, second, b"doomed"))
    await etcd_campaign_waits(etcd, watchers)

    assert await client.delete(name + b"/", prefix=True) == 2

    with pytest.raises(NotLeaderError, match="no longer exists at revision"):
        await asyncio.wait_for(doomed, BOUND)
    with pytest.raises(NoLeaderError):
        await client.leader(name)


async def test_a_campaign_again_on_a_lease_whose_campaign_was_cancelled_keeps_its_key(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    """The cancelled campaign's withdrawal is fenced on the key's create revision, which the new
    campaign adopts: the new one waits for it rather than having its key deleted after it won."""
    for step in range(1, 5):  # cancelled a step further each time: before, with, after its Txn
        name = prefix + b"e%d" % step
        lease = await grant()
        cancelled = asyncio.create_task(client.campaign(name, lease, b"v"))
        for _ in range(step):
            await asyncio.sleep(0)
        cancelled.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled

        won = await client.campaign(name, lease, b"v")
        # every withdrawal the client started has ended (each is bounded by its timeout)
        await eventually(lambda: not client._withdrawing, timeout=BOUND, what="withdrawals done")
        kv = await client.get(won.key)
        assert kv is not None and kv.create_revision == won.rev, step
        assert (await client.leader(name)).key == won.key


async def test_etcd_refuses_at_once_a_campaign_whose_lease_went_before_it_stood(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    """The other order of the same loss: the lease (so the key our Txn put) goes before etcd's
    Campaign puts or adopts the key. etcd 3.4 and 3.5 then answer at once, UNKNOWN "requested
    lease not found", which the client maps to the same LeaseNotFound as the refused win above."""
    name = prefix + b"election"
    leader = await client.campaign(name, await grant(), b"leader")
    lease = await grant()
    key = candidate_key(name, lease)
    await client.txn([Compare("create", key, "==", 0)], [Op.put(key, b"doomed", lease=lease)])
    await client.lease_revoke(lease)
    async with grpc.aio.insecure_channel(etcd.endpoints[0]) as channel:  # the raw RPC, not our client
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await v3election_pb2_grpc.ElectionStub(channel).Campaign(
                v3election_pb2.CampaignRequest(name=name, lease=lease, value=b"doomed"), timeout=BOUND
            )

    assert (refused.value.code(), refused.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        "etcdserver: requested lease not found",
    )
    assert isinstance(from_rpc_error(refused.value), LeaseNotFound)
    assert await candidates(client, name) == [leader.key]  # nothing put on the dead lease


# -- observe --------------------------------------------------------------------------------


async def test_observe_yields_each_leader_change_once(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    name = prefix + b"election"
    a = await client.campaign(name, await grant(), b"a1")
    b_lease = await grant()
    b_campaign = asyncio.create_task(client.campaign(name, b_lease, b"b1"))
    await queued(client, name, 2)

    observed = client.observe(name)
    try:
        first = await _next(observed)
        await client.proclaim(a, b"a2")
        second = await _next(observed)
        await client.resign(a)
        third = await _next(observed)
        b = await asyncio.wait_for(b_campaign, BOUND)
        await client.proclaim(b, b"b2")
        fourth = await _next(observed)
    finally:
        await observed.aclose()

    assert [(kv.key, kv.value) for kv in (first, second, third, fourth)] == [
        (a.key, b"a1"),
        (a.key, b"a2"),
        (b.key, b"b1"),
        (b.key, b"b2"),
    ]


async def test_observe_waits_for_a_first_leader(client: EtcdClient, grant: Grant, prefix: bytes) -> None:
    name = prefix + b"election"
    observed = client.observe(name)
    try:
        pending = asyncio.ensure_future(_next(observed))
        # The first leader may be put before or after the stream is set up: either way it is seen.
        leader = await client.campaign(name, await grant(), b"first")
        kv = await pending
    finally:
        await observed.aclose()

    assert (kv.key, kv.value) == (leader.key, b"first")


# -- bytes names and values -----------------------------------------------------------------


async def test_non_utf8_names_and_values_work(client: EtcdClient, grant: Grant, prefix: bytes) -> None:
    name, value = prefix + b"\xff\xfe\x80", b"\x00\xc3\x28"
    leader = await client.campaign(name, await grant(), value)

    kv = await client.leader(name)
    observed = client.observe(name)
    try:
        seen = await _next(observed)
        await client.proclaim(leader, value + b"\xff")
        proclaimed = await _next(observed)
    finally:
        await observed.aclose()
    await client.resign(leader)

    assert leader.key.startswith(name + b"/")
    assert kv.value == seen.value == value
    assert proclaimed.value == value + b"\xff"


# -- interoperability with etcdctl (the Go client's concurrency package) ---------------------


def _etcdctl_elect(etcd: EmbeddedEtcd, name: str, value: str) -> tuple[subprocess.Popen[bytes], LineReader]:
    proc = subprocess.Popen(
        etcd.etcdctl_cmd("elect", name, value),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=etcd.etcdctl_env(),
    )
    assert proc.stdout is not None
    return proc, LineReader(proc.stdout)


def _prints_leadership(value: str) -> Callable[[list[bytes]], bool]:
    """etcdctl elect prints the winning key, then its value, once elected."""
    return lambda lines: value.encode() in lines


async def test_our_candidate_wins_when_the_etcdctl_leader_is_interrupted(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    proc, output = _etcdctl_elect(etcd, name, "go-leader")
    try:
        lines = await output.wait_for_async(_prints_leadership("go-leader"), BOUND)
        go_key = lines[lines.index(b"go-leader") - 1]
        assert go_key.startswith(name.encode() + b"/")

        ours = asyncio.create_task(client.campaign(name, await grant(), b"python"))
        await queued(client, name.encode(), 2)
        assert not ours.done()
        assert (await client.leader(name)).value == b"go-leader"

        proc.send_signal(signal.SIGINT)  # etcdctl resigns and revokes its session on interrupt
        won = await asyncio.wait_for(ours, BOUND)
    finally:
        stop_process(proc)

    assert (await client.leader(name)).key == won.key
    assert go_key not in await candidates(client, name.encode())


async def test_an_etcdctl_candidate_waits_behind_ours_and_wins_when_we_resign(
    client: EtcdClient, etcd: EmbeddedEtcd, grant: Grant, prefix: bytes
) -> None:
    name = prefix.decode() + "election"
    ours = await client.campaign(name, await grant(), b"python")
    proc, output = _etcdctl_elect(etcd, name, "go-candidate")
    try:
        await queued(client, name.encode(), 2)
        assert output.lines == []  # still waiting: nothing printed
        assert (await client.leader(name)).key == ours.key

        await client.resign(ours)
        lines = await output.wait_for_async(_prints_leadership("go-candidate"), BOUND)

        go_key = lines[lines.index(b"go-candidate") - 1]
        assert (await client.leader(name)).key == go_key
    finally:
        stop_process(proc)


async def _next(observed: AsyncIterator[KeyValue]) -> KeyValue:
    return await asyncio.wait_for(anext(observed), BOUND)
