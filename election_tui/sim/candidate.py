"""A simulated candidate: the leader-election pattern with handles a person can pull.

Its states, each transition timestamped and observable:
idle -> campaigning -> leader -> resigned | expired | revoked | lost, plus `stale`: a leader
whose keep-alive is paused and whose lease has run out by its own clock still believes it leads
until it learns otherwise (the split-brain window, made visible).

Two partitions, which end differently. `pause()` withholds the keep-alive inside the process (the
simulator's partition): the leader goes `stale`, then learns it lost. `blackhole()` cuts a
candidate that has a link of its own (`link.py`) for real: its client hears nothing back, gives
the lease up one TTL after the last answered renewal (no later than etcd expires it) and goes
`leader -> lost` directly. `heal()` reconnects it; it rejoins like any candidate that left.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..etcd import (
    BytesLike,
    CampaignTimeout,
    EtcdClient,
    EtcdError,
    KeepAlive,
    LeaderElection,
    LeaderKey,
    LeaseNotFound,
    NotLeaderError,
    candidate_key,
    election_name,
    to_bytes,
    validate_ttl,
)
from .link import Link


class State(Enum):
    IDLE = "idle"
    CAMPAIGNING = "campaigning"
    LEADER = "leader"
    STALE = "stale"
    RESIGNED = "resigned"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOST = "lost"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def meaning(self) -> str:
        """One line for a legend: what the candidate believes and what etcd holds."""
        return _MEANINGS[self]

    @property
    def believes_leader(self) -> bool:
        return self in (State.LEADER, State.STALE)


_TERMINAL = frozenset({State.RESIGNED, State.EXPIRED, State.REVOKED, State.LOST})

_MEANINGS = {
    State.IDLE: "created, not started yet",
    State.CAMPAIGNING: "its key is in the queue; Campaign waits until every older key is gone",
    State.LEADER: "Campaign returned: its key is the oldest, it leads",
    State.STALE: "believes it leads, but its lease ran out while partitioned (split-brain window)",
    State.RESIGNED: "left politely: resigned, then revoked its lease",
    State.EXPIRED: "stopped renewing: the lease, and so the key, died after the TTL",
    State.REVOKED: "crashed: the lease was revoked at once, the key went with it",
    State.LOST: "learned it lost: its lease or key went while it was not looking",
}


@dataclass(frozen=True, slots=True)
class Transition:
    state: State
    at: float  # time.monotonic()
    wall: float  # time.time()
    detail: str = ""


Listener = Callable[["Candidate", Transition], None]
_ids = itertools.count(1)


class CandidateError(Exception):
    """An action that the candidate's current state does not allow."""


