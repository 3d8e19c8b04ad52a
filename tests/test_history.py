"""History from etcd itself: what happened before a view looked, replayed up to its first read.

Everything here is written to a real etcd before the view starts; the expected revisions come
from the server's own event log of the test's prefix, never from the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from faults._support import SENTINEL, Applied, applied, history, view
from helpers import eventually, until

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, EtcdClient, Event, LeaseNotFound, candidate_key
from election_tui.live import HistoryInfo, HistoryLimits, LiveSession
from election_tui.model import Changes, ElectionState
from election_tui.notebook.rows import cluster_row, timeline_rows
from election_tui.ui.app import ElectionApp
from election_tui.ui.status import status_text
from election_tui.ui.timeline import Timeline

BOUND = 10.0
Entry = tuple[str, bytes, bytes, int]  # (kind, election, value, revision)


@dataclass(frozen=True)
class Story:
    """Elections and hand-overs written before a view starts, and the entries they must give."""

    first: int  # the first revision of the story
    last: int
    entries: list[Entry]
    e1: bytes
    e2: bytes


async def server_log(client: EtcdClient, prefix: bytes, first: int, last: int) -> list[Applied]:
    return await history(client, prefix, first, last)


def revision_of(log: Sequence[Applied], key: bytes, kind: str) -> int:
    return next(rev for rev, k, t in log if k == key and t == kind)


async def write_story(client: EtcdClient, prefix: bytes, leases: list[int]) -> Story:
    """e1: alice leads, bob joins, alice proclaims then her key is deleted (bob leads), carol joins,
    bob's lease is revoked (carol leads). e2: dave campaigns (etcd's Campaign) and resigns."""
    e1, e2 = prefix + b"e1", prefix + b"e2"
    a, b, c, d = [await client.lease_grant(60) for _ in range(4)]
    leases += [x.id for x in (a, b, c, d)]
    ka, kb, kc = candidate_key(e1, a.id), candidate_key(e1, b.id), candidate_key(e1, c.id)
    first = (await client.put(ka, b"alice", lease=a.id)).revision
    await client.put(prefix + b"data/x", b"not a candidate")
    await client.put(kb, b"bob", lease=b.id)
    await client.put(ka, b"alice-2", lease=a.id)
    await client.delete(ka)
    await client.put(kc, b"carol", lease=c.id)
    await client.lease_revoke(b.id)
    dave = await client.campaign(e2, d.id, b"dave")
    await client.resign(dave)
    last = (await client.put(prefix + b"data/y", b"the end")).revision
    log = await server_log(client, prefix, first, last)
    rev = {k: revision_of(log, *k) for k in ((ka, "put"), (kb, "put"), (ka, "delete"), (kc, "put"))}
    bob_gone = revision_of(log, kb, "delete")
    dave_gone = revision_of(log, dave.key, "delete")
    proclaimed = [r for r, k, t in log if k == ka and t == "put"][1]
    entries: list[Entry] = [
        ("elected", e1, b"alice", rev[ka, "put"]),
        ("joined", e1, b"bob", rev[kb, "put"]),
        ("proclaimed", e1, b"alice-2", proclaimed),
        ("left", e1, b"alice-2", rev[ka, "delete"]),
        ("elected", e1, b"bob", rev[ka, "delete"]),
        ("joined", e1, b"carol", rev[kc, "put"]),
        ("left", e1, b"bob", bob_gone),
        ("elected", e1, b"carol", bob_gone),
        ("elected", e2, b"dave", dave.rev),
        ("left", e2, b"dave", dave_gone),
    ]
    return Story(first, last, entries, e1, e2)


@pytest.fixture
async def leases(client: EtcdClient) -> AsyncIterator[list[int]]:
    """Leases a test grants; whatever is left is revoked after it."""
    granted: list[int] = []
    yield granted
    for lease in granted:
        with contextlib.suppress(LeaseNotFound):
            await client.lease_revoke(lease)


def entries_of(timeline: Iterable[Any]) -> list[Entry]:
    return [(e.kind, e.election, e.value, e.revision) for e in timeline]


async def loaded(live: LiveSession) -> HistoryInfo:
    await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
    info = live.cluster.history
    assert info is not None and info.done
    return info


async def truth_at(client: EtcdClient, prefix: bytes, revision: int) -> ElectionState:
    """A fresh load of the prefix at `revision`: what a replay up to it must equal."""
    state = ElectionState()
    state.load((await client.get_prefix(prefix, revision=revision)).kvs, revision, 0.0)
    return state


# ---- the session ----------------------------------------------------------------------------


async def test_elections_and_hand_overs_before_start_appear_in_revision_order_as_history(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)

    async with LiveSession(client, prefix) as live:
        info = await loaded(live)
        assert entries_of(live.state.timeline) == story.entries
        assert all(e.history and e.time is None for e in live.state.timeline)
        assert info.first <= story.first and info.until >= story.last and info.stopped is None
        assert [e.kind for e in live.state.history(story.e1)][-2:] == ["left", "elected"]
        e1 = live.state.election(story.e1)
        assert e1 is not None and e1.terms == 3 and e1.elected_time is None
        assert e1.elected_revision == story.entries[7][3]  # known from history, to the revision

        # The same watch goes on live: a change now has a time, and comes after the history.
        carol = live.state.leader(story.e1)
        assert carol is not None
        rev = (await client.put(carol.key, b"carol-2", lease=carol.lease)).revision
        await eventually(lambda: live.state.revision >= rev, timeout=BOUND, what="the proclaim applied")
        last = live.state.timeline[-1]
        assert (last.kind, last.revision, last.history) == ("proclaimed", rev, False)
        assert last.time is not None


async def test_the_sessions_terms_are_the_historys_by_revision_then_go_on_live_with_times(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)

    async with LiveSession(client, prefix) as live:
        info = await loaded(live)
        got = [(t.value, t.start, t.ended, t.start_time, t.end_time) for t in live.terms.terms(story.e1)]
        elected = [e[3] for e in story.entries if e[0] == "elected" and e[1] == story.e1]
        assert got == [
            (b"alice", elected[0], "left", None, None),  # revisions only: etcd keeps no time
            (b"bob", elected[1], "left", None, None),
            (b"carol", elected[2], None, None, None),
        ]
        assert live.terms.history == (info.first - 1, info.until)

        carol = live.state.leader(story.e1)
        assert carol is not None
        await client.delete(carol.key)  # seen live: her term ends with a time, and no one waits
        await eventually(lambda: not live.terms.leads(story.e1), timeout=BOUND, what="carol's term ended")
        window = live.terms.window(live.wall(), 600)
        assert window is not None
        lane = live.terms.lane(story.e1, window)
        assert [(s.kind, s.term.value if s.term else None) for s in lane.history] == [
            ("absent", None),  # before alice's key: no election yet
            ("led", b"alice"),
            ("led", b"bob"),
            ("led", b"carol"),
        ]
        assert [s.kind for s in lane.live] == ["led", "gap"]  # carol from the start, then no leader


async def test_the_state_after_the_replay_equals_a_fresh_load_at_the_first_reads_revision(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    await write_story(client, prefix, leases)
    nested = (await client.lease_grant(60)).id
    leases.append(nested)
    await client.put(candidate_key(prefix + b"e1/sub", nested), b"nested", lease=nested)

    async with LiveSession(client, prefix) as live:
        info = await loaded(live)
        truth = await truth_at(client, prefix, info.until)
        assert view(live.state) == view(truth) and len(live.state) == len(truth)


async def test_the_revision_window_reads_only_the_newest_revisions_and_says_so(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)

    async with LiveSession(client, prefix, history=HistoryLimits(revisions=4)) as live:
        info = await loaded(live)
        assert (info.older, info.first) == ("window", info.until - 3)
        assert info.text == f"history from r{info.first}; older revisions not read (the newest 4 only)"
        want = [e for e in story.entries if e[3] >= info.first]
        assert entries_of(live.state.timeline) == want
        assert view(live.state) == view(await truth_at(client, prefix, info.until))


async def test_a_session_without_history_starts_from_a_bare_first_load(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    await write_story(client, prefix, leases)

    async with LiveSession(client, prefix, history=None) as live:
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        assert list(live.state.timeline) == [] and live.cluster.history is None


async def test_the_event_bound_stops_the_replay_short_with_progress_then_goes_live(
    client: EtcdClient, prefix: bytes, leases: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    story = await write_story(client, prefix, leases)
    shown: list[str] = []  # the status line each time the session's cluster info changed
    original = LiveSession._set_cluster

    def recording(self: LiveSession, **changes: object) -> None:
        original(self, **changes)
        shown.append(status_text(self.cluster).plain)

    monkeypatch.setattr(LiveSession, "_set_cluster", recording)

    async with LiveSession(client, prefix, history=HistoryLimits(events=5)) as live:
        info = await loaded(live)
        assert info.stopped == "the bound of 5 events"
        replayed = entries_of(live.state.timeline)
        assert len(replayed) > 0 and replayed == story.entries[: len(replayed)]
        assert all(rev <= info.read for *_, rev in replayed) and info.events <= 5
        assert f"history r{info.first}–r{info.read} only (stopped by the bound of 5 events)" in info.text
        assert any("reading history: " in line for line in shown)  # progress on the status line
        assert "reading history" not in status_text(live.cluster).plain
        truth = await truth_at(client, prefix, info.until)
        assert view(live.state) == view(truth)  # the present read taken as the truth

        carol = live.state.leader(story.e1)
        assert carol is not None
        rev = (await client.put(carol.key, b"carol-2", lease=carol.lease)).revision
        await eventually(lambda: live.state.revision >= rev, timeout=BOUND, what="live after the stop")
        assert live.state.timeline[-1].revision == rev and live.state.timeline[-1].time is not None


# ---- the join: the server's own history, once, in order ---------------------------------------


async def _churn(
    client: EtcdClient, prefix: bytes, rng: random.Random, leases: list[int], stop: asyncio.Event
) -> None:
    """Random candidate writes (joins, proclaims, deletes, revokes) and noise until `stop`."""
    names = [prefix + b"a", prefix + b"b", prefix + b"a/n"]
    own = [(await client.lease_grant(60)).id for _ in range(4)]
    leases += own
    while not stop.is_set():
        lease = rng.choice(own)
        name = rng.choice(names)
        op = rng.random()
        if op < 0.45:
            await client.put(candidate_key(name, lease), b"v%d" % rng.randrange(100), lease=lease)
        elif op < 0.7:
            await client.delete(candidate_key(name, lease))
        elif op < 0.8:
            await client.lease_revoke(lease)
            own[own.index(lease)] = fresh = (await client.lease_grant(60)).id
            leases.append(fresh)
        else:
            await client.put(prefix + b"noise/%d" % rng.randrange(5), b"x")
        await asyncio.sleep(rng.random() * 0.004)


@pytest.mark.parametrize("seed", range(4))
async def test_replay_and_live_join_with_no_gap_and_no_repeat(
    client: EtcdClient, prefix: bytes, leases: list[int], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Writes race the start; every candidate event from the history's first revision on is fed
    to the model exactly once, in the server's order, across the replay and the live watch."""
    rng = random.Random(seed)
    fed: dict[int, list[Applied]] = {}
    original = ElectionState.apply

    def apply(self: ElectionState, events: Sequence[Event], revision: int, now: float) -> Changes:
        fed.setdefault(id(self), []).extend(applied(events))
        return original(self, events, revision, now)

    monkeypatch.setattr(ElectionState, "apply", apply)
    stop = asyncio.Event()
    before = asyncio.create_task(_churn(client, prefix, rng, leases, stop))
    await asyncio.sleep(0.2 + rng.random() * 0.3)  # a history to replay, still growing at start
    try:
        async with LiveSession(client, prefix) as live:
            await asyncio.sleep(rng.random() * 0.05)
            info = await loaded(live)
            await asyncio.sleep(rng.random() * 0.3)  # and writes after the first read, live
            stop.set()
            await before
            sentinel = (await client.put(prefix + SENTINEL, b"x")).revision
            log = fed.setdefault(id(live.state), [])
            await eventually(lambda: any(r == sentinel for r, _k, _t in log), timeout=BOUND, what="sentinel")
            server = await history(client, prefix, info.first, sentinel)
            assert log == server, f"history r{info.first}–r{info.until}, then live"
            assert len(set(log)) == len(log)
            assert info.events > 0 and any(r > info.until for r, _k, _t in log)  # both sides of the join
            truth = await truth_at(client, prefix, sentinel)
            assert view(live.state) == view(truth)
    finally:
        stop.set()
        await before


