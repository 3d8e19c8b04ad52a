"""Drill scenarios: a small TOML format, parsed and checked before anything touches etcd.

    name = "expiry"
    description = "The leader stops renewing its lease: etcd notices only after the TTL."
    election = "drill/expiry"
    ttl = 2

    [[steps]]
    action = "launch"        # count, ttl (default: the scenario's), value_prefix, within
    count = 3

    [[steps]]
    action = "wait_leader"   # within
    within = 5

    [[steps]]
    action = "fail"          # how = resign | expire | revoke | pause | blackhole; expect_within;
                             # repeat; heal_after (pause, blackhole)
    how = "expire"
    expect_within = 3.5
    repeat = 2

    [[steps]]
    action = "rejoin"        # every departed candidate campaigns again; within

    [[steps]]
    action = "hold"          # seconds (at most 60)
    seconds = 1

Member steps break etcd itself, so they run only on an embedded cluster this process started
(`--members 3`); on an attached cluster the drill is refused before it starts. `members = 3`
at the top says which size the drill is written for (the CLI starts that many):

    [[steps]]
    action = "kill_member"   # or pause_member (SIGSTOP); within
    member = "leader"        # "leader" (the raft leader the members name), "follower", or N
    within = 10              # seconds for the members' own Status to settle (default 10)

    [[steps]]
    action = "kill_member"
    member = "follower"
    count = 2                # with "follower" only: several at once (2 of 3: no quorum)

    [[steps]]
    action = "restart_member"  # or resume_member; within (default 20 for restart)
    member = "failed"          # the default: every member this drill killed (or paused)

N is a member's number, as in its name and the Cluster panel (`election-tui-2` is 2). After each
member step the drill asks every member's Status until they agree on a raft leader that answers
(or, without a majority, until none names one), and reports the raft leader and term before and
after, who answers, and whether the election kept its leader.

`how = "pause"` withholds the leader's keep-alive inside its process (it goes stale, then learns
it lost); `how = "blackhole"` cuts the leader's own connection for real, through a loopback proxy
of its own (every candidate of such a drill gets one), so its client hears nothing back and gives
the lease up by itself (it goes straight to lost). Only a cluster on loopback can be cut this way.

Steps are numbered from 0 in error messages (`steps[2].how`), like the list they come from.
Mistakes are found here, with the file and the field, so a drill never stops half-way because
of a typo; the candidate count is checked too, so every failure has someone to take over.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

FailHow = Literal["resign", "expire", "revoke", "pause", "blackhole"]
PARTITIONS: Final[tuple[FailHow, ...]] = ("pause", "blackhole")  # failures that heal (heal_after)
FAIL_HOWS: Final[tuple[FailHow, ...]] = get_args(FailHow)
MemberAction = Literal["kill_member", "pause_member", "resume_member", "restart_member"]
MEMBER_ACTIONS: Final[tuple[MemberAction, ...]] = get_args(MemberAction)
MemberVerb = Literal["kill", "pause", "resume", "restart"]
_VERBS: Final[dict[MemberAction, MemberVerb]] = {
    "kill_member": "kill",
    "pause_member": "pause",
    "resume_member": "resume",
    "restart_member": "restart",
}
ACTIONS: Final = ("launch", "wait_leader", "fail", "rejoin", "hold", *MEMBER_ACTIONS)
# Whom a member step acts on: a role the members' Status gives now, the members this drill took
# out ("failed"), or a member's number (1-based, as in its name).
MemberChoice = Literal["leader", "follower", "failed"] | int
_CHOICES: Final = {
    "kill_member": ("leader", "follower"),
    "pause_member": ("leader", "follower"),
    "resume_member": ("failed",),
    "restart_member": ("failed",),
}

_MAX_TTL = 300  # drills are short; an expiry drill lasts about TTL per failure
_MAX_COUNT = 50
_MAX_REPEAT = 50
_MAX_WITHIN = 300.0
_MAX_HOLD = 60.0
_MAX_MEMBERS = 5
_MIN_TO_BREAK = 3  # members a kill or pause step needs: a quorum survives one member out
_MAX_FILE_BYTES = 1 << 20  # a scenario is a few hundred bytes; never read a huge file whole


class ScenarioError(ValueError):
    """A scenario that cannot run, naming the file and the field to fix."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where} {problem}" if field else f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class Launch:
    """Start `count` candidates, named `<value_prefix><n>`; wait until each has its key."""

    count: int
    ttl: int | None = None
    value_prefix: str = "c"
    within: float = 10.0
    action: Literal["launch"] = "launch"


