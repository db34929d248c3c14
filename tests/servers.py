"""Real `roboscope serve` processes for tests that need a server over TCP (several processes,
signals, SSE): in-process ASGI clients cannot show any of that."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .waiting import POLL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


TEST_SECRET_KEY = "roboscope-test-servers-share-this-secret-key"
"""Test servers on one Redis and database are like the hosts of one deployment, each with
its own data dir: they share a key, as docs/deployment.md asks (`""`: the data dir's own)."""


def _environment(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOSCOPE_")}
    # (Rate limits off unless a test turns them on: see tests/conftest.py's `settings`.)
    return {
        **env,
        "ROBOSCOPE_DATA_DIR": str(data_dir),
        "ROBOSCOPE_RATE_LIMITS": "false",
        "ROBOSCOPE_SECRET_KEY": TEST_SECRET_KEY,
        **extra,
    }


def start_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    timeout: float = 60,
    port: int | None = None,
    healthy: bool = True,
    log_level: str = "warning",
) -> ServerProcess:
    """Start `python -m roboscope serve` and wait until /health answers (200, or any answer
    when `healthy` is false: a server whose database is down still serves).

    A free port can be taken by another process (a parallel test worker's server, a client's
    outgoing connection) before the server binds it: then it starts again on another one,
    unless the caller chose the port."""
    attempts = 1 if port is not None else 5
    for attempt in range(attempts):
        server = spawn_server(data_dir, env=env, workers=workers, port=port, log_level=log_level)
        try:
            wait_until_serving(server, timeout=timeout, healthy=healthy)
        except PortTaken:
            if attempt == attempts - 1:
                raise
            continue
        return server
    raise AssertionError("unreachable")


class PortTaken(RuntimeError):
    """The server exited because its port was in use."""


def spawn_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    port: int | None = None,
    log_level: str = "warning",
) -> ServerProcess:
    """Start `python -m roboscope serve` without waiting for it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = data_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roboscope",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                log_level,
            ],
            env=_environment(data_dir, env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(process, f"http://127.0.0.1:{port}", log)


def wait_until_serving(server: ServerProcess, *, timeout: float = 60, healthy: bool = True) -> None:
    process = server.process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            error = PortTaken if "address already in use" in tail.lower() else RuntimeError
            raise error(f"server exited with {process.returncode}:\n{tail}")
        try:
            status = httpx.get(f"{server.api}/health", timeout=2).status_code
            if status == 200 or not healthy:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL)  # (nothing announces the start: a refused connect is cheap)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy:\n{server.log_tail()}")


def run_command(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m roboscope ARGS` to completion, in the same environment as a server."""
    return subprocess.run(
        [sys.executable, "-m", "roboscope", *args],
        env=_environment(data_dir, env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    log_level: str = "warning",
) -> Iterator[ServerProcess]:
    server = start_server(data_dir, env=env, workers=workers, log_level=log_level)
    try:
        yield server
    finally:
        server.stop()
