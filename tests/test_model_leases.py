"""The TTL rule (`LeaseClock.shown`): what a TTL cell may claim, from etcd's whole-second answers.

Cases by hand, then properties over simulated leases: a true expiry that renewals move, polled
the way the session polls (about once a second, with a round trip), answered the way etcd
answers (`int(remaining)`, -1 once gone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from election_tui.model import LeaseClock, ShownTTL
from election_tui.model.leases import HOLD, RUN_SLACK
from election_tui.ui.render import ttl_bar

L = 7


def clock_with(*answers: tuple[int, float], granted: int = 4) -> LeaseClock:
    clock = LeaseClock()
    for ttl, at in answers:
        clock.observe(L, ttl, at, granted, answered=at + 0.001)
    return clock


def shown(clock: LeaseClock, now: float) -> ShownTTL:
    out = clock.shown(L, now)
    assert out is not None
    return out


# ---- by hand ---------------------------------------------------------------------------------


def test_nothing_is_shown_for_a_lease_never_answered() -> None:
    assert LeaseClock().shown(L, 0.0) is None


def test_an_answer_is_held_as_a_floor_between_polls() -> None:
    clock = clock_with((3, 100.0))
    for now in (100.0, 100.9, 101.5, 100.0 + HOLD):
        assert shown(clock, now) == ShownTTL(3.0, 4.0, 4, counting=False)


def test_a_two_second_lease_renewed_elsewhere_never_shows_zero() -> None:
    """The reported bug: TTL 2, a healthy leader drawn as 0.0 s between polls."""
    clock = clock_with((1, 10.0), (1, 11.1), (1, 12.2), granted=2)
    assert all(shown(clock, 12.2 + dt).low == 1.0 for dt in (0.0, 0.5, 1.0, 1.5))


def test_answers_that_stop_coming_are_counted_down_from_what_they_prove() -> None:
    clock = clock_with((3, 100.0))
    late = shown(clock, 100.0 + HOLD + 0.5)
    assert late.counting and math.isclose(late.low, 3 - HOLD - 0.5)
    assert shown(clock, 110.0).low == 0.0
    assert shown(clock, 110.0).high == 4.0  # it may still be renewed: not "gone"


def test_minus_one_is_gone() -> None:
    clock = clock_with((3, 100.0), (-1, 101.0))
    gone = shown(clock, 101.0)
    assert gone.gone and gone.low == gone.high == 0.0


def test_the_etcdctl_pattern_of_a_ttl4_lease_is_held_throughout() -> None:
    """Measured: etcdctl renews a TTL-4 lease every ~1.5 s; etcd answers 3, 3, 2, 3, 3, 2..."""
    at, answers = 0.0, [3, 3, 2, 3, 3, 2, 3, 2, 3, 3, 2, 3]
    clock = LeaseClock()
    for ttl in answers:
        clock.observe(L, ttl, at, 4, answered=at + 0.002)
        for dt in (0.0, 0.5, 1.05):
            s = shown(clock, at + dt)
            assert not s.counting and s.low == ttl
        at += 1.05


def test_a_fall_is_not_taken_for_a_lease_left_to_expire() -> None:
    clock = clock_with((3, 0.0), (2, 1.05))
    assert shown(clock, 2.0) == ShownTTL(2.0, 4.0, 4, counting=False)


def test_a_lease_left_to_expire_is_counted_down_once_the_run_outlasts_any_renewer() -> None:
    """TTL 30, nobody renews: answers fall a second per second; past 15 + RUN_SLACK s, count down."""
    clock = LeaseClock()
    expiry = 30.0
    at = 0.0
    counting_from = None
    while at < 25.0:
        ttl = int(expiry - at)
        clock.observe(L, ttl, at, 30, answered=at)
        s = shown(clock, at + 0.5)
        if s.counting and counting_from is None:
            counting_from = at
        if counting_from is not None:
            assert s.counting and s.low <= expiry - (at + 0.5)  # proven: never above the truth
        at += 1.1
    assert counting_from is not None and 15.0 + RUN_SLACK < counting_from <= 15.0 + RUN_SLACK + 1.1


def test_a_renewal_seen_after_counting_holds_again() -> None:
    clock = LeaseClock()
    for i in range(25):
        clock.observe(L, 29 - i, float(i), 30)
    assert shown(clock, 24.5).counting
    clock.observe(L, 29, 25.0, 30)  # a renewal: no single expiry explains 5 then 29
    assert shown(clock, 25.5) == ShownTTL(29.0, 30.0, 30, counting=False)


def test_an_answer_asked_before_the_one_held_is_ignored() -> None:
    clock = clock_with((5, 10.0))
    clock.observe(L, 9, 9.0, 4)
    assert shown(clock, 10.0).low == 5.0


def test_granted_is_kept_when_a_later_answer_omits_it() -> None:
    clock = LeaseClock()
    clock.observe(L, 8, 0.0, 10)
    clock.observe(L, 9, 1.0)
    assert shown(clock, 1.0) == ShownTTL(9.0, 10.0, 10, counting=False)


def test_due_asks_for_unknown_and_stale_leases_once_per_period() -> None:
    clock = LeaseClock()
    clock.observe(1, 10, at=100.0)
    assert clock.due([1, 2, 2], now=100.5) == [2]
    assert clock.due([1, 2], now=101.0) == [1, 2]
    clock.asked([1, 2], at=101.0)
    assert clock.due([1, 2], now=101.5) == []  # answers are in flight
    assert clock.due([1, 2], now=102.0, every=1.0) == [1, 2]


def test_forget() -> None:
    clock = clock_with((3, 0.0))
    clock.forget(L)
    assert L not in clock and clock.shown(L, 0.0) is None and clock.due([L], 0.0) == [L]


def test_our_own_lease_is_what_its_keepalive_knows() -> None:
    assert ShownTTL.kept_alive(2.5, 4) == ShownTTL(2.5, 2.5, 4, counting=True)
    assert ShownTTL.kept_alive(-0.1, 4).low == 0.0


def test_cells_say_how_much_is_known() -> None:
    assert ttl_bar(None).plain == "…"
    assert ttl_bar(ShownTTL(3.0, 4.0, 4, counting=False)).plain == "████▌░   ≥3s"
    assert ttl_bar(ShownTTL(0.0, 4.0, 4, counting=False)).plain.endswith(" <1s")  # etcd said 0
    assert ttl_bar(ShownTTL(2.34, 2.34, 4, counting=True)).plain == "███▌░░  2.3s"
    assert ttl_bar(ShownTTL(0.0, 0.0, 4, counting=False)).plain == "░░░░░░  gone"


# ---- properties over simulated leases --------------------------------------------------------


@dataclass
class Lease:
    """A true lease: granted at 0, renewed at `renewals`, expiring `granted` s after the latest."""

    granted: int
    renewals: list[float]

    def expiry(self, t: float) -> float:
        return max([0.0, *(r for r in self.renewals if r <= t)]) + self.granted

    def remaining(self, t: float) -> float:
        return self.expiry(t) - t

    def answer(self, t: float) -> int:
        """What LeaseTimeToLive says at server time `t`."""
        left = self.remaining(t)
        return int(left) if left > 0 else -1


@dataclass
class Poll:
    asked: float
    served: float
    answered: float


def polls(gaps: list[float], rtts: list[float]) -> list[Poll]:
    out, at = [], 0.0
    for gap, rtt in zip(gaps, rtts, strict=False):
        at += gap
        out.append(Poll(at, at + rtt / 2, at + rtt))
    return out


def frames(after: Poll, until: float) -> list[float]:
    """Times a view might draw between this answer and the next (20 a second)."""
    t, out = after.answered, []
    while t < until:
        out.append(t)
        t += 0.05
    return out


gaps = st.lists(st.floats(1.0, 1.25), min_size=3, max_size=25)
rtts = st.lists(st.floats(0.0, 0.02), min_size=25, max_size=25)


@st.composite
def renewed(draw: st.DrawFn) -> Lease:
    """Renewed by another client at least every half TTL (Go: TTL/3 on a 0.5 s tick), jittered."""
    granted = draw(st.integers(2, 30))
    period = draw(st.floats(0.2, granted / 2))
    jitter = draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=1000))
    t, out, i = draw(st.floats(0.0, period)), [], 0
    while t < 40.0:
        out.append(t)
        t += period * (1 - 0.3 * jitter[i % len(jitter)])  # never later than one period
        i += 1
    return Lease(granted, out)


@settings(max_examples=300, deadline=None)
@given(renewed(), gaps, rtts)
def test_a_lease_renewed_elsewhere_is_never_drawn_below_etcds_newest_answer(
    lease: Lease, gaps: list[float], rtts: list[float]
) -> None:
    clock = LeaseClock()
    schedule = polls(gaps, rtts)
    for poll, after in zip(schedule, [*schedule[1:], None], strict=True):
        ttl = lease.answer(poll.served)
        clock.observe(L, ttl, poll.asked, lease.granted, answered=poll.answered)
        until = after.answered if after is not None else poll.answered + 1.0
        for now in frames(poll, until):
            s = shown(clock, now)
            assert not s.counting, "taken for a lease left to expire"
            assert s.low >= ttl and (ttl < 1 or s.low >= 1)
            assert s.low <= lease.remaining(now) + (now - poll.asked) + 1e-9  # at most a held answer's age
            assert s.low <= s.high and lease.remaining(now) <= s.high + 1e-9


@st.composite
def any_lease(draw: st.DrawFn) -> Lease:
    granted = draw(st.integers(2, 30))
    renewals = sorted(draw(st.lists(st.floats(0.0, 30.0), max_size=30)))
    return Lease(granted, renewals)


@settings(max_examples=300, deadline=None)
@given(any_lease(), st.lists(st.floats(0.3, 4.0), min_size=1, max_size=25), rtts)
def test_whatever_the_lease_does_the_cell_stays_within_what_is_known(
    lease: Lease, gaps: list[float], rtts: list[float]
) -> None:
    clock = LeaseClock()
    schedule = polls(gaps, rtts)
    for poll, after in zip(schedule, [*schedule[1:], None], strict=True):
        ttl = lease.answer(poll.served)
        if ttl < 0:
            clock.observe(L, ttl, poll.asked, 0, answered=poll.answered)
            assert shown(clock, poll.answered).gone
            return  # a lease does not come back
        clock.observe(L, ttl, poll.asked, lease.granted, answered=poll.answered)
        until = after.answered if after is not None else poll.answered + 5.0
        for now in frames(poll, until):
            s = shown(clock, now)
            truth = lease.remaining(now)
            assert 0.0 <= s.low <= s.high
            assert truth <= s.high + 1e-9
            if s.counting:
                assert s.low <= max(0.0, truth) + 1e-9  # counting: proven
            else:
                assert s.low >= ttl  # held: never below etcd's newest word
                assert s.low <= truth + (now - poll.asked) + 1e-9
                assert now - poll.asked <= HOLD + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 30), gaps, rtts)
def test_a_lease_nobody_renews_is_drawn_above_the_truth_by_at_most_a_held_answers_age(
    granted: int, gaps: list[float], rtts: list[float]
) -> None:
    lease = Lease(granted, [])
    clock = LeaseClock()
    schedule = polls(gaps, rtts)
    for poll in schedule:
        ttl = lease.answer(poll.served)
        clock.observe(L, ttl, poll.asked, granted, answered=poll.answered)
        for now in frames(poll, poll.answered + 1.0):
            s = shown(clock, now)
            if ttl < 0:
                assert s.gone
            else:
                assert s.low <= max(0.0, lease.remaining(now)) + min(now - poll.asked, HOLD) + 1e-9
