"""The election recipe: a lease session, and the leader-election pattern on top of it.

`LeaseSession` is Go's `concurrency.Session`: one lease, its keep-alive, and a signal when it is
lost. `LeaderElection` is the seed docs' `EtcdLeaderElection` done right: it notices when
leadership is lost (lease lost, key deleted or replaced, connection gone past the TTL) instead
of assuming it lasts, writes only through a transaction fenced on the leader key's create
revision, and leaves nothing behind when it resigns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

from .client import Compare, EtcdClient, Op
from .errors import CampaignTimeout, EtcdError, LeaseNotFound, NoLeaderError, NotLeaderError
from .keepalive import KeepAlive
from .keys import BytesLike, election_name, to_bytes, validate_ttl
from .types import EventType, KeyValue, LeaderKey, Lease, WatchCompacted, WatchEvents

LossCallback = Callable[[str], None]


class LeaseSession:
    """A granted lease kept alive until `close()`, which revokes it; `lost` says if it died first.

    `await LeaseSession.open(client, ttl)`, or `async with await LeaseSession.open(...)`.
    `revoke_via`: the client that revokes the lease (default: `client`). One whose own path to
    etcd may be cut (a partitioned simulator) gives a healthy one, so closing stays prompt.
    """

    def __init__(
        self, client: EtcdClient, lease: Lease, keepalive: KeepAlive, *, revoke_via: EtcdClient | None = None
    ) -> None:
        self.client = client
        self.lease = lease
        self.keepalive = keepalive
        self.revoker = revoke_via or client

    @classmethod
    async def open(
        cls, client: EtcdClient, ttl: int, *, revoke_via: EtcdClient | None = None
    ) -> LeaseSession:
        """Grant a lease and start renewing it; a cancellation never leaves the lease behind."""
        revoker = revoke_via or client
        grant = asyncio.ensure_future(client.lease_grant(validate_ttl(ttl)))
        try:
            lease = await asyncio.shield(grant)
        except asyncio.CancelledError:
            # Cancelled while the grant was on the wire: it may still land, so wait for it
            # and revoke it, or the lease would outlive us by a whole TTL.
            with contextlib.suppress(EtcdError, TimeoutError):
                orphan = await asyncio.wait_for(grant, client.timeout)
                await revoker.lease_revoke(orphan.id)
            raise
        return cls(client, lease, await client.keep_alive(lease), revoke_via=revoker)

    async def __aenter__(self) -> LeaseSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def lease_id(self) -> int:
        return self.lease.id

    @property
    def alive(self) -> bool:
        """Still renewed and not known to be lost."""
        return self.keepalive.active

    @property
    def lost(self) -> bool:
        return self.keepalive.lost

    def on_lost(self, callback: LossCallback) -> None:
        """Call `callback(reason)` once if the lease is lost (not when we close it)."""
        self.keepalive.on_lost(lambda handle: callback(handle.loss_reason or "lost"))

    async def wait_lost(self) -> str:
        return await self.keepalive.wait_lost()

    async def close(self) -> None:
        """Stop renewing and revoke: the lease's keys go at once (a gone lease is not an error)."""
        self.keepalive.cancel()
        with contextlib.suppress(LeaseNotFound):
            await self.revoker.lease_revoke(self.lease.id)