@dataclass(frozen=True, slots=True)
class WaitLeader:
    """Wait until exactly one of our candidates knows it leads."""

    within: float = 10.0
    action: Literal["wait_leader"] = "wait_leader"


@dataclass(frozen=True, slots=True)
class Fail:
    """Fail the current leader `repeat` times, each time timing the hand-over.

    `expect_within`: seconds from the failure to the new leader that count as "ok"; slower
    hand-overs are reported, not raised. `heal_after` (pause, blackhole): seconds the partition
    lasts after the new leader is known; a paused leader still believes meanwhile (the report's
    overlap), a black-holed one already gave up.
    """

    how: FailHow
    expect_within: float
    repeat: int = 1
    heal_after: float = 0.0
    action: Literal["fail"] = "fail"


@dataclass(frozen=True, slots=True)
class Rejoin:
    """Every departed candidate takes a new lease and campaigns again (at the back of the queue)."""

    within: float = 10.0
    action: Literal["rejoin"] = "rejoin"


@dataclass(frozen=True, slots=True)
class Hold:
    """Do nothing for a while (so a watcher, or a person, can see the state)."""

    seconds: float
    action: Literal["hold"] = "hold"


@dataclass(frozen=True, slots=True)
class MemberStep:
    """Kill, pause, resume or restart etcd members, then wait (bounded) for their Status to settle.

    `member`: "leader" / "follower" (roles the members' own Status gives at that moment),
    "failed" (every member this drill killed, or paused, that is still out), or a member number.
    """

    action: MemberAction
    member: MemberChoice
    count: int = 1
    within: float = 10.0

    @property
    def verb(self) -> MemberVerb:
        return _VERBS[self.action]


Step = Launch | WaitLeader | Fail | Rejoin | Hold | MemberStep


@dataclass(frozen=True, slots=True)
class Scenario:
    """A checked drill: run it with `run_drill(client, scenario)`."""

    name: str
    description: str
    election: str
    ttl: int
    steps: tuple[Step, ...]
    source: str = "<string>"
    members: int | None = None  # the cluster size the drill is written for (None: any)

    @property
    def failures(self) -> int:
        """How many fail-overs the drill performs."""
        return sum(s.repeat for s in self.steps if isinstance(s, Fail))

    @property
    def blackholes(self) -> list[int]:
        """Indexes of the steps that cut a leader's own link (its candidates need links)."""
        return [i for i, s in enumerate(self.steps) if isinstance(s, Fail) and s.how == "blackhole"]

    @property
    def launched(self) -> int:
        """How many candidates the drill launches in all."""
        return sum(s.count for s in self.steps if isinstance(s, Launch))

    @property
    def member_steps(self) -> list[tuple[int, MemberStep]]:
        """(index, step) of every step that breaks etcd members."""
        return [(i, s) for i, s in enumerate(self.steps) if isinstance(s, MemberStep)]

    def cluster_problem(self, members: int | None) -> ScenarioError | None:
        """Why this drill cannot run on a cluster of `members` we control (None: attached)."""
        steps = self.member_steps
        if not steps:
            return None
        index, first = steps[0]
        size = self.members or 3
        if members is None:
            return ScenarioError(
                self.source,
                f"steps[{index}].action",
                f"{first.action!r} breaks etcd members, so it runs only on an embedded cluster "
                f"this process starts: run it without --endpoints (and with --members {size})",
            )
        if self.members is not None and members != self.members:
            return ScenarioError(
                self.source,
                "members",
                f"is {self.members}: this drill is written for {self.members} members, "
                f"the cluster has {members} (use --members {self.members})",
            )
        for i, step in steps:
            problem = _member_fit(step, members) or _spare_problem(step, members)
            if problem is not None:
                return ScenarioError(self.source, f"steps[{i}].{problem[0]}", problem[1])
        return None


