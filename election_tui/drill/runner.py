"""Run a drill: a fleet of simulated candidates, failures on cue, every hand-over timed.

The drill keeps its own watch on `<election>/`, opened at the revision it checked the election
was empty, so the time and revision at which each old leader key was deleted come from etcd's
own event stream, not from what the candidates believe. Candidates report when they learned
they lead (their LEADER transition). Slow hand-overs are reported, never raised; a step that
cannot go on ends the drill with `report.error`. Every lease the drill created is revoked on
every way out, cancellation included.

Member steps act through a `MemberControl` (an embedded cluster this process started) and read
every member's own Status before and after, so the raft figures in the report are etcd's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..etcd import (
    EtcdClient,
    EtcdError,
    EventType,
    Status,
    Watch,
    WatchCompacted,
    WatchDisconnected,
    WatchEvents,
    WatchResumed,
)
from ..live import MemberControl, MemberError
from ..model import BLACKHOLED, PAUSED
from ..sim import Candidate, CandidateError, Fleet, Listener, State, Transition, link_problem
from .report import DrillReport, Failover, LeaseAfter, Loss, MemberEvent, RaftView, ms_text
from .scenario import (
    Fail,
    Hold,
    Launch,
    MemberStep,
    MemberVerb,
    Rejoin,
    Scenario,
    ScenarioError,
    Step,
    WaitLeader,
)

Progress = Callable[[str], None]
# Told just before a leader is failed: the key that will go and why (what a dashboard's
# timeline should call it: resigned, revoked, expired, paused, blackholed).
Removal = Callable[[bytes, str], None]
_REMOVAL_REASON = {
    "resign": "resigned",
    "revoke": "revoked",
    "expire": "expired",
    "pause": PAUSED,
    "blackhole": BLACKHOLED,
}

_WATCH_READY = 5.0  # seconds for our watch to be acknowledged before the drill starts
_CLOSE_GRACE = 15.0  # seconds a second cancellation still waits for the leases to be revoked
_SLACK = 5.0  # beyond expect_within + 2 TTL, a fail-over is declared stuck
# etcd syncs a watch created at a past revision (each waiting Campaign's) in 100 ms batches; a
# candidate that joined just now would add that to its first hand-over. Real queues are older.
_SETTLE = 0.25
_MEMBER_POLL = 0.1  # seconds between two rounds of members' Status while a member step settles


class _StepFailed(Exception):
    """The drill cannot go on; the message becomes `report.error`."""


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode(errors="backslashreplace")


async def run_drill(
    client: EtcdClient,
    scenario: Scenario,
    *,
    on_progress: Progress | None = None,
    on_removal: Removal | None = None,
    on_transition: Listener | None = None,
    election_prefix: bytes = b"",
    pace: float = 0.0,
    members: MemberControl | None = None,
) -> DrillReport:
    """Run `scenario` in election `election_prefix + scenario.election` (the prefix once: see
    `drill_election`) and time each fail-over.

    `on_progress` hears one line per event worth telling (each step, launches, failures, new
    leaders); `on_removal` hears which leader key is about to go and why, before the drill acts;
    `on_transition` hears every transition of the drill's candidates (a dashboard's stale beliefs).
    `pace` seconds pass after each step and each fail-over, so a room can follow on screen; the
    figures are timed within a fail-over, so pacing does not change them. `members`: the
    control of the embedded cluster `client` talks to; without one, a scenario with member
    steps is refused (ScenarioError) before anything runs.
    """
    if not (math.isfinite(pace) and pace >= 0):
        raise ValueError(f"pace must be a number of seconds >= 0, not {pace}")
    problem = scenario.cluster_problem(len(members) if members is not None else None)
    if problem is not None:
        raise problem
    cut = scenario.blackholes
    if cut and (why := link_problem(client.config)) is not None:
        raise ScenarioError(
            scenario.source,
            f"steps[{cut[0]}].how",
            f'is "blackhole", which cuts the leader off through a loopback proxy of its own: {why}',
        )
    drill = _Drill(client, scenario, drill_election(election_prefix, scenario.election), on_progress)
    drill.on_removal = on_removal
    if on_transition is not None:
        drill.fleet.subscribe(on_transition)
    drill.pace = pace
    drill.members = members
    return await drill.run()


def drill_election(prefix: bytes, election: str) -> bytes:
    """The election a drill runs in: under `prefix`, which is not prepended again when the
    scenario's own name is already under it (`--prefix drill/` and "drill/resign": "drill/resign",
    not "drill/drill/resign"); either way the dashboard watching `prefix` sees it."""
    name = election.encode()
    return name if name.startswith(prefix) else prefix + name


class _Drill:
    """One run: owns the fleet and the watch, and fills the report as it goes."""

    def __init__(
        self, client: EtcdClient, scenario: Scenario, name: bytes, on_progress: Progress | None
    ) -> None:
        self.client = client
        self.scenario = scenario
        self.name = name
        self.prefix = name + b"/"
        self.on_removal: Removal | None = None
        self.pace = 0.0
        self.report = DrillReport(scenario, name, time.monotonic(), time.time())
        # A drill that cuts a leader off gives each of its candidates a link of its own (any of
        # them may lead by then); the others share the drill's client, as before.
        self.fleet = Fleet(client, links=scenario.launched if scenario.blackholes else 0)
        self.live: dict[bytes, int] = {}  # candidate key -> create revision, as our watch saw it
        self.deleted: dict[bytes, tuple[int, float]] = {}  # key -> (revision, monotonic receipt)
        self.elections: list[tuple[Candidate, Transition]] = []  # every LEADER transition, in order
        self._progress = on_progress
        self._changed = asyncio.Event()
        self._watch: Watch | None = None
        self._watch_error: str | None = None
        self._numbers: dict[str, int] = {}
        self.members: MemberControl | None = None
        self._out: dict[int, MemberVerb] = {}  # members this drill killed or paused, still out
        self._failed_keys: set[bytes] = set()  # keys a fail step took out (their losses are its)
        self._losses: list[tuple[Loss, bytes]] = []  # candidates that gave up by themselves, and their key

    # -- plumbing ---------------------------------------------------------------------------

    def say(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _on_transition(self, candidate: Candidate, transition: Transition) -> None:
        if transition.state is State.LEADER:
            self.elections.append((candidate, transition))
        elif transition.state is State.LOST and candidate.key not in self._failed_keys:
            key = candidate.key or b""
            self._losses.append(
                (Loss(_text(candidate.value), _text(key), transition.at, transition.detail), key)
            )
            self.say(f"  {_text(candidate.value)} gave up: {transition.detail}")
        self._notify()

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) for `predicate`, re-checked on every watch event and state change."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self._watch_error is not None:
                raise _StepFailed(f"our watch of {_text(self.prefix)} failed: {self._watch_error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return True

    def _roll_call(self) -> str:
        return (
            ", ".join(f"{_text(c.value)} {c.state.value}" for c in self.fleet.in_election(self.name))
            or "none"
        )

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> DrillReport:
        watcher: asyncio.Task[None] | None = None
        try:
            current = await self.client.get_prefix(self.prefix, keys_only=True)
            if current.kvs:
                raise _StepFailed(
                    f"election {_text(self.name)} already has {len(current.kvs)} key(s) under "
                    f"{_text(self.prefix)} that are not this drill's (left by a run that crashed? "
                    "they go when their leases expire): choose another election name or prefix"
                )
            watcher = asyncio.create_task(self._watch_keys(current.revision + 1), name="drill-watch")
            await self._wait_watching()
            self.fleet.subscribe(self._on_transition)
            steps = self.scenario.steps
            for index, step in enumerate(steps):
                self.say(f"step {index + 1}/{len(steps)}: {step.action}")
                await self._step(index, step)
                await self._pause()
        except _StepFailed as err:
            self.report.error = str(err)
        except EtcdError as err:
            self.report.error = f"etcd: {err}"
        finally:
            self._date_losses()  # before closing: the fleet's own revokes are not etcd's doing
            try:
                await self._bring_back()  # first: revoking leases needs a quorum
            finally:
                await self._close(watcher)
                self.report.finished_at = time.monotonic()
        return self.report

    async def _bring_back(self) -> None:
        """Resume or restart the members this drill took out: it leaves the cluster as it found it."""
        if self.members is None or not self._out:
            return
        out, self._out = dict(self._out), {}
        names = ", ".join(self.members.names[i] for i in sorted(out))
        try:
            paused = [i for i, verb in out.items() if verb == "pause"]
            if paused:
                await self.members.resume(*paused)
            killed = [i for i, verb in out.items() if verb == "kill"]
            if killed:
                await self.members.restart(*killed)
        except MemberError as err:
            self.report.notes.append(f"could not bring back {names}: {err}")
        else:
            self.report.notes.append(f"on its way out the drill brought back {names}, which it had taken out")

    def _date_losses(self) -> None:
        """When etcd let go of each key whose owner had given up (as our watch saw it)."""
        dated = []
        for loss, key in self._losses:
            deletion = self.deleted.get(key)
            if deletion is not None:
                loss = replace(loss, key_gone_revision=deletion[0], key_gone_at=deletion[1])
            dated.append(loss)
        self.report.losses = dated

    async def _wait_watching(self) -> None:
        """A watch answers events up to ~100 ms late while etcd is still creating it: wait for its ack."""

        def ready() -> bool:
            return self._watch_error is not None or (self._watch is not None and self._watch.connected)

        if not await _poll(ready, _WATCH_READY) or self._watch_error is not None:
            why = self._watch_error or f"not acknowledged within {_WATCH_READY:g} s"
            raise _StepFailed(f"cannot watch {_text(self.prefix)}: {why}")

    async def _close(self, watcher: asyncio.Task[None] | None) -> None:
        """Revoke every lease; a second cancellation still waits (bounded) for that."""
        closing = asyncio.ensure_future(self.fleet.close())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            await asyncio.wait({closing}, timeout=_CLOSE_GRACE)
            raise
        except Exception as err:
            self.report.notes.append(f"closing the candidates failed ({err}); their leases expire by TTL")
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, EtcdError):
                    await watcher

    async def _watch_keys(self, start_revision: int) -> None:
        """Track live candidate keys and stamp every DELETE with its revision and arrival time."""
        try:
            while True:
                self._watch = watch = self.client.watch_prefix(self.prefix, start_revision)
                async with watch:
                    async for item in watch:
                        now = time.monotonic()
                        if isinstance(item, WatchEvents):
                            for event in item.events:
                                if event.type is EventType.DELETE:
                                    self.live.pop(event.kv.key, None)
                                    self.deleted[event.kv.key] = (event.revision, now)
                                else:
                                    self.live[event.kv.key] = event.kv.create_revision
                            self._notify()
                        elif isinstance(item, WatchDisconnected):
                            self.report.notes.append(
                                f"the watch broke ({item.error}); key-gone times around it may be late"
                            )
                        elif isinstance(item, WatchResumed):
                            self.report.notes.append("the watch resumed without losing events")
                        elif isinstance(item, WatchCompacted):
                            break
                # Compacted under us (someone compacted mid-drill): re-read and carry on.
                current = await self.client.get_prefix(self.prefix, keys_only=True)
                self.live = {kv.key: kv.create_revision for kv in current.kvs}
                start_revision = current.revision + 1
                self.report.notes.append(
                    "history was compacted during the drill; some deletions have no time"
                )
                self._notify()
        except EtcdError as err:
            self._watch_error = str(err)
            self._notify()

    # -- steps ------------------------------------------------------------------------------

    async def _pause(self) -> None:
        """A deliberate pause between steps (`pace`), for people watching, not for etcd."""
        if self.pace:
            await asyncio.sleep(self.pace)

    async def _step(self, index: int, step: Step) -> None:
        where = f"steps[{index}] ({step.action})"
        try:
            match step:
                case Launch():
                    await self._launch(step)
                case WaitLeader():
                    await self._wait_leader(step.within, why="no leader")
                case Fail():
                    for repeat in range(step.repeat):
                        if repeat:
                            await self._pause()
                        await self._failover(index, step)
                case Rejoin():
                    await self._rejoin(step)
                case Hold():
                    self.say(f"holding {step.seconds:g} s")
                    await asyncio.sleep(step.seconds)
                case MemberStep():
                    await self._member_step(index, step)
        except _StepFailed as err:
            raise _StepFailed(f"{where}: {err}") from None
        except (EtcdError, CandidateError, MemberError) as err:
            raise _StepFailed(f"{where}: {type(err).__name__}: {err}") from err

    async def _in_queue(self, candidates: list[Candidate], within: float, what: str) -> None:
        """Wait until each candidate's key is in etcd and its Campaign's watch has settled."""

        def settled() -> bool:
            return all((c.key is not None and c.key in self.live) or c.state.terminal for c in candidates)

        await self.until(settled, within)
        missing = [c for c in candidates if c.key is None or c.key not in self.live]
        if missing:
            details = "; ".join(
                f"{_text(c.value)} is {c.state.value}" + (f" ({c.last_error})" if c.last_error else "")
                for c in missing
            )
            raise _StepFailed(f"{what} candidates did not get their keys within {within:g} s: {details}")
        await asyncio.sleep(_SETTLE)

    async def _launch(self, step: Launch) -> None:
        ttl = step.ttl or self.scenario.ttl
        launched: list[Candidate] = []
        for _ in range(step.count):
            number = self._numbers[step.value_prefix] = self._numbers.get(step.value_prefix, 0) + 1
            launched.append(self.fleet.launch(self.name, f"{step.value_prefix}{number}", ttl))
        self.report.candidates += step.count
        await self._in_queue(launched, step.within, "launched")
        self.say(f"launched {', '.join(_text(c.value) for c in launched)} (ttl {ttl} s)")

    async def _wait_leader(self, within: float, *, why: str) -> Candidate:
        if not await self.until(lambda: self.fleet.leader(self.name) is not None, within):
            raise _StepFailed(f"{why} within {within:g} s (candidates: {self._roll_call()})")
        leader = self.fleet.leader(self.name)
        assert leader is not None
        self.say(f"leader: {_text(leader.value)}")
        return leader

    async def _rejoin(self, step: Rejoin) -> None:
        departed = [c for c in self.fleet.in_election(self.name) if c.state.terminal]
        for candidate in departed:
            candidate.rejoin()
        await self._in_queue(departed, step.within, "rejoining")
        self.say(f"rejoined: {', '.join(_text(c.value) for c in departed) or 'nobody had left'}")

    def _elected_after(self, mark: int, old: Candidate) -> tuple[Candidate, Transition] | None:
        return next(((c, t) for c, t in self.elections[mark:] if c is not old), None)

    async def _failover(self, index: int, step: Fail) -> None:
        """Fail the leader once and time it; a stuck hand-over still leaves its (partial) row."""
        old = self.fleet.leader(self.name)
        if old is None:
            old = await self._wait_leader(max(5.0, 2.0 * self.scenario.ttl), why="no leader to fail")
        if not any(c is not old and c.state is State.CAMPAIGNING for c in self.fleet.in_election(self.name)):
            raise _StepFailed(f"nobody is waiting to take over from {_text(old.value)} ({self._roll_call()})")
        old_key = old.key
        assert old_key is not None  # a leader holds a lease
        self._failed_keys.add(old_key)
        keepalive = old.keepalive
        history_mark, elections_mark = len(old.history), len(self.elections)
        number = len(self.report.failovers) + 1
        self.say(f"fail-over {number}: {step.how} {_text(old.value)}")
        if self.on_removal is not None:
            self.on_removal(old_key, _REMOVAL_REASON[step.how])

        action_at = time.monotonic()
        match step.how:
            case "resign":
                await old.resign()
            case "revoke":
                await old.revoke()
            case "expire":
                old.let_expire()
            case "pause":
                old.pause()
            case "blackhole":
                await old.blackhole()
        limit = step.expect_within + 2 * old.ttl + _SLACK
        deadline = action_at + limit
        gone = await self.until(lambda: old_key in self.deleted, deadline - time.monotonic())
        elected = gone and await self.until(
            lambda: self._elected_after(elections_mark, old) is not None, deadline - time.monotonic()
        )
        if step.how in ("pause", "blackhole"):
            if elected and step.heal_after:
                believing = old.state.believes_leader
                believes = "two candidates believe they lead" if believing else "the old one knows it lost"
                self.say(f"  partition lasts {step.heal_after:g} s more: {believes}")
                await asyncio.sleep(step.heal_after)
            if step.how == "pause" and old.state in (State.CAMPAIGNING, State.LEADER, State.STALE):
                old.resume()  # heal: it learns its lease is gone
            if step.how == "blackhole" and old.cut:
                await old.heal()  # its client reconnects; the lease is gone, so it stays lost
        await self.until(lambda: not old.state.believes_leader, old.ttl + 2.0)

        # Read only now: a renewal in flight when the handle was pulled may still have landed.
        if step.how in ("expire", "pause", "blackhole") and keepalive is not None:
            failed_at = keepalive.last_renewal
        else:
            failed_at = action_at
        stepped_down = next((t.at for t in old.history[history_mark:] if not t.state.believes_leader), None)
        new = self._elected_after(elections_mark, old)
        deletion = self.deleted.get(old_key)
        row = Failover(
            index=number,
            step=index,
            how=step.how,
            expect_within=step.expect_within,
            old_value=_text(old.value),
            old_key=_text(old_key),
            action_at=action_at,
            failed_at=failed_at,
            key_gone_at=None if deletion is None else deletion[1],
            key_gone_revision=None if deletion is None else deletion[0],
            elected_at=None if new is None else new[1].at,
            new_value=None if new is None else _text(new[0].value),
            new_key=None if new is None else _text(new[0].key),
            believed_until=stepped_down,
        )
        self.report.failovers.append(row)
        if deletion is None:
            raise _StepFailed(f"the old leader's key {_text(old_key)} was not deleted within {limit:g} s")
        if new is None:
            raise _StepFailed(f"no new leader within {limit:g} s of the failure ({self._roll_call()})")
        late = "" if row.ok else f"  SLOWER than expected ({step.expect_within:g} s)"
        self.say(
            f"  {row.old_value} -> {row.new_value}: detection {ms_text(row.detection)}, "
            f"hand-over {ms_text(row.handover)}, gap {ms_text(row.gap)}{late}"
        )

    # -- etcd members -----------------------------------------------------------------------

    def _control(self) -> MemberControl:
        if self.members is None:  # run_drill refuses such a drill before it starts
            raise _StepFailed("member steps need an embedded cluster (a MemberControl)")
        return self.members

    async def _answers(self) -> list[Status | None]:
        return await self._control().statuses()

    def _raft(self, answers: Sequence[Status | None]) -> RaftView:
        """The members' answers in one line: whom most of them name, the highest term, who answers."""
        up = [a for a in answers if a is not None]
        return RaftView(
            self._name_of(_agreed(answers)), max((a.raft_term for a in up), default=0), len(up), len(answers)
        )

    def _name_of(self, member_id: int) -> str | None:
        if not member_id:
            return None
        control = self._control()
        for i, name in enumerate(control.names):
            if control.member_id(i) == member_id:
                return name
        return format(member_id, "x")

    def _election_leader(self) -> bytes | None:
        """The leader key of our election in etcd, as our watch knows it (lowest create revision)."""
        return min(self.live, key=self.live.__getitem__) if self.live else None

    def _value_of(self, key: bytes | None) -> str | None:
        if key is None:
            return None
        ours = self.fleet.by_key(key)
        return _text(ours.value) if ours is not None else _text(key)

    def _targets(self, step: MemberStep, answers: Sequence[Status | None]) -> list[int]:
        control = self._control()
        leader = _agreed(answers)
        answering = [i for i, a in enumerate(answers) if a is not None]
        if step.member == "leader":
            found = [i for i in answering if (a := answers[i]) is not None and a.member_id == leader]
            if not leader or not found:
                raise _StepFailed("no raft leader to take out: no member that answers names one (no quorum?)")
            return found[:1]
        if step.member == "follower":
            followers = [i for i in answering if control.member_id(i) != leader]
            if len(followers) < step.count:
                raise _StepFailed(
                    f"{step.count} follower(s) wanted, {len(followers)} answer "
                    f"({self._raft(answers).up} of {len(control)} members up)"
                )
            return followers[: step.count]
        if step.member == "failed":
            wanted: tuple[MemberVerb, ...] = ("pause",) if step.verb == "resume" else ("kill", "pause")
            out = [i for i, verb in self._out.items() if verb in wanted]
            if not out:
                raise _StepFailed(f"this drill has taken no member out to {step.verb}")
            return sorted(out)
        assert isinstance(step.member, int)
        index = step.member - 1
        state = control.process(index)
        if step.verb in ("kill", "pause") and state != "running":
            raise _StepFailed(f"{control.names[index]} is {state}: nothing to {step.verb}")
        if step.verb == "resume" and state != "paused":
            raise _StepFailed(f"{control.names[index]} is {state}, not paused")
        return [index]

    def _settled(
        self, verb: MemberVerb, targets: list[int], answers: Sequence[Status | None], before: RaftView
    ) -> bool:
        """The members' Status agrees on the outcome: targets answer (or not), and a leader or none."""
        back = verb in ("resume", "restart")
        if any((answers[i] is not None) != back for i in targets):
            return False
        up = [a for a in answers if a is not None]
        if len(up) <= len(answers) // 2:
            return all(not a.leader for a in up)  # no majority: nobody may name a leader
        leader = _agreed(answers)
        if not (leader and all(a.leader == leader for a in up) and any(a.member_id == leader for a in up)):
            return False
        # Status names a new leader before it reports the new term (its raftTerm is the term of
        # the last entry applied): a leader elected since `before` must show a higher term.
        view = self._raft(answers)
        return view.leader == before.leader or view.term > before.term

    async def _member_step(self, index: int, step: MemberStep) -> None:
        control = self._control()
        before_answers = await self._answers()
        before = self._raft(before_answers)
        targets = self._targets(step, before_answers)
        names = tuple(control.names[i] for i in targets)
        chosen = str(step.member)
        key_before = self._election_leader()
        self.say(
            f"{step.verb} {', '.join(names)} ({chosen}); raft: {before.text()}, {before.up}/{before.total} up"
        )
        at = time.monotonic()
        match step.verb:
            case "kill":
                await control.kill(*targets)
            case "pause":
                await control.pause(*targets)
            case "resume":
                await control.resume(*targets)
            case "restart":
                await control.restart(*targets)  # the settling below waits for a leader
        verb = step.verb
        for i in targets:
            if verb in ("kill", "pause"):
                self._out[i] = verb
            else:
                self._out.pop(i, None)
        deadline = at + step.within
        settled_at: float | None = None
        while True:
            answers = await self._answers()
            if self._settled(verb, targets, answers, before):
                settled_at = time.monotonic()
                break
            if time.monotonic() >= deadline:
                self.report.notes.append(
                    f"steps[{index}] ({step.action}): the members' Status did not settle within {step.within:g} s"
                )
                break
            await asyncio.sleep(_MEMBER_POLL)
        after = self._raft(answers)
        key_after = self._election_leader()
        leases: tuple[LeaseAfter, ...] = ()
        if not before.quorum and after.quorum:  # quorum is back: what became of the leases?
            leases = await self._leases()
        event = MemberEvent(
            index=len(self.report.member_events) + 1,
            step=index,
            verb=verb,
            chosen=chosen,
            members=names,
            at=at,
            settled_at=settled_at,
            before=before,
            after=after,
            leader_before=self._value_of(key_before),
            leader_after=self._value_of(key_after),
            leader_kept=key_before is not None and key_after == key_before,
            leases=leases,
        )
        self.report.member_events.append(event)
        settle = "not settled" if event.settle is None else f"settled in {ms_text(event.settle)}"
        quorum = "" if after.quorum else ", NO QUORUM"
        kept = "kept" if event.leader_kept else f"now {event.leader_after or 'none'}"
        self.say(
            f"  raft: {before.text()} -> {after.text()}, {after.up}/{after.total} up{quorum}, {settle}; "
            f"election leader {event.leader_before or 'none'} {kept}"
        )
        for lease in leases:
            state = f"alive, {lease.ttl} s left" if lease.ttl > 0 else "gone"
            self.say(f"  {lease.value}'s lease: {state} (it believed: {lease.believed})")

    async def _leases(self) -> tuple[LeaseAfter, ...]:
        """What etcd says now of every lease our candidates hold or held (once quorum is back)."""
        out = []
        for candidate in self.fleet.in_election(self.name):
            if candidate.lease_id:
                info = await self.client.lease_time_to_live(candidate.lease_id)
                out.append(
                    LeaseAfter(_text(candidate.value), candidate.lease_id, info.ttl, candidate.state.value)
                )
        return tuple(out)


def _agreed(answers: Sequence[Status | None]) -> int:
    """The raft leader id most answering members name (0: none names one)."""
    votes = Counter(a.leader for a in answers if a is not None and a.leader)
    return votes.most_common(1)[0][0] if votes else 0


async def _poll(predicate: Callable[[], bool], timeout: float) -> bool:
    """For the few conditions nothing announces (a watch's ack, a lease id arriving)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True
