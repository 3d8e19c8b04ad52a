"""EtcdClient: KV, leases, watch, cluster status and the election API on one async client."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Unpack

import grpc

from ._pb import kv_pb2, rpc_pb2, v3election_pb2
from .config import ClientConfig, ConnectOptions, Endpoint, make_config
from .connection import DEFAULT, Connection, _Default
from .errors import (
    CampaignTimeout,
    EtcdError,
    EtcdTimeout,
    InvalidArgument,
    InvalidToken,
    LeaseNotFound,
    NotLeaderError,
    TransientError,
    Unavailable,
    from_rpc_error,
)
from .keepalive import KeepAlive, KeepAliveManager
from .keys import SEP, BytesLike, candidate_key, election_name, prefix_range_end, to_bytes, validate_ttl
from .retry import Backoff, reopens_stream
from .types import (
    KeyValue,
    LeaderKey,
    Lease,
    LeaseInfo,
    Member,
    PutResult,
    RangeResult,
    Status,
    TxnResult,
)
from .watch import Watch
from .witness import WITNESS_MAX_AHEAD, Witnesses

_CMP_RESULT = {"==": "EQUAL", ">": "GREATER", "<": "LESS", "!=": "NOT_EQUAL"}
_CMP_TARGET = {"version": "VERSION", "create": "CREATE", "mod": "MOD", "value": "VALUE", "lease": "LEASE"}
_CMP_FIELD = {"version": "version", "create": "create_revision", "mod": "mod_revision", "lease": "lease"}


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn condition, e.g. `Compare("create", key, "==", rev)` (etcd's fencing check)."""

    target: Literal["version", "create", "mod", "value", "lease"]
    key: BytesLike
    op: Literal["==", "!=", "<", ">"]
    operand: int | BytesLike

    def to_pb(self) -> rpc_pb2.Compare:
        cmp = rpc_pb2.Compare(
            result=_CMP_RESULT[self.op], target=_CMP_TARGET[self.target], key=to_bytes(self.key, "key")
        )
        if self.target == "value":
            if isinstance(self.operand, int):
                raise InvalidArgument("a value comparison needs str or bytes")
            cmp.value = to_bytes(self.operand)
        else:
            if not isinstance(self.operand, int):
                raise InvalidArgument(f"a {self.target} comparison needs an int")
            setattr(cmp, _CMP_FIELD[self.target], self.operand)
        return cmp


@dataclass(frozen=True, slots=True)
class Op:
    """One txn operation: `Op.put(...)`, `Op.delete(...)` or `Op.get(...)`."""

    kind: Literal["put", "delete", "get"]
    key: bytes
    value: bytes = b""
    lease: int = 0
    range_end: bytes = b""  # get or delete every key under `key` when set
    revision: int = 0  # a get reads the store as it was at this revision (0: now)
    limit: int = 0  # a get returns at most this many keys (0: all)
    keys_only: bool = False  # a get leaves the values out
    sort_by_create: bool = False  # a get returns the oldest keys (lowest create revision) first

    @classmethod
    def put(cls, key: BytesLike, value: BytesLike, lease: int = 0) -> Op:
        return cls("put", to_bytes(key, "key"), to_bytes(value), lease)

    @classmethod
    def delete(cls, key: BytesLike, *, prefix: bool = False) -> Op:
        raw = to_bytes(key, "key")
        if not prefix:
            return cls("delete", raw)
        return cls("delete", raw or b"\0", range_end=prefix_range_end(raw))

    @classmethod
    def get(
        cls,
        key: BytesLike,
        *,
        prefix: bool = False,
        end: BytesLike | None = None,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        sort_by_create: bool = False,
    ) -> Op:
        """Read a key, a prefix or the keys in [key, end); the kvs come back in `TxnResult.responses`.

        `sort_by_create` with `limit=1` reads the oldest key of a range, which under `<name>/`
        is the leader of election `name` (etcd sorts and limits inside a txn as in a Range).
        """
        raw = to_bytes(key, "key")
        if prefix and end is not None:
            raise InvalidArgument("a get reads a prefix or up to an end key, not both")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgument(f"limit must be a whole number of keys (0: all), not {limit!r}")
        if end is not None:
            range_end = to_bytes(end, "end key")
        elif prefix:
            raw, range_end = raw or b"\0", prefix_range_end(raw)
        else:
            range_end = b""
        return cls(
            "get",
            raw,
            range_end=range_end,
            revision=revision,
            limit=limit,
            keys_only=keys_only,
            sort_by_create=sort_by_create,
        )

    def to_pb(self) -> rpc_pb2.RequestOp:
        if self.kind == "put":
            return rpc_pb2.RequestOp(
                request_put=rpc_pb2.PutRequest(key=self.key, value=self.value, lease=self.lease)
            )
        if self.kind == "delete":
            return rpc_pb2.RequestOp(
                request_delete_range=rpc_pb2.DeleteRangeRequest(key=self.key, range_end=self.range_end)
            )
        request = rpc_pb2.RangeRequest(
            key=self.key,
            range_end=self.range_end,
            revision=self.revision,
            limit=self.limit,
            keys_only=self.keys_only,
        )
        if self.sort_by_create:
            request.sort_target = rpc_pb2.RangeRequest.CREATE
            request.sort_order = rpc_pb2.RangeRequest.ASCEND
        return rpc_pb2.RequestOp(request_range=request)


