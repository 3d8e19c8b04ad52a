"""The pure model against etcd itself: after any sequence of election moves, `state.leader(name)`
answers what the server's own `Leader(name)` answers, for every name, nested ones included.

Hypothesis draws short sequences of real moves (campaigns on real leases, resigns, proclaims,
withdrawn campaigns, revokes: an expiry without the wait) in elections `x`, `x/y`, `x/y/z`, `xy`
and `y`. The model is fed by a real watch of the example's prefix (ElectionState.load, then
apply). After each move the test writes a sync key under the prefix and waits until the model
has applied that revision, so it compares the model and the server at the same revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from election_tui.etcd import (
    EtcdClient,
    EtcdError,
    KeyValue,
    LeaderKey,
    LeaseNotFound,
    NoLeaderError,
    WatchCompacted,
    WatchEvents,
    WatchProgress,
    candidate_key,
)
from election_tui.model import ElectionState

NAMES = [b"x", b"x/y", b"x/y/z", b"xy", b"y"]
QUERIES = [*NAMES, b"x/", b"z"]  # not elections, but Leader() answers for them all the same
VALUES = [b"a", b"b", b"\xff[bold]"]
BOUND = 10.0  # seconds for anything the server or the watch owes us, on a loaded machine
TTL = 60  # leases outlive an example; each is revoked at its end

Move = tuple[object, ...]
MOVES = st.one_of(
    st.tuples(st.just("campaign"), st.sampled_from(NAMES), st.sampled_from(VALUES)),
    st.tuples(st.just("campaign"), st.sampled_from(NAMES), st.sampled_from(VALUES)),
    st.tuples(st.just("resign"), st.integers(0, 15)),
    st.tuples(st.just("proclaim"), st.integers(0, 15), st.sampled_from(VALUES)),
    st.tuples(st.just("withdraw"), st.integers(0, 15)),
    st.tuples(st.just("revoke"), st.integers(0, 15)),
)
_examples = itertools.count()


@dataclass
class Runner:
    """One of our campaigns: its lease, its key, and the task waiting to be elected."""

    name: bytes
    lease: int
    key: bytes
    task: asyncio.Task[LeaderKey]
    alive: bool = True

    @property
    def leader(self) -> LeaderKey | None:
        """The LeaderKey if etcd has answered "elected" (and we have not left since)."""
        task = self.task
        if not self.alive or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()


class Follower:
    """The model, fed by a watch of the prefix exactly as the dashboard feeds it."""

    def __init__(self, client: EtcdClient, prefix: bytes) -> None:
        self.client = client
        self.prefix = prefix
        self.state = ElectionState()
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Follower:
        snapshot = await self.client.get_prefix(self.prefix)
        self.state.load(snapshot.kvs, snapshot.revision, 0.0)
        self._task = asyncio.create_task(self._follow(snapshot.revision + 1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _follow(self, start: int) -> None:
        async with self.client.watch_prefix(self.prefix, start) as watch:
            async for item in watch:
                if isinstance(item, WatchEvents):
                    self.state.apply(item.events, item.revision, 0.0)
                elif isinstance(item, WatchProgress):
                    self.state.apply((), item.revision, 0.0)
                elif isinstance(item, WatchCompacted):
                    raise AssertionError("nobody compacts the shared etcd during this test")
                self._advanced.set()

    async def caught_up(self, revision: int) -> None:
        async with asyncio.timeout(BOUND):
            while self.state.revision < revision:
                assert self._task is not None and not self._task.done(), "the watch ended"
                self._advanced.clear()
                await self._advanced.wait()


def _same(model: object, server: KeyValue | None) -> bool:
    if model is None or server is None:
        return model is None and server is None
    fields = ("key", "value", "lease", "create_revision", "mod_revision")
    return all(getattr(model, f) == getattr(server, f) for f in fields)


async def _server_leader(client: EtcdClient, name: bytes) -> KeyValue | None:
    try:
        return await client.leader(name)
    except NoLeaderError:
        return None


async def _until_key(client: EtcdClient, key: bytes, present: bool) -> None:
    async with asyncio.timeout(BOUND):
        while True:
            if (await client.get(key) is not None) == present:
                return
            await asyncio.sleep(0.01)


async def _settle(runners: list[Runner], state: ElectionState) -> None:
    """Wait until each candidate that now leads its election has heard so from its Campaign.

    Only then is the next move's choice of "a leader" the same on every run.
    """
    heads = [r for r in runners if r.alive and (lead := state.leader(r.name)) and lead.key == r.key]
    async with asyncio.timeout(BOUND):
        for runner in heads:
            await asyncio.wait({runner.task})
            assert runner.leader is not None, f"{runner.key!r} leads but its campaign failed"


async def _play(client: EtcdClient, prefix: bytes, moves: list[Move]) -> None:
    runners: list[Runner] = []
    leases: list[int] = []
    sync_key = prefix + b"~sync"  # under the watched prefix, under no election's `name/`
    async with Follower(client, prefix) as follower:
        try:
            for step, move in enumerate(moves):
                live = [r for r in runners if r.alive]
                leaders = [r for r in live if r.leader is not None]
                waiting = [r for r in live if not r.task.done()]
                kind = move[0]
                if kind == "campaign":
                    _, short, value = move
                    name = prefix + short  # type: ignore[operator]
                    lease = (await client.lease_grant(TTL)).id
                    leases.append(lease)
                    task = asyncio.create_task(client.campaign(name, lease, value))  # type: ignore[arg-type]
                    runner = Runner(name, lease, candidate_key(name, lease), task)
                    runners.append(runner)
                    await _until_key(client, runner.key, present=True)  # its Campaign has written
                elif kind == "resign" and leaders:
                    runner = leaders[move[1] % len(leaders)]  # type: ignore[operator]
                    await client.resign(runner.leader)  # type: ignore[arg-type]
                    runner.alive = False
                elif kind == "proclaim" and leaders:
                    runner = leaders[move[1] % len(leaders)]  # type: ignore[operator]
                    await client.proclaim(runner.leader, move[2])  # type: ignore[arg-type]
                elif kind == "withdraw" and waiting:
                    runner = waiting[move[1] % len(waiting)]  # type: ignore[operator]
                    runner.task.cancel()  # the server deletes the key of a cancelled Campaign
                    runner.alive = False
                    await _until_key(client, runner.key, present=False)
                elif kind == "revoke" and live:
                    runner = live[move[1] % len(live)]  # type: ignore[operator]
                    await client.lease_revoke(runner.lease)  # what expiry does, without the wait
                    runner.alive = False
                else:
                    continue
                await follower.caught_up((await client.put(sync_key, str(step))).revision)
                state = follower.state
                for short in QUERIES:
                    name = prefix + short
                    server = await _server_leader(client, name)
                    model = state.leader(name)
                    assert _same(model, server), f"after {moves[: step + 1]}: Leader({short!r})"
                    queue = await client.get_prefix(name + b"/", sort_by_create=True, keys_only=True)
                    assert [c.key for c in state.candidates(name)] == [kv.key for kv in queue.kvs]
                assert set(state.names()) == {r.name for r in runners if r.alive}
                await _settle(runners, state)
        finally:
            for runner in runners:
                runner.task.cancel()
            await asyncio.gather(*(r.task for r in runners), return_exceptions=True)
            for lease in leases:
                with contextlib.suppress(LeaseNotFound, EtcdError):
                    await client.lease_revoke(lease)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same sequences on every run and machine: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=st.lists(MOVES, min_size=3, max_size=14))
async def test_model_leader_matches_the_servers_leader(
    client: EtcdClient, prefix: bytes, moves: list[Move]
) -> None:
    # One prefix per example: examples share the function-scoped fixtures.
    await _play(client, prefix + b"%d/" % next(_examples), moves)


async def test_a_nested_hand_over_matches_the_server(client: EtcdClient, prefix: bytes) -> None:
    """The case worth spelling out: `x` is led by a candidate of `x/y` that came first."""
    moves: list[Move] = [
        ("campaign", b"x/y", b"a"),
        ("campaign", b"x", b"b"),
        ("campaign", b"x/y/z", b"a"),
        ("proclaim", 0, b"b"),
        ("resign", 0),
        ("revoke", 0),
        ("campaign", b"xy", b"a"),
        ("withdraw", 0),
    ]
    await _play(client, prefix, moves)
