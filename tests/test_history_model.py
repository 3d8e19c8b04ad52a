"""History replayed through the pure model: entries without times, terms, a stop short, the texts."""

from __future__ import annotations

import pytest

from election_tui.etcd import Event, EventType, KeyValue, candidate_key
from election_tui.live import HistoryInfo
from election_tui.live.history import no_history, split_at, whole_revisions
from election_tui.model import UNKNOWN, ElectionState, TermLog, TimelineEntry
from election_tui.ui.timeline import LINE_WIDTH, entry_text

NOW = 1_000.0
A, B, C = 0xA1, 0xB2, 0xC3


def put(name: bytes, lease: int, value: bytes, create: int, mod: int | None = None) -> Event:
    key = candidate_key(name, lease)
    return Event(EventType.PUT, KeyValue(key, value, create, mod or create, 1, lease))


def delete(name: bytes, lease: int, rev: int) -> Event:
    return Event(EventType.DELETE, KeyValue(candidate_key(name, lease), b"", 0, rev, 0, 0))


def replayed(*events: Event, until: int, baseline: tuple[KeyValue, ...] = (), at: int = 1) -> ElectionState:
    """A state loaded at `at`, told that changes up to `until` are history, fed `events` one by one."""
    state = ElectionState()
    state.load(baseline, at, NOW)
    state.mark_history(until)
    for event in events:
        state.apply([event], event.revision, NOW)
    return state


def test_changes_up_to_the_history_mark_have_revisions_and_no_time() -> None:
    state = replayed(put(b"e", A, b"alice", 2), put(b"e", B, b"bob", 3), delete(b"e", A, 4), until=3)

    got = [(e.kind, e.value, e.revision, e.time, e.history) for e in state.timeline]

    assert got == [
        ("elected", b"alice", 2, None, True),
        ("joined", b"bob", 3, None, True),
        ("left", b"alice", 4, NOW, False),  # after the mark: seen live, with this process's time
        ("elected", b"bob", 4, NOW, False),
    ]


def test_an_election_elected_in_history_knows_the_revision_but_not_the_time() -> None:
    state = replayed(put(b"e", A, b"alice", 2), put(b"e", A, b"alice-2", 2, 3), until=10)

    view = state.election(b"e")

    assert view is not None
    assert (view.elected_revision, view.elected_time) == (2, None)
    assert (view.last_change_revision, view.last_change_time) == (3, None)
    assert [e.kind for e in state.history(b"e")] == ["elected", "proclaimed"]


def test_rebase_takes_the_present_as_truth_and_keeps_what_was_replayed() -> None:
    state = replayed(put(b"e", A, b"alice", 2), put(b"e", B, b"bob", 3), until=9)
    replayed_entries = list(state.timeline)
    present = (put(b"e", C, b"carol", 8).kv, put(b"f", B, b"bob-f", 7).kv)

    changes = state.rebase(present, 9)

    assert changes.reset and changes.timeline == () and changes.elections == {b"e", b"f"}
    assert list(state.timeline) == replayed_entries  # nothing invented for r4..r9
    assert state.revision == 9
    e = state.election(b"e")
    assert e is not None and e.leader is not None and e.leader.value == b"carol"
    assert (e.terms, e.elected_revision, e.elected_time) == (1, None, None)  # like a first load
    assert [x.kind for x in state.history(b"e")] == ["elected", "joined"]  # its replayed history stays
    assert state.candidate(candidate_key(b"e", A)) is None


def test_a_replay_equals_a_load_of_the_same_revision() -> None:
    events = [
        put(b"e", A, b"alice", 2),
        put(b"e", B, b"bob", 3),
        put(b"e/sub", C, b"carol", 4),
        put(b"e", A, b"alice-2", 2, 5),
        delete(b"e", A, 6),
    ]
    state = replayed(*events, until=6)
    fresh = ElectionState()
    fresh.load((put(b"e", B, b"bob", 3).kv, put(b"e/sub", C, b"carol", 4).kv), 6, NOW)

    assert state.names() == fresh.names()
    assert all(state.candidates(n) == fresh.candidates(n) for n in fresh.names())


# ---- terms ------------------------------------------------------------------------------


def test_terms_say_who_led_from_which_revision_to_which_and_how_it_ended() -> None:
    state = ElectionState()
    state.load((), 1, NOW)
    log = TermLog(b"e", None)
    for event in (
        put(b"e", A, b"alice", 2),
        put(b"e", B, b"bob", 3),
        put(b"e", A, b"alice-2", 2, 4),
        delete(b"e", A, 5),
        delete(b"e", B, 6),
        put(b"e", C, b"carol", 7),
    ):
        if event.kv.key == candidate_key(b"e", B) and event.type is EventType.DELETE:
            state.expect_removal(event.kv.key, "expired")
        log.add(state.apply([event], event.revision, NOW).timeline)

    got = [(t.value, t.last_value, t.start, t.end, t.ended, t.leading) for t in log.terms]

    assert got == [
        (b"alice", b"alice-2", 2, 5, "left", False),
        (b"bob", b"bob", 5, 6, "expired", False),  # then no leader from r6 to r7
        (b"carol", b"carol", 7, None, None, True),
    ]


def test_a_term_under_way_where_the_history_begins_has_no_start() -> None:
    base = put(b"e", A, b"alice", 2).kv
    state = replayed(until=10, baseline=(base,), at=5)
    view = state.election(b"e")
    assert view is not None
    log = TermLog(b"e", view.leader)

    log.add(state.apply([delete(b"e", A, 6)], 6, NOW).timeline)

    (term,) = log.terms
    assert (term.value, term.start, term.end, term.ended) == (b"alice", None, 6, "left")


