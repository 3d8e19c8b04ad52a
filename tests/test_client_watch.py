"""Watches against a real etcd: ordered events, history replay, compaction, and surviving a crash."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from helpers import Grant, eventually

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    EtcdClient,
    Event,
    EventType,
    KeyValue,
    Watch,
    WatchCompacted,
    WatchDisconnected,
    WatchEvents,
    WatchItem,
    WatchResumed,
)

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

BOUND = 5.0  # seconds any single expected watch item may take to arrive


@pytest.fixture(scope="module")
def crash_etcd(etcd_binary: Path) -> Iterator[EmbeddedEtcd]:
    """An etcd of this module's own, to kill -9 and restart without disturbing the shared one."""
    with EmbeddedEtcd(name="watch-crash", etcd_bin=etcd_binary) as instance:
        yield instance


async def next_item(watch: Watch) -> WatchItem:
    return await asyncio.wait_for(anext(watch), BOUND)


async def next_events(watch: Watch, count: int) -> list[Event]:
    """The next `count` events, failing if anything but events arrives or they take too long."""
    events: list[Event] = []
    while len(events) < count:
        item = await next_item(watch)
        assert isinstance(item, WatchEvents), item
        events.extend(item.events)
    assert len(events) == count, events
    return events


async def test_events_arrive_in_order_with_their_revisions(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.get_prefix(prefix)).revision + 1
    async with client.watch_prefix(prefix, start_revision=start) as watch:
        revs = [
            (await client.put(prefix + b"a", b"1")).revision,
            (await client.put(prefix + b"b", b"2")).revision,
        ]
        revs.append((await client.put(prefix + b"a", b"3")).revision)
        await client.delete(prefix + b"b")

        events = await next_events(watch, 4)

    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        (EventType.PUT, prefix + b"a", b"1"),
        (EventType.PUT, prefix + b"b", b"2"),
        (EventType.PUT, prefix + b"a", b"3"),
        (EventType.DELETE, prefix + b"b", b""),
    ]
    assert [e.revision for e in events[:3]] == revs
    assert events[3].revision > revs[2]


async def test_a_watch_from_now_sees_writes_made_after_it_was_created(
    client: EtcdClient, prefix: bytes
) -> None:
    await client.put(prefix + b"before", b"")
    async with client.watch_prefix(prefix) as watch:
        pending = asyncio.ensure_future(anext(watch))
        await eventually(lambda: watch.connected, timeout=BOUND, what="the watch to be created")
        rev = (await client.put(prefix + b"after", b"")).revision

        item = await asyncio.wait_for(pending, BOUND)

    assert isinstance(item, WatchEvents)
    assert [(e.kv.key, e.revision) for e in item.events] == [(prefix + b"after", rev)]


async def test_events_carry_the_previous_value_when_asked(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.put(prefix + b"k", b"old")).revision
    await client.put(prefix + b"k", b"new")
    await client.delete(prefix + b"k")

    async with client.watch_prefix(prefix, start_revision=start + 1, prev_kv=True) as watch:
        update, delete = await next_events(watch, 2)

    assert update.prev_kv is not None and update.prev_kv.value == b"old"
    assert delete.prev_kv is not None and delete.prev_kv.value == b"new"


async def test_decoded_events_are_the_plain_values_their_constructors_make(
    client: EtcdClient, grant: Grant, prefix: bytes
) -> None:
    """The watch builds events without their __init__ (for speed): the same frozen values."""
    lease = await grant()
    first = await client.put(prefix + b"k", b"old", lease=lease)
    second = await client.put(prefix + b"k", b"new", lease=lease)
    gone = await client.delete(prefix + b"k")
    assert gone == 1

    async with client.watch_prefix(prefix, start_revision=second.revision, prev_kv=True) as watch:
        update, delete = await next_events(watch, 2)

    c, m = first.revision, second.revision
    old = KeyValue(prefix + b"k", b"old", c, c, 1, lease)
    new = KeyValue(prefix + b"k", b"new", c, m, 2, lease)
    assert update == Event(EventType.PUT, new, old)
    assert delete == Event(EventType.DELETE, KeyValue(prefix + b"k", b"", 0, m + 1, 0, 0), new)
    assert hash(update) == hash(Event(EventType.PUT, new, old))
    assert repr(update.kv) == repr(new)
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.kv.value = b"changed"  # type: ignore[misc]


