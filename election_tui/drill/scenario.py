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
    action = "fail"          # how = resign | expire | revoke | pause; expect_within; repeat; heal_after
    how = "expire"
    expect_within = 3.5
    repeat = 2

    [[steps]]
    action = "rejoin"        # every departed candidate campaigns again; within

    [[steps]]
    action = "hold"          # seconds (at most 60)
    seconds = 1

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
from typing import Any, Final, Literal, get_args

FailHow = Literal["resign", "expire", "revoke", "pause"]
FAIL_HOWS: Final[tuple[FailHow, ...]] = get_args(FailHow)
ACTIONS: Final = ("launch", "wait_leader", "fail", "rejoin", "hold")

_MAX_TTL = 300  # drills are short; an expiry drill lasts about TTL per failure
_MAX_COUNT = 50
_MAX_REPEAT = 50
_MAX_WITHIN = 300.0
_MAX_HOLD = 60.0
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
    hand-overs are reported, not raised. `heal_after` (pause only): seconds the partition lasts
    after the new leader is known, so the report shows two candidates believing they lead.
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


Step = Launch | WaitLeader | Fail | Rejoin | Hold


@dataclass(frozen=True, slots=True)
class Scenario:
    """A checked drill: run it with `run_drill(client, scenario)`."""

    name: str
    description: str
    election: str
    ttl: int
    steps: tuple[Step, ...]
    source: str = "<string>"

    @property
    def failures(self) -> int:
        """How many fail-overs the drill performs."""
        return sum(s.repeat for s in self.steps if isinstance(s, Fail))


def default_expect_within(how: FailHow, ttl: int) -> float:
    """A polite or crashing leader is replaced at once; a silent one only after its TTL."""
    return 1.0 if how in ("resign", "revoke") else ttl + 1.5


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

    def error(self, field: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, field, problem)

    def scenario(self, data: dict[str, Any], default_name: str | None) -> Scenario:
        self.unknown(data, "", ("name", "description", "election", "ttl", "steps"))
        name = self.text(data, "name", default=default_name)
        description = self.text(data, "description", default="")
        election = self.text(data, "election")
        if not election.strip():
            raise self.error("election", "must not be blank")
        ttl = self.integer(data, "ttl", low=1, high=_MAX_TTL)
        raw_steps = data.get("steps")
        if raw_steps is None:
            raise self.error("steps", "is required: add [[steps]] tables (launch, wait_leader, fail, ...)")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.error("steps", "must be a non-empty array of [[steps]] tables")
        steps = tuple(self.step(raw, f"steps[{i}]", ttl) for i, raw in enumerate(raw_steps))
        self.check_candidates(steps)
        return Scenario(name, description.strip(), election, ttl, steps, self.source)

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
            if heal_after and how != "pause":
                raise self.error(f"{where}.heal_after", 'only applies to how = "pause"')
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
        self.unknown(raw, where, ("action", "seconds"))
        return Hold(self.seconds(raw, "seconds", where, high=_MAX_HOLD))

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
            low = "0" if zero else "more than 0"
            raise self.error(field, f"must be {low} and at most {high:g} seconds (got {value})")
        return float(value)
