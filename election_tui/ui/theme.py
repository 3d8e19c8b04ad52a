"""Themes: Textual's own plus a high-contrast one for projectors, and the user's choice remembered.

The choice lives in the user's config dir (`$XDG_CONFIG_HOME/election-tui/settings.json`, else
`~/.config/...`), so a trainer picks it once. A file that cannot be read or written is ignored:
a theme is never worth an error.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from textual.theme import BUILTIN_THEMES, Theme

DEFAULT_THEME = "textual-dark"

# White on black, saturated accents, no dim greys: readable on a washed-out projector.
PROJECTOR = Theme(
    name="projector",
    primary="#FFD700",
    secondary="#00E5FF",
    accent="#FF4FD8",
    warning="#FFB000",
    error="#FF3B3B",
    success="#3BFF5A",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    boost="#262626",
    dark=True,
    luminosity_spread=0.1,
    text_alpha=1.0,
)

OUR_THEMES = (PROJECTOR,)


def theme_names() -> list[str]:
    return [*BUILTIN_THEMES, *(t.name for t in OUR_THEMES)]


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "election-tui" / "settings.json"


def remembered_theme() -> str | None:
    """The theme chosen last time, if it is still one we know."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    theme = data.get("theme") if isinstance(data, dict) else None
    return theme if isinstance(theme, str) and theme in theme_names() else None


def remember_theme(name: str) -> None:
    path = settings_path()
    with contextlib.suppress(OSError):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        if data.get("theme") == name:
            return
        data["theme"] = name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