async def test_events_leave_out_the_previous_value_by_default(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.put(prefix + b"k", b"old")).revision
    await client.put(prefix + b"k", b"new")

    async with client.watch_prefix(prefix, start_revision=start + 1) as watch:
        (update,) = await next_events(watch, 1)

    assert update.kv.value == b"new" and update.prev_kv is None


async def test_start_revision_replays_history(client: EtcdClient, prefix: bytes) -> None:
    revs = [(await client.put(prefix + b"%d" % i, b"%d" % i)).revision for i in range(3)]

    async with client.watch_prefix(prefix, start_revision=revs[0]) as watch:
        replayed = await next_events(watch, 3)
        live_rev = (await client.put(prefix + b"live", b"")).revision
        live = await next_events(watch, 1)

    assert [e.revision for e in replayed] == revs
    assert [e.kv.value for e in replayed] == [b"0", b"1", b"2"]
    assert live[0].revision == live_rev


async def test_a_prefix_watch_ignores_keys_outside_the_prefix(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.get_prefix(prefix)).revision + 1
    async with client.watch_prefix(prefix + b"in/", start_revision=start) as watch:
        await client.put(prefix + b"inside", b"")  # shares the bytes "in" but not "in/"
        await client.put(prefix + b"out/k", b"")
        rev = (await client.put(prefix + b"in/k", b"")).revision

        (event,) = await next_events(watch, 1)

    assert (event.kv.key, event.revision) == (prefix + b"in/k", rev)


async def test_watch_key_sees_only_that_key(client: EtcdClient, prefix: bytes) -> None:
    start = (await client.get_prefix(prefix)).revision + 1
    async with client.watch_key(prefix + b"k", start_revision=start) as watch:
        await client.put(prefix + b"k2", b"")
        rev = (await client.put(prefix + b"k", b"")).revision

        (event,) = await next_events(watch, 1)

    assert (event.kv.key, event.revision) == (prefix + b"k", rev)


async def test_a_compacted_start_revision_ends_the_watch_with_watch_compacted(
    client: EtcdClient, prefix: bytes
) -> None:
    first = (await client.put(prefix + b"k", b"1")).revision
    current = (await client.put(prefix + b"k", b"2")).revision
    await client.compact(current)

    async with client.watch_prefix(prefix, start_revision=first) as watch:
        items = [item async for item in _bounded(watch)]

    assert items == [WatchCompacted(compact_revision=current)]


async def test_a_watch_resumes_across_a_kill_and_restart_without_gaps_or_repeats(
    crash_etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    member = crash_etcd.members[0]
    async with EtcdClient(crash_etcd.endpoints) as client:
        start = (await client.get_prefix(prefix)).revision + 1
        before = [(await client.put(prefix + b"before/%d" % i, b"%d" % i)).revision for i in range(5)]
        async with client.watch_prefix(prefix, start_revision=start) as watch:
            seen = [e.revision for e in await next_events(watch, 5)]

            await asyncio.to_thread(member.kill)
            assert isinstance(await next_item(watch), WatchDisconnected)
            await asyncio.to_thread(member.restart)

            # A fresh client: the watch's channel is still backing off its reconnects.
            async with EtcdClient(crash_etcd.endpoints) as writer:
                after = [(await writer.put(prefix + b"after/%d" % i, b"%d" % i)).revision for i in range(5)]

            resumed = await next_item(watch)
            assert resumed == WatchResumed(revision=before[-1] + 1)
            seen += [e.revision for e in await next_events(watch, 5)]

            # Nothing more is pending: a new write is the very next event.
            last = (await client.put(prefix + b"last", b"")).revision
            seen += [e.revision for e in await next_events(watch, 1)]

    assert seen == [*before, *after, last]
    assert len(set(seen)) == len(seen)


async def _bounded(watch: Watch) -> AsyncIterator[WatchItem]:
    while True:
        try:
            yield await asyncio.wait_for(anext(watch), BOUND)
        except StopAsyncIteration:
            return