# ---- the views --------------------------------------------------------------------------------


async def test_the_apps_timeline_shows_the_history_dim_with_revisions_in_order(
    etcd: EmbeddedEtcd, client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)
    app = ElectionApp(ClientConfig(endpoints=tuple(etcd.endpoints)), prefix=prefix)
    async with app.run_test(size=(150, 40)) as pilot:
        await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), "the first load")
        timeline = app.query_one(Timeline)
        await until(pilot, lambda: len(timeline) == len(story.entries), "the history in the timeline")
        lines = timeline.text().splitlines()
        assert all(line.startswith("history  r") for line in lines)
        revisions = [int(rev) for rev in re.findall(r"^history  r(\d+)", "\n".join(lines), re.MULTILINE)]
        assert revisions == [rev for *_, rev in story.entries]
        assert [line.split()[2] for line in lines] == [kind for kind, *_ in story.entries]
        title = app.query_one("#timeline-panel").border_title
        assert title is not None and f"Timeline ({len(story.entries)}) · history from r" in str(title)
        await app.shutdown_session()


async def test_on_a_fresh_etcd_the_timeline_title_says_nothing_of_history() -> None:
    with EmbeddedEtcd(name="fresh") as fresh:  # revision 1: nothing happened before the app
        app = ElectionApp(ClientConfig(endpoints=tuple(fresh.endpoints)))
        async with app.run_test(size=(150, 40)) as pilot:
            await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), "the first load")
            live = app.live
            assert live is not None
            await until(pilot, lambda: live.cluster.history is not None and live.cluster.history.done, "read")
            await pilot.pause()
            assert str(app.query_one("#timeline-panel").border_title) == "Timeline (0)"
            await app.shutdown_session()


