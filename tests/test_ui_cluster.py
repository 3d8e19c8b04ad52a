"""The Cluster panel driven through Pilot on a real 3-member embedded cluster.

Keys kill, pause and restart the highlighted member; the panel and the status line must then show
what the members' own Status says. One cluster serves the module: each test brings back what it
took out, and each election lives under the test's own prefix.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from helpers import eventually, until
from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from election_tui.etcd import ClientConfig, EtcdClient
from election_tui.live import MemberControl, MemberInfo, start_embedded
from election_tui.model import LED, UNSEEN
from election_tui.sim import State
from election_tui.ui.app import ElectionApp
from election_tui.ui.status import StatusLine

SIZE = (120, 32)
BOUND = 10.0  # a member's death or return, seen by the next probe (every 0.5 s here)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def cluster() -> Iterator[MemberControl]:
    control = start_embedded(3, name="panel3")
    try:
        yield control
    finally:
        control.stop()


@pytest.fixture(autouse=True)
async def _all_members_back(cluster: MemberControl) -> AsyncIterator[None]:
    """Whatever a test took out comes back, so the next one starts on a whole cluster."""
    yield
    paused = [i for i in range(len(cluster)) if cluster.process(i) == "paused"]
    if paused:
        await cluster.resume(*paused)
    down = [i for i in range(len(cluster)) if cluster.process(i) == "stopped"]
    if down:
        await cluster.restart(*down)


def status_text(app: ElectionApp) -> str:
    content = app.query_one(StatusLine).content
    return content.plain if isinstance(content, Text) else str(content)


def row(app: ElectionApp, name: str) -> dict[str, str] | None:
    """A member's row in the Cluster panel, column by column, as drawn."""
    table = app.cluster_table
    for key in table.keys:
        if table.cell(key, "name").plain.strip(" ★") == name:
            return {c.key: table.cell(key, c.key).plain for c in table.columns}
    return None


def cell(app: ElectionApp, name: str, column: str = "state") -> str | None:
    found = row(app, name)
    return found[column] if found is not None else None


def is_down(app: ElectionApp, name: str) -> bool:
    return cell(app, name) == "down"


Driver = tuple[ElectionApp, Pilot[int], list[str]]


@contextlib.asynccontextmanager
async def dashboard(cluster: MemberControl, prefix: bytes, *, ours: bool = True) -> AsyncIterator[Driver]:
    """The app on the cluster; `ours`: started with its member control (else attached)."""
    app = ElectionApp(
        ClientConfig(endpoints=tuple(cluster.endpoints)), prefix=prefix, members=cluster if ours else None
    )
    notes: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification.message)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        app.session.status_every = 0.5
        await until(pilot, lambda: app.session.loaded.is_set(), "first load")
        await until(pilot, lambda: app.session.cluster.members_up == 3, "three members up")
        yield app, pilot, notes
        await app.shutdown_session()


async def highlight(driver: Driver, name: str) -> MemberInfo:
    """Focus the Cluster table and put its cursor on member `name`, as arrow keys would."""
    app, pilot, _ = driver
    app.cluster_table.focus()

    def on_it() -> MemberInfo | None:
        app.cluster_table.select(name)
        member = app.cluster_table.selected()
        return member if member is not None and member.name == name else None

    return await until(pilot, on_it, f"the cursor on {name}")


def raft_leader(app: ElectionApp) -> str | None:
    """The member the panel stars (None while no member that answers names one)."""
    return next((m.name for m in app.session.cluster.members if m.is_leader), None)


async def etcd_leader(cluster: MemberControl) -> int:
    """The raft leader every answering member names (their own Status), once they agree on one
    that answers too (right after a kill the others still name the dead one for a while)."""

    async def agreed() -> int | None:
        answers = [a for a in await cluster.statuses() if a is not None]
        named = {a.leader for a in answers}
        alive = {a.member_id for a in answers}
        return named.pop() if len(named) == 1 and named <= alive else None

    return await eventually(agreed, timeout=BOUND, what="the members agreeing on a raft leader")


