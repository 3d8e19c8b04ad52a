"""The layers of DESIGN.md hold: the import contracts pass, and the pure parts stay grpc-free at run time.

Both run in a child process on this checkout (PYTHONPATH = repo root), so an installed copy elsewhere
cannot answer for it; import-linter reads the static imports, the child's sys.modules the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    """The child sees this checkout first, whatever the venv has installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _loaded_after(statement: str, watched: tuple[str, ...]) -> set[str]:
    """Which of `watched` a fresh interpreter has in sys.modules after running `statement`."""
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {watched!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"
    assert "0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import election_tui.model", ("grpc", "textual", "rich")),
        ("import election_tui.etcd", ("grpc", "textual", "rich")),
        ("from election_tui.etcd import KeyValue, ClientConfig, EtcdError", ("grpc",)),
    ],
)
def test_the_pure_parts_load_without_grpc_or_textual(statement: str, absent: tuple[str, ...]) -> None:
    assert _loaded_after(statement, absent) == set()


def test_the_probe_sees_grpc_once_the_client_is_asked_for() -> None:
    """Guards the test above: the lazy client does load grpc, so an empty answer means something."""
    assert _loaded_after("from election_tui.etcd import EtcdClient", ("grpc",)) == {"grpc"}
