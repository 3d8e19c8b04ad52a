"""The members of an embedded cluster, for views and drills to break: kill, pause, resume, restart.

Only a cluster this process started can be broken: its members are our own child processes,
signalled by the PIDs we started them with. An attached cluster has no `MemberControl`, so its
members are read-only everywhere. `start_embedded(members)` is the one way the CLI and the
notebook start such a cluster; the caller stops it (`stop()`), and members die with their
parent process whatever happens (see `election_tui.embedded`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from ..etcd import InvalidArgument, Status, parse_endpoint

if TYPE_CHECKING:
    from ..embedded import EmbeddedEtcd, EmbeddedMember

MEMBER_COUNTS = (1, 3, 5)
ProcessState = Literal["running", "paused", "stopped"]
ATTACHED = (
    "this cluster was not started by this process (attached with --endpoints, or served): "
    "its members are read-only here; start election-tui with --members 3 for a cluster to break"
)
_STATUS_TIMEOUT = 0.5  # a paused member never answers: do not wait on it for long
# How long a restart waits for the member to know a raft leader before it returns anyway (it may
# find none: no quorum). Short, so that no thread of ours holds up a quit: etcd says the rest.
RESTART_WAIT = 2.0


class MemberError(Exception):
    """A member action that cannot be done now, in words for the user."""


def members_problem(count: object) -> str | None:
    """Why `count` cannot be the size of an embedded cluster (None: it can)."""
    if isinstance(count, bool) or not isinstance(count, int) or count not in MEMBER_COUNTS:
        # Raft needs a majority: 4 members tolerate one failure, like 3; 2 tolerate none, like 1.
        return "1, 3 or 5 (an odd count: an even one adds a member but tolerates no more failures)"
    return None


def start_embedded(members: int = 1, *, name: str = "election-tui") -> MemberControl:
    """Start an embedded cluster of `members` (1, 3 or 5) and return its control (blocking).

    Raises ValueError for another count, EmbeddedEtcdError when etcd cannot start.
    """
    problem = members_problem(members)
    if problem is not None:
        raise ValueError(f"an embedded cluster has {problem}, not {members!r}")
    from ..embedded import EmbeddedEtcd

    etcd = EmbeddedEtcd(members, name=name)
    etcd.start()
    return MemberControl(etcd)


class MemberControl:
    """The members of one `EmbeddedEtcd`, by index, with actions that never block the loop.

    Each action runs on a thread (a kill waits for the process to go, a restart for the member
    to know a raft leader); a member busy with one action refuses another until it is done.
    """

    def __init__(self, etcd: EmbeddedEtcd) -> None:
        self.etcd = etcd
        self._members: list[EmbeddedMember] = etcd.members
        self._busy: set[int] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._members)

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self._members]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self._members)

    def member_id(self, index: int) -> int | None:
        """etcd's id of member `index` (known once it has answered Status)."""
        return self._members[index].member_id

    def index_of(self, endpoint: str) -> int | None:
        """Which member serves `endpoint` (any form our client accepts), if one of ours does."""
        try:
            wanted = parse_endpoint(endpoint)
        except InvalidArgument:
            return None
        for i, member in enumerate(self._members):
            if member.client_port == wanted.port and wanted.host in ("127.0.0.1", "localhost"):
                return i
        return None

    def process(self, index: int) -> ProcessState:
        """What our own process table says of member `index` (not what etcd says)."""
        member = self._members[index]
        if member.is_paused:
            return "paused"
        return "running" if member.is_running else "stopped"

    # -- etcd's own answers -----------------------------------------------------------------

    async def status(self, index: int, timeout: float = _STATUS_TIMEOUT) -> Status | None:
        """Member `index`'s own Status on a fresh connection (None: it did not answer)."""
        import grpc

        member = self._members[index]
        try:
            reply = await asyncio.to_thread(member.status, timeout)
        except grpc.RpcError:
            return None
        return Status.from_pb(reply)

    async def statuses(self, timeout: float = _STATUS_TIMEOUT) -> list[Status | None]:
        """Every member's own Status, asked at once."""
        return list(await asyncio.gather(*(self.status(i, timeout) for i in range(len(self)))))

    # -- actions ----------------------------------------------------------------------------

    async def kill(self, *indices: int) -> None:
        """SIGKILL: a crash; the member's data stays for a restart."""
        await self._each(indices, "kill", self._kill)

    async def pause(self, *indices: int) -> None:
        """SIGSTOP: alive but silent, like a hung machine (resume undoes it)."""
        await self._each(indices, "pause", self._pause)

    async def resume(self, *indices: int) -> None:
        await self._each(indices, "resume", self._resume)

    async def restart(self, *indices: int, wait: float = RESTART_WAIT) -> None:
        """Start again on the same data dir and ports; returns once each knows a raft leader,
        or after `wait` s while it runs without one (no quorum yet: its Status will say so).

        Several restart at once: one alone could wait for a quorum the others bring.
        """
        await self._each(indices, "restart", lambda m: self._restart(m, wait))

    def _kill(self, member: EmbeddedMember) -> None:
        if not member.is_running:
            raise MemberError(f"{member.name} is down already: restart it instead")
        member.kill()

    def _pause(self, member: EmbeddedMember) -> None:
        if member.is_paused:
            raise MemberError(f"{member.name} is paused already")
        if not member.is_running:
            raise MemberError(f"{member.name} is down: there is no process to pause")
        member.pause()

    def _resume(self, member: EmbeddedMember) -> None:
        if not member.is_paused:
            raise MemberError(f"{member.name} is not paused")
        member.resume()

    def _restart(self, member: EmbeddedMember, wait: float) -> None:
        from ..embedded import EmbeddedEtcdError

        try:
            member.restart(wait)
        except EmbeddedEtcdError as err:
            if not member.is_running:  # it exited: say why (the error carries its log's tail)
                raise MemberError(f"{member.name} did not come back: {err}") from None

    async def _each(
        self, indices: Sequence[int], verb: str, action: Callable[[EmbeddedMember], None]
    ) -> None:
        if self._closed:
            raise MemberError("the embedded cluster is stopping")
        busy = [self._members[i].name for i in indices if i in self._busy]
        if busy:
            raise MemberError(f"{', '.join(busy)}: another action is still running, try again")
        self._busy.update(indices)
        try:
            runs: list[Awaitable[None]] = [asyncio.to_thread(action, self._members[i]) for i in indices]
            results = await asyncio.gather(*runs, return_exceptions=True)
        finally:
            self._busy.difference_update(indices)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    # -- the end ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every member (paused and killed ones too) and remove the data (blocking)."""
        self._closed = True
        self.etcd.stop()

    def kill_all(self) -> None:
        """SIGKILL every member now: the last resort of a process that must end at once."""
        self._closed = True
        self.etcd.kill()
