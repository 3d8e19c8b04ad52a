"""Who led when, as the swimlanes draw it: terms -> segments with gaps, history and stale overlap.

Each case drives the pure model as the live session does: a read (or a history baseline),
watch events through `ElectionState`, their timeline entries into a `TermBook`, then `lane()`
over a window. Times are only those the entries carry; nothing is placed where it is not known.
"""

from __future__ import annotations

from election_tui.etcd import Event, EventType, KeyValue, candidate_key
from election_tui.model import (
    ABSENT,
    GAP,
    LED,
    STALE,
    UNSEEN,
    BeliefLog,
    ElectionState,
    Lane,
    Segment,
    TermBook,
)

T0 = 10_000.0  # when the book went live
A, B, C, D = 0xA1, 0xB2, 0xC3, 0xD4
E = b"e"


def put(name: bytes, lease: int, value: bytes, create: int, mod: int | None = None) -> Event:
    key = candidate_key(name, lease)
    return Event(EventType.PUT, KeyValue(key, value, create, mod or create, 1, lease))


def delete(name: bytes, lease: int, rev: int) -> Event:
    return Event(EventType.DELETE, KeyValue(candidate_key(name, lease), b"", 0, rev, 0, 0))


class Run:
    """A state and a book fed together: a baseline read at `at`, a history up to `until`, live after."""

    def __init__(
        self,
        *history: Event,
        at: int = 1,
        until: int | None = None,
        replay: bool = True,
        book: TermBook | None = None,
    ) -> None:
        self.state = ElectionState()
        self.book = book or TermBook()
        self.beliefs = BeliefLog()
        until = until if until is not None else max([at, *(e.revision for e in history)])
        self.state.load((), at, 0.0)
        if replay:
            self.state.mark_history(until)
        self.book.begin(((n, self.state.leader(n)) for n in self.state.names()), at, history=replay)
        for event in history:
            self.book.add(self.state.apply([event], event.revision, 0.0).timeline)
        self.book.live(until, T0)

    def at(self, now: float, *events: Event) -> Run:
        """Events seen live at `now` (one revision each)."""
        for event in events:
            self.book.add(self.state.apply([event], event.revision, now).timeline)
        return self

    def lane(self, now: float, span: float = 120.0, name: bytes = E) -> Lane:
        window = self.book.window(now, span)
        assert window is not None
        return self.book.lane(name, window, self.beliefs.of(name))


def kinds(segments: tuple[Segment, ...]) -> list[tuple[str, float, float, bytes | None]]:
    return [(s.kind, s.start, s.end, s.term.value if s.term else None) for s in segments]


def test_a_hand_over_seen_live_is_two_bars_that_touch() -> None:
    run = Run().at(T0 + 10, put(E, A, b"alice", 2), put(E, B, b"bob", 3))
    run.state.expect_removal(candidate_key(E, A), "resigned")
    run.at(T0 + 40, delete(E, A, 4))

    lane = run.lane(T0 + 60, span=60)

    assert lane.history == ()  # the whole window is after the book went live
    assert kinds(lane.live) == [
        (ABSENT, T0, T0 + 10, None),  # no election yet: nothing to lead, not a leaderless gap
        (LED, T0 + 10, T0 + 40, b"alice"),
        (LED, T0 + 40, T0 + 60, b"bob"),  # elected at the revision alice's key went: no gap
    ]
    assert [s.ordinal for s in lane.live if s.kind == LED] == [0, 1]
    assert lane.live[1].term is not None and lane.live[1].term.ended == "resigned"


def test_a_crash_with_nobody_waiting_leaves_a_gap_until_the_next_leader() -> None:
    run = Run(put(E, A, b"alice", 2)).at(T0 + 20, delete(E, A, 3)).at(T0 + 35, put(E, B, b"bob", 4))

    lane = run.lane(T0 + 50, span=50)

    assert kinds(lane.live) == [
        (LED, T0, T0 + 20, b"alice"),  # led when the book went live: drawn from then, not before
        (GAP, T0 + 20, T0 + 35, None),
        (LED, T0 + 35, T0 + 50, b"bob"),
    ]


def test_an_election_whose_last_leader_went_shows_no_leader_up_to_now() -> None:
    run = Run(put(E, A, b"alice", 2)).at(T0 + 5, delete(E, A, 3))

    lane = run.lane(T0 + 30, span=30)

    assert kinds(lane.live) == [(LED, T0, T0 + 5, b"alice"), (GAP, T0 + 5, T0 + 30, None)]
    assert not run.book.leads(E) and run.book.names() == [E]  # kept: its gap is worth a row


def test_the_window_cuts_terms_at_its_edges() -> None:
    run = Run().at(T0 + 1, put(E, A, b"alice", 2)).at(T0 + 200, delete(E, A, 3), put(E, B, b"bob", 4))

    lane = run.lane(T0 + 260, span=120)

    assert kinds(lane.live) == [(LED, T0 + 140, T0 + 200, b"alice"), (LED, T0 + 200, T0 + 260, b"bob")]


