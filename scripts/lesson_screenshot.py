"""Render screenshots/lesson.png: the teaching notebook run in JupyterLab, in Debian's chromium.

    .venv/bin/python scripts/lesson_screenshot.py

Copies notebooks/failover-lesson.ipynb to a temporary directory, runs its cells one by one in a
real kernel (its own embedded etcd), and saves the top of the page after the partition cell.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, jupyter_lab, missing, run_cells  # noqa: E402


def main() -> int:
    why = missing()
    if why is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    lesson = ROOT / "notebooks" / "failover-lesson.ipynb"
    code_cells = sum(c["cell_type"] == "code" for c in json.loads(lesson.read_text())["cells"])
    with tempfile.TemporaryDirectory(prefix="etui-lesson-") as tmp:
        shutil.copy(lesson, Path(tmp) / lesson.name)
        with jupyter_lab(Path(tmp)) as url, chromium() as page:
            # Everything but the last cell (close): the widget stays live for the picture.
            run_cells(page, url, lesson.name, code_cells - 1)
            page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            out = ROOT / "screenshots" / "lesson.png"
            page.screenshot(path=str(out))
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
