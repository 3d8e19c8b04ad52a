"""The headless commands: observe, campaign, leader, list, history. No Textual here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, TextIO

from ..etcd import (
    ClientConfig,
    EtcdClient,
    EtcdError,
    KeyValue,
    LeaderElection,
    NoLeaderError,
    TlsHandshakeFailed,
    TransientError,
    election_name,
    to_bytes,
    validate_ttl,
)
from ..live import ElectionHistory, HistoryInfo, read_candidates, read_history
from ..model import ElectionState, ElectionView, Term, display
from .flags import ConfigError

LOST_EXIT = 1


def _text(b: bytes) -> str:
    """Untrusted bytes for a terminal: escaped, never cut (lossy: for people, not for JSON)."""
    return display(b, limit=1 << 30)


def json_bytes(record: dict[str, Any], field: str, raw: bytes) -> None:
    """Put `raw` into a JSON record losslessly: as text if it is UTF-8, else as base64.

    Valid UTF-8 goes in as a string (json.dumps escapes control characters itself: ESC is
    "\\u001b", the text backslash-x-1-b is "\\\\x1b"). Anything else goes in as standard
    base64 with `<field>_encoding: "base64"` beside it, so a reader can always get the bytes back.
    """
    try:
        record[field] = raw.decode("utf-8")
    except UnicodeDecodeError:
        record[field] = base64.b64encode(raw).decode("ascii")
        record[f"{field}_encoding"] = "base64"


def dumps(record: dict[str, Any]) -> str:
    """One JSON line, ASCII only: nothing in it can drive a terminal."""
    return json.dumps(record, ensure_ascii=True)


def kv_json(kv: KeyValue) -> dict[str, Any]:
    record: dict[str, Any] = {}
    json_bytes(record, "key", kv.key)
    json_bytes(record, "value", kv.value)
    record.update(
        lease=format(kv.lease, "x"), create_revision=kv.create_revision, mod_revision=kv.mod_revision
    )
    return record


@contextlib.asynccontextmanager
async def connected(config: ClientConfig) -> AsyncIterator[EtcdClient]:
    """A client that has proven the cluster answers within the dial timeout."""
    client = EtcdClient(config)
    try:
        try:
            await client.status(timeout=config.dial_timeout)
        except TlsHandshakeFailed as err:
            raise ConfigError(str(err)) from err  # the certificate, not the network, is wrong
        except TransientError as err:
            where = ",".join(str(e) for e in client.endpoints)
            raise ConfigError(f"cannot reach etcd at {where} within {config.dial_timeout:g} s") from err
        yield client
    finally:
        await client.aclose()


def parse_name(raw: str) -> bytes:
    try:
        return election_name(raw)
    except EtcdError as err:
        raise ConfigError(err.detail) from None


def parse_ttl(raw: str) -> int:
    """`--ttl`: ASCII digits 0-9 only (int() would also take "٣", " 7", "+7" and "1_0")."""
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigError(f"TTL must be a positive whole number of seconds in digits 0-9, not {raw!r}")
    digits = raw.lstrip("0") or "0"
    if len(digits) > 30:  # far beyond etcd's maximum; and int() refuses some 4300 digits
        raise ConfigError(f"TTL {digits[:12]}… ({len(digits)} digits) is too large")
    try:
        return validate_ttl(int(digits))
    except EtcdError as err:
        raise ConfigError(err.detail) from None


async def observe(config: ClientConfig, name: str, *, as_json: bool, out: TextIO) -> int:
    """A line per leader change, like `etcdctl elect -l`."""
    election = parse_name(name)
    async with connected(config) as client:
        async for kv in client.observe(election):
            line = dumps(kv_json(kv)) if as_json else _text(kv.value)
            print(line, file=out, flush=True)
    return 0


async def leader(config: ClientConfig, name: str, *, as_json: bool, out: TextIO) -> int:
    election = parse_name(name)
    async with connected(config) as client:
        try:
            kv = await client.leader(election)
        except NoLeaderError:
            print(f"election {name!r} has no leader", file=sys.stderr)
            return 1
    print(dumps(kv_json(kv)) if as_json else _text(kv.value), file=out)
    return 0


class ProgressLine:
    """A "reading keys: 120,000 / 200,000…" line redrawn in place on a terminal, 10 times a second at most."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._shown_at: float | None = None

    def __call__(self, read: int, total: int) -> None:
        self.say(f"reading keys: {read:,} / {total:,}…", last=read >= total)

    def history(self, info: HistoryInfo) -> None:
        self.say(info.text, last=info.done)

    def say(self, line: str, *, last: bool = False) -> None:
        now = time.monotonic()
        if self._shown_at is not None and now - self._shown_at < 0.1 and not last:
            return
        self._shown_at = now
        self.stream.write(f"\r{line}\x1b[K")  # a shorter line leaves nothing of a longer one
        self.stream.flush()

    def clear(self) -> None:
        if self._shown_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


