"""The pure election model: what etcd's election recipe means, one behaviour per test."""

from __future__ import annotations

import pytest

from election_tui.etcd import Event, EventType, KeyValue, candidate_key, parse_candidate_key
from election_tui.model import KIND_MEANINGS, Changes, ElectionState, display, scopes, sees

T = 100.0


def put(name: bytes, lease: int, value: bytes, create: int, mod: int | None = None) -> Event:
    """A PUT of the candidate key Campaign writes for `lease` in election `name`."""
    key = candidate_key(name, lease)
    return Event(EventType.PUT, KeyValue(key, value, create, mod or create, 1, lease))


def delete(name: bytes, lease: int, rev: int) -> Event:
    """A DELETE as the watch delivers it: only the key and the revision are set."""
    return Event(EventType.DELETE, KeyValue(candidate_key(name, lease), b"", 0, rev, 0, 0))


def kv(name: bytes, lease: int, value: bytes, create: int, mod: int | None = None) -> KeyValue:
    return put(name, lease, value, create, mod).kv


def kinds(changes: Changes) -> list[tuple[str, bytes, bytes]]:
    return [(e.kind, e.election, e.key) for e in changes.timeline]


def state_with(*events: Event) -> ElectionState:
    """A state that saw `events`, one revision per event."""
    state = ElectionState()
    for event in events:
        state.apply([event], event.kv.mod_revision, T)
    return state


# ---- candidate keys ---------------------------------------------------------------------


def test_candidate_key_is_name_slash_lease_in_lowercase_hex() -> None:
    assert candidate_key(b"app", 0x694D7A1B2C) == b"app/694d7a1b2c"
    assert parse_candidate_key(b"app/694d7a1b2c", 0x694D7A1B2C) == b"app"


def test_candidate_key_hex_must_match_the_keys_own_lease() -> None:
    assert parse_candidate_key(b"app/1f", 0x20) is None
    assert parse_candidate_key(b"app/1F", 0x1F) is None  # etcd writes lowercase
    assert parse_candidate_key(b"app/01f", 0x1F) is None  # and no padding
    assert parse_candidate_key(b"app-1f", 0x1F) is None  # no separator at all


def test_key_without_a_lease_is_never_a_candidate() -> None:
    assert parse_candidate_key(b"app/0", 0) is None


def test_nested_candidate_key_belongs_to_the_nested_election() -> None:
    assert parse_candidate_key(b"a/b/1f", 0x1F) == b"a/b"
    assert parse_candidate_key(b"/1f", 0x1F) == b""


def test_an_election_is_seen_by_every_name_cut_before_one_of_its_slashes() -> None:
    assert scopes(b"a/b/c") == [b"a/b/c", b"a/b", b"a"]
    assert scopes(b"a//b") == [b"a//b", b"a/", b"a"]
    assert sees(b"a", b"a/b") and sees(b"a", b"a")
    assert not sees(b"a/b", b"a") and not sees(b"a", b"ab")


# ---- leaders and queues -----------------------------------------------------------------


def test_leader_is_the_lowest_create_revision_not_the_lowest_key_or_lease() -> None:
    state = state_with(put(b"app", 0x9, b"first", 2), put(b"app", 0x1, b"second", 3))
    leader = state.leader(b"app")
    assert leader is not None and leader.key == b"app/9" and leader.value == b"first"
    assert [c.key for c in state.candidates(b"app")] == [b"app/9", b"app/1"]


def test_a_put_on_an_existing_key_keeps_its_place_in_the_queue() -> None:
    state = state_with(put(b"app", 0x9, b"x", 2), put(b"app", 0x1, b"y", 3), put(b"app", 0x1, b"z", 3, 4))
    assert [c.key for c in state.candidates(b"app")] == [b"app/9", b"app/1"]
    assert state.candidates(b"app")[1].value == b"z"