def test_history_is_laid_out_by_revision_and_never_given_a_time() -> None:
    run = Run(
        put(E, A, b"alice", 3),
        put(E, B, b"bob", 4),
        delete(E, A, 6),  # bob elected at r6
        put(b"other", C, b"x", 8),
        until=9,
    )
    run.at(T0 + 30, delete(E, B, 10), put(E, D, b"dave", 11))

    lane = run.lane(T0 + 60, span=120)  # the window's first 60 s are before the book went live

    assert kinds(lane.history) == [
        (ABSENT, 1, 3, None),  # no candidate at the baseline r1 until alice's key at r3
        (LED, 3, 6, b"alice"),
        (LED, 6, 10, b"bob"),  # r6 to r9, the present read, inclusive
    ]
    assert kinds(lane.live) == [
        (LED, T0, T0 + 30, b"bob"),  # it led when the book went live, so from then on by time
        (LED, T0 + 30, T0 + 60, b"dave"),  # bob's key went and dave's came in one instant: no gap drawn
    ]
    bob = lane.history[-1].term
    assert bob is not None and (bob.start, bob.start_time) == (6, None)


def test_a_leader_at_the_baseline_leads_from_the_left_edge_of_the_history() -> None:
    baseline = put(E, A, b"alice", 2).kv
    state = ElectionState()
    state.load((baseline,), 5, 0.0)
    state.mark_history(8)
    book = TermBook()
    book.begin([(E, state.leader(E))], 5, history=True)
    book.add(state.apply([put(E, B, b"bob", 7)], 7, 0.0).timeline)
    book.live(8, T0)
    window = book.window(T0 + 10, 20)
    assert window is not None

    lane = book.lane(E, window)

    assert kinds(lane.history) == [(LED, 5, 9, b"alice")]  # bob only joined: alice leads throughout
    assert kinds(lane.live) == [(LED, T0, T0 + 10, b"alice")]


def test_once_the_start_scrolls_out_of_the_window_no_history_is_drawn() -> None:
    run = Run(put(E, A, b"alice", 2))

    lane = run.lane(T0 + 300, span=120)

    assert lane.history == ()
    assert kinds(lane.live) == [(LED, T0 + 180, T0 + 300, b"alice")]


def test_without_history_the_time_before_the_start_is_not_known() -> None:
    state = ElectionState()
    state.load((put(E, A, b"alice", 2).kv,), 9, 0.0)
    book = TermBook()
    book.begin([(E, state.leader(E))], 9, history=False)
    book.live(9, T0)
    window = book.window(T0 + 30, 60)
    assert window is not None

    lane = book.lane(E, window)

    assert kinds(lane.history) == [(UNSEEN, 9, 10, None)]  # nothing read: not even who led before
    assert kinds(lane.live) == [(LED, T0, T0 + 30, b"alice")]


def test_a_replay_stopped_short_leaves_the_revisions_it_did_not_read_unseen() -> None:
    run = Run(put(E, A, b"alice", 2), put(E, B, b"bob", 3), until=2)
    run.state.rebase((put(E, C, b"carol", 7).kv,), 9)
    run.book.restart([(E, run.state.leader(E))])
    run.book.live(9, T0, read=3)

    lane = run.lane(T0 + 30, span=60)

    assert kinds(lane.history) == [(ABSENT, 1, 2, None), (LED, 2, 4, b"alice"), (UNSEEN, 4, 10, None)]
    assert kinds(lane.live) == [(LED, T0, T0 + 30, b"carol")]  # the present read's leader, from then


def test_a_stale_leader_s_belief_after_its_key_went_is_the_stale_overlap() -> None:
    run = Run().at(T0 + 5, put(E, A, b"alice", 2), put(E, B, b"bob", 3))
    run.beliefs.stale(E, candidate_key(E, A), T0 + 19.5)  # its own clock says the lease ran out
    run.state.expect_removal(candidate_key(E, A), "paused")
    run.at(T0 + 20, delete(E, A, 4))  # etcd expired it: bob leads
    run.beliefs.learned(candidate_key(E, A), T0 + 26)  # it learns when its partition heals

    lane = run.lane(T0 + 30, span=30)

    assert kinds(lane.live)[1:] == [(LED, T0 + 5, T0 + 20, b"alice"), (LED, T0 + 20, T0 + 30, b"bob")]
    assert kinds(lane.stale) == [(STALE, T0 + 20, T0 + 26, b"alice")]  # believed, yet not the leader


