"""The launch form's rules (shared by the TUI and the notebook): never a crash, an answer for anything."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from election_tui.live import LaunchRequest, launch_problems, parse_launch

GOOD = {"name": "demo/e1", "value": "v", "ttl": "5", "count": "3"}


def test_a_good_form_gives_a_request() -> None:
    assert parse_launch(GOOD) == LaunchRequest("demo/e1", "v", 5, 3)


@given(field=st.sampled_from(sorted(GOOD)), text=st.text(max_size=40))
def test_any_text_in_any_field_gives_a_request_or_words_never_an_exception(field: str, text: str) -> None:
    result = parse_launch({**GOOD, field: text})
    if isinstance(result, LaunchRequest):
        assert field in ("name", "value") or text.strip().isascii()
    else:
        assert set(result) == {field} and result[field]


def test_numbers_are_ascii_digits_in_range_only() -> None:
    for ttl in ("²", "٣", "-5", "+5", "0", "86401", "1e3", "99999999999999999999", " "):
        assert "ttl" in launch_problems({**GOOD, "ttl": ttl}), ttl
    for count in ("0", "101", "٣"):
        assert "count" in launch_problems({**GOOD, "count": count}), count
    assert parse_launch({**GOOD, "ttl": " 7 "}) == LaunchRequest("demo/e1", "v", 7, 3)


def test_an_empty_value_or_a_blank_name_is_refused_in_words() -> None:
    assert "value is needed" in launch_problems({**GOOD, "value": ""})["value"]
    assert "name is needed" in launch_problems({**GOOD, "name": "  "})["name"]