def test_a_nested_elections_events_do_not_end_a_term_of_its_parent() -> None:
    state = ElectionState()
    state.load((), 1, NOW)
    log = TermLog(b"e", None)
    for event in (put(b"e", A, b"alice", 2), put(b"e/sub", B, b"bob", 3), delete(b"e/sub", B, 4)):
        log.add(state.apply([event], event.revision, NOW).timeline)

    (term,) = log.terms
    assert (term.value, term.start, term.leading) == (b"alice", 2, True)


def test_after_a_gap_the_open_term_ends_unknown_and_the_present_leader_starts_unknown() -> None:
    state = ElectionState()
    state.load((), 1, NOW)
    log = TermLog(b"e", None)
    log.add(state.apply([put(b"e", A, b"alice", 2)], 2, NOW).timeline)
    state.rebase((put(b"e", B, b"bob", 9).kv,), 12)
    view = state.election(b"e")
    assert view is not None

    log.restart(view.leader)

    got = [(t.value, t.start, t.end, t.ended, t.leading) for t in log.terms]
    assert got == [(b"alice", 2, None, UNKNOWN, False), (b"bob", None, None, None, True)]


# ---- replay helpers and what is said ------------------------------------------------------


def test_a_batch_is_cut_at_a_revision_and_never_inside_one() -> None:
    batch = (put(b"e", A, b"a", 2), put(b"e", B, b"b", 3), put(b"f", B, b"b", 3), put(b"e", C, b"c", 4))

    assert split_at(batch, 3) == (batch[:3], batch[3:])
    assert split_at(batch, 9) == (batch, ())
    assert whole_revisions(batch, 4) == batch
    assert whole_revisions(batch, 3) == batch[:3]
    assert whole_revisions(batch, 2) == batch[:1]  # r3's two events go together or not at all
    assert whole_revisions(batch, 0) == ()


def test_the_texts_say_how_far_history_reaches_and_why() -> None:
    info = HistoryInfo(4512, 9000, "compacted", window=10_000, read=4511)

    assert info.text == "reading history: r4511 of r4512–r9000, 0 events…"
    assert HistoryInfo(4512, 9000, "none", keys=(500, 2000)).text == (
        "reading history: keys at r4511: 500 / 2,000…"
    )
    done = HistoryInfo(4512, 9000, "compacted", read=9000, done=True)
    assert done.text == "history from r4512; older revisions were compacted"
    window = HistoryInfo(4512, 9000, "window", window=10_000, done=True)
    assert window.text == "history from r4512; older revisions not read (the newest 10,000 only)"
    assert HistoryInfo(2, 90, "none", done=True).text == "history from r2 (all of it)"
    assert HistoryInfo(2, 1, "none", read=1, done=True).text == "no revisions after r1 yet"  # fresh etcd
    stopped = HistoryInfo(
        4512, 9000, "none", read=4600, events=20, done=True, stopped="the bound of 20 events"
    )
    assert stopped.text == (
        "history r4512–r4600 only (stopped by the bound of 20 events); r4601–r9000 not read"
    )
    assert no_history(9000, "the bound of 5 s").text == "history not read: the bound of 5 s"


def test_a_history_entry_shows_its_revision_dim_and_no_clock_time() -> None:
    (seen_live,) = replayed(put(b"e", A, b"alice", 2), until=1).timeline
    (replayed_entry,) = replayed(put(b"e", A, b"alice", 2), until=2).timeline

    live_line, history_line = entry_text(seen_live), entry_text(replayed_entry)

    assert history_line.plain.startswith("history  r2 ")
    assert live_line.plain[:9] != "history  " and live_line.plain[9:].startswith("r2 ")
    assert len(history_line.plain) == len(live_line.plain)  # the same columns
    dimmed = {(s.start, s.end) for s in history_line.spans if "dim" in str(s.style)}
    assert (0, len(history_line.plain)) in dimmed


@pytest.mark.parametrize("width", [56, 58, 70, 80, 90, LINE_WIDTH])
def test_a_timeline_line_fits_its_panel_dropping_the_lease_then_cutting_names(width: int) -> None:
    long = TimelineEntry("elected", b"e" * 40, b"k", b"v" * 40, 0x694D8A9F1E5B3C21, 123456, 1.0)

    line = entry_text(long, 12, width).plain

    assert len(line) <= width
    assert "#12" in line and "r123456" in line and "elected" in line
    assert ("694d8a9f1e5b3c21" in line) == (width == LINE_WIDTH)
    assert "v" in line.split("#12")[1]  # the value keeps a place down to the narrowest panel


def test_a_timeline_line_narrower_than_its_minimum_keeps_the_minimum() -> None:
    entry = TimelineEntry("joined", b"election", b"k", b"value", 1, 2, 1.0)

    narrow = entry_text(entry, None, 30).plain

    assert len(narrow) <= 47  # time, revision, kind, number and 13 cells of name
    assert "election" in narrow and "value" not in narrow


def test_an_empty_history_reads_as_empty_not_as_an_inverted_range() -> None:
    from election_tui.cli.commands import history_json
    from election_tui.live.history import ElectionHistory

    fresh = ElectionHistory(b"e", (), HistoryInfo(2, 1, "none", read=1, done=True))  # a fresh etcd's read
    record = history_json(fresh)
    assert (record["history_from"], record["history_to"], record["read_revision"]) == (None, None, 1)
    assert record["note"] == "no revisions after r1 yet"
    some = history_json(ElectionHistory(b"e", (), HistoryInfo(2, 90, "none", done=True)))
    assert (some["history_from"], some["history_to"]) == (2, 90)
