"""The dashboard shows what etcd says: no invented ages, no blank or stale TTL cells.

Each test runs the app on the shared etcd and asserts on the cells after the change came back
through the watch, polling with a bounded `until`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

from helpers import until
from rich.text import Text
from textual.pilot import Pilot

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import ClientConfig, EtcdClient, LeaseNotFound, candidate_key
from election_tui.ui.app import ElectionApp
from election_tui.ui.render import ttl_bar

BOUND = 8.0
Driver = tuple[ElectionApp, Pilot[int]]


@contextlib.asynccontextmanager
async def running(etcd: EmbeddedEtcd, prefix: bytes) -> AsyncIterator[Driver]:
    app = ElectionApp(ClientConfig(endpoints=tuple(etcd.endpoints)), prefix=prefix)
    async with app.run_test(size=(160, 32)) as pilot:
        await until(pilot, lambda: app.live is not None and app.live.loaded.is_set(), "the first load")
        yield app, pilot
        await app.shutdown_session()


@contextlib.asynccontextmanager
async def external_candidate(client: EtcdClient, name: bytes, value: bytes) -> AsyncIterator[tuple[int, int]]:
    """A candidate key written as Campaign would, by another client: (lease, create revision)."""
    lease = (await client.lease_grant(30)).id
    try:
        revision = (await client.put(candidate_key(name, lease), value, lease=lease)).revision
        yield lease, revision
    finally:
        with contextlib.suppress(LeaseNotFound):
            await client.lease_revoke(lease)


def changed(app: ElectionApp, name: bytes) -> str | None:
    return app.elections.cell(name, "changed").plain if name in app.elections else None


async def test_an_election_from_before_the_start_shows_its_leaders_revision_not_an_age(
    etcd: EmbeddedEtcd, client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"old"
    async with (
        external_candidate(client, name, b"a") as (lease, revision),  # before the app starts
        running(etcd, prefix) as (app, pilot),
    ):
        await until(pilot, lambda: changed(app, name), "the election listed")
        assert changed(app, name) == f"r{revision} before start"
        await until(pilot, lambda: app.elections.cell(name, "ttl").plain.strip() not in ("", "…"), "a TTL")
        assert changed(app, name) == f"r{revision} before start"  # ticks leave it be
        await client.put(candidate_key(name, lease), b"b", lease=lease)  # proclaimed: seen happening
        age = await until(pilot, lambda: re.fullmatch(r"\d+s", changed(app, name) or ""), "an age")
        assert int(age.group(0)[:-1]) <= BOUND


async def test_queue_ttl_cells_are_filled_at_once_when_it_is_rebuilt(
    etcd: EmbeddedEtcd, client: EtcdClient, prefix: bytes
) -> None:
    name = prefix + b"q"
    async with running(etcd, prefix) as (app, pilot):
        live = app.session
        async with external_candidate(client, name, b"theirs") as (theirs, _):
            (ours,) = live.launch(name, "ours", 5)
            await until(pilot, lambda: app.queue.election == name and app.queue.row_count == 2, "the queue")
            await until(
                pilot, lambda: all(live.ttls(app.clock())(lease) for lease in app.queue.leases()), "TTLs"
            )
            view = live.state.election(name)
            assert view is not None and ours.key is not None
            ttl = live.ttls(app.clock())
            app.queue.show(view, {ours.key: ours}, ttl)  # a rebuild, as after any change
            cells = dict(
                zip(app.queue.leases(), (app.queue.cell(k, "ttl") for k in app.queue.keys), strict=True)
            )
            assert set(cells) == {theirs, ours.lease_id}
            assert all(isinstance(c, Text) and c.plain.strip() not in ("", "…") for c in cells.values())
            assert str(cells[theirs]) == ttl_bar(ttl(theirs)).plain  # etcd's word, held: "≥29s"
            assert re.search(r" \d+\.\ds$", str(cells[ours.lease_id]))  # our keep-alive's countdown