def _member_fit(step: MemberStep, members: int) -> tuple[str, str] | None:
    """(field, problem) when `step` asks for a member a cluster of `members` does not have."""
    if isinstance(step.member, int) and step.member > members:
        return "member", f"is {step.member} but the cluster has {members} member(s)"
    if step.member == "follower" and step.count > members - 1:
        return "count", f"is {step.count} but a cluster of {members} has {members - 1} follower(s)"
    return None


def _spare_problem(step: MemberStep, members: int) -> tuple[str, str] | None:
    """Killing or pausing a member of a cluster with none to spare leaves nobody to tell the story."""
    if step.action in ("kill_member", "pause_member") and members < _MIN_TO_BREAK:
        return "action", (
            f"{step.action!r} needs --members {_MIN_TO_BREAK} or more (the cluster has {members}: "
            "taking one out leaves no quorum, so nothing the drill reads afterwards could be known)"
        )
    return None


def default_expect_within(how: FailHow, ttl: int) -> float:
    """A polite or crashing leader is replaced at once; a silent one only after its TTL."""
    return 1.0 if how in ("resign", "revoke") else ttl + 1.5  # blackhole: its lease expires too


# -- loading --------------------------------------------------------------------------------


def _shipped_dir() -> Traversable:
    return resources.files("election_tui") / "drills"


def shipped_scenarios() -> list[str]:
    """Names of the drills shipped with the package (`load_scenario(name)` loads one)."""
    folder = _shipped_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario file, or a shipped drill by its bare name (`"resign"`)."""
    if isinstance(path_or_name, Path) or _looks_like_path(path_or_name):
        path = Path(path_or_name)
        return parse_scenario(_read_file(path), source=path.name, default_name=path.stem)
    shipped = _shipped_dir() / f"{path_or_name}.toml"
    if not shipped.is_file():
        names = ", ".join(shipped_scenarios()) or "none"
        raise ScenarioError(path_or_name, "", f"is neither a file nor a shipped drill (shipped: {names})")
    return parse_scenario(shipped.read_text(encoding="utf-8"), source=shipped.name, default_name=path_or_name)


def _read_file(path: Path) -> str:
    """The text of a scenario file; a missing, special, huge or non-UTF-8 file is a ScenarioError."""
    source = str(path)
    try:
        if path.is_dir():
            raise ScenarioError(source, "", "is a directory, not a scenario file")
        if path.exists() and not path.is_file():
            raise ScenarioError(source, "", "is not a regular file")  # a FIFO or a device never ends
        with path.open("rb") as file:
            data = file.read(_MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioError(source, "", f"cannot be read ({err.strerror or err})") from err
    if len(data) > _MAX_FILE_BYTES:
        raise ScenarioError(
            source, "", f"is too large for a scenario file (over {_MAX_FILE_BYTES >> 20} MiB)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(
            source, "", f"is not UTF-8 text (byte {err.start} is {data[err.start]:#04x})"
        ) from err


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text or Path(text).is_file()


def parse_scenario(text: str, *, source: str = "<string>", default_name: str | None = None) -> Scenario:
    """Parse and check scenario TOML; every problem is a ScenarioError naming the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(source, "", f"is not valid TOML: {err}") from err
    except RecursionError:
        raise ScenarioError(source, "", "is not valid TOML: nested too deeply") from None
    return _Parser(source).scenario(data, default_name)


