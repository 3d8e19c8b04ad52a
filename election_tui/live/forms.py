"""What a person may type to launch candidates or proclaim: one set of rules for every view.

Each check returns the problem in words (shown inline next to the field) or None; nothing here
raises on odd input: any Unicode digit, a sign, a huge number or an empty value is an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_VALUE_BYTES = 1536 * 1024  # etcd's default --max-request-bytes
MAX_COUNT = 100
MAX_TTL = 86_400  # a day: longer is no demonstration
_WHOLE = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take "٣" and refuse "²"
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]{1,3})?")
MAX_PACE = 60.0

Check = Callable[[str], str | None]


def whole_between(low: int, high: int) -> Check:
    def check(text: str) -> str | None:
        raw = text.strip()
        if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
            return f"a whole number from {low} to {high}"
        return None

    return check


def seconds_between(low: float, high: float) -> Check:
    def check(text: str) -> str | None:
        raw = text.strip()
        if not _DECIMAL.fullmatch(raw) or not low <= float(raw) <= high:
            return f"seconds from {low:g} to {high:g}, e.g. 1.5"
        return None

    return check


def name_problem(text: str) -> str | None:
    return None if text.strip() else "an election name is needed (not blank)"


def value_problem(text: str) -> str | None:
    if not text:
        return "a value is needed: it is what the leader proclaims"
    if len(text.encode("utf-8", "surrogateescape")) > MAX_VALUE_BYTES:
        return "over etcd's 1.5 MiB request limit"
    return None


ttl_problem = whole_between(1, MAX_TTL)
count_problem = whole_between(1, MAX_COUNT)
pace_problem = seconds_between(0, MAX_PACE)  # a drill's pause after each step

# How a view names each field in a message ("TTL: a whole number from 1 to 86400").
FIELD_LABELS = {"name": "election", "value": "value", "ttl": "TTL", "count": "how many"}

LAUNCH_CHECKS: dict[str, Check] = {
    "name": name_problem,
    "value": value_problem,
    "ttl": ttl_problem,
    "count": count_problem,
}


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    name: str
    value: str
    ttl: int
    count: int


def launch_problems(fields: dict[str, str]) -> dict[str, str]:
    """Field -> problem, for every field of a launch form that is not right (empty: all good)."""
    problems: dict[str, str] = {}
    for field, check in LAUNCH_CHECKS.items():
        problem = check(fields.get(field, ""))
        if problem is not None:
            problems[field] = problem
    return problems


def parse_launch(fields: dict[str, str]) -> LaunchRequest | dict[str, str]:
    """A request when every field is right, else the problems by field."""
    problems = launch_problems(fields)
    if problems:
        return problems
    return LaunchRequest(
        fields["name"].strip(), fields["value"], int(fields["ttl"].strip()), int(fields["count"].strip())
    )
