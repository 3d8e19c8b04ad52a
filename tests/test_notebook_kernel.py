"""The notebook view in a real Jupyter kernel (nbclient): the lesson end to end, and no leaks.

A kernel restart or shutdown must leave no etcd process and no lease behind, with or without
`await dash.close()`: the embedded etcd's own stop runs at exit, and a dashboard on another
cluster revokes its leases at exit.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("anywidget", reason="the notebook extra is not installed: pip install -e '.[notebook]'")
pytest.importorskip("nbclient", reason="the test extra is not installed: pip install -e '.[test]'")

import nbformat
from helpers import alive, wait_until
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell, new_notebook

from election_tui.etcd import BlockingEtcdClient

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "failover-lesson.ipynb"
CELL_TIMEOUT = 60


@pytest.fixture(autouse=True)
def kernel_imports_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels inherit our environment: they import this checkout, whatever is installed."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{path}" if path else str(ROOT))


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.timeout(180)
def test_the_lesson_notebook_runs_end_to_end_in_a_real_kernel(tmp_path: Path) -> None:
    nb = nbformat.read(LESSON, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    printed = "\n".join(stream_text(c) for c in nb.cells if c.cell_type == "code")
    assert "leads after" in printed
    assert "the old one thinks it is: stale" in printed
    assert "after healing, the old leader is lost" in printed
    assert "the cut one went to: lost" in printed  # the network partition: no stale window
    shown = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "execute_result"]
    mimes = [set(o["data"]) for o in shown]
    assert any("application/vnd.jupyter.widget-view+json" in m for m in mimes)  # the live widget
    html = "".join(o["data"].get("text/html", "") for o in shown)
    assert "<svg" in html and "KeyValue" in html  # the drill's chart, the leader's card


@pytest.mark.timeout(120)
def test_kernel_restart_and_shutdown_leave_no_etcd_process_and_no_lease(
    tmp_path: Path, endpoints: list[str], prefix: bytes
) -> None:
    embedded = new_code_cell(  # type: ignore[no-untyped-call]
        "from election_tui import notebook\n"
        "dash = await notebook.start()\n"
        "dash.launch('k', 'v', ttl=5, count=2)\n"
        "await dash.wait_leader('k')\n"
        "import json; print(json.dumps([m.pid for m in dash.etcd.members]))"
    )
    external = new_code_cell(  # type: ignore[no-untyped-call]
        "from election_tui import notebook\n"
        f"dash = await notebook.start(endpoints={endpoints!r}, prefix={prefix.decode()!r})\n"
        "cands = dash.launch('k', 'v', ttl=30, count=3)\n"
        "await dash.wait_leader('k')\n"
        "import json; print(json.dumps([c.lease for c in cands]))"
    )
    nb = new_notebook(cells=[embedded, external])  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        client.execute_cell(embedded, 0)
        pids = json.loads(stream_text(embedded))
        assert pids and all(alive(p) for p in pids)
        assert client.km is not None
        # Graceful: the kernel process exits (its atexit handlers run), then a new one starts.
        run_sync(client.km.restart_kernel)()  # type: ignore[arg-type]
        wait_until(lambda: not any(alive(p) for p in pids), timeout=15, what="the embedded etcd stops")
        client.execute_cell(external, 1)
        leases = set(json.loads(stream_text(external)))
        with BlockingEtcdClient(endpoints) as etcd:
            assert leases <= set(etcd.leases())
    started = time.monotonic()
    with BlockingEtcdClient(endpoints) as etcd:  # the kernel is shut down: it revoked them at exit
        wait_until(lambda: not leases & set(etcd.leases()), timeout=5, what="the kernel's leases go")
        assert not etcd.get_prefix(prefix).kvs
    assert time.monotonic() - started < 5  # revoked, not expired (their TTL is 30 s)
