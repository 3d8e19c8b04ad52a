"""The client package is closed: BlockingEtcdClient offers every public method and property of
EtcdClient with the same parameters, `__all__` is what the package gives, and importing the
pure parts does not load grpc.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import election_tui.etcd as etcd_pkg
from election_tui.etcd import BlockingEtcdClient, EtcdClient

ROOT = Path(__file__).resolve().parents[1]

# The one name that differs, by the sync/async convention httpx uses: async name -> blocking name.
RENAMED = {"aclose": "close"}


def public_names(cls: type) -> set[str]:
    """Methods and properties a caller may use: public ones, and the constructor."""
    return {n for n in dir(cls) if not n.startswith("_")} | {"__init__"}


def parameters(function: Any) -> list[tuple[str, str, object, object]]:
    """(name, kind, default, annotation) of each parameter; the return annotation is left out."""
    return [
        (p.name, p.kind.name, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
    ]


def api_differences(async_cls: type, blocking_cls: type) -> list[str]:
    """Every way `blocking_cls` fails to mirror `async_cls` (empty when they agree)."""
    problems: list[str] = []
    async_names = public_names(async_cls)
    blocking_names = public_names(blocking_cls)
    expected = {RENAMED.get(n, n) for n in async_names}
    problems += [f"missing on the blocking client: {n}" for n in sorted(expected - blocking_names)]
    problems += [f"missing on the async client: {n}" for n in sorted(blocking_names - expected)]
    for name in sorted(async_names):
        twin = RENAMED.get(name, name)
        if twin not in blocking_names:
            continue
        a = inspect.getattr_static(async_cls, name)
        b = inspect.getattr_static(blocking_cls, twin)
        if isinstance(a, property) or isinstance(b, property):
            if not (isinstance(a, property) and isinstance(b, property)):
                problems.append(f"{name}: a property on one client only")
            continue
        if inspect.iscoroutinefunction(b):
            problems.append(f"{twin}: must block, not be a coroutine")
        if parameters(a) != parameters(b):
            problems.append(f"{name}: {parameters(a)} != {parameters(b)}")
    return problems


def test_the_blocking_client_mirrors_every_public_method_and_property() -> None:
    assert api_differences(EtcdClient, BlockingEtcdClient) == []


def test_the_comparison_covers_the_whole_api() -> None:
    """The check above is not vacuous: it sees methods, properties and keyword-only options."""
    names = public_names(EtcdClient)

    assert {"get_prefix", "put", "txn", "watch_key", "status", "observe", "aclose"} <= names
    assert {"config", "timeout", "endpoint", "endpoints", "keepalive_connected"} <= names
    assert ("keys_only", "KEYWORD_ONLY", False, "bool") in parameters(EtcdClient.get_prefix)


def test_the_comparison_catches_a_missing_method_a_changed_default_and_a_lost_property() -> None:
    class Async:
        async def aclose(self) -> None: ...

        async def get(self, key: bytes, *, revision: int = 0) -> None: ...

        async def put(self, key: bytes) -> None: ...

        @property
        def endpoint(self) -> str:
            return ""

    class Blocking:
        def close(self) -> None: ...

        def get(self, key: bytes, *, revision: int = 1) -> None: ...

        endpoint = ""

    problems = api_differences(Async, Blocking)

    assert "missing on the blocking client: put" in problems
    assert any(p.startswith("get: ") for p in problems)
    assert "endpoint: a property on one client only" in problems


# -- the package's names and what importing it loads ----------------------------------------


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in etcd_pkg.__all__ if getattr(etcd_pkg, name, None) is None]

    assert missing == []
    assert len(set(etcd_pkg.__all__)) == len(etcd_pkg.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        etcd_pkg.NoSuchThing  # noqa: B018


def modules_after(statement: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter that runs `statement` on our checkout."""
    code = (
        f"import sys, json\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "statement",
    [
        "import election_tui.model",
        "import election_tui.etcd",
        "from election_tui.etcd import ClientConfig, KeyValue, Event, EtcdError, Backoff, candidate_key",
    ],
)
def test_the_pure_parts_import_without_grpc(statement: str) -> None:
    assert "grpc" not in modules_after(statement)


def test_the_check_sees_grpc_once_the_client_is_touched() -> None:
    """The probe above can fail: asking for EtcdClient does load grpc."""
    assert "grpc" in modules_after("from election_tui.etcd import EtcdClient")
