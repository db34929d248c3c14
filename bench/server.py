"""A real `roboscope serve` for the benchmark: on a free loopback port, and always stopped.

The server gets its own temporary data dir (SQLite file, embedded Redis socket), one worker,
and the baseline route (`ROBOSCOPE_BENCHMARK_ROUTES=true`). It runs in its own session so a
Ctrl-C in the terminal reaches only the benchmark, which then stops the server itself: SIGTERM
(uvicorn shuts down and `serve` stops its embedded Redis), SIGKILL if that hangs, and a last
`EmbeddedRedis.stop()` for the data dir in case the server died before cleaning up.
"""

from __future__ import annotations

import contextlib
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

from roboscope.realtime.embedded import EmbeddedRedis

from .load import LOOPBACK


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
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    redis: str  # what the report prints: "embedded" or the redacted URL

    def cpu_seconds(self) -> float | None:
        """The server's CPU time so far (Linux /proc), to show whether it is the bottleneck."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    url = f"http://{LOOPBACK}:{port}/api/v1/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"roboscope serve exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"roboscope serve did not answer within {timeout} s:\n{_tail(log)}")


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
def serve(*, startup_timeout: float = 60.0) -> Iterator[Server]:
    """Run `roboscope serve` for the duration of the block (ROBOSCOPE_REDIS_URL is honoured)."""
    data_dir = Path(tempfile.mkdtemp(prefix="roboscope-bench-"))
    external = os.environ.get("ROBOSCOPE_REDIS_URL") or None
    env = {
        **os.environ,
        "ROBOSCOPE_DATA_DIR": str(data_dir),
        "ROBOSCOPE_BENCHMARK_ROUTES": "true",
    }
    env.pop("ROBOSCOPE_DATABASE_URL", None)  # these routes never touch the database
    if external is None:
        env.pop("ROBOSCOPE_REDIS_URL", None)
    port = free_port()
    log = data_dir / "server.log"
    command = [
        sys.executable, "-m", "roboscope", "serve",
        "--host", LOOPBACK, "--port", str(port), "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    process: subprocess.Popen[bytes] | None = None
    try:
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_ready(process, port, log, startup_timeout)
        yield Server(
            process=process,
            port=port,
            data_dir=data_dir,
            redis="embedded (unix socket)" if external is None else redacted(external),
        )
    finally:
        if process is not None:
            _stop(process)
        if external is None:
            EmbeddedRedis(data_dir).stop()  # idempotent; only acts if the server left it running
        shutil.rmtree(data_dir, ignore_errors=True)