async def list_elections(config: ClientConfig, prefix: str, *, as_json: bool, out: TextIO) -> int:
    progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    try:
        async with connected(config) as client:
            snapshot = await read_candidates(client, prefix.encode(), progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    state = ElectionState()
    state.load(snapshot.kvs, snapshot.revision, time.time())
    del snapshot  # the state holds the values it needs
    rows: list[dict[str, Any]] = []
    for name in state.names():
        view = state.election(name)
        if view is None:
            continue
        rows.append(_list_row(name, view, as_json=as_json))
    if as_json:
        print(dumps({"revision": state.revision, "elections": rows}), file=out)
        return 0
    if not rows:
        print(f"no elections under {prefix!r}", file=out)
        return 0
    width = max(len("ELECTION"), *(len(r["name"]) for r in rows))
    print(f"{'ELECTION':<{width}}  CANDIDATES  LEADER", file=out)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['candidates']:>10}  {r['leader'] or '-'}", file=out)
    return 0


def _list_row(name: bytes, view: ElectionView, *, as_json: bool) -> dict[str, Any]:
    """One election of `list`: lossless for --json, escaped for the terminal otherwise."""
    if not as_json:
        return {
            "name": _text(name),
            "leader": _text(view.leader.value) if view.leader else None,
            "candidates": len(view.candidates),
        }
    row: dict[str, Any] = {}
    json_bytes(row, "name", name)
    if view.leader is None:
        row.update(leader=None, leader_key=None)
    else:
        json_bytes(row, "leader", view.leader.value)
        json_bytes(row, "leader_key", view.leader.key)
    row["candidates"] = len(view.candidates)
    return row


async def history(config: ClientConfig, name: str, *, as_json: bool, out: TextIO) -> int:
    """Every term of one election in etcd's retained history: who led, from which revision to
    which, how it ended. Revisions only: etcd keeps no time with them."""
    election = parse_name(name)
    progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    try:
        async with connected(config) as client:
            found = await read_history(
                client,
                election,
                on_keys=progress,
                on_progress=progress.history if progress is not None else None,
            )
    finally:
        if progress is not None:
            progress.clear()
    if as_json:
        print(dumps(history_json(found)), file=out)
        return 0
    info = found.info
    read = "" if info.empty else f"; read up to r{info.until}"
    print(f"{_text(election)}: {info.text}{read}", file=out)
    if not found.terms:
        print(f"no leader of {_text(election)} in that history", file=out)
        return 0
    print(f"{'TERM':<5} {'FROM':<9} {'TO':<9} {'ENDED':<9} {'LEASE':<16}  LEADER", file=out)
    for number, term in enumerate(found.terms, 1):
        start = f"r{term.start}" if term.start is not None else f"<r{info.first}"
        end = f"r{term.end}" if term.end is not None else "-"
        ended = term.ended or ("leading" if term.leading else "-")
        who = _text(term.value)
        if term.last_value != term.value:
            who += f" → {_text(term.last_value)}"
        print(f"{number:<5} {start:<9} {end:<9} {ended:<9} {term.lease:<16x}  {who}", file=out)
    return 0


def history_json(found: ElectionHistory) -> dict[str, Any]:
    """`history --json`: lossless like the others (bytes as text, else base64 with a marker).

    A term's `from_revision` is null when it already led where the history begins
    (`history_from`); `to_revision` is null while it still leads, or when its end is unknown.
    An empty history (a fresh etcd) has null bounds rather than an inverted range like r2..r1.
    """
    info = found.info
    record: dict[str, Any] = {}
    json_bytes(record, "name", found.election)
    record.update(
        history_from=None if info.empty else info.first,
        history_to=None if info.empty else info.until,
        read_revision=info.until,
        older=info.older,
        stopped=info.stopped,
        note=info.text,
        terms=[_term_json(term) for term in found.terms],
    )
    return record


def _term_json(term: Term) -> dict[str, Any]:
    record: dict[str, Any] = {}
    json_bytes(record, "value", term.value)
    json_bytes(record, "last_value", term.last_value)
    json_bytes(record, "key", term.key)
    record.update(
        lease=format(term.lease, "x"),
        from_revision=term.start,
        to_revision=term.end,
        ended=term.ended,
        leading=term.leading,
    )
    return record


async def campaign(
    config: ClientConfig,
    name: str,
    value: str,
    *,
    ttl: int,
    timeout: float | None,
    as_json: bool,
    out: TextIO,
) -> int:
    """Campaign, hold leadership until Ctrl+C or SIGTERM, then resign and revoke."""
    election_key = parse_name(name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with connected(config) as client, LeaderElection(client, election_key, value, ttl) as election:
            print(f"campaigning for {name!r} (ttl {ttl} s)…", file=sys.stderr)
            won = asyncio.create_task(election.try_become_leader(timeout))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({won, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not won.done():
                won.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await won
                print("interrupted before being elected; withdrew", file=sys.stderr)
                return 130
            stopped.cancel()
            if not won.result():
                print(f"not elected within {timeout:g} s; withdrew", file=sys.stderr)
                return LOST_EXIT
            key = election.leader_key
            assert key is not None
            if as_json:
                record: dict[str, Any] = {"elected": True}
                json_bytes(record, "key", key.key)
                record.update(lease=format(key.lease, "x"), rev=key.rev)
                print(dumps(record), file=out, flush=True)
            else:
                print(_text(key.key), file=out)
                print(_text(to_bytes(value)), file=out, flush=True)
            lost = asyncio.create_task(election.wait_lost())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if lost.done():
                stopped.cancel()
                print(f"leadership lost: {lost.result()}", file=sys.stderr)
                return LOST_EXIT
            lost.cancel()
            print("resigning…", file=sys.stderr)
            return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
