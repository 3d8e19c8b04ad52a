"""Modal forms, validated inline: launch candidates, proclaim, filter, pick a drill, show a report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Function, ValidationResult, Validator
from textual.widgets import Button, Input, Label, Static

MAX_VALUE_BYTES = 1536 * 1024  # etcd's default --max-request-bytes
MAX_COUNT = 100


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    name: str
    value: str
    ttl: int
    count: int


def _int_between(low: int, high: int) -> Validator:
    def ok(text: str) -> bool:
        return text.strip().isdigit() and low <= int(text) <= high

    return Function(ok, f"a whole number from {low} to {high}")


NAME_OK = Function(lambda t: bool(t.strip()), "an election name is needed (not blank)")
VALUE_OK = Function(lambda t: len(t.encode()) <= MAX_VALUE_BYTES, "over etcd's 1.5 MiB request limit")


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
        yield from _field("Election", "name", name, [NAME_OK], "e.g. demo/payments")
        yield from _field("Value", "value", value, [VALUE_OK])
        yield from _field("TTL (s)", "ttl", str(ttl), [_int_between(1, 86_400)])
        yield from _field("How many", "count", "1", [_int_between(1, MAX_COUNT)])

    def result(self) -> LaunchRequest:
        def text(id: str) -> str:
            return self.query_one(f"#{id}", Input).value

        return LaunchRequest(text("name").strip(), text("value"), int(text("ttl")), int(text("count")))


class ProclaimScreen(_Form[str]):
    TITLE_TEXT = "Proclaim a new value"

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def fields(self) -> ComposeResult:
        yield from _field("Value", "value", self._current, [VALUE_OK])

    def result(self) -> str:
        return self.query_one("#value", Input).value


class FilterScreen(_Form[str]):
    TITLE_TEXT = "Filter elections (substring; empty shows all)"

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def fields(self) -> ComposeResult:
        yield from _field("Contains", "filter", self._current, [])

    def result(self) -> str:
        return self.query_one("#filter", Input).value.strip()


class DrillScreen(_Form[str]):
    TITLE_TEXT = "Run a failover drill"

    def __init__(self, shipped: list[str]) -> None:
        super().__init__()
        self._shipped = shipped

    def fields(self) -> ComposeResult:
        yield Label(Text("Shipped: " + ", ".join(self._shipped), style="dim"))
        yield from _field(
            "Scenario name or .toml file", "scenario", self._shipped[0] if self._shipped else "", [NAME_OK]
        )

    def result(self) -> str:
        return self.query_one("#scenario", Input).value.strip()


class ReportScreen(ModalScreen[None]):
    """A drill report (or any long text), shown literally."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog report"):
            yield Label(self._title, classes="dialog-title")
            with VerticalScroll():
                yield Static(Text(self._body), id="report-body")
            yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