def test_election_a_sees_the_candidates_of_a_slash_b() -> None:
    state = state_with(put(b"a/b", 0x1, b"nested", 2), put(b"a", 0x2, b"own", 3))
    view = state.election(b"a")
    assert view is not None and view.leader is not None
    assert view.leader.key == b"a/b/1"  # what etcd's Leader("a") answers
    assert view.value == b"nested"
    assert [c.key for c in view.candidates] == [b"a/b/1", b"a/2"]


def test_election_a_slash_b_does_not_see_the_candidates_of_a() -> None:
    state = state_with(put(b"a", 0x2, b"own", 2), put(b"a/b", 0x1, b"nested", 3))
    assert [c.key for c in state.candidates(b"a/b")] == [b"a/b/1"]


def test_election_a_does_not_see_election_ab() -> None:
    state = state_with(put(b"ab", 0x1, b"x", 2))
    assert state.leader(b"a") is None


def test_an_election_exists_only_with_a_direct_candidate_but_leader_answers_like_etcd() -> None:
    state = state_with(put(b"a/b", 0x1, b"x", 2))
    assert state.names() == [b"a/b"] and state.election_count() == 1
    assert state.election(b"a") is None
    leader = state.leader(b"a")
    assert leader is not None and leader.key == b"a/b/1"


def test_keys_that_campaign_did_not_write_are_ignored() -> None:
    stray = Event(EventType.PUT, KeyValue(b"app/config", b"x", 2, 2, 1, 0))
    wrong_lease = Event(EventType.PUT, KeyValue(b"app/1f", b"x", 3, 3, 1, 0x20))
    state = state_with(stray, wrong_lease)
    assert state.names() == [] and len(state) == 0 and state.election_count() == 0


def test_a_put_that_detaches_the_key_from_its_lease_removes_the_candidate() -> None:
    state = state_with(put(b"app", 0x1F, b"x", 2))
    changes = state.apply([Event(EventType.PUT, KeyValue(b"app/1f", b"x", 2, 3, 2, 0))], 3, T)
    assert state.names() == [] and kinds(changes) == [("left", b"app", b"app/1f")]


# ---- timeline -----------------------------------------------------------------------------


def test_the_first_candidate_is_elected_and_later_ones_join() -> None:
    state = ElectionState()
    first = state.apply([put(b"app", 0x1, b"x", 2)], 2, T)
    second = state.apply([put(b"app", 0x2, b"y", 3)], 3, T)
    assert kinds(first) == [("elected", b"app", b"app/1")]
    assert kinds(second) == [("joined", b"app", b"app/2")]


def test_a_nested_first_candidate_is_elected_in_its_election_and_in_existing_ancestors() -> None:
    state = state_with(put(b"a", 0x5, b"x", 2))
    changes = state.apply([put(b"a/b", 0x1, b"y", 3)], 3, T)
    # a/b/1 came later than a/5, so it leads a/b only.
    assert kinds(changes) == [("elected", b"a/b", b"a/b/1")]
    assert changes.elections == {b"a", b"a/b"}


def test_proclaim_changes_the_value_not_the_leader() -> None:
    state = state_with(put(b"app", 0x1, b"v1", 2), put(b"app", 0x2, b"w", 3))
    changes = state.apply([put(b"app", 0x1, b"v2", 2, 4)], 4, T + 1)
    view = state.election(b"app")
    assert view is not None and view.value == b"v2" and view.terms == 1
    assert view.last_change_revision == 4 and view.elected_revision == 2
    assert kinds(changes) == [("proclaimed", b"app", b"app/1")]
    assert changes.timeline[0].value == b"v2"


def test_proclaiming_the_same_value_again_adds_no_entry() -> None:
    state = state_with(put(b"app", 0x1, b"v1", 2))
    assert state.apply([put(b"app", 0x1, b"v1", 2, 3)], 3, T).timeline == ()


def test_resign_with_a_hint_is_named_in_the_timeline_before_the_new_leader() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2), put(b"app", 0x2, b"y", 3))
    state.expect_removal(b"app/1", "resigned")
    changes = state.apply([delete(b"app", 0x1, 4)], 4, T)
    assert kinds(changes) == [("resigned", b"app", b"app/1"), ("elected", b"app", b"app/2")]
    assert changes.timeline[0].value == b"x"  # the last value of the one who left


