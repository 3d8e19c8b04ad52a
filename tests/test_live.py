"""The live session that several views follow: each view's feed sees every change, none steals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers import eventually

from election_tui.etcd import EtcdClient
from election_tui.live import Feed, Frame, LiveSession
from election_tui.live.feed import TIMELINE_LIMIT
from election_tui.model import LED, UNSEEN, TimelineEntry
from election_tui.sim import Fleet, State, TcpProxy

BOUND = 10.0


@pytest.fixture
async def session(client: EtcdClient, prefix: bytes) -> AsyncIterator[LiveSession]:
    async with LiveSession(client, prefix) as live:
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        yield live


class Collected:
    """Everything one view took from its feed, frame after frame."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.elections: set[bytes] = set()
        self.kinds: list[tuple[str, bytes]] = []

    def take(self) -> Frame:
        frame = self.feed.take()
        self.elections |= frame.elections
        self.kinds += [(e.kind, e.key) for e in frame.timeline]
        return frame

    def has(self, kind: str, key: bytes) -> bool:
        """Take a frame, then say whether `kind` for `key` was ever seen."""
        self.take()
        return (kind, key) in self.kinds


async def test_two_views_each_see_every_change(session: LiveSession, prefix: bytes) -> None:
    tui, widget = Collected(session.follow()), Collected(session.follow())
    name = prefix + b"shared"
    (cand,) = session.launch(name, "v", 5)
    await cand.wait_for(State.LEADER, timeout=BOUND)
    assert cand.key is not None

    # The TUI takes often, the widget once: both end with the same story.
    key = cand.key
    await eventually(lambda: tui.has("elected", key), timeout=BOUND, what="the tui told")
    await eventually(lambda: widget.has("elected", key), timeout=BOUND, what="the widget told")
    assert name in tui.elections and name in widget.elections
    assert tui.kinds == widget.kinds


async def test_a_new_view_starts_with_a_full_redraw(session: LiveSession, prefix: bytes) -> None:
    (cand,) = session.launch(prefix + b"early", "v", 5)
    await cand.wait_for(State.LEADER, timeout=BOUND)
    late = session.follow()
    assert late.take().reset  # it draws what exists from the state, not from old changes


async def test_a_closed_view_is_no_longer_fed_nor_its_leases_polled(
    session: LiveSession, prefix: bytes
) -> None:
    stays, goes = session.follow(), session.follow()
    stays.show_leases([1, 2])
    goes.show_leases([2, 3])
    assert session.shown_leases == [1, 2, 3]  # each once, in the order the views gave them
    goes.close()
    assert session.shown_leases == [1, 2]
    goes.take()
    (cand,) = session.launch(prefix + b"after-close", "v", 5)
    await cand.wait_for(State.LEADER, timeout=BOUND)
    await eventually(lambda: bool(stays.take().timeline), timeout=BOUND, what="the open view fed")
    assert not goes.take()


def test_a_view_that_never_takes_stays_bounded() -> None:
    feed = Feed(lambda _feed: None)
    entries = [TimelineEntry("joined", b"e", b"e/%x" % i, b"", i, i, 0.0) for i in range(3 * TIMELINE_LIMIT)]
    for i in range(0, len(entries), 100):
        feed.add([b"e"], entries[i : i + 100], reset=False)
    frame = feed.take()
    assert len(frame.timeline) == TIMELINE_LIMIT
    assert list(frame.timeline) == entries[-TIMELINE_LIMIT:]  # the newest, in order
    assert frame.elections == {b"e"}


async def test_a_stale_leaders_belief_is_kept_from_stale_until_it_learns(
    session: LiveSession, prefix: bytes
) -> None:
    name = prefix + b"stale"
    cands = session.launch(name, "v", 2, count=2)
    # Each candidate has its own link: which one campaigns first is not the launch order.
    leader = await eventually(lambda: session.fleet.leader(name), timeout=BOUND, what="a leader")
    assert leader in cands
    key = leader.key
    assert key is not None
    session.toggle_pause(leader)  # a partition: its lease runs out, it believes it still leads
    await leader.wait_for(State.STALE, timeout=BOUND)
    (belief,) = session.beliefs.of(name)
    assert (belief.key, belief.until) == (key, None)
    await eventually(  # etcd expires its key: the other candidate leads
        lambda: (now := session.state.leader(name)) is not None and now.key != key,
        timeout=BOUND,
        what="the next leader",
    )

    session.toggle_pause(leader)  # healed: it learns it lost
    await leader.wait_for(State.LOST, timeout=BOUND)
    (belief,) = session.beliefs.of(name)
    assert belief.until is not None and belief.until >= belief.since
    window = session.terms.window(session.wall(), 60)
    assert window is not None
    (overlap,) = session.terms.lane(name, window, session.beliefs.of(name)).stale
    assert overlap.term is not None and overlap.term.key == key
    assert overlap.end == belief.until  # from etcd's delete of its key to when it learned


async def test_while_the_watch_is_down_the_lane_shows_not_known_up_to_now(
    client: EtcdClient, endpoints: list[str], prefix: bytes
) -> None:
    name = prefix + b"dark"
    address = endpoints[0].removeprefix("http://")
    async with (
        Fleet(client) as fleet,
        TcpProxy(address) as proxy,
        EtcdClient([proxy.address]) as through,
        LiveSession(through, prefix, history=None) as live,
    ):
        await eventually(live.loaded.is_set, timeout=BOUND, what="the first load")
        await fleet.launch(name, "v", 5).wait_for(State.LEADER, timeout=BOUND)
        await eventually(lambda: live.terms.leads(name), timeout=BOUND, what="the term seen")

        def last(now: float) -> str:
            window = live.terms.window(now, 60)
            assert window is not None
            return live.terms.lane(name, window).live[-1].kind

        assert last(live.wall()) == LED
        await proxy.refuse()  # the session's connection drops: it cannot know who leads now
        await eventually(lambda: live.cluster.connection != "connected", timeout=BOUND, what="down")
        assert last(live.wall()) == UNSEEN  # not a solid bar up to now
        await proxy.pass_through()
        await eventually(lambda: live.cluster.connection == "connected", timeout=BOUND, what="back")
        await eventually(lambda: last(live.wall() + 0.01) == LED, timeout=BOUND, what="known again")
