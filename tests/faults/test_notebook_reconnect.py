"""The notebook widget says when etcd is lost, and recovers by itself when it is back."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("anywidget", reason="the notebook extra is not installed: pip install -e '.[notebook]'")

from helpers import eventually

from election_tui import notebook
from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import EtcdClient


async def test_the_widget_says_the_connection_is_lost_and_recovers_after_a_restart(
    own_etcd: EmbeddedEtcd,
) -> None:
    dash = await notebook.start(endpoints=own_etcd.endpoints)
    try:
        widget = dash.widget()
        async with EtcdClient(own_etcd.endpoints) as client:
            lease = await client.lease_grant(60)
            await client.put(b"before/%x" % lease.id, b"v", lease=lease.id)
            await eventually(lambda: widget.election_count == 1, timeout=10, what="the election shows")
            member = own_etcd.members[0]
            await asyncio.to_thread(member.kill)
            await eventually(
                lambda: widget.cluster["connection"] != "connected" and widget.cluster["error"],
                timeout=15,
                what="the widget says the connection is lost",
            )
            await asyncio.to_thread(member.restart)
            lease = await client.lease_grant(60)
            await client.put(b"after/%x" % lease.id, b"w", lease=lease.id)
            await eventually(
                lambda: widget.cluster["connection"] == "connected" and widget.election_count == 2,
                timeout=20,
                what="the widget recovers by itself and shows what changed meanwhile",
            )
    finally:
        await dash.close()