class EtcdClient:
    """Async etcd v3 client; `async with EtcdClient(["127.0.0.1:2379"]) as client: ...`.

    All leases share one keep-alive stream; calls fail over across `endpoints`; a user/password
    token is renewed once and the call retried when etcd says it is invalid.
    """

    def __init__(
        self, endpoints: ClientConfig | Sequence[str] | str, **options: Unpack[ConnectOptions]
    ) -> None:
        self._config = make_config(endpoints, **options)
        self._conn = Connection(self._config)
        self._keepalive = KeepAliveManager(self._conn)
        self._witnesses = Witnesses(self._conn)  # of waiting campaigns, on one watch stream
        self._chores: set[asyncio.Task[None]] = set()  # withdrawals of campaigns' keys, bounded
        # Withdrawals not yet done, by candidate key: a new campaign on the same lease writes the
        # same key at the same create revision, so no fence can tell it from the one withdrawn;
        # it waits for them instead (each is bounded by the client's timeout).
        self._withdrawing: dict[bytes, set[asyncio.Task[None]]] = {}

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop keep-alives (leases are not revoked: they expire by themselves) and close channels."""
        # A withdrawal not done yet is given up: its key goes with its lease.
        chores = list(self._chores)
        for task in chores:
            task.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        await self._witnesses.close()
        await self._keepalive.close()
        await self._conn.close()

    @property
    def config(self) -> ClientConfig:
        """The settings this client was made with (frozen: make a new client to change them)."""
        return self._config

    @property
    def timeout(self) -> float:
        """The deadline of a call that is given none, in seconds (`--command-timeout`)."""
        return self._config.command_timeout

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint that calls go to now (it moves on failover)."""
        return self._conn.endpoint

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, in failover order."""
        return list(self._conn.endpoints)

    @property
    def keepalive_connected(self) -> bool:
        """Whether the shared keep-alive stream is up (False before the first lease is kept alive)."""
        return self._keepalive.connected

    # -- KV ---------------------------------------------------------------------------------

    async def get(self, key: BytesLike, *, revision: int = 0) -> KeyValue | None:
        resp = await self._conn.unary(
            "kv.Range", rpc_pb2.RangeRequest(key=to_bytes(key, "key"), revision=revision)
        )
        kvs = resp.kvs
        return KeyValue.from_pb(kvs[0]) if kvs else None

    async def get_prefix(
        self,
        prefix: BytesLike,
        *,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        sort_by_create: bool = False,
        timeout: float | _Default | None = DEFAULT,
    ) -> RangeResult:
        raw = to_bytes(prefix, "prefix")
        request = rpc_pb2.RangeRequest(
            key=raw or b"\0",
            range_end=prefix_range_end(raw),
            revision=revision,
            limit=limit,
            keys_only=keys_only,
        )
        if sort_by_create:
            request.sort_target = rpc_pb2.RangeRequest.CREATE
            request.sort_order = rpc_pb2.RangeRequest.ASCEND
        return RangeResult.from_pb(await self._conn.unary("kv.Range", request, timeout=timeout))

    def scan_prefix(
        self,
        prefix: BytesLike,
        *,
        page: int = 1000,
        keys_only: bool = False,
        revision: int = 0,
        timeout: float | _Default | None = DEFAULT,
    ) -> AsyncGenerator[RangeResult, None]:
        """Every key under `prefix` in pages of `page` keys, all read at one revision.

        A huge prefix then never sits in memory at once. The first page fixes the revision (its
        header's, unless `revision` is given) and every later page is read at it, so the pages
        are one consistent snapshot however long the scan takes; each result's `revision` is that
        one, and its `count` says how many keys were left from its first key on. Pages come in key
        order and continue after the last key: etcd's unsorted order, since a sort on another
        target makes etcd read the whole rest of the range for every page. Keys-only pages still
        carry each key's lease and revisions. A compaction past the revision mid-scan raises
        Compacted: scan again. `timeout` bounds each page.
        """
        if isinstance(page, bool) or not isinstance(page, int) or page <= 0:
            raise InvalidArgument(f"page must be a positive number of keys, not {page!r}")
        raw = to_bytes(prefix, "prefix")
        return self._scan(raw or b"\0", prefix_range_end(raw), page, keys_only, revision, timeout)

    async def _scan(
        self,
        key: bytes,
        end: bytes,
        page: int,
        keys_only: bool,
        revision: int,
        timeout: float | _Default | None,
    ) -> AsyncGenerator[RangeResult, None]:
        while True:
            request = rpc_pb2.RangeRequest(
                key=key, range_end=end, revision=revision, limit=page, keys_only=keys_only
            )
            resp = await self._conn.unary("kv.Range", request, timeout=timeout)
            revision = revision or int(resp.header.revision)
            result = RangeResult.from_pb(resp, revision)
            del resp  # one page of messages, not two, while the caller looks at this one
            yield result
            if not result.more or not result.kvs:
                return
            key = result.kvs[-1].key + b"\0"

    async def put(
        self, key: BytesLike, value: BytesLike, *, lease: int = 0, prev_kv: bool = False
    ) -> PutResult:
        """Write a key; the result has the write's revision (and the key before, with `prev_kv`)."""
        request = rpc_pb2.PutRequest(
            key=to_bytes(key, "key"), value=to_bytes(value), lease=lease, prev_kv=prev_kv
        )
        resp = await self._conn.unary("kv.Put", request)
        prev = KeyValue.from_pb(resp.prev_kv) if resp.HasField("prev_kv") else None
        return PutResult(int(resp.header.revision), prev)

    async def delete(self, key: BytesLike, *, prefix: bool = False) -> int:
        """Delete a key (or every key under a prefix); returns how many were deleted."""
        raw = to_bytes(key, "key")
        request = rpc_pb2.DeleteRangeRequest(
            key=raw or b"\0", range_end=prefix_range_end(raw) if prefix else b""
        )
        resp = await self._conn.unary("kv.DeleteRange", request)
        return int(resp.deleted)

    async def txn(
        self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        request = rpc_pb2.TxnRequest(
            compare=[c.to_pb() for c in compare],
            success=[o.to_pb() for o in success],
            failure=[o.to_pb() for o in failure],
        )
        return TxnResult.from_pb(await self._conn.unary("kv.Txn", request))

    async def compact(self, revision: int, *, physical: bool = False) -> None:
        await self._conn.unary("kv.Compact", rpc_pb2.CompactionRequest(revision=revision, physical=physical))

    # -- leases -----------------------------------------------------------------------------

    async def lease_grant(self, ttl: int) -> Lease:
        """Grant a lease; etcd rounds TTLs below its minimum (2 s on 3.4 and 3.5) up."""
        resp = await self._conn.unary("lease.LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=validate_ttl(ttl)))
        if resp.error:
            raise EtcdError(resp.error)
        return Lease(int(resp.ID), int(resp.TTL))

    async def lease_revoke(self, lease_id: int) -> None:
        """Revoke a lease: its keys go at once. Raises LeaseNotFound if it is already gone."""
        handle = self._keepalive.get(lease_id)
        if handle is not None:
            handle.cancel()
        await self._conn.unary("lease.LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease_id))

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        """Remaining TTL as the server sees it; `ttl == -1` means expired or never granted."""
        resp = await self._conn.unary(
            "lease.LeaseTimeToLive", rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys)
        )
        return LeaseInfo(int(resp.ID), int(resp.TTL), int(resp.grantedTTL), tuple(resp.keys))

    async def leases(self) -> list[int]:
        resp = await self._conn.unary("lease.LeaseLeases", rpc_pb2.LeaseLeasesRequest())
        return [int(s.ID) for s in resp.leases]

    async def keep_alive(self, lease: Lease | int) -> KeepAlive:
        """Renew `lease` at a third of its TTL on the client's shared stream until cancelled."""
        if isinstance(lease, Lease):
            return self._keepalive.add(lease.id, lease.ttl)
        info = await self.lease_time_to_live(lease)
        if info.ttl <= 0:
            raise LeaseNotFound(f"lease {lease:x} is not alive")
        return self._keepalive.add(lease, info.granted_ttl)

    # -- watch ------------------------------------------------------------------------------

    def watch_prefix(
        self,
        prefix: BytesLike,
        start_revision: int | None = None,
        *,
        prev_kv: bool = False,
        key_filter: Callable[[bytes], bool] | None = None,
    ) -> Watch:
        """Watch every key under `prefix` (b"" = the whole keyspace); see `Watch`.

        `prev_kv` asks etcd to send each key's previous version too (more data and server work).
        `key_filter` drops the events of keys it refuses before they are decoded (etcd can only
        filter by event type, so the values still travel; they just go no further).
        """
        raw = to_bytes(prefix, "prefix")
        return Watch(
            self._conn,
            raw or b"\0",
            prefix_range_end(raw),
            start_revision,
            prev_kv=prev_kv,
            key_filter=key_filter,
        )

    def watch_key(self, key: BytesLike, start_revision: int | None = None, *, prev_kv: bool = False) -> Watch:
        return Watch(self._conn, to_bytes(key, "key"), b"", start_revision, prev_kv=prev_kv)

    # -- cluster ----------------------------------------------------------------------------

    async def status(self, endpoint_index: int | None = None, *, timeout: float | None = None) -> Status:
        """Status of the current endpoint, or of `endpoints[endpoint_index]` without failover."""
        request = rpc_pb2.StatusRequest()
        if endpoint_index is None:
            resp = await self._conn.unary("maintenance.Status", request, timeout=timeout or DEFAULT)
        else:
            stub = self._conn.stubs(endpoint_index).maintenance
            try:
                resp = await stub.Status(
                    request, timeout=timeout or self.timeout, metadata=await self._conn.metadata()
                )
            except grpc.aio.AioRpcError as err:
                raise from_rpc_error(err) from err
        return Status.from_pb(resp)

    async def member_list(self) -> list[Member]:
        resp = await self._conn.unary("cluster.MemberList", rpc_pb2.MemberListRequest())
        return [
            Member(int(m.ID), m.name, tuple(m.peerURLs), tuple(m.clientURLs), bool(m.isLearner))
            for m in resp.members
        ]

    # -- election ---------------------------------------------------------------------------

    async def campaign(
        self, name: BytesLike, lease_id: int, value: BytesLike, *, timeout: float | None = None
    ) -> LeaderKey:
        """Wait until elected leader of `name`; returns the LeaderKey that proves it.

        `timeout` bounds the wait (CampaignTimeout). A campaign that raises or is cancelled
        withdraws our candidate key, as etcd's own Campaign does; in the background, so giving
        up is never held up by an etcd that does not answer (if it never answers, the key goes
        with the lease). A campaign whose key vanished while it waited (etcd-io/etcd#19597)
        raises instead of lying: LeaseNotFound if its lease is gone (revoked or expired; at once
        if that happened before etcd's Campaign stood, else when etcd answers), NotLeaderError if
        only the key was deleted.

        Nobody to wait for costs one round trip: a Txn puts our key `<name>/<lease hex>` if it
        is absent and, in the same revision, reads the election's oldest key; if that is ours we
        lead. Otherwise the Campaign RPC waits, and its answer is checked before it is believed.
        """
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise InvalidArgument(f"campaign timeout must be a positive number of seconds, not {timeout}")
        if not lease_id:
            raise InvalidArgument(
                "campaign needs a lease: grant one with lease_grant(ttl) and keep it alive "
                "(with lease 0 the server would create an orphan lease that nobody renews)"
            )
        raw_name, raw_value = election_name(name), to_bytes(value)
        key = candidate_key(raw_name, lease_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        budget = self.timeout if timeout is None else min(timeout, self.timeout)

        async def withdraw(answered: Awaitable[rpc_pb2.TxnResponse | None]) -> None:
            # Cancelled while our Txn was on the wire, which etcd may apply all the same: when
            # its answer comes (within its deadline), withdraw the key it put or found; with no
            # answer, whatever key stands on our lease.
            answer = await answered
            await self._withdraw(
                key, lease_id, None if answer is None else _standing(answer, key, raw_value)[0]
            )

        await self._withdrawn(key)
        standing: tuple[int, bool, bytes, int | None] | None = None
        # No answer (the client failed over) or none in time: whether our key was put is
        # unknown, and the Campaign RPC, which writes the same key, settles it either way.
        with contextlib.suppress(TransientError):
            standing = _standing(
                await self._conn.unary(
                    "kv.Txn",
                    _stand_request(raw_name, key, lease_id, raw_value),
                    timeout=budget,
                    on_cancel=lambda answered: self._withdraw_later(key, withdraw(answered)),
                ),
                key,
                raw_value,
            )
        rev = older = None
        try:
            if standing is not None:
                rev, leads, current, older = standing
                if leads:
                    leader = LeaderKey(raw_name, key, rev, lease_id)
                    if current != raw_value:  # our key stood already (a retry): as etcd's Campaign
                        await self.proclaim(leader, raw_value)
                    return leader
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise CampaignTimeout(f"not elected leader of {raw_name!r} within {timeout} s")
            return await self._campaign_and_wait(
                raw_name, key, lease_id, raw_value, left, timeout, rev, older
            )
        except BaseException:
            # Cancelled, timed out, refused or a false win: leave no candidate key behind. etcd
            # withdraws the key of a Campaign RPC it saw end; this covers the one our Txn put
            # (even one whose answer never came: etcd may apply it late, from its log) and a
            # Campaign RPC that never reached the server. In the background, so that giving up
            # (a lost lease, say) is not held up by an etcd that does not answer.
            self._withdraw_later(key, self._withdraw(key, lease_id, rev))
            raise

    async def _campaign_and_wait(
        self,
        name: bytes,
        key: bytes,
        lease_id: int,
        value: bytes,
        left: float | None,
        timeout: float | None,
        rev: int | None,
        older: int | None,
    ) -> LeaderKey:
        """The Campaign RPC: etcd waits until every older key is gone; then its answer is checked.

        When our Txn put the key and counted the `older` keys (at most WITNESS_MAX_AHEAD), a
        witness watches the election's deletions meanwhile, so the check usually costs no round
        trip after the answer.
        """
        request = v3election_pb2.CampaignRequest(name=name, lease=lease_id, value=value)
        witness = (
            None
            if rev is None or not older or older > WITNESS_MAX_AHEAD
            else self._witnesses.watch(name, key, rev, older)
        )
        generation = self._conn.generation
        try:
            try:
                resp, answered_by = await self._conn.unary_from("election.Campaign", request, timeout=left)
            except EtcdTimeout as err:
                # Whichever way etcd says it (DEADLINE_EXCEEDED, or UNKNOWN "context deadline
                # exceeded" from the server's own context): the server withdrew our key.
                raise CampaignTimeout(
                    f"not elected leader of {name!r} within {timeout} s", code=err.code
                ) from err
            leader = LeaderKey.from_pb(resp.leader)
            if rev is not None and leader.rev != rev and self._conn.generation == generation:
                # Not sent again (nothing failed over), yet etcd's Campaign did not find the key
                # our Txn put or found: it was deleted in between, and Campaign put a new one. A
                # deleted candidate is out (the Campaign RPC alone has no such gap): withdraw it.
                self._withdraw_later(key, self._withdraw(key, lease_id, leader.rev))
                raise NotLeaderError(
                    f"the campaign returned, but key {key!r} no longer exists at revision {rev}: "
                    "it was deleted while the campaign began"
                )
            seen = None if witness is None else witness.verdict(leader)
            if not (await self._leads(leader, answered_by) if seen is None else seen):
                raise await self._false_win(leader)
            return leader
        finally:
            if witness is not None:
                witness.release()

    async def _false_win(self, leader: LeaderKey) -> EtcdError:
        """What to raise for a refused win: LeaseNotFound if our lease is gone, else NotLeaderError.

        A lease revoked (or expired) while its candidate waited takes the key with it, and etcd
        still answers "elected" later; a lease gone just before etcd's Campaign put the key is
        answered LeaseNotFound at once (etcd 3.4 and 3.5 alike). Both are the same loss, and the
        caller's remedy is a new lease, so both raise LeaseNotFound. A key deleted under a live
        lease is NotLeaderError: campaigning again on that lease can win. One more request, only
        on this rare path; if it fails the win is refused all the same.
        """
        where = (
            f"key {leader.key!r} no longer exists at revision {leader.rev} as the oldest of the "
            "election (it went while the campaign waited)"
        )
        with contextlib.suppress(EtcdError):
            if (await self.lease_time_to_live(leader.lease)).ttl < 0:  # -1: expired or revoked
                return LeaseNotFound(
                    f"the campaign returned, but its lease {leader.lease:x} is gone and its {where}"
                )
        return NotLeaderError(f"the campaign returned, but {where}")

    async def _leads(self, leader: LeaderKey, answered_by: int) -> bool:
        """Whether `leader.key` is the election's oldest key: etcd answered "elected" to a
        candidate whose key was already deleted (etcd-io/etcd#19597), so the answer is checked.

        The check is first a serializable Range (no consensus round) at the member that answered
        the Campaign. That member returned only after it applied the deletion of the last older
        key, and what a member has applied only grows, so its read is at or after that revision:
        a key of ours deleted while we waited is seen gone. And the read asks for the oldest key,
        not merely for ours: older keys cannot be created after ours, so "ours is the oldest" at
        any revision means we led at that revision, even from a member that lags (a restarted
        one) - a lagging read can only say "not ours". Then, before refusing the win, the same
        question is asked linearizably, of whichever endpoint the client uses now.
        """
        serializable = _oldest_request(leader.name, serializable=True)
        try:
            resp = await self._conn.unary_at(answered_by, "kv.Range", serializable)
        except EtcdError:
            pass  # that member is gone or slow: ask the cluster
        else:
            if _is_oldest(resp.kvs, leader):
                return True
        resp = await self._conn.unary("kv.Range", _oldest_request(leader.name))
        return _is_oldest(resp.kvs, leader)

    def _withdraw_later(self, key: bytes, work: Coroutine[Any, Any, None]) -> None:
        """A withdrawal of `key` in the background, owned by the client (aclose cancels what is
        left), which the next campaign for that key awaits."""
        task = asyncio.create_task(work)
        self._chores.add(task)
        pending = self._withdrawing.setdefault(key, set())
        pending.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._chores.discard(finished)
            pending.discard(finished)
            if not pending and self._withdrawing.get(key) is pending:
                del self._withdrawing[key]

        task.add_done_callback(done)

    async def _withdrawn(self, key: bytes) -> None:
        """Wait until no withdrawal of `key` is pending (each ends within the client's timeout)."""
        while pending := self._withdrawing.get(key):
            await asyncio.wait(set(pending))

    async def _withdraw(self, key: bytes, lease_id: int, rev: int | None) -> None:
        """Delete our candidate key, fenced on its create revision (on our lease if unknown).

        Best effort, within the client's timeout: if etcd cannot be reached, the key goes with
        the lease.
        """
        if rev:
            fence = rpc_pb2.Compare(result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.CREATE, key=key)
            fence.create_revision = rev
        else:
            fence = rpc_pb2.Compare(result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.LEASE, key=key)
            fence.lease = lease_id
        request = rpc_pb2.TxnRequest(
            compare=[fence],
            success=[rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key))],
        )
        with contextlib.suppress(EtcdError):
            await self._conn.unary("kv.Txn", request)

    async def proclaim(self, leader: LeaderKey, value: BytesLike) -> None:
        """Publish a new value as leader; NotLeaderError if leadership is gone."""
        request = v3election_pb2.ProclaimRequest(value=to_bytes(value))
        _leader_into(request.leader, leader)
        await self._conn.unary("election.Proclaim", request)

    async def leader(self, name: BytesLike) -> KeyValue:
        """The current leader's key and value; NoLeaderError when nobody leads."""
        resp = await self._conn.unary(
            "election.Leader", v3election_pb2.LeaderRequest(name=election_name(name))
        )
        return KeyValue.from_pb(resp.kv)

    async def resign(self, leader: LeaderKey) -> None:
        """Give up leadership (a no-op if it was already lost); the lease stays alive."""
        request = v3election_pb2.ResignRequest()
        _leader_into(request.leader, leader)
        await self._conn.unary("election.Resign", request)

    def observe(self, name: BytesLike) -> AsyncGenerator[KeyValue, None]:
        """Leader key-values of `name` as they change, resubscribing after a broken stream.

        Each (key, mod revision) is delivered once, even across resubscriptions.
        """
        return self._observe(election_name(name))

    async def _observe(self, name: bytes) -> AsyncGenerator[KeyValue, None]:
        last: tuple[bytes, int] | None = None
        backoff = Backoff(cap=2.0)
        while True:
            generation = self._conn.generation
            call = None
            metadata = None
            try:
                metadata = await self._conn.metadata()
                call = self._conn.stubs().election.Observe(
                    v3election_pb2.LeaderRequest(name=name), metadata=metadata
                )
                async for resp in call:
                    backoff.reset()
                    kv = KeyValue.from_pb(resp.kv)
                    if (kv.key, kv.mod_revision) != last:
                        last = (kv.key, kv.mod_revision)
                        yield kv
                # etcd (3.4 and 3.5) ends an Observe with status OK, no error, when the read behind
                # it fails: an expired token (or one forgotten by a restart) shows only so. Re-opened
                # with the same token it would end the same way forever: take a fresh one first.
                if metadata is not None:
                    with contextlib.suppress(TransientError):  # etcd away: the next round tries again
                        await self._conn.renew_token(metadata)
            except grpc.aio.AioRpcError as err:
                mapped = from_rpc_error(err)
                if isinstance(mapped, InvalidToken):
                    await self._conn.renew_token(metadata)
                    continue
                if not reopens_stream(mapped):
                    raise mapped from err
                if isinstance(mapped, Unavailable):
                    self._conn.failover(generation)
            finally:
                if call is not None:
                    call.cancel()
            await backoff.sleep()


def _oldest_request(name: bytes, *, serializable: bool = False) -> rpc_pb2.RangeRequest:
    """A Range of the oldest key under `<name>/`: the leader, by etcd's rule (keys only)."""
    request = rpc_pb2.RangeRequest(serializable=serializable)
    _oldest_into(request, name)
    return request


def _oldest_into(request: rpc_pb2.RangeRequest, name: bytes) -> None:
    prefix = name + SEP
    request.key = prefix
    request.range_end = prefix_range_end(prefix)
    request.limit = 1
    request.keys_only = True
    request.sort_order = rpc_pb2.RangeRequest.ASCEND
    request.sort_target = rpc_pb2.RangeRequest.CREATE


def _is_oldest(kvs: Sequence[kv_pb2.KeyValue], leader: LeaderKey) -> bool:
    return bool(kvs) and kvs[0].key == leader.key and kvs[0].create_revision == leader.rev


def _stand_request(name: bytes, key: bytes, lease_id: int, value: bytes) -> rpc_pb2.TxnRequest:
    """If our key is absent put it on our lease (as Campaign does), else read it; read the oldest.

    Built in place: a message passed to a constructor is copied, which costs more than the rest.
    """
    request = rpc_pb2.TxnRequest()
    absent = request.compare.add()
    absent.target = rpc_pb2.Compare.CREATE
    absent.key = key
    absent.create_revision = 0  # EQUAL is the default result
    put = request.success.add().request_put
    put.key, put.value, put.lease = key, value, lease_id
    _oldest_into(request.success.add().request_range, name)
    request.failure.add().request_range.key = key
    _oldest_into(request.failure.add().request_range, name)
    return request


def _standing(resp: rpc_pb2.TxnResponse, key: bytes, value: bytes) -> tuple[int, bool, bytes, int | None]:
    """From the campaign's Txn: our key's create revision, whether it is the oldest, its value,
    and how many keys are older (known only if the Txn put it: then every other key is)."""
    oldest = resp.responses[1].response_range
    if resp.succeeded:
        rev, current = int(resp.header.revision), value  # the Txn's one write: its revision
        older: int | None = int(oldest.count) - 1
    else:
        kvs = resp.responses[0].response_range.kvs
        rev, current, older = int(kvs[0].create_revision), kvs[0].value, None
    kvs = oldest.kvs
    return rev, bool(kvs) and kvs[0].key == key and kvs[0].create_revision == rev, current, older


def _leader_into(pb: v3election_pb2.LeaderKey, leader: LeaderKey) -> None:
    """Fill a request's LeaderKey in place (a message given to a constructor is copied)."""
    pb.name, pb.key, pb.rev, pb.lease = leader.name, leader.key, leader.rev, leader.lease
