"""The servers of a benchmark run: `roboscope serve` and the baseline app, on one Redis.

Both are real uvicorn servers on free loopback ports, with the same number of worker
processes, and both use the same Redis: `ROBOSCOPE_REDIS_URL` when set, else an embedded
Redis that the benchmark starts in a temporary data dir (so the baseline can share it); or,
for `--redis cluster`, a Redis Cluster of three primaries with a replica each that the
benchmark starts on loopback ports (tests/redis_topologies.py). Each server runs in its own
session so a Ctrl-C in the terminal reaches only the benchmark, which then stops the servers
itself (SIGTERM, SIGKILL if that hangs) and its Redis.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.redis_topologies import missing_tools, redis_cluster

from roboscope.rate_budgets import BUDGETS
from roboscope.realtime.embedded import EmbeddedRedis

from . import baseline_app
from .load import LOOPBACK

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def redacted(url: str) -> str:
    """`url` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    database_url: str | None = None

    def cpu_seconds(self) -> float | None:
        """CPU time so far of the server and its worker processes (Linux /proc), to show
        whether the server is the bottleneck; None where /proc is missing."""
        total = 0.0
        pids = [self.process.pid, *_children(self.process.pid)]
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                if pid == self.process.pid:
                    return None
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_bytes(self) -> int | None:
        """Resident memory of the server and its worker processes (Linux /proc `VmRSS`);
        None where /proc is missing."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                if pid == self.process.pid:
                    return None
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _wait_ready(server: Server, request: urllib.request.Request, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200 and (server.workers == 1 or _all_workers_up(server)):
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer within {timeout} s:\n{_tail(log)}")


def _all_workers_up(server: Server) -> bool:
    """uvicorn's supervisor forks one process per worker (plus, on Linux, none else)."""
    return len(_children(server.process.pid)) >= server.workers


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextlib.contextmanager
def _running(
    name: str,
    command: list[str],
    env: dict[str, str],
    ready: str,
    ready_method: str,
    workers: int,
    port: int,
    log: Path,
    startup_timeout: float,
) -> Iterator[Server]:
    process: subprocess.Popen[bytes] | None = None
    try:
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(name=name, process=process, port=port, workers=workers)
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{port}{ready}",
            method=ready_method,
            data=b"" if ready_method == "POST" else None,
        )
        _wait_ready(server, request, log, startup_timeout)
        yield server
    finally:
        if process is not None:
            _stop(process)


BENCH_LIMITS = {
    # Every bench client calls from 127.0.0.1, one caller to the per-caller limits: budgets
    # so large that they never refuse, yet are drawn from on every request, so their cost
    # (one Redis call per heartbeat, lock operation and write) is in the figures; and room
    # for every stream of the live bench.
    **{
        f"ROBOSCOPE_RATE_LIMIT_{budget}_{what}": "1000000000"
        for budget in (spec.name.upper() for spec in BUDGETS)
        for what in ("PER_SECOND", "BURST")
    },
    "ROBOSCOPE_LIVE_MAX_STREAMS": "100000",
    "ROBOSCOPE_LIVE_MAX_STREAMS_PER_CALLER": "100000",
}


REDIS_KINDS = ("single", "cluster")


@contextlib.contextmanager
def bench_redis(kind: str = "single") -> Iterator[tuple[str, str]]:
    """(url, what to print): for `single`, ROBOSCOPE_REDIS_URL, else an embedded Redis of the
    run's own; for `cluster`, a three-primary Redis Cluster of the run's own."""
    if kind == "cluster":
        reason = missing_tools()
        if reason is not None:
            raise SystemExit(f"error: --redis cluster cannot start a Redis Cluster: {reason}")
        with redis_cluster() as cluster:
            yield cluster.url, "cluster (3 primaries with a replica each, loopback)"
        return
    external = os.environ.get("ROBOSCOPE_REDIS_URL") or None
    if external is not None:
        yield external, redacted(external)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="roboscope-bench-redis-"))
    try:
        with EmbeddedRedis(data_dir) as redis:
            yield redis.url, "embedded (unix socket)"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _api_command(port: int, workers: int, log_level: str = "warning") -> list[str]:
    return [
        sys.executable, "-m", "roboscope", "serve", "--host", LOOPBACK, "--port", str(port),
        "--workers", str(workers), "--log-level", log_level,
    ]  # fmt: skip