async def test_the_notebook_rows_show_history_without_a_time(
    client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)

    async with LiveSession(client, prefix) as live:
        await loaded(live)
        rows = timeline_rows(live.state.timeline, prefix)
        cluster = cluster_row(live)

    assert [(r["kind"], r["rev"]) for r in reversed(rows)] == [(k, rev) for k, _e, _v, rev in story.entries]
    assert all(r["time"] is None and r["history"] for r in rows)
    assert cluster["history"].startswith("history from r")


# ---- the command ----------------------------------------------------------------------------


def run_cli(etcd: EmbeddedEtcd, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_ENDPOINTS"] = etcd.endpoints[0]
    argv = [sys.executable, "-m", "election_tui", *args]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=BOUND, stdin=subprocess.DEVNULL
    )


async def test_history_json_prints_every_term_with_revisions(
    etcd: EmbeddedEtcd, client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)
    by = {(kind, value): rev for kind, _e, value, rev in story.entries}

    e1, e2 = await asyncio.gather(
        asyncio.to_thread(run_cli, etcd, "history", story.e1.decode(), "--json"),
        asyncio.to_thread(run_cli, etcd, "history", story.e2.decode(), "--json"),
    )

    assert e1.returncode == 0 and e1.stderr == "", e1.stderr
    record = json.loads(e1.stdout)
    assert record["name"] == story.e1.decode() and record["stopped"] is None
    assert record["history_from"] <= story.first <= story.last <= record["history_to"]
    terms = [
        (t["value"], t["last_value"], t["from_revision"], t["to_revision"], t["ended"])
        for t in record["terms"]
    ]
    assert terms == [
        ("alice", "alice-2", by["elected", b"alice"], by["elected", b"bob"], "left"),
        ("bob", "bob", by["elected", b"bob"], by["elected", b"carol"], "left"),
        ("carol", "carol", by["elected", b"carol"], None, None),
    ]
    assert record["terms"][-1]["leading"] is True
    dave = json.loads(e2.stdout)["terms"]
    assert [(t["value"], t["from_revision"], t["to_revision"], t["ended"]) for t in dave] == [
        ("dave", by["elected", b"dave"], by["left", b"dave"], "left")
    ]


async def test_history_prints_a_table_and_refuses_bad_input_with_one_line(
    etcd: EmbeddedEtcd, client: EtcdClient, prefix: bytes, leases: list[int]
) -> None:
    story = await write_story(client, prefix, leases)

    done = await asyncio.to_thread(run_cli, etcd, "history", story.e1.decode())
    bad = await asyncio.to_thread(run_cli, etcd, "history", "  ")

    assert done.returncode == 0, done.stderr
    header, columns, *rows = done.stdout.splitlines()
    assert header.startswith(f"{story.e1.decode()}: history from r")
    assert columns.split() == ["TERM", "FROM", "TO", "ENDED", "LEASE", "LEADER"]
    assert [r.split()[5:] for r in rows] == [["alice", "→", "alice-2"], ["bob"], ["carol"]]
    assert rows[-1].split()[2:4] == ["-", "leading"]
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.splitlines()) == 1