class Candidate:
    """One simulated participant; every action goes to etcd, and so do its effects.

    With a `link` (its own proxied connection, which it then owns and closes), its own traffic
    goes over `link.client` and `client` is kept for what the simulator does from outside the
    candidate's process: revoking its lease on a crash or on close, so that even a candidate cut
    off from etcd leaves nothing behind, promptly. `no_link` says why it has none (for messages).
    """

    def __init__(
        self,
        client: EtcdClient,
        name: BytesLike,
        value: BytesLike,
        ttl: int = 10,
        *,
        campaign_timeout: float | None = None,
        link: Link | None = None,
        no_link: str = "",
    ) -> None:
        self.id = next(_ids)
        self.link = link
        self.no_link = no_link or "it was launched without a link of its own"
        self.control = client  # healthy whatever happens to the link: revokes go this way
        self.client = link.client if link is not None else client
        self.name = election_name(name)
        self.value = to_bytes(value)
        self.ttl = validate_ttl(ttl)
        self.campaign_timeout = campaign_timeout
        self.history: list[Transition] = []
        self.paused = False
        self.expiring = False
        self.last_error: str | None = None
        self._election: LeaderElection | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._learn_timer: asyncio.TimerHandle | None = None
        self._set(State.IDLE)

    def __repr__(self) -> str:
        return f"<Candidate #{self.id} {self.name!r} {self.state.value} lease={self.lease_id:x}>"

    # -- observation ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.history[-1].state

    @property
    def cut(self) -> bool:
        """Its link is black-holed: nothing it sends reaches etcd, nothing comes back."""
        return self.link is not None and self.link.cut

    @property
    def partition(self) -> str | None:
        """Which partition it is under: "blackhole" (its network), "pause" (its keep-alive), None."""
        if self.cut:
            return "blackhole"
        return "pause" if self.paused and not self.state.terminal else None

    @property
    def lease_id(self) -> int:
        e = self._election
        return e.lease.id if e is not None and e.lease is not None else 0

    @property
    def key(self) -> bytes | None:
        """Our candidate key `<name>/<lease hex>` (what etcd's Campaign creates)."""
        lease = self.lease_id
        return candidate_key(self.name, lease) if lease else None

    @property
    def leader_key(self) -> LeaderKey | None:
        return self._election.leader_key if self._election is not None else None

    @property
    def keepalive(self) -> KeepAlive | None:
        """Our lease's keep-alive handle (its `last_renewal` dates a failure for drills)."""
        e = self._election
        return e.keepalive if e is not None else None

    def remaining(self) -> float | None:
        """Seconds our lease is known to live (None when we hold none)."""
        e = self._election
        return e.keepalive.remaining() if e is not None and e.keepalive is not None else None

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def wait_for(self, *states: State, timeout: float) -> State:
        """Wait (bounded) until the candidate is in one of `states`."""
        async with asyncio.timeout(timeout):
            while self.state not in states:
                await self._changed.wait()
        return self.state

    def _set(self, state: State, detail: str = "") -> None:
        transition = Transition(state, time.monotonic(), time.time(), detail)
        self.history.append(transition)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in list(self._listeners):
            listener(self, transition)

    # -- actions ----------------------------------------------------------------------------

    def start(self) -> None:
        """Grant a lease, keep it alive and campaign (in the background)."""
        if self.state is not State.IDLE:
            raise CandidateError(f"cannot start a {self.state.value} candidate; rejoin instead")
        self._launch()

    def rejoin(self) -> None:
        """After leaving: a new lease and a new campaign."""
        if not self.state.terminal:
            raise CandidateError(f"cannot rejoin a {self.state.value} candidate")
        self._reachable("rejoin")
        self._launch()

    def _launch(self) -> None:
        self.paused = False
        self.expiring = False
        self.last_error = None
        previous = self._election
        election = LeaderElection(self.client, self.name, self.value, self.ttl, revoke_via=self.control)
        election.on_lost(self._on_lost)
        self._election = election
        self._set(State.CAMPAIGNING)
        self._task = asyncio.create_task(self._campaign(election, previous), name=f"candidate-{self.id}")

    async def _campaign(self, election: LeaderElection, previous: LeaderElection | None = None) -> None:
        if self.link is not None:
            try:
                await self.link.start()
            except OSError as err:
                self.last_error = f"its link to etcd could not start: {err.strerror or err}"
                self._leave(State.LOST, self.last_error)
                return
        if previous is not None:
            # A lost leadership (key deleted, write refused...) can leave the old lease alive and
            # renewed; nobody else would ever revoke it once it is replaced.
            with contextlib.suppress(EtcdError):
                await previous.resign()
        try:
            await election.campaign(self.campaign_timeout)
        except CampaignTimeout as err:
            await election.resign()
            self._leave(State.LOST, f"campaign timed out: {err.detail}")
        except (LeaseNotFound, NotLeaderError) as err:
            self._leave(State.EXPIRED if self.expiring else State.LOST, err.detail)
        except EtcdError as err:
            self.last_error = str(err)
            self._leave(State.LOST, str(err))
        else:
            if election is self._election and self.state is State.CAMPAIGNING:
                self._set(State.LEADER)

    def _leave(self, state: State, detail: str) -> None:
        if not self.state.terminal:
            self._cancel_learn()
            self._set(state, detail)

    def _on_lost(self, reason: str) -> None:
        if self.state.terminal:
            return
        if self.expiring:
            self._leave(State.EXPIRED, reason)
        elif self.paused and self.state is State.LEADER:
            # Partitioned: it cannot know yet; it learns on resume, on a refused write, or
            # when its requests would have timed out (another TTL).
            self._set(State.STALE, reason)
            loop = asyncio.get_running_loop()
            self._learn_timer = loop.call_later(self.ttl, self._leave, State.LOST, "learned: lease gone")
        elif self.state in (State.LEADER, State.STALE):
            self._leave(State.LOST, reason)

    def _cancel_learn(self) -> None:
        if self._learn_timer is not None:
            self._learn_timer.cancel()
            self._learn_timer = None

    def _reachable(self, action: str) -> None:
        """Refuse what would only time out on a black-holed link, saying what to do instead."""
        if self.cut:
            raise CandidateError(
                f"candidate #{self.id} is cut off from etcd (network: blackhole): it cannot {action} "
                "until the partition heals"
            )

    def _require(self, *states: State) -> LeaderElection:
        if self.state not in states or self._election is None:
            allowed = " or ".join(s.value for s in states)
            raise CandidateError(f"candidate #{self.id} is {self.state.value}, not {allowed}")
        return self._election

    async def proclaim(self, value: BytesLike) -> None:
        election = self._require(State.LEADER, State.STALE)
        self._reachable("proclaim")
        try:
            await election.proclaim(value)
        except NotLeaderError as err:
            self._leave(State.LOST, f"proclaim refused: {err.detail}")
            raise
        self.value = to_bytes(value)

    async def guarded_put(self, key: BytesLike, value: BytesLike) -> int:
        """A write fenced on our leader key: refused by etcd once leadership is gone."""
        election = self._require(State.LEADER, State.STALE)
        self._reachable("write")
        try:
            return await election.guarded_put(key, value)
        except NotLeaderError as err:
            self._leave(State.LOST, f"fenced write refused: {err.detail}")
            raise

    async def resign(self) -> None:
        """Leave politely: resign (or withdraw from the queue), stop renewing, revoke."""
        election = self._require(State.CAMPAIGNING, State.LEADER, State.STALE)
        self._reachable("resign")
        await self._stop_campaign()
        # Stop believing before the key goes: the next candidate is elected the moment Resign
        # deletes it, and two candidates must never both believe they lead (unless one is stale).
        self._leave(State.RESIGNED, "resigned")
        await election.resign()

    def let_expire(self) -> None:
        """Stop renewing on purpose: the key dies with the lease after the TTL."""
        election = self._require(State.CAMPAIGNING, State.LEADER)
        self.expiring = True
        assert election.keepalive is not None
        election.keepalive.pause()

    async def revoke(self) -> None:
        """Crash: the lease (and so the key) goes at once."""
        election = self._require(State.CAMPAIGNING, State.LEADER, State.STALE)
        await self._stop_campaign()
        self._leave(State.REVOKED, "lease revoked (crash)")  # a crashed process believes nothing
        await election.crash()

    def pause(self) -> None:
        """The simulator's partition: keep-alives are withheld; the candidate does not know it yet."""
        election = self._require(State.CAMPAIGNING, State.LEADER)
        if self.cut:
            raise CandidateError(f"candidate #{self.id} is already cut off (network: blackhole)")
        self.paused = True
        assert election.keepalive is not None
        election.keepalive.pause()

    def resume(self) -> None:
        """Heal the partition: renew again, or learn that the lease is gone."""
        election = self._require(State.CAMPAIGNING, State.LEADER, State.STALE)
        self.paused = False
        if self.state is State.STALE:
            self._leave(State.LOST, "learned on resume: lease gone")
        elif election.keepalive is not None:
            election.keepalive.resume()

    async def blackhole(self) -> None:
        """A real partition: its link drops every byte both ways; neither side is told.

        Needs a link of its own (`CandidateError` says why it has none otherwise).
        """
        if self.link is None:
            raise CandidateError(
                f"candidate #{self.id} shares the fleet's connection to etcd, so it cannot be cut "
                f"off alone ({self.no_link}); pausing its keep-alive simulates a partition instead"
            )
        self._require(State.CAMPAIGNING, State.LEADER)
        if self.cut:
            raise CandidateError(f"candidate #{self.id} is already cut off (network: blackhole)")
        if self.paused:
            raise CandidateError(f"candidate #{self.id}'s keep-alive is paused: resume it first")
        await self.link.blackhole()

    async def heal(self) -> None:
        """End the network partition: bytes flow again and its client reconnects by itself.

        A lease that outlived the cut is renewed again; one that did not was already given up
        (the candidate is `lost`) and it can rejoin.
        """
        if not self.cut:
            raise CandidateError(f"candidate #{self.id} is not cut off")
        assert self.link is not None
        await self.link.heal()

    async def _stop_campaign(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Leave whatever the state, revoking our lease: the fleet's exit path (closes the link).

        Cut off, it does not try to resign over its link (that would only time out): its lease
        is revoked over the shared client, which takes its key with it.
        """
        self._cancel_learn()
        await self._stop_campaign()
        try:
            if self._election is not None:
                with contextlib.suppress(EtcdError):
                    if self.cut:
                        await self._election.crash()
                    else:
                        await self._election.resign()
            if not self.state.terminal and self.state is not State.IDLE:
                self._leave(State.RESIGNED, "closed")
        finally:
            if self.link is not None:
                await self.link.aclose()
