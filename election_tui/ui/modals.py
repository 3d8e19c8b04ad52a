"""Modal forms, validated inline: launch candidates, proclaim, pick a drill, show a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from ..live import LAUNCH_CHECKS, Check, LaunchRequest, pace_problem, parse_launch, value_problem


class _Rule(Validator):
    """A form rule from live.forms as a Textual validator: its words become the inline error."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self._check = check

    def validate(self, value: str) -> ValidationResult:
        problem = self._check(value)
        return self.success() if problem is None else self.failure(problem)


R = TypeVar("R")


class _Form(ModalScreen[R | None]):
    """A small dialog whose submit button is enabled only while every input is valid."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""

    def fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.TITLE_TEXT, classes="dialog-title")
            yield from self.fields()
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._revalidate()

    def _revalidate(self) -> bool:
        valid = True
        for field in self.query(Input):
            result: ValidationResult | None = field.validate(field.value)
            error = self.query_one(f"#{field.id}-error", Label)
            if result is not None and not result.is_valid:
                valid = False
                error.update(Text("; ".join(result.failure_descriptions), style="red"))
            else:
                error.update("")
        self.query_one("#ok", Button).disabled = not valid
        return valid

    @on(Input.Changed)
    def _changed(self) -> None:
        self._revalidate()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        if self._revalidate():
            self.dismiss(self.result())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def result(self) -> R:
        raise NotImplementedError


def _field(
    label: str, id: str, value: str, validators: list[Validator], placeholder: str = ""
) -> ComposeResult:
    """A label and a one-line input side by side, the error under it: fits an 80x24 terminal."""
    with Horizontal(classes="field"):
        yield Label(label, classes="field-label")
        yield Input(
            value=value,
            id=id,
            validators=validators,
            placeholder=placeholder,
            valid_empty=not validators,
            compact=True,
        )
    yield Label("", id=f"{id}-error", classes="error")


class LaunchScreen(_Form[LaunchRequest]):
    TITLE_TEXT = "Launch simulated candidates"

    def __init__(self, name: str, value: str = "candidate", ttl: int = 5) -> None:
        super().__init__()
        self._defaults = (name, value, ttl)

    def fields(self) -> ComposeResult:
        name, value, ttl = self._defaults
        rules: dict[str, list[Validator]] = {field: [_Rule(check)] for field, check in LAUNCH_CHECKS.items()}
        yield from _field("Election", "name", name, rules["name"], "e.g. demo/payments")
        yield from _field("Value", "value", value, rules["value"])
        yield from _field("TTL (s)", "ttl", str(ttl), rules["ttl"])
        yield from _field("How many", "count", "1", rules["count"])

    def result(self) -> LaunchRequest:
        parsed = parse_launch({field: self.query_one(f"#{field}", Input).value for field in LAUNCH_CHECKS})
        assert isinstance(parsed, LaunchRequest), parsed  # submit is only enabled when valid
        return parsed


class ProclaimScreen(_Form[str]):
    TITLE_TEXT = "Proclaim a new value"

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def fields(self) -> ComposeResult:
        yield from _field("Value", "value", self._current, [_Rule(value_problem)])

    def result(self) -> str:
        return self.query_one("#value", Input).value


@dataclass(frozen=True, slots=True)
class DrillRequest:
    scenario: str
    pace: float


class DrillScreen(_Form[DrillRequest]):
    TITLE_TEXT = "Run a failover drill"

    def __init__(self, shipped: list[str], pace: float = 0.0) -> None:
        super().__init__()
        self._shipped = shipped
        self._pace = pace

    def fields(self) -> ComposeResult:
        yield Label(Text("Shipped: " + ", ".join(self._shipped), style="dim"))
        yield from _field(
            "Scenario",
            "scenario",
            self._shipped[0] if self._shipped else "",
            [_Rule(lambda t: None if t.strip() else "a scenario name or file is needed")],
            "a shipped name or a .toml file",
        )
        yield from _field(
            "Pace (s)", "pace", f"{self._pace:g}", [_Rule(pace_problem)], "pause after each step"
        )

    def result(self) -> DrillRequest:
        value = self.query_one("#pace", Input).value.strip()
        return DrillRequest(self.query_one("#scenario", Input).value.strip(), float(value))


class ReportScreen(ModalScreen[None]):
    """A drill report (or any long text), shown literally; `s` saves it when it has files to save.

    `files` maps a file name to its content (e.g. the report as text and as JSON); they are
    written to `directory` (the current one by default), never over an existing file.
    """

    BINDINGS = [Binding("escape,q,enter", "close", "Close"), Binding("s", "save", "Save")]

    def __init__(
        self,
        title: str,
        body: str,
        files: dict[str, str] | None = None,
        directory: Path | None = None,
        picture: Widget | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._picture = picture  # shown above the text (a drill's chart)
        self._files = files or {}
        self._directory = directory
        self.saved: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog report"):
            hint = "  (s saves it as " + " and ".join(Path(n).suffix[1:] for n in self._files) + ")"
            yield Label(self._title + (hint if self._files else ""), classes="dialog-title")
            with VerticalScroll():
                if self._picture is not None:
                    yield self._picture
                yield Static(Text(self._body), id="report-body")
            yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if not self._files:
            return
        directory = self._directory or Path.cwd()
        try:
            written = [_write_new(directory / name, content) for name, content in self._files.items()]
        except OSError as err:
            self.app.notify(f"cannot save the report in {directory}: {err.strerror}", severity="error")
            return
        self.saved += written
        self.app.notify("saved " + ", ".join(str(p) for p in written), timeout=6)


def _write_new(path: Path, content: str) -> Path:
    """Write `content` to `path`, or to `path` with -2, -3… before the suffix if it exists."""
    for n in range(1, 1000):
        candidate = path if n == 1 else path.with_stem(f"{path.stem}-{n}")
        try:
            with candidate.open("x", encoding="utf-8") as out:
                out.write(content)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{path} and 998 numbered copies exist")