def test_a_stale_leader_that_still_believes_overlaps_up_to_now() -> None:
    run = Run().at(T0 + 5, put(E, A, b"alice", 2), put(E, B, b"bob", 3))
    run.beliefs.stale(E, candidate_key(E, A), T0 + 20)
    run.at(T0 + 21, delete(E, A, 4))

    assert kinds(run.lane(T0 + 30, span=30).stale) == [(STALE, T0 + 21, T0 + 30, b"alice")]
    assert run.beliefs.elections(T0) == {E}


def test_no_stale_overlap_without_a_stale_belief_or_while_etcd_still_holds_the_key() -> None:
    run = Run().at(T0 + 5, put(E, A, b"alice", 2), put(E, B, b"bob", 3))
    run.beliefs.stale(E, candidate_key(E, A), T0 + 10)  # stale by its own clock; the key is still there

    assert run.lane(T0 + 15, span=30).stale == ()
    run.beliefs.learned(candidate_key(E, A), T0 + 12)
    run.at(T0 + 14, delete(E, A, 4))  # learned before etcd deleted the key: no overlap
    assert run.lane(T0 + 15, span=30).stale == ()
    assert run.beliefs.elections(T0 + 13) == set()


def test_a_nested_candidate_that_led_the_parent_ends_a_term_in_both() -> None:
    run = Run().at(T0 + 1, put(b"e/sub", A, b"nested", 2), put(E, B, b"direct", 3))
    run.at(T0 + 5, delete(b"e/sub", A, 4))  # the oldest key of both elections goes

    assert kinds(run.lane(T0 + 10, span=10, name=b"e/sub").live) == [
        (ABSENT, T0, T0 + 1, None),
        (LED, T0 + 1, T0 + 5, b"nested"),
        (GAP, T0 + 5, T0 + 10, None),
    ]
    assert kinds(run.lane(T0 + 10, span=10, name=E).live) == [
        (ABSENT, T0, T0 + 1, None),  # `e` is an election from its direct candidate on, led by the older key
        (LED, T0 + 1, T0 + 5, b"nested"),
        (LED, T0 + 5, T0 + 10, b"direct"),
    ]


def test_terms_past_the_bound_are_forgotten_and_drawn_as_not_known() -> None:
    run = Run(book=TermBook(terms=2))
    for i in range(5):  # five terms, each elected at r(2+2i) and resigned at r(3+2i)
        run.at(T0 + 10 * i, put(E, A + i, b"v%d" % i, 2 + 2 * i)).at(
            T0 + 10 * i + 5, delete(E, A + i, 3 + 2 * i)
        )

    lane = run.lane(T0 + 50, span=60)

    assert kinds(lane.live) == [
        (UNSEEN, T0, T0 + 30, None),  # before the oldest kept term: who led is no longer known
        (LED, T0 + 30, T0 + 35, b"v3"),
        (GAP, T0 + 35, T0 + 40, None),
        (LED, T0 + 40, T0 + 45, b"v4"),
        (GAP, T0 + 45, T0 + 50, None),
    ]
    assert [s.ordinal for s in lane.live if s.kind == LED] == [3, 4]  # stable as old terms fall off


def test_elections_left_without_a_leader_are_forgotten_past_the_bound() -> None:
    run = Run(book=TermBook(vanished=1))
    run.at(T0 + 1, put(b"x", A, b"a", 2)).at(T0 + 2, delete(b"x", A, 3))
    run.at(T0 + 3, put(b"y", B, b"b", 4)).at(T0 + 4, delete(b"y", B, 5))  # x is forgotten now

    assert run.book.names() == [b"y"]
    run.at(T0 + 6, put(b"x", C, b"c", 6))
    lane = run.lane(T0 + 10, span=10, name=b"x")
    assert kinds(lane.live) == [(UNSEEN, T0, T0 + 6, None), (LED, T0 + 6, T0 + 10, b"c")]


def test_while_the_session_cannot_know_the_open_term_is_not_known_not_led_up_to_now() -> None:
    run = Run().at(T0 + 10, put(E, A, b"alice", 2))
    run.book.blind(T0 + 30)  # the watch went down (or the quorum): nothing is proven after

    assert kinds(run.lane(T0 + 60, span=60).live) == [
        (ABSENT, T0, T0 + 10, None),
        (LED, T0 + 10, T0 + 30, b"alice"),
        (UNSEEN, T0 + 30, T0 + 60, None),  # not a solid bar up to now
    ]
    run.book.blind(T0 + 40)  # still blind: the stretch began at the first proof lost
    run.book.sees(T0 + 50)  # live again: what it says from here on is known
    run.at(T0 + 55, delete(E, A, 3))

    assert kinds(run.lane(T0 + 70, span=60).live) == [
        (LED, T0 + 10, T0 + 30, b"alice"),
        (UNSEEN, T0 + 30, T0 + 50, None),
        (LED, T0 + 50, T0 + 55, b"alice"),
        (GAP, T0 + 55, T0 + 70, None),
    ]
