"""What the views show of the cluster: our endpoint, the connection, raft, and each member.

Every member figure is that member's own Status answer (asked on its endpoint, no failover),
so a member that is down shows as down and a member that disagrees about the raft leader shows
that too. Only whether a process is paused or stopped comes from us, and only for members of
an embedded cluster this process started (`MemberControl`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..etcd import EtcdClient, EtcdError, InvalidArgument, Member, Status, parse_endpoint
from .history import HistoryInfo
from .members import ProcessState

ConnectionState = Literal["connecting", "connected", "reconnecting", "stale"]
MemberState = Literal["up", "paused", "silent", "down", "unknown"]
_PROBE_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One member as its own Status answered (or did not) on the last probe."""

    name: str
    endpoint: str
    up: bool  # it answered Status just now
    is_leader: bool = False  # the raft leader, as the members that answer name it
    member_id: int = 0
    leader_id: int = 0  # whom this member names as raft leader (0: nobody, an election runs)
    leader_name: str | None = None
    raft_term: int | None = None
    raft_index: int | None = None
    db_size: int | None = None
    error: str | None = None  # why it did not answer
    process: ProcessState | None = None  # ours only (an embedded member); None: not ours
    probed: bool = True  # False: a member of the cluster that none of our endpoints reaches

    @property
    def state(self) -> MemberState:
        """up (it answers), paused (ours, SIGSTOPped), silent (ours, running, no answer: e.g.
        restarted without a quorum to rejoin), down (no answer), unknown (not probed)."""
        if self.up:
            return "up"
        if self.process == "paused":
            return "paused"
        if self.process == "running":
            return "silent"
        return "down" if self.probed else "unknown"


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """A frozen snapshot: the session replaces it whole, views read it."""

    endpoint: str
    connection: ConnectionState = "connecting"
    revision: int = 0
    leader_member: str | None = None
    members: tuple[MemberInfo, ...] = ()
    error: str | None = None
    version: str = ""
    loading: tuple[int, int] | None = None  # (keys read, keys in the prefix) while a full read runs
    history: HistoryInfo | None = None  # the start's history read: its progress, then how far it reaches
    # Whether a majority of the members answer (None: not known, e.g. only some are probed).
    quorum: bool | None = None
    embedded: bool = False  # the members are ours to kill, pause and restart

    @property
    def members_up(self) -> int:
        return sum(m.up for m in self.members)


def _same_endpoint(url: str, endpoint: str) -> bool:
    try:
        a, b = parse_endpoint(url), parse_endpoint(endpoint)
    except InvalidArgument:
        return False
    return (a.host, a.port) == (b.host, b.port)


def _member_of(roster: Sequence[Member], endpoint: str, status: Status | None) -> Member | None:
    if status is not None:
        found = next((m for m in roster if m.id == status.member_id), None)
        if found is not None:
            return found
    return next((m for m in roster if any(_same_endpoint(u, endpoint) for u in m.client_urls)), None)


def agreed_leader(members: Sequence[MemberInfo]) -> int:
    """The raft leader most answering members name (0: none names one)."""
    votes = Counter(m.leader_id for m in members if m.up and m.leader_id)
    return votes.most_common(1)[0][0] if votes else 0


def quorum_of(members: Sequence[MemberInfo]) -> bool | None:
    """Whether a majority answers: known only when every member is probed (else None)."""
    if not members:
        return None
    up = sum(m.up for m in members)
    if all(m.probed for m in members):
        return up > len(members) // 2
    return None


async def probe_members(
    client: EtcdClient,
    roster: Sequence[Member],
    process: Callable[[str], ProcessState | None] = lambda endpoint: None,
) -> tuple[MemberInfo, ...]:
    """Each endpoint's own Status (no failover), so a down member shows as down.

    Rows follow our endpoints; members of `roster` (MemberList) that none of them reaches are
    listed after, unprobed. `process(endpoint)` says what we know of a process that is ours.
    """

    async def probe(i: int) -> tuple[str, Status | None, str | None]:
        endpoint = str(client.endpoints[i])
        try:
            return endpoint, await client.status(i, timeout=_PROBE_TIMEOUT), None
        except EtcdError as err:
            return endpoint, None, str(err)

    answers = await asyncio.gather(*(probe(i) for i in range(len(client.endpoints))))
    rows: list[MemberInfo] = []
    seen: set[int] = set()
    for endpoint, status, error in answers:
        member = _member_of(roster, endpoint, status)
        if member is not None:
            seen.add(member.id)
        name = member.name if member is not None and member.name else endpoint
        if status is None:
            rows.append(
                MemberInfo(
                    name,
                    endpoint,
                    up=False,
                    member_id=member.id if member is not None else 0,
                    error=error,
                    process=process(endpoint),
                )
            )
            continue
        rows.append(
            MemberInfo(
                name,
                endpoint,
                up=True,
                member_id=status.member_id,
                leader_id=status.leader,
                raft_term=status.raft_term,
                raft_index=status.raft_index,
                db_size=status.db_size,
                process=process(endpoint),
            )
        )
    for member in roster:
        if member.id not in seen:
            url = member.client_urls[0] if member.client_urls else ""
            rows.append(MemberInfo(member.name or format(member.id, "x"), url, up=False, probed=False))
    names = {m.id: m.name for m in roster}
    leader = agreed_leader(rows)
    return tuple(
        replace(
            row,
            is_leader=row.up and bool(leader) and row.member_id == leader,
            leader_name=names.get(row.leader_id, format(row.leader_id, "x")) if row.leader_id else None,
        )
        for row in rows
    )
