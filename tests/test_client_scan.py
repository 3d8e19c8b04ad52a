"""Reading and watching a big prefix in small pieces: paged scans, ranged gets, a watch key filter."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from election_tui.etcd import (
    BlockingEtcdClient,
    Compacted,
    EtcdClient,
    Event,
    InvalidArgument,
    Op,
    RangeResult,
    Watch,
    WatchEvents,
    WatchItem,
    WatchProgress,
)

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

BOUND = 5.0


async def put_keys(client: EtcdClient, prefix: bytes, count: int) -> int:
    """`prefix` k000 .. k(count-1), values v<i>; returns the last write's revision."""
    results = await asyncio.gather(*(client.put(prefix + b"k%03d" % i, b"v%d" % i) for i in range(count)))
    return max(r.revision for r in results)


async def scan(client: EtcdClient, prefix: bytes, **options: object) -> list[RangeResult]:
    async with asyncio.timeout(BOUND):
        return [page async for page in client.scan_prefix(prefix, **options)]  # type: ignore[arg-type]


# -- scan_prefix ---------------------------------------------------------------------------


async def test_a_scan_reads_every_key_once_in_pages_and_in_key_order(
    client: EtcdClient, prefix: bytes
) -> None:
    await put_keys(client, prefix, 25)

    pages = await scan(client, prefix, page=10)

    assert [len(p.kvs) for p in pages] == [10, 10, 5]
    assert [p.more for p in pages] == [True, True, False]
    assert [p.count for p in pages] == [25, 15, 5]  # keys left from each page's first key on
    keys = [kv.key for p in pages for kv in p.kvs]
    assert keys == [prefix + b"k%03d" % i for i in range(25)]
    assert [kv.value for p in pages for kv in p.kvs] == [b"v%d" % i for i in range(25)]


async def test_every_page_is_read_at_the_first_pages_revision(client: EtcdClient, prefix: bytes) -> None:
    await put_keys(client, prefix, 6)
    pages = client.scan_prefix(prefix, page=2)
    first = await anext(pages)
    # Between pages: a key is changed, one deleted, one added at the end.
    await client.put(prefix + b"k003", b"changed")
    await client.delete(prefix + b"k004")
    await client.put(prefix + b"k999", b"new")
    rest = [page async for page in pages]

    assert {p.revision for p in rest} == {first.revision}
    seen = {kv.key: kv.value for p in [first, *rest] for kv in p.kvs}
    assert seen == {prefix + b"k%03d" % i: b"v%d" % i for i in range(6)}


async def test_a_keys_only_scan_keeps_leases_and_revisions_but_no_values(
    client: EtcdClient, prefix: bytes
) -> None:
    lease = await client.lease_grant(10)
    try:
        rev = (await client.put(prefix + b"held", b"value", lease=lease.id)).revision

        (page,) = await scan(client, prefix, keys_only=True)
    finally:
        await client.lease_revoke(lease.id)

    (kv,) = page.kvs
    assert (kv.key, kv.value, kv.lease, kv.create_revision, kv.mod_revision) == (
        prefix + b"held",
        b"",
        lease.id,
        rev,
        rev,
    )


async def test_a_scan_at_a_given_revision_reads_the_past(client: EtcdClient, prefix: bytes) -> None:
    past = await put_keys(client, prefix, 3)
    await client.put(prefix + b"k001", b"later")

    pages = await scan(client, prefix, page=1, revision=past)

    assert [kv.value for p in pages for kv in p.kvs] == [b"v0", b"v1", b"v2"]
    assert {p.revision for p in pages} == {past}


async def test_an_empty_prefix_is_one_empty_page(client: EtcdClient, prefix: bytes) -> None:
    pages = await scan(client, prefix + b"nothing/")

    assert [(p.kvs, p.more, p.count) for p in pages] == [((), False, 0)]


async def test_a_compaction_past_the_scans_revision_raises_compacted(
    client: EtcdClient, prefix: bytes
) -> None:
    await put_keys(client, prefix, 4)
    pages = client.scan_prefix(prefix, page=2)
    await anext(pages)
    await client.compact((await client.put(prefix + b"k000", b"newer")).revision)

    with pytest.raises(Compacted):
        await anext(pages)


@pytest.mark.parametrize("page", [0, -1, True, 1.5])
async def test_a_page_must_be_a_positive_whole_number_of_keys(client: EtcdClient, page: object) -> None:
    with pytest.raises(InvalidArgument, match="page"):
        client.scan_prefix(b"p/", page=page)  # type: ignore[arg-type]


def test_the_blocking_client_scans_the_same_way(endpoints: list[str], prefix: bytes) -> None:
    with BlockingEtcdClient(endpoints) as client:
        for i in range(5):
            client.put(prefix + b"k%d" % i, b"v")
        with ThreadPoolExecutor(1) as pool:
            pages = pool.submit(list, client.scan_prefix(prefix, page=2, keys_only=True)).result(BOUND)

    assert [len(p.kvs) for p in pages] == [2, 2, 1]
    assert {kv.value for p in pages for kv in p.kvs} == {b""}
    assert len({p.revision for p in pages}) == 1


# -- ranged gets in a transaction ----------------------------------------------------------


async def test_a_txn_get_reads_a_key_range_at_a_past_revision(client: EtcdClient, prefix: bytes) -> None:
    past = await put_keys(client, prefix, 4)
    await client.put(prefix + b"k001", b"later")

    answer = await client.txn((), [Op.get(prefix + b"k001", end=prefix + b"k003", revision=past)])

    (got,) = answer.responses
    assert isinstance(got, RangeResult)
    assert [(kv.key, kv.value) for kv in got.kvs] == [(prefix + b"k001", b"v1"), (prefix + b"k002", b"v2")]


def test_a_txn_get_takes_a_prefix_or_an_end_not_both() -> None:
    with pytest.raises(InvalidArgument, match="not both"):
        Op.get(b"a", prefix=True, end=b"b")


# -- watch key filter ----------------------------------------------------------------------


async def next_item(watch: Watch) -> WatchItem:
    return await asyncio.wait_for(anext(watch), BOUND)


async def test_a_key_filter_drops_the_events_of_other_keys_and_counts_them(
    client: EtcdClient, prefix: bytes
) -> None:
    start = (await client.get_prefix(prefix)).revision + 1
    wanted, other = prefix + b"wanted", prefix + b"other"
    async with client.watch_prefix(prefix, start, key_filter=lambda key: key == wanted) as watch:
        dropped = (await client.put(other, b"x" * 1000)).revision
        # A response of dropped events only says how far the watch got.
        assert await next_item(watch) == WatchProgress(dropped)
        both = (await client.txn((), [Op.put(other, b"y"), Op.put(wanted, b"w")])).revision
        await client.delete(other)
        gone = (await client.txn((), [Op.delete(wanted)])).revision
        events: list[Event] = []
        while len(events) < 2:
            item = await next_item(watch)
            if isinstance(item, WatchEvents):
                events += item.events

    assert [(e.kv.key, e.type.value, e.revision) for e in events] == [
        (wanted, "put", both),
        (wanted, "delete", gone),
    ]
    assert watch.dropped == 3


async def test_without_a_key_filter_nothing_is_dropped(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.get_prefix(prefix)).revision + 1
    async with client.watch_prefix(prefix, start) as watch:
        rev = (await client.put(prefix + b"any", b"v")).revision
        item = await next_item(watch)

    assert isinstance(item, WatchEvents) and [e.revision for e in item.events] == [rev]
    assert watch.dropped == 0
