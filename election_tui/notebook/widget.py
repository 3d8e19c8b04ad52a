"""The live widget: one anywidget per display, each following the session through its own Feed.

A frame loop on the kernel's loop sends at most `1 / FRAME` updates a second, each one comm
message (`hold_sync`), and only what the page shows: the visible page of elections, the selected
election's queue, our candidates, the newest timeline entries. Traits the page sets (`offset`,
`limit`, `filter`, `selected`) choose what is visible. Buttons send custom messages that run the
same session actions as the TUI; their effects come back through the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..model import display
from . import rows
from .dashboard import ActionError

if TYPE_CHECKING:
    from .dashboard import Dashboard

FRAME = 0.1  # at most 10 updates a second, however many events arrive
HEARTBEAT = 2.0  # an idle widget still says it is alive this often (the page warns after 3 misses)
MAX_LIMIT = 200  # most election rows a page may ask for at once
_STATIC = Path(__file__).parent / "static"


class Stats:
    """What this widget sent: update count, and (when `measure`) each update's size in bytes."""

    def __init__(self) -> None:
        self.updates = 0
        self.measure = False
        self.sizes: deque[int] = deque(maxlen=100_000)
        self.started = time.monotonic()


class DashboardWidget(anywidget.AnyWidget):
    """Elections, the selected queue, our candidates with their buttons, a launch form, the timeline."""

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    # sent by the kernel
    elections = traitlets.List(traitlets.Dict()).tag(sync=True)
    election_count = traitlets.Int(0).tag(sync=True)
    queue = traitlets.Dict().tag(sync=True)
    fleet = traitlets.List(traitlets.Dict()).tag(sync=True)
    timeline = traitlets.List(traitlets.Dict()).tag(sync=True)
    cluster = traitlets.Dict().tag(sync=True)
    clock = traitlets.Float(0.0).tag(sync=True)  # the kernel's monotonic clock when sent
    notice = traitlets.Dict().tag(sync=True)  # {"seq", "text", "level"}: an action's outcome
    form_error = traitlets.Unicode("").tag(sync=True)
    closed = traitlets.Bool(False).tag(sync=True)
    # set by the page
    offset = traitlets.Int(0).tag(sync=True)
    limit = traitlets.Int(25).tag(sync=True)
    filter = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)  # hex of the selected election's name

    def __init__(self, dash: Dashboard) -> None:
        self.stats = Stats()  # before the base class sends its first state
        super().__init__()
        self._dash = dash
        self._feed = dash.session.follow()
        self._names: list[bytes] = []
        self._timeline: deque[dict[str, Any]] = deque(maxlen=rows.TIMELINE_ROWS)
        self._notice: dict[str, Any] | None = None
        self._form_error: str | None = None
        self._seq = 0
        self._last_sent = 0.0
        self._view_changed = True
        self._actions: set[asyncio.Task[None]] = set()
        self.observe(self._on_view, names=["offset", "limit", "filter", "selected"])
        self.on_msg(self._on_custom_msg)
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._frames(), name="notebook-widget-frames"
        )
        self.render_frame()  # the first state goes out with the widget's own creation

    # -- frames -----------------------------------------------------------------------------

    def _on_view(self, _change: Any) -> None:
        self._view_changed = True

    async def _frames(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                self.render_frame()
            except Exception as err:  # a broken frame must not end the widget
                self._say(f"frame failed: {err}", "error")
            await asyncio.sleep(max(0.0, FRAME - (loop.time() - began)))

    def render_frame(self) -> bool:
        """Send what changed since the last frame, as one message; True if one was sent."""
        if self._feed.closed:
            return False
        session = self._dash.session
        frame = self._feed.take()
        now = session.clock()
        state = session.state
        if frame.reset or frame.elections or self._view_changed:
            self._names = self._filtered(state.names())
        view_changed, self._view_changed = self._view_changed, False
        count = len(self._names)
        limit = max(1, min(self.limit, MAX_LIMIT))
        offset = max(0, min(self.offset, max(0, count - 1) // limit * limit))
        page = self._names[offset : offset + limit]
        selected = self._selected_name()
        if (selected is None or state.election(selected) is None) and page:
            selected = page[0]
        ttl = session.ttls(now)
        election_rows = [
            rows.election_row(v, ttl, now, session.prefix)
            for name in page
            if (v := state.election(name)) is not None
        ]
        fleet = list(session.fleet)[: rows.FLEET_ROWS]
        fleet_rows = [rows.fleet_row(c, now, session.prefix) for c in fleet]
        queue_view = state.election(selected) if selected is not None else None
        queue, more = rows.queue_rows(session, queue_view, now)
        if frame.reset and not self._timeline:  # a view opened later still shows what happened
            self._timeline.extend(rows.timeline_rows(state.timeline, session.prefix))
        else:
            for entry in frame.timeline:
                self._timeline.appendleft(rows.timeline_row(entry, session.prefix))
        # The session asks etcd for the TTLs of what is on screen, and only those.
        leases = [int(r["lease"], 16) for r in election_rows if r["lease"]]
        leases += [int(r["lease"], 16) for r in queue if r["lease"]]
        self._feed.show_leases(leases)

        sent_before = self.stats.updates
        with self.hold_sync():
            self.elections = election_rows
            self.election_count = count
            if offset != self.offset:
                self.offset = offset
            if selected is not None and selected.hex() != self.selected:
                self.selected = selected.hex()
            self.queue = {
                "id": selected.hex() if selected is not None else "",
                "name": rows.shown_name(selected, session.prefix) if selected is not None else "",
                "rows": queue,
                "more": more,
            }
            self.fleet = fleet_rows
            self.timeline = list(self._timeline)
            self.cluster = rows.cluster_row(session)
            if self._notice is not None:
                self.notice, self._notice = self._notice, None
            if self._form_error is not None:
                self.form_error, self._form_error = self._form_error, None
            if self._states_to_send or view_changed or now - self._last_sent >= HEARTBEAT:
                self.clock = round(now, 3)  # rides along with (or is) the update
        if self.stats.updates != sent_before:
            self._last_sent = now
            return True
        return False

    def _filtered(self, names: list[bytes]) -> list[bytes]:
        wanted = self.filter.strip().lower()
        if not wanted:
            return names
        prefix = self._dash.session.prefix
        return [n for n in names if wanted in rows.shown_name(n, prefix).lower()]

    def _selected_name(self) -> bytes | None:
        try:
            return bytes.fromhex(self.selected) if self.selected else None
        except ValueError:
            return None

    def send_state(self, key: Any = None) -> None:
        if key is not None and not isinstance(key, str) and not key:
            return  # hold_sync with nothing changed: no message
        self.stats.updates += 1
        if self.stats.measure:
            state, _paths, _buffers = self._split_state_buffers_for(key)
            self.stats.sizes.append(len(json.dumps(state, separators=(",", ":"))))
        super().send_state(key)

    def _split_state_buffers_for(self, key: Any) -> tuple[dict[str, Any], Any, Any]:
        from ipywidgets.widgets.widget import _remove_buffers

        state = self.get_state(key=key)
        return _remove_buffers(state)  # type: ignore[no-any-return]

    # -- actions from the page --------------------------------------------------------------

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        task = asyncio.get_running_loop().create_task(self.act(content), name="notebook-widget-action")
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    async def act(self, message: dict[str, Any]) -> None:
        """Do what a button asked; the outcome is shown in the next frame, never raised."""
        launch = message.get("action") == "launch"
        try:
            done = await self._dash.perform(message)
        except ActionError as err:
            if launch:
                self._form_error = str(err)
            self._say(str(err), "error")
            return
        except Exception as err:  # whatever goes wrong is told in the page, not in a traceback
            self._say(f"{message.get('action')!r} failed: {err}", "error")
            return
        if launch:
            self._form_error = ""
        self._say(done, "info")

    def _say(self, text: str, level: str) -> None:
        self._seq += 1
        self._notice = {"seq": self._seq, "text": display(text.encode(), 300), "level": level}

    async def settled(self) -> None:
        """Wait for the actions the page asked for so far (tests and scripts)."""
        while self._actions:
            await asyncio.gather(*list(self._actions), return_exceptions=True)

    # -- lifetime ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the frames and the feed; the page shows that the dashboard closed."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.settled()
        self._feed.close()
        with contextlib.suppress(Exception):
            self.closed = True
        self._dash._forget(self)
        self.close()
