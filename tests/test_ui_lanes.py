"""Who led when (`w`), driven through Pilot on a real etcd: the key shows it, a hand-over shows.

The lanes follow the session's terms, which follow the watch: a resign comes back as the old
leader's bar ending where the new one's begins, on the row of the election selected.
"""

from __future__ import annotations

from helpers import until
from test_ui import invoke, launched, leader_of, running, select_leader, type_text

from election_tui.embedded import EmbeddedEtcd
from election_tui.model import LED
from election_tui.ui.timeline import Timeline

SPAN = 20.0  # seconds: a term of a second or two is a bar wide enough for its label


async def test_w_shows_who_led_when_and_a_resign_as_two_bars_on_the_selected_election(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        name, _ = await launched(driver, "e1", 2)
        lanes = app.lanes
        lanes.span = SPAN
        await pilot.press("w")
        panel = app.query_one("#timeline-panel")
        await until(pilot, lambda: lanes.display and not app.query_one(Timeline).display, what="the lanes")
        await until(pilot, lambda: str(panel.border_title).startswith("Who led when"), what="their title")
        assert app.screen.has_class("lanes")

        old = await select_leader(driver, name)
        old_key, first = old.key, f" #{old.id} {old.value.decode()}"  # ours: numbered

        def row() -> str:
            return lanes.row_text(name) or ""

        # Wider than its label: the column of the hand-over will be the new leader's.
        await until(pilot, lambda: first + "  " in row(), what="the first leader's bar and label")
        await invoke(driver, "resign", "key")
        new = await until(pilot, lambda: (c := leader_of(app, name)) is not old and c, what="a new leader")
        second = f" #{new.id} {new.value.decode()}"
        await until(pilot, lambda: second in row(), what="the second leader's bar")
        shown = row()
        assert shown.startswith("▶ ") and lanes.selected == name  # the selected election is marked
        assert shown.index(first) < shown.index(second) and "no leader" not in shown
        window = app.session.terms.window(app.wall(), SPAN)
        assert window is not None
        led = [s for s in app.session.terms.lane(name, window).live if s.kind == LED]
        assert [s.term.key for s in led if s.term] == [old_key, new.key]
        assert led[0].end == led[1].start  # the hand-over: one revision, no gap

        await pilot.press("slash")  # the live filter applies to the lanes too
        await type_text(driver, "no-such-election")
        await until(pilot, lambda: lanes.rows == [], what="the lanes filtered out")
        await pilot.press("escape")
        await until(pilot, lambda: lanes.rows == [(name, False)], what="the lanes back")

        await pilot.press("w")
        await until(pilot, lambda: app.query_one(Timeline).display and not lanes.display, what="the timeline")
        assert str(panel.border_title).startswith("Timeline")


async def test_back_from_the_lanes_the_timeline_still_follows_the_newest_entry(
    etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    async with running(etcd, prefix) as driver:
        app, pilot = driver
        timeline = app.query_one(Timeline)
        name, _ = await launched(driver, "e1", 2)  # fewer entries than the panel has rows
        await pilot.press("w")
        await until(pilot, lambda: not timeline.display, what="the lanes in its place")
        shown = len(timeline)
        app.session.launch(name, "late", 5, count=12)  # news while hidden, past the panel's rows
        await until(pilot, lambda: len(timeline) >= shown + 12, what="the news taken while hidden")
        await pilot.press("w")
        await until(pilot, lambda: timeline.display and timeline.size.height > 0, what="the timeline back")
        await until(
            pilot,
            lambda: timeline.max_scroll_y > 0 and timeline.scroll_offset.y == timeline.max_scroll_y,
            what="the timeline at its newest entry",
        )