class LeaderElection:
    """One participant in election `name`; `async with` resigns and revokes on exit.

    `revoke_via`: the client its lease is revoked with (see `LeaseSession`; default `client`).
    """

    def __init__(
        self,
        client: EtcdClient,
        name: BytesLike,
        value: BytesLike,
        ttl: int = 10,
        *,
        revoke_via: EtcdClient | None = None,
    ) -> None:
        self.client = client
        self.revoker = revoke_via or client
        self.name = election_name(name)
        self.value = to_bytes(value)
        self.ttl = validate_ttl(ttl)
        self.session: LeaseSession | None = None
        self.leader_key: LeaderKey | None = None
        self.loss_reason: str | None = None
        self._lost = asyncio.Event()
        self._callbacks: list[LossCallback] = []
        self._guard: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaderElection:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.resign()

    @property
    def lease(self) -> Lease | None:
        return self.session.lease if self.session is not None else None

    @property
    def keepalive(self) -> KeepAlive | None:
        return self.session.keepalive if self.session is not None else None

    @property
    def is_leader(self) -> bool:
        return self.leader_key is not None and not self._lost.is_set()

    # -- becoming leader --------------------------------------------------------------------

    async def ensure_session(self) -> LeaseSession:
        """Our lease session, opened once and reused by later campaigns while it lives."""
        if self.session is None or not self.session.alive:
            self.session = await LeaseSession.open(self.client, self.ttl, revoke_via=self.revoker)
            self.session.on_lost(lambda reason: self._mark_lost(f"lease lost: {reason}"))
        return self.session

    async def campaign(self, timeout: float | None = None) -> LeaderKey:
        """Wait to be elected; raises CampaignTimeout, or LeaseNotFound if our lease dies first."""
        session = await self.ensure_session()
        self._lost.clear()
        self.loss_reason = None
        campaign = asyncio.create_task(
            self.client.campaign(self.name, session.lease_id, self.value, timeout=timeout)
        )
        lease_lost = asyncio.create_task(session.wait_lost())
        try:
            await asyncio.wait({campaign, lease_lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (campaign, lease_lost):
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease_lost
        if not campaign.done() or campaign.cancelled():
            with contextlib.suppress(asyncio.CancelledError, EtcdError):
                await campaign
            raise LeaseNotFound(f"our lease was lost while campaigning ({session.keepalive.loss_reason})")
        self.leader_key = campaign.result()
        self._guard = asyncio.create_task(self._guard_key(self.leader_key), name="leader-guard")
        return self.leader_key

    async def try_become_leader(self, timeout: float | None = None) -> bool:
        """Campaign for at most `timeout` s; on failure nothing is left behind (lease revoked)."""
        try:
            await self.campaign(timeout)
        except (CampaignTimeout, LeaseNotFound, NotLeaderError):
            await self._release_lease()
            return False
        return True

    # -- being leader -----------------------------------------------------------------------

    def _require_leader(self) -> LeaderKey:
        """Our last leader key, even if we fear it is lost: etcd, not our belief, decides."""
        if self.leader_key is None:
            raise NotLeaderError(self.loss_reason or "not the leader")
        return self.leader_key

    async def proclaim(self, value: BytesLike) -> None:
        leader = self._require_leader()
        try:
            await self.client.proclaim(leader, value)
        except NotLeaderError:
            self._mark_lost("proclaim refused: key gone or replaced")
            raise
        self.value = to_bytes(value)

    async def guarded_put(self, key: BytesLike, value: BytesLike) -> int:
        """Write only while our leader key still has our create revision (etcd's fencing token).

        Returns the write's revision; raises NotLeaderError, and marks leadership lost, if the
        key is gone or was re-created, so a stale leader can never write.
        """
        leader = self._require_leader()
        result = await self.client.txn(
            [Compare("create", leader.key, "==", leader.rev)], [Op.put(key, value)]
        )
        if not result.succeeded:
            self._mark_lost("fenced write refused: our leader key is gone")
            raise NotLeaderError(f"write to {to_bytes(key)!r} refused: no longer the leader")
        return result.revision

    async def current_leader(self) -> KeyValue | None:
        try:
            return await self.client.leader(self.name)
        except NoLeaderError:
            return None

    # -- losing and leaving -----------------------------------------------------------------

    def on_lost(self, callback: LossCallback) -> None:
        """Call `callback(reason)` when leadership (or the lease) is lost, not on our own resign."""
        self._callbacks.append(callback)

    async def wait_lost(self) -> str:
        await self._lost.wait()
        return self.loss_reason or "lost"

    def _mark_lost(self, reason: str) -> None:
        if self._lost.is_set():
            return
        self.loss_reason = reason
        self._lost.set()
        for callback in list(self._callbacks):
            callback(reason)

    async def _guard_key(self, leader: LeaderKey) -> None:
        """Watch our own key from its creation: deleted or re-created means we lost."""
        start = leader.rev
        while not self._lost.is_set():
            async with self.client.watch_key(leader.key, start_revision=start) as watch:
                async for item in watch:
                    if isinstance(item, WatchCompacted):
                        # Resume from the oldest revision kept, not leader.rev again: that one
                        # stays compacted, and watching it would re-read the key forever.
                        start = item.compact_revision
                        break
                    if not isinstance(item, WatchEvents):
                        continue
                    for event in item.events:
                        if event.type is EventType.DELETE:
                            self._mark_lost("leader key deleted")
                            return
                        if event.kv.create_revision != leader.rev:
                            self._mark_lost("leader key replaced")
                            return
            current = await self.client.get(leader.key)  # after compaction: look directly
            if current is None or current.create_revision != leader.rev:
                self._mark_lost("leader key gone")
                return

    async def _stop_guard(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            with contextlib.suppress(asyncio.CancelledError, EtcdError):
                await self._guard
            self._guard = None

    async def _release_lease(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    async def crash(self) -> None:
        """Simulate a crash: the lease is revoked at once, without resigning first."""
        await self._stop_guard()
        self.leader_key = None
        await self._release_lease()

    async def resign(self) -> None:
        """Resign if leading, stop the keep-alive and revoke the lease: nothing is left behind."""
        await self._stop_guard()
        leader, self.leader_key = self.leader_key, None
        try:
            if leader is not None and not self._lost.is_set():
                with contextlib.suppress(LeaseNotFound):
                    await self.client.resign(leader)
        finally:
            await self._release_lease()