class _Parser:
    """Reads the TOML dict field by field so each error can say exactly where it is."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.members: int | None = None  # the scenario's own `members`, once read

    def error(self, field: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, field, problem)

    def scenario(self, data: dict[str, Any], default_name: str | None) -> Scenario:
        self.unknown(data, "", ("name", "description", "election", "ttl", "members", "steps"))
        name = self.text(data, "name", default=default_name)
        description = self.text(data, "description", default="")
        election = self.text(data, "election")
        if not election.strip():
            raise self.error("election", "must not be blank")
        ttl = self.integer(data, "ttl", low=1, high=_MAX_TTL)
        members = self.integer(data, "members", low=1, high=_MAX_MEMBERS) if "members" in data else None
        raw_steps = data.get("steps")
        if raw_steps is None:
            raise self.error("steps", "is required: add [[steps]] tables (launch, wait_leader, fail, ...)")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.error("steps", "must be a non-empty array of [[steps]] tables")
        self.members = members
        steps = tuple(self.step(raw, f"steps[{i}]", ttl) for i, raw in enumerate(raw_steps))
        self.check_candidates(steps)
        if members is not None:
            for i, step in enumerate(steps):
                problem = (
                    _member_fit(step, members) or _spare_problem(step, members)
                    if isinstance(step, MemberStep)
                    else None
                )
                if problem is not None:
                    raise self.error(f"steps[{i}].{problem[0]}", problem[1])
        return Scenario(name, description.strip(), election, ttl, steps, self.source, members)

    def step(self, raw: object, where: str, ttl: int) -> Step:
        if not isinstance(raw, dict):
            raise self.error(where, "must be a table ([[steps]])")
        action = raw.get("action")
        if action is None:
            raise self.error(f"{where}.action", f"is required (one of {', '.join(ACTIONS)})")
        if action not in ACTIONS:
            raise self.error(f"{where}.action", f"must be one of {', '.join(ACTIONS)} (got {action!r})")
        if action == "launch":
            self.unknown(raw, where, ("action", "count", "ttl", "value_prefix", "within"))
            value_prefix = self.text(raw, "value_prefix", where, default="c")
            if not value_prefix:
                raise self.error(f"{where}.value_prefix", "must not be empty")
            return Launch(
                count=self.integer(raw, "count", where, low=1, high=_MAX_COUNT),
                ttl=self.integer(raw, "ttl", where, low=1, high=_MAX_TTL) if "ttl" in raw else None,
                value_prefix=value_prefix,
                within=self.seconds(raw, "within", where, default=10.0, high=_MAX_WITHIN),
            )
        if action == "wait_leader":
            self.unknown(raw, where, ("action", "within"))
            return WaitLeader(self.seconds(raw, "within", where, default=10.0, high=_MAX_WITHIN))
        if action == "fail":
            self.unknown(raw, where, ("action", "how", "expect_within", "repeat", "heal_after"))
            how = raw.get("how")
            if how is None:
                raise self.error(f"{where}.how", f"is required (one of {', '.join(FAIL_HOWS)})")
            if how not in FAIL_HOWS:
                raise self.error(f"{where}.how", f"must be one of {', '.join(FAIL_HOWS)} (got {how!r})")
            heal_after = self.seconds(raw, "heal_after", where, default=0.0, high=_MAX_HOLD, zero=True)
            if heal_after and how not in PARTITIONS:
                raise self.error(f"{where}.heal_after", 'only applies to how = "pause" or "blackhole"')
            return Fail(
                how=how,
                expect_within=self.seconds(
                    raw, "expect_within", where, default=default_expect_within(how, ttl), high=_MAX_WITHIN
                ),
                repeat=self.integer(raw, "repeat", where, default=1, low=1, high=_MAX_REPEAT),
                heal_after=heal_after,
            )
        if action == "rejoin":
            self.unknown(raw, where, ("action", "within"))
            return Rejoin(self.seconds(raw, "within", where, default=10.0, high=_MAX_WITHIN))
        if action in MEMBER_ACTIONS:
            return self.member_step(raw, where, action)
        self.unknown(raw, where, ("action", "seconds"))
        return Hold(self.seconds(raw, "seconds", where, high=_MAX_HOLD))

    def member_step(self, raw: dict[str, Any], where: str, action: MemberAction) -> MemberStep:
        self.unknown(raw, where, ("action", "member", "count", "within"))
        roles = _CHOICES[action]
        allowed = " or ".join(f'"{r}"' for r in roles) + ", or a member number"
        member = raw.get("member", None if "leader" in roles else "failed")
        if member is None:
            raise self.error(f"{where}.member", f"is required ({allowed})")
        if isinstance(member, bool) or not isinstance(member, str | int):
            raise self.error(f"{where}.member", f"must be {allowed} (got {member!r})")
        if isinstance(member, str) and member not in roles:
            raise self.error(f"{where}.member", f"must be {allowed} (got {member!r})")
        most = self.members or _MAX_MEMBERS
        if isinstance(member, int) and not 1 <= member <= most:
            size = f"this drill has members = {most}" if self.members else f"a cluster has at most {most}"
            raise self.error(
                f"{where}.member", f"must be a member number from 1 to {most} (got {member}: {size})"
            )
        if "count" in raw and member != "follower":
            raise self.error(f"{where}.count", 'only applies to member = "follower"')
        count = self.integer(raw, "count", where, default=1, low=1, high=_MAX_MEMBERS - 1)
        within = self.seconds(
            raw, "within", where, default=20.0 if action == "restart_member" else 10.0, high=_MAX_WITHIN
        )
        return MemberStep(action, cast(MemberChoice, member), count, within)  # checked above

    def check_candidates(self, steps: tuple[Step, ...]) -> None:
        """Each failure takes a candidate out: make sure someone is always waiting to take over."""
        launched = live = 0
        for i, step in enumerate(steps):
            where = f"steps[{i}]"
            if isinstance(step, Launch):
                launched += step.count
                live += step.count
            elif isinstance(step, Rejoin):
                live = launched
            elif isinstance(step, WaitLeader | Fail) and not launched:
                raise self.error(f"{where}.action", f"{step.action!r} needs candidates: launch some first")
            if isinstance(step, Fail):
                if step.repeat > live - 1:
                    raise self.error(
                        f"{where}.repeat",
                        f"is {step.repeat} but only {live} candidate(s) are in the election here: each "
                        "failure takes the leader out and needs another candidate waiting "
                        f"(at most {max(live - 1, 0)}; launch more or add a rejoin step before)",
                    )
                live -= step.repeat

    # -- typed fields -------------------------------------------------------------------------

    def unknown(self, table: dict[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                field = f"{where}.{key}" if where else key
                raise self.error(field, f"is not a known field here (known: {', '.join(allowed)})")

    def text(self, table: dict[str, Any], key: str, where: str = "", *, default: str | None = None) -> str:
        field = f"{where}.{key}" if where else key
        value = table.get(key, default)
        if value is None:
            raise self.error(field, "is required")
        if not isinstance(value, str):
            raise self.error(field, f"must be a string (got {value!r})")
        return value

    def integer(
        self,
        table: dict[str, Any],
        key: str,
        where: str = "",
        *,
        default: int | None = None,
        low: int,
        high: int,
    ) -> int:
        field = f"{where}.{key}" if where else key
        value = table.get(key, default)
        if value is None:
            raise self.error(field, "is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"must be a whole number (got {value!r})")
        if not low <= value <= high:
            raise self.error(field, f"must be between {low} and {high} (got {value})")
        return value

    def seconds(
        self,
        table: dict[str, Any],
        key: str,
        where: str,
        *,
        default: float | None = None,
        high: float,
        zero: bool = False,
    ) -> float:
        field = f"{where}.{key}"
        value = table.get(key, default)
        if value is None:
            raise self.error(field, "is required (seconds)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"must be a number of seconds (got {value!r})")
        if value < 0 or (value == 0 and not zero) or value > high:
            wanted = f"between 0 and {high:g}" if zero else f"more than 0 and at most {high:g}"
            raise self.error(field, f"must be {wanted} seconds (got {value})")
        return float(value)