async def test_killing_the_raft_leader_shows_it_down_the_election_keeps_its_leader_and_restart_brings_it_up(
    cluster: MemberControl, prefix: bytes
) -> None:
    async with dashboard(cluster, prefix) as driver:
        app, pilot, notes = driver
        assert app.cluster_shown  # a cluster of ours to break starts on its panel
        name = prefix + b"e"
        app.session.launch(name, "v", ttl=3, count=2)
        leader = await until(pilot, lambda: app.session.fleet.leader(name), "an election leader")
        raft = await until(pilot, lambda: raft_leader(app), "the raft leader starred")
        assert raft == app.session.cluster.leader_member
        assert cluster.names[cluster.index_of((await highlight(driver, raft)).endpoint) or 0] == raft

        killed_at = time.monotonic()
        await pilot.press("K")
        await until(pilot, lambda: cell(app, raft) == "down", "killed: down")
        await until(pilot, lambda: f"{raft} down" in status_text(app), "the status line naming it down")
        # etcd elected another raft leader; the panel stars that one, as the members say.
        new_raft = await etcd_leader(cluster)
        new_name = next(n for i, n in enumerate(cluster.names) if cluster.member_id(i) == new_raft)
        assert new_name != raft
        await until(pilot, lambda: raft_leader(app) == new_name, "the new raft leader starred")
        assert "NO QUORUM" not in status_text(app)  # two of three: quorum holds
        # The election kept its leader: its lease was renewed after the kill, its key still leads.
        keepalive = leader.keepalive
        assert keepalive is not None
        await until(pilot, lambda: keepalive.last_renewal > killed_at, "a keep-alive answered after the kill")
        assert leader.state is State.LEADER and app.session.fleet.leader(name) is leader
        async with EtcdClient(cluster.endpoints) as client:
            assert (await client.leader(name)).key == leader.key

        await pilot.press("R")
        await until(pilot, lambda: cell(app, raft) == "up", "restarted: up")
        await until(pilot, lambda: "down" not in status_text(app), "the status line clear again")
        assert any("killed" in n for n in notes) and any("restarted" in n for n in notes)


async def test_two_members_killed_say_no_quorum_and_their_restart_brings_it_back(
    cluster: MemberControl, prefix: bytes
) -> None:
    async with dashboard(cluster, prefix) as driver:
        app, pilot, _ = driver
        name = prefix + b"e"
        app.session.launch(name, "v", ttl=10)
        await until(pilot, lambda: app.session.terms.leads(name), "a term in the lanes' book")

        def lane_now() -> str:  # what the lane draws at its right edge, now
            window = app.session.terms.window(app.wall(), 60)
            assert window is not None
            return app.session.terms.lane(name, window).live[-1].kind

        assert lane_now() == LED
        raft = await until(pilot, lambda: raft_leader(app), "the raft leader starred")
        followers = [n for n in cluster.names if n != raft]
        for follower in followers:
            await highlight(driver, follower)
            await pilot.press("K")
            await until(pilot, functools.partial(is_down, app, follower), f"{follower} down")
        await until(pilot, lambda: "NO QUORUM: 1 of 3 members answer" in status_text(app), "NO QUORUM said")
        assert "NO QUORUM" in str(app.query_one("#cluster-panel").border_title)
        assert lane_now() == UNSEEN  # without a quorum nobody can prove who leads: not a bar to now
        # The one left soon names no leader at all: that is what the panel shows.
        await until(pilot, lambda: cell(app, raft, "leader") == "none", "no leader named")

        for follower in followers:
            await highlight(driver, follower)
            await pilot.press("R")
        await until(pilot, lambda: app.session.cluster.members_up == 3, "every member up again")
        await until(pilot, lambda: "NO QUORUM" not in status_text(app), "quorum back on the status line")
        await until(pilot, lambda: lane_now() != UNSEEN, "the lane known again")


async def test_pause_silences_a_member_and_the_same_key_resumes_it(
    cluster: MemberControl, prefix: bytes
) -> None:
    async with dashboard(cluster, prefix) as driver:
        app, pilot, _ = driver
        raft = await until(pilot, lambda: raft_leader(app), "the raft leader starred")
        follower = next(n for n in cluster.names if n != raft)
        await highlight(driver, follower)
        await pilot.press("P")
        await until(pilot, lambda: cell(app, follower) == "paused", "paused")
        assert f"{follower} paused" in status_text(app)
        assert cluster.process(cluster.names.index(follower)) == "paused"
        await pilot.press("P")
        await until(pilot, lambda: cell(app, follower) == "up", "resumed: up")


async def test_an_attached_cluster_is_read_only_and_the_keys_say_why(
    cluster: MemberControl, prefix: bytes
) -> None:
    async with dashboard(cluster, prefix, ours=False) as driver:
        app, pilot, notes = driver
        assert not app.cluster_shown  # attached: the Queue first
        await pilot.press("K")
        await until(
            pilot, lambda: any("press c to show the Cluster panel" in n for n in notes), "where to go"
        )
        await pilot.press("c")
        await until(pilot, lambda: app.cluster_shown and app.cluster_table.row_count == 3, "the panel shown")
        assert "read-only" in str(app.query_one("#cluster-panel").border_title)
        await highlight(driver, cluster.names[0])
        await pilot.press("K")
        await until(pilot, lambda: any("not started by this process" in n for n in notes), "why not")
        assert all(cluster.process(i) == "running" for i in range(len(cluster)))
        assert all(await cluster.statuses())  # every member still answers
        # Candidate keys in the Cluster table say that it holds members, not candidates.
        await pilot.press("x")
        await until(
            pilot, lambda: any("lists etcd members, not candidates" in n for n in notes), "not candidates"
        )
        await pilot.press("c")
        await until(pilot, lambda: not app.cluster_shown, "the Queue back")
