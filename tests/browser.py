"""Real-browser plumbing for tests and the notebook benchmark: JupyterLab, chromium, free ports.

Each server is started here and stopped by its own PID (its process group, so its kernels and
children go too); chromium is Debian's, driven by Playwright, with a fresh profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers import alive, descendants

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent


def missing() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent: apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until `url` answers (any HTTP status), bounded; fail early if `proc` died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def stop_tree(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float = 15.0) -> None:
    """Stop a server we started: `sig` to it (a clean exit), then SIGKILL whatever of its tree is left.

    The tree is read before the signal, so kernels and the etcd a kernel started (each in a
    session of its own) are found and reaped by their PIDs even if the server left them.
    """
    tree = descendants(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)  # children given their own clean exit (atexit: etcd stopped)
    for pid in tree:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ):
        env[name] = str(home / name.lower())
    settings = home / "jupyterlab_settings_dir" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # No news or update checks (no network here), no announcement toasts over the page.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    )
    tracker = home / "jupyterlab_settings_dir" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)  # no "Select Kernel" dialog: the notebook names one
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"autoStartDefaultKernel": True}))
    return env


@contextlib.contextmanager
def jupyter_lab(root: Path, timeout: float = 60.0) -> Iterator[str]:
    """JupyterLab serving `root` on a free loopback port, no token; yields its base URL."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="etui-jupyter-"))
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        f"--port={port}",
        "--port-retries=0",
        "--ip=127.0.0.1",
        "--LabApp.news_url=",
    ]
    log = (home / "lab.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(home))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/status", timeout, proc)
        yield url
    finally:
        # The REST shutdown stops every kernel politely first (their atexit runs: no etcd left).
        with contextlib.suppress(OSError):
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown", method="POST"), timeout=10)
        stop_tree(proc, signal.SIGTERM)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def serve(port: int, timeout: float = 60.0) -> Iterator[str]:
    """`election-tui serve` (textual-serve) with its own embedded etcd; yields its URL."""
    home = Path(tempfile.mkdtemp(prefix="etui-serve-"))
    argv = [sys.executable, "-m", "election_tui", "serve", "--port", str(port), "--demo"]
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(home))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, timeout, proc)
        yield url
    finally:
        stop_tree(proc, signal.SIGINT)  # KeyboardInterrupt: the embedded etcd's `finally` stops it
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium with a fresh profile, through Playwright; yields a page."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="etui-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def notebook_file(path: Path, sources: list[str]) -> Path:
    """A notebook of code cells, with the python3 kernel named (no kernel dialog)."""
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": s,
        }
        for i, s in enumerate(sources)
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def run_cells(page: Any, url: str, notebook: str, count: int) -> None:
    """Open `notebook` and run its first `count` cells one by one, each until its prompt is numbered."""
    from playwright.sync_api import expect

    # The lab is told to start the notebook's kernel by itself; should it ask all the same,
    # the answer is its preferred kernel (python3, what the notebook names).
    page.add_locator_handler(
        page.get_by_text("Select Kernel", exact=True),
        lambda _dialog: page.locator(".jp-Dialog button.jp-mod-accept").click(),
    )
    page.goto(f"{url}/lab/tree/{notebook}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    done = re.compile(r"\[\d+\]:")
    for index in range(count):
        cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
        prompt = cell.locator(".jp-InputPrompt")
        for _attempt in range(3):
            # A run asked for while the page is still connecting its kernel can be dropped:
            # the cell's numbered prompt says it really ran; if it never started, run it again.
            cell.locator(".jp-InputPrompt").click()
            page.keyboard.press("Control+Enter")
            with contextlib.suppress(AssertionError):
                expect(prompt).not_to_have_text("[ ]:", timeout=10_000)
                break
        expect(prompt).to_have_text(done, timeout=60_000)
