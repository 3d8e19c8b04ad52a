"""What the status line shows of the cluster: our endpoint, the connection, raft, members."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from ..etcd import EtcdClient, EtcdError
from .history import HistoryInfo

ConnectionState = Literal["connecting", "connected", "reconnecting", "stale"]


@dataclass(frozen=True, slots=True)
class MemberInfo:
    name: str
    endpoint: str
    up: bool
    is_leader: bool = False


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


async def probe_members(client: EtcdClient, names: dict[int, str], leader: int) -> tuple[MemberInfo, ...]:
    """Each endpoint's own Status (no failover), so a down member shows as down."""
    if len(client.endpoints) < 2:
        return ()

    async def probe(i: int) -> MemberInfo:
        endpoint = str(client.endpoints[i])
        try:
            status = await client.status(i, timeout=1.0)
        except EtcdError:
            return MemberInfo(endpoint, endpoint, up=False)
        name = names.get(status.member_id, endpoint)
        return MemberInfo(name, endpoint, up=True, is_leader=status.member_id == leader)

    return tuple(await asyncio.gather(*(probe(i) for i in range(len(client.endpoints)))))
