"""The first read of a prefix at any size: keys only in pages, then the values of candidates alone.

One Range of a whole prefix, values included, costs about three times the prefix in memory;
most of it may be data that no election owns. So the keys are read in pages at one revision
(`EtcdClient.scan_prefix`), keys that Campaign did not write are forgotten page by page, and
the values of the candidate keys are read at that same revision in a few transactions, one
Range per run of candidate keys that are neighbours in key order. Memory then follows the
number of candidates, not the size of the keyspace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..etcd import Compacted, EtcdClient, KeyValue, Op, RangeResult, parse_candidate_key

# Keys per keys-only Range. etcd counts every key left in the range for each page (its `count`),
# so small pages cost O(keys^2 / page) on the server: at 200,000 keys 2,000 a page takes 3.7 s,
# 10,000 a page 1.4 s, one Range 1.0 s. A page of keys alone is ~2 MB here.
PAGE = 10_000
VALUES_PER_TXN = 1000  # candidate values read in one Txn (they are in memory anyway after)
TXN_OPS = 128  # etcd's default --max-txn-ops
TXN_INFLIGHT = 4  # value Txns in flight at once
ATTEMPTS = 3  # scans started before a compaction that keeps outrunning them is raised

Progress = Callable[[int, int], None]  # (keys read so far, keys under the prefix)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The candidate keys under a prefix at `revision`, values included, and what reading cost."""

    kvs: tuple[KeyValue, ...]
    revision: int
    keys: int  # keys under the prefix (candidates or not)
    pages: int  # keys-only Ranges of the last scan
    fetches: int  # transactions that read candidate values
    restarts: int = 0  # scans started again after a compaction


@dataclass(slots=True)
class _Run:
    """Candidate keys with no other key between them: one Range reads exactly their values."""

    first: bytes
    last: bytes
    count: int


async def read_candidates(
    client: EtcdClient,
    prefix: bytes,
    *,
    page: int = PAGE,
    progress: Progress | None = None,
    revision: int = 0,
) -> Snapshot:
    """Every candidate key under `prefix` with its value, at one revision; see the module doc.

    A compaction that overtakes the scan starts it again at a newer revision (Compacted after
    `ATTEMPTS` tries), unless `revision` asks for a past one: then Compacted is raised at once.
    `progress` hears after each page.
    """
    for attempt in range(ATTEMPTS):
        try:
            snapshot = await _read(client, prefix, page, progress, revision)
        except Compacted:
            if revision or attempt == ATTEMPTS - 1:
                raise
            continue
        return replace(snapshot, restarts=attempt)
    raise AssertionError("unreachable")


async def _read(client: EtcdClient, prefix: bytes, page: int, progress: Progress | None, at: int) -> Snapshot:
    runs: list[_Run] = []
    revision = keys = pages = total = 0
    follows = False  # the key before this one was a candidate: a run may grow
    async for result in client.scan_prefix(prefix, page=page, keys_only=True, revision=at):
        if not pages:
            revision, total = result.revision, result.count
        pages += 1
        for kv in result.kvs:
            if parse_candidate_key(kv.key, kv.lease) is None:
                follows = False
            elif follows and runs[-1].count < VALUES_PER_TXN:
                runs[-1].last = kv.key
                runs[-1].count += 1
            else:
                runs.append(_Run(kv.key, kv.key, 1))
                follows = True
        keys += len(result.kvs)
        if progress is not None:
            progress(keys, max(total, keys))
    batches = _batches(runs)
    del runs
    kvs: list[KeyValue] = []
    limit = asyncio.Semaphore(TXN_INFLIGHT)

    async def fetch(batch: list[_Run]) -> None:
        ops = [Op.get(run.first, end=run.last + b"\0", revision=revision) for run in batch]
        async with limit:
            answer = await client.txn((), ops)
        for response in answer.responses:
            assert isinstance(response, RangeResult)
            # Only candidates lie inside a run at this revision; the check costs next to nothing.
            kvs.extend(kv for kv in response.kvs if parse_candidate_key(kv.key, kv.lease) is not None)

    # Every fetch ends before this returns or raises (e.g. Compacted): none is left running.
    failed = [e for e in await asyncio.gather(*map(fetch, batches), return_exceptions=True) if e]
    if failed:
        raise failed[0]
    return Snapshot(tuple(kvs), revision, keys, pages, len(batches))


def _batches(runs: list[_Run]) -> list[list[_Run]]:
    """Runs grouped into transactions of at most TXN_OPS Ranges and VALUES_PER_TXN keys."""
    out: list[list[_Run]] = []
    keys = 0
    for run in runs:
        if not out or keys + run.count > VALUES_PER_TXN or len(out[-1]) >= TXN_OPS:
            out.append([])
            keys = 0
        out[-1].append(run)
        keys += run.count
    return out