def test_a_delete_without_a_hint_is_left() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2), put(b"app", 0x2, b"y", 3))
    assert kinds(state.apply([delete(b"app", 0x2, 4)], 4, T)) == [("left", b"app", b"app/2")]


def test_a_hint_is_used_once() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2))
    state.expect_removal(b"app/1", "expired")
    state.apply([delete(b"app", 0x1, 3)], 3, T)
    state.apply([put(b"app", 0x1, b"x", 4)], 4, T)
    assert kinds(state.apply([delete(b"app", 0x1, 5)], 5, T)) == [("left", b"app", b"app/1")]


def test_the_two_partitions_are_told_apart_in_the_timeline() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2), put(b"app", 0x2, b"y", 3), put(b"app", 0x3, b"z", 4))
    state.expect_removal(b"app/1", "paused")
    state.expect_removal(b"app/2", "blackholed")
    changes = state.apply([delete(b"app", 0x1, 5), delete(b"app", 0x2, 6)], 6, T)
    assert [k for k in kinds(changes) if k[0] != "elected"] == [
        ("paused", b"app", b"app/1"),
        ("blackholed", b"app", b"app/2"),
    ]
    assert "keep-alive paused" in KIND_MEANINGS["paused"]
    assert "network: blackhole" in KIND_MEANINGS["blackholed"]


def test_a_hint_taken_back_after_a_healed_partition_leaves_the_next_removal_unnamed() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2))
    state.expect_removal(b"app/1", "blackholed")
    state.forget_removal(b"app/1")  # healed in time: the key lived on
    assert kinds(state.apply([delete(b"app", 0x1, 3)], 3, T)) == [("left", b"app", b"app/1")]


def test_a_withdrawn_hint_gives_back_the_reason_it_replaced_unless_the_key_already_went() -> None:
    state = state_with(put(b"app", 0x1, b"x", 2), put(b"app", 0x2, b"y", 3))
    state.expect_removal(b"app/1", "blackholed")
    state.expect_removal(b"app/1", "resigned")  # a resign, refused: the partition's reason holds
    state.withdraw_removal(b"app/1", "resigned", "blackholed")
    state.expect_removal(b"app/2", "revoked")
    changes = state.apply([delete(b"app", 0x2, 4)], 4, T)  # its deletion came first: taken
    state.withdraw_removal(b"app/2", "revoked", None)
    assert kinds(changes) == [("revoked", b"app", b"app/2")]
    assert kinds(state.apply([delete(b"app", 0x1, 5)], 5, T))[0] == ("blackholed", b"app", b"app/1")


def test_an_unknown_removal_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="removal reason"):
        ElectionState().expect_removal(b"app/1", "vanished")


def test_a_revision_with_many_deletes_elects_once_without_flicker() -> None:
    # A lease revoke deletes every key of the lease in one revision.
    state = state_with(put(b"app", 0x1, b"a", 2), put(b"app", 0x2, b"b", 3), put(b"app", 0x3, b"c", 4))
    changes = state.apply([delete(b"app", 0x1, 5), delete(b"app", 0x2, 5)], 5, T)
    assert kinds(changes) == [
        ("left", b"app", b"app/1"),
        ("left", b"app", b"app/2"),
        ("elected", b"app", b"app/3"),
    ]


def test_a_batch_spanning_revisions_records_each_revisions_leader() -> None:
    state = state_with(put(b"app", 0x1, b"a", 2), put(b"app", 0x2, b"b", 3))
    changes = state.apply([delete(b"app", 0x1, 4), put(b"app", 0x3, b"c", 5)], 5, T)
    assert kinds(changes) == [
        ("left", b"app", b"app/1"),
        ("elected", b"app", b"app/2"),
        ("joined", b"app", b"app/3"),
    ]
    assert [e.revision for e in changes.timeline] == [4, 4, 5]


