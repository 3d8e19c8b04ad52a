"""A prefix full of data no election owns: read in pages, candidate values only, nothing else kept.

The keyspace here is small enough for a test (5,000 keys of 2 KB, read 500 keys a page) but is
laid out like a real one: data beside the elections and inside their directories, and keys that
look like candidates without being ones (no lease, another lease). Every non-candidate value holds
one marker, so "never read, never held" can be checked byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import secrets
import subprocess
import sys
import threading
import tracemalloc
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from helpers import eventually

import election_tui.live.session as session_module
from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    Compare,
    EtcdClient,
    Event,
    KeyValue,
    LeaseNotFound,
    Op,
    RangeResult,
    TxnResult,
    candidate_key,
    may_be_candidate_key,
    parse_candidate_key,
)
from election_tui.live import ClusterInfo, LiveSession, Progress, Snapshot, read_candidates
from election_tui.model import CandidateKey, ElectionState
from election_tui.ui.status import status_text

KEYS = 5_000
PAGE = 500
VALUE_SIZE = 2_000
ELECTIONS = 20
BOUND = 20.0


@dataclass(frozen=True, slots=True)
class Keyspace:
    prefix: bytes
    marker: bytes  # in every non-candidate value, and nowhere else
    candidates: int
    revision: int


def truth_of(kvs: Sequence[KeyValue], revision: int) -> dict[bytes, tuple[CandidateKey, ...]]:
    """Every election and its whole queue, as ElectionState sees a full read."""
    state = ElectionState()
    state.load(kvs, revision, 0.0)
    return {name: state.candidates(name) for name in state.names()}


def view_of(state: ElectionState) -> dict[bytes, tuple[CandidateKey, ...]]:
    return {name: state.candidates(name) for name in state.names()}


async def one_range_truth(
    client: EtcdClient, prefix: bytes, revision: int
) -> dict[bytes, tuple[CandidateKey, ...]]:
    """What the old way (one Range, values and all) makes of the prefix at `revision`."""
    whole = await client.get_prefix(prefix, revision=revision)
    return truth_of(whole.kvs, revision)


async def _write(client: EtcdClient, prefix: bytes, marker: bytes, leases: list[int]) -> tuple[int, int]:
    """Fill the prefix; the marked values are made here and die with this frame."""
    blob = (marker + b"-" * VALUE_SIZE)[:VALUE_SIZE]
    puts: list[Op] = []
    for e, lease in enumerate(leases[: ELECTIONS * 3]):
        name = prefix + b"e%02d" % (e // 3)
        puts.append(Op.put(candidate_key(name, lease), b"cand-%d" % e, lease))
    nested = prefix + b"e00/sub"
    puts.append(Op.put(candidate_key(nested, leases[-2]), b"nested", leases[-2]))
    candidates = len(puts)
    # Candidate-shaped keys that are not candidates: no lease, or another key's lease.
    puts.append(Op.put(prefix + b"e01/1f", blob))
    puts.append(Op.put(candidate_key(prefix + b"e02", leases[-1] + 1), blob, leases[-1]))
    n = len(puts)
    for i in range(KEYS - n):
        where = prefix + (b"e%02d/blob%05d" % (i % ELECTIONS, i) if i % 2 else b"data/%05d" % i)
        puts.append(Op.put(where, blob))
    revision = 0
    for start in range(0, len(puts), 100):
        revision = (await client.txn((), puts[start : start + 100])).revision
    return candidates, revision


@pytest.fixture
async def keyspace(client: EtcdClient, prefix: bytes) -> AsyncIterator[Keyspace]:
    marker = b"NOT-A-CANDIDATE-" + secrets.token_hex(8).encode()
    leases = [(await client.lease_grant(120)).id for _ in range(ELECTIONS * 3 + 2)]
    try:
        candidates, revision = await _write(client, prefix, marker, leases)
        yield Keyspace(prefix, marker, candidates, revision)
    finally:
        for lease in leases:
            with contextlib.suppress(LeaseNotFound):
                await client.lease_revoke(lease)
        await client.delete(prefix, prefix=True)


class Recording(EtcdClient):
    """An EtcdClient that remembers every key-value its reading calls returned."""

    def __init__(self, endpoints: list[str]) -> None:
        super().__init__(endpoints)
        self.read: list[KeyValue] = []
        self.scanned_pages = 0

    def scan_prefix(self, prefix: Any, **options: Any) -> AsyncGenerator[RangeResult, None]:
        pages = super().scan_prefix(prefix, **options)

        async def recorded() -> AsyncGenerator[RangeResult, None]:
            async for page in pages:
                self.scanned_pages += 1
                self.read += page.kvs
                yield page

        return recorded()

    async def get_prefix(self, prefix: Any, **options: Any) -> RangeResult:
        result = await super().get_prefix(prefix, **options)
        self.read += result.kvs
        return result

    async def txn(
        self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        result = await super().txn(compare, success, failure)
        self.read += (kv for r in result.responses if isinstance(r, RangeResult) for kv in r.kvs)
        return result


def marked_objects(marker: bytes) -> list[object]:
    """Live objects that hold a value with `marker`: key-values, events, candidates, lists.

    The garbage collector sees these kinds always; a tuple or dict of bytes alone it stops
    tracking, so the decisive checks are elsewhere (what was read; what the model was fed).
    """
    found: list[object] = []
    gc.collect()
    for obj in gc.get_objects():
        if isinstance(obj, KeyValue | CandidateKey):
            values: Any = (obj.value,)
        elif isinstance(obj, Event):
            values = (obj.kv.value, obj.prev_kv.value if obj.prev_kv else b"")
        elif isinstance(obj, list | deque | set):
            values = obj
        else:
            continue
        if any(isinstance(v, bytes) and marker in v for v in values):
            found.append(obj)
    return found


# -- the paged read ------------------------------------------------------------------------


async def test_a_paged_read_finds_what_one_range_finds(client: EtcdClient, keyspace: Keyspace) -> None:
    heard: list[tuple[int, int]] = []

    snapshot = await read_candidates(client, keyspace.prefix, page=PAGE, progress=lambda *p: heard.append(p))

    assert (snapshot.keys, snapshot.pages, snapshot.restarts) == (KEYS, KEYS // PAGE, 0)
    assert heard == [(n, KEYS) for n in range(PAGE, KEYS + 1, PAGE)]
    assert len(snapshot.kvs) == keyspace.candidates
    assert snapshot.revision >= keyspace.revision
    truth = await one_range_truth(client, keyspace.prefix, snapshot.revision)
    assert truth_of(snapshot.kvs, snapshot.revision) == truth
    assert len(truth) == ELECTIONS + 1  # e00/sub too; the look-alike keys made no election


async def test_only_candidate_values_are_read_in_one_transaction(
    endpoints: list[str], keyspace: Keyspace
) -> None:
    client = Recording(endpoints)
    async with client:
        snapshot = await read_candidates(client, keyspace.prefix, page=PAGE)

    assert client.scanned_pages == KEYS // PAGE and snapshot.fetches == 1
    with_values = [kv for kv in client.read if kv.value]
    assert all(parse_candidate_key(kv.key, kv.lease) is not None for kv in with_values)
    assert len(with_values) == keyspace.candidates
    assert not any(keyspace.marker in kv.value for kv in client.read)


async def test_the_paged_read_allocates_a_fraction_of_what_one_range_does(
    client: EtcdClient, keyspace: Keyspace
) -> None:
    """Python's own allocations while reading: the paged read must not follow the data's size."""

    async def peak(read: Any) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            await read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    paged = await peak(lambda: read_candidates(client, keyspace.prefix, page=PAGE))
    whole = await peak(lambda: client.get_prefix(keyspace.prefix))

    assert whole > KEYS * VALUE_SIZE  # the old way holds every value at once
    assert paged < whole / 10, (paged, whole)


# -- the live session ----------------------------------------------------------------------


async def test_the_session_loads_in_pages_shows_progress_and_keeps_no_other_value(
    client: EtcdClient, keyspace: Keyspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed: list[bytes] = []  # keys of every event the model was given
    original_apply = ElectionState.apply

    def apply(self: ElectionState, events: Sequence[Event], revision: int, now: float) -> Any:
        fed.extend(e.kv.key for e in events)
        return original_apply(self, events, revision, now)

    monkeypatch.setattr(ElectionState, "apply", apply)
    shown: list[tuple[int, int] | None] = []

    async def watched_read(client: EtcdClient, prefix: bytes, *, page: int, progress: Progress) -> Snapshot:
        def heard(read: int, total: int) -> None:
            progress(read, total)
            shown.append(live.cluster.loading)  # what the status line would show now

        return await read_candidates(client, prefix, page=page, progress=heard)

    monkeypatch.setattr(session_module, "read_candidates", watched_read)
    prefix, marker = keyspace.prefix, keyspace.marker
    async with LiveSession(client, prefix, page=PAGE) as live:
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        assert shown == [(n, KEYS) for n in range(PAGE, KEYS + 1, PAGE)]
        assert live.cluster.loading is None
        assert view_of(live.state) == await one_range_truth(client, prefix, live.state.revision)
        assert marked_objects(marker) == []

        # Live: a marked write on data, one on a candidate-shaped key, then a candidate change.
        await client.put(prefix + b"data/00001", marker + b"-live")
        await client.put(prefix + b"e03/abc", marker + b"-shaped")  # no lease: not a candidate
        leader = live.state.leader(prefix + b"e05")
        assert leader is not None
        rev = (await client.put(leader.key, b"proclaimed", lease=leader.lease)).revision
        await eventually(lambda: live.state.revision >= rev, timeout=BOUND, what="the proclaim applied")
        assert live.state.leader(prefix + b"e05") == replace(leader, value=b"proclaimed", mod_revision=rev)
        assert prefix + b"data/00001" not in fed  # dropped by the watch, undecoded
        assert prefix + b"e03/abc" in fed  # could have been a candidate: the model decides
        assert marked_objects(marker) == []


def test_the_status_line_shows_a_full_read_in_progress() -> None:
    text = status_text(ClusterInfo(endpoint="127.0.0.1:2379", loading=(120_000, 200_000))).plain

    assert "reading keys: 120,000 / 200,000…" in text
    assert "reading" not in status_text(ClusterInfo(endpoint="127.0.0.1:2379")).plain


def test_only_keys_a_lease_could_make_candidates_pass_the_watch_filter() -> None:
    for key, lease in [(b"a/1f", 0x1F), (b"a/b/7fffffffffffffff", (1 << 63) - 1), (b"/1", 1)]:
        assert parse_candidate_key(key, lease) is not None and may_be_candidate_key(key)
    for key in [b"a", b"a/", b"a/01f", b"a/1F", b"a/1g", b"a/8000000000000000", b"a/0", b"a/1_f", b"a/ 1"]:
        assert not may_be_candidate_key(key), key
    for _ in range(2000):  # any lease's key passes: no candidate's event is ever dropped
        lease = secrets.randbelow((1 << 63) - 1) + 1
        assert may_be_candidate_key(candidate_key(b"x/" + secrets.token_bytes(3), lease))


# -- list ----------------------------------------------------------------------------------


def run_list(env: dict[str, str], prefix: bytes, *, tty: bool) -> tuple[str, bytes]:
    """`election-tui list --json` to completion (bounded); stdout, and stderr as raw bytes."""
    argv = [sys.executable, "-m", "election_tui", "list", "--prefix", prefix.decode(), "--json"]
    if not tty:
        done = subprocess.run(
            argv, env=env, capture_output=True, timeout=BOUND, check=True, stdin=subprocess.DEVNULL
        )
        return done.stdout.decode(), done.stderr
    master, slave = os.openpty()
    err = bytearray()

    def drain() -> None:
        with contextlib.suppress(OSError):  # EIO once the child has closed its end
            while chunk := os.read(master, 4096):
                err.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=BOUND,
            check=True,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(slave)
        reader.join(BOUND)
        os.close(master)
    return done.stdout.decode(), bytes(err)


async def test_list_reads_in_pages_and_shows_progress_only_on_a_terminal(
    client: EtcdClient, keyspace: Keyspace, etcd: EmbeddedEtcd
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_ENDPOINTS"] = etcd.endpoints[0]

    (plain_out, plain_err), (tty_out, tty_err) = await asyncio.gather(
        asyncio.to_thread(run_list, env, keyspace.prefix, tty=False),
        asyncio.to_thread(run_list, env, keyspace.prefix, tty=True),
    )

    assert plain_err == b""
    assert b"\rreading keys: 5,000 / 5,000\xe2\x80\xa6" in tty_err and tty_err.endswith(b"\r\x1b[K")
    plain, shown = json.loads(plain_out), json.loads(tty_out)
    assert plain["elections"] == shown["elections"]
    truth = await one_range_truth(client, keyspace.prefix, plain["revision"])
    rows = {row["name"].encode(): (row["candidates"], row["leader"]) for row in plain["elections"]}
    assert rows == {name: (len(queue), queue[0].value.decode()) for name, queue in truth.items()}