@contextlib.contextmanager
def serve_api(
    redis_url: str, workers: int = 1, *, startup_timeout: float = 60.0
) -> Iterator[Server]:
    """`roboscope serve` alone (its own temporary data dir and SQLite file), on `redis_url`."""
    data_dir = Path(tempfile.mkdtemp(prefix="roboscope-bench-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROBOSCOPE_")}
    env |= {"ROBOSCOPE_DATA_DIR": str(data_dir), "ROBOSCOPE_REDIS_URL": redis_url, **BENCH_LIMITS}
    port = free_port()
    try:
        with _running(
            "roboscope serve", _api_command(port, workers), env, "/api/v1/health", "GET",
            workers, port, data_dir / "api.log", startup_timeout,
        ) as api:  # fmt: skip
            yield api
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def serve_module(
    name: str, module: str, *, ready: str = "/health", startup_timeout: float = 30.0
) -> Iterator[Server]:
    """`python -m <module> --port <free port>`: a one-process baseline server of the bench."""
    data_dir = Path(tempfile.mkdtemp(prefix="roboscope-bench-"))
    port = free_port()
    command = [sys.executable, "-m", module, "--port", str(port)]
    try:
        with _running(
            name, command, dict(os.environ), ready, "GET", 1, port, data_dir / "server.log",
            startup_timeout,
        ) as server:  # fmt: skip
            yield server
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def serve_pair(
    redis_url: str,
    workers: int,
    *,
    startup_timeout: float = 60.0,
    auth: bool = False,
    database_url: str | None = None,
) -> Iterator[tuple[Server, Server]]:
    """(roboscope serve, baseline app), both with `workers` processes, on `redis_url`;
    with `auth`, the API requires tokens (ROBOSCOPE_AUTH=required); with `database_url`
    (migrated already), the API uses it instead of a fresh SQLite file.

    The API logs at `info`, as it does by default: one request line per request (into a
    file of the run's temporary folder), which every production request pays for too."""
    data_dir = Path(tempfile.mkdtemp(prefix="roboscope-bench-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROBOSCOPE_")}
    api_env = {
        **env,
        "ROBOSCOPE_DATA_DIR": str(data_dir),
        "ROBOSCOPE_REDIS_URL": redis_url,
        "ROBOSCOPE_AUTH": "required" if auth else "off",
        **BENCH_LIMITS,
    }
    if database_url is not None:
        api_env["ROBOSCOPE_DATABASE_URL"] = database_url
    baseline_env = {**env, "BENCH_REDIS_URL": redis_url}
    api_port, baseline_port = free_port(), free_port()
    api_command = _api_command(api_port, workers, log_level="info")
    # The same uvicorn options as `roboscope serve` (see roboscope.cli_server).
    baseline_command = [
        sys.executable, "-m", "uvicorn", "bench.baseline_app:create_app", "--factory",
        "--host", LOOPBACK, "--port", str(baseline_port), "--workers", str(workers),
        "--log-level", "warning", "--proxy-headers",
    ]  # fmt: skip
    try:
        with (
            _running(
                "roboscope serve", api_command, api_env, "/api/v1/health", "GET", workers,
                api_port, data_dir / "api.log", startup_timeout,
            ) as api,
            _running(
                "baseline app", baseline_command, baseline_env, baseline_app.PATH, "POST",
                workers, baseline_port, data_dir / "baseline.log", startup_timeout,
            ) as baseline,
        ):  # fmt: skip
            if database_url is None:
                database_url = f"sqlite+aiosqlite:///{data_dir / 'roboscope.db'}"
            yield dataclasses.replace(api, database_url=database_url), baseline
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