def test_terms_count_every_new_leader_including_the_first() -> None:
    state = state_with(put(b"app", 0x1, b"a", 2), put(b"app", 0x2, b"b", 3), delete(b"app", 0x1, 4))
    view = state.election(b"app")
    assert view is not None and view.terms == 2 and view.elected_revision == 4


def test_the_last_candidate_leaving_removes_the_election() -> None:
    state = state_with(put(b"app", 0x1, b"a", 2))
    changes = state.apply([delete(b"app", 0x1, 3)], 3, T)
    assert state.names() == [] and state.election(b"app") is None
    assert changes.elections == {b"app"}


def test_changes_name_ancestors_whose_queue_changed() -> None:
    state = state_with(put(b"a", 0x1, b"x", 2), put(b"a/b", 0x2, b"y", 3))
    changes = state.apply([put(b"a/b", 0x3, b"z", 4)], 4, T)
    assert changes.elections == {b"a", b"a/b"}


def test_history_and_timeline_are_bounded() -> None:
    state = ElectionState(timeline_limit=5, history_limit=3)
    for rev in range(2, 12):
        state.apply([put(b"app", 0x1, b"v%d" % rev, 2, rev)], rev, T)
    assert len(state.history(b"app")) == 3 and len(state.timeline) == 5
    assert state.timeline[-1].value == b"v11"


# ---- revisions ------------------------------------------------------------------------------


def test_redelivered_events_are_ignored() -> None:
    state = ElectionState()
    batch = [put(b"app", 0x1, b"a", 2), put(b"app", 0x2, b"b", 3)]
    state.apply(batch, 3, T)
    again = state.apply(batch, 3, T)
    assert again == Changes(frozenset(), ())
    assert state.revision == 3 and len(state.candidates(b"app")) == 2


def test_a_batch_overlapping_the_last_one_applies_only_the_new_revisions() -> None:
    state = state_with(put(b"app", 0x1, b"a", 2))
    changes = state.apply([put(b"app", 0x1, b"a", 2), put(b"app", 0x2, b"b", 3)], 3, T)
    assert kinds(changes) == [("joined", b"app", b"app/2")]


def test_only_an_empty_batch_advances_to_the_header_revision() -> None:
    # A catching-up watch stamps a response with the store's revision while later events follow.
    state = ElectionState()
    state.apply([put(b"app", 0x1, b"a", 2)], 9, T)
    assert state.revision == 2
    state.apply([put(b"app", 0x2, b"b", 5)], 9, T)
    assert len(state.candidates(b"app")) == 2
    state.apply([], 9, T)  # a progress notice: nothing happened up to 9
    assert state.revision == 9


# ---- load -----------------------------------------------------------------------------------


def test_the_first_load_is_a_baseline_without_timeline() -> None:
    state = ElectionState()
    changes = state.load([kv(b"app", 0x1, b"a", 2), kv(b"app", 0x2, b"b", 3)], 7, T)
    assert changes.reset and changes.timeline == () and changes.elections == {b"app"}
    view = state.election(b"app")
    assert view is not None and view.terms == 1 and state.revision == 7


def test_an_election_found_by_the_first_load_has_no_invented_change_time() -> None:
    state = ElectionState()
    state.load([kv(b"app", 0x1, b"a", 2), kv(b"app", 0x2, b"b", 3)], 7, T)
    view = state.election(b"app")
    assert view is not None
    assert (view.last_change_time, view.last_change_revision) == (None, None)
    assert (view.elected_time, view.elected_revision) == (None, None)


def test_only_changes_seen_happening_get_a_time() -> None:
    state = ElectionState()
    state.load([kv(b"app", 0x1, b"a", 2), kv(b"app", 0x2, b"b", 3)], 7, T)
    state.apply([put(b"app", 0x2, b"b", 3, 8)], 8, T + 1)  # a waiting candidate's put: no change
    view = state.election(b"app")
    assert view is not None and view.last_change_time is None
    state.apply([put(b"app", 0x1, b"a2", 2, 9)], 9, T + 2)  # proclaimed
    view = state.election(b"app")
    assert view is not None and (view.last_change_revision, view.last_change_time) == (9, T + 2)
    assert view.elected_time is None  # still the leader we found, elected we know not when
    state.apply([delete(b"app", 0x1, 10)], 10, T + 3)
    view = state.election(b"app")
    assert view is not None and (view.elected_revision, view.elected_time) == (10, T + 3)


def test_an_election_that_appears_later_is_dated_when_seen() -> None:
    state = ElectionState()
    state.load([], 1, T)
    state.apply([put(b"new", 0x1, b"a", 2)], 2, T + 4)
    view = state.election(b"new")
    assert view is not None and (view.last_change_time, view.elected_time) == (T + 4, T + 4)


def test_reload_reports_a_leader_that_vanished_while_away_and_its_successor() -> None:
    state = ElectionState()
    state.load([kv(b"app", 0x1, b"a", 2), kv(b"app", 0x2, b"b", 3)], 3, T)
    state.expect_removal(b"app/1", "paused")
    changes = state.load([kv(b"app", 0x2, b"b", 3), kv(b"app", 0x4, b"d", 9)], 12, T + 5)
    assert kinds(changes) == [
        ("paused", b"app", b"app/1"),
        ("joined", b"app", b"app/4"),
        ("elected", b"app", b"app/2"),
    ]
    assert all(e.revision == 12 for e in changes.timeline)
    view = state.election(b"app")
    assert view is not None and view.terms == 2 and state.revision == 12


def test_reload_reports_a_value_proclaimed_while_away() -> None:
    state = ElectionState()
    state.load([kv(b"app", 0x1, b"a", 2)], 3, T)
    changes = state.load([kv(b"app", 0x1, b"b", 2, 8)], 9, T)
    assert kinds(changes) == [("proclaimed", b"app", b"app/1")]


def test_reload_sees_a_key_recreated_while_away_as_a_new_leader() -> None:
    state = ElectionState()
    state.load([kv(b"app", 0x1, b"a", 2)], 3, T)
    changes = state.load([kv(b"app", 0x1, b"a", 7)], 9, T)
    assert kinds(changes) == [("left", b"app", b"app/1"), ("elected", b"app", b"app/1")]


def test_reload_of_an_unchanged_store_says_nothing() -> None:
    state = ElectionState()
    snapshot = [kv(b"app", 0x1, b"a", 2), kv(b"a/b", 0x2, b"b", 3)]
    state.load(snapshot, 3, T)
    assert state.load(snapshot, 5, T).timeline == ()


# ---- untrusted bytes ------------------------------------------------------------------------


def test_non_utf8_names_and_values_survive_untouched() -> None:
    name, value = b"\xff\xfe/\x00", b"\x80\x1b[31m"
    state = state_with(put(name, 0x1, value, 2))
    assert state.names() == [name]
    leader = state.leader(name)
    assert leader is not None and leader.value == value and leader.key == name + b"/1"


def test_display_escapes_terminal_control_sequences() -> None:
    assert display(b"\x1b[31mred") == "\\x1b[31mred"
    assert display(b"a\nb\tc\rd\x7f") == "a\\nb\\tc\\rd\\x7f"
    assert display("bidi\u202eevil".encode()) == "bidi\\u202eevil"


def test_display_shows_invalid_utf8_as_hex_and_keeps_valid_text() -> None:
    assert display(b"caf\xc3\xa9 \xff") == "café \\xff"


def test_display_cuts_long_values_to_the_limit() -> None:
    assert display(b"x" * 10, limit=10) == "x" * 10
    cut = display(b"x" * 11, limit=10)
    assert cut == "x" * 9 + "…" and len(cut) == 10
    assert len(display(b"\x1b" * 1000, limit=10)) <= 10
    assert display(b"y" * 10_000_000).endswith("…")
