"""SDK fixtures: the async SDK over ASGI (SQLite and PostgreSQL, via the shared `app`), and
one real `roboscope serve` process for the blocking client and the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from roboscope.client import AsyncClient
from roboscope.db.engine import Database
from roboscope.wire import (
    MarkerCreate,
    SessionType,
    Space,
    SpaceCreate,
    WorkSession,
    WorkSessionCreate,
)

SERVER_START_TIMEOUT = 60.0
SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}


def api_for(app: FastAPI) -> AsyncClient:
    return AsyncClient("http://roboscope.test", transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def api(app: FastAPI, database: Database) -> AsyncIterator[AsyncClient]:
    """The async SDK talking to the app in-process, on an emptied database."""
    async with api_for(app) as client:
        yield client


class Network(httpx.AsyncBaseTransport):
    """The path to the real app, with a switch: while `up` is False every request fails to
    connect, as during a network outage. The server itself is never faked."""

    def __init__(self, app: FastAPI) -> None:
        self._app = httpx.ASGITransport(app=app)
        self.up = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("network is down", request=request)
        return await self._app.handle_async_request(request)


_counter = iter(range(1_000_000))


async def new_space(api: AsyncClient) -> Space:
    n = next(_counter)
    return await api.create_space(SpaceCreate(key=f"sdk-{n}", name=f"SDK space {n}"))


async def new_session(api: AsyncClient) -> WorkSession:
    space = await new_space(api)
    return await api.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.inspection)
    )


def square(work_session_id: object, **fields: object) -> MarkerCreate:
    return MarkerCreate.model_validate({"work_session_id": work_session_id, **SQUARE, **fields})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"roboscope serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"roboscope serve did not become healthy:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server process (`python -m roboscope serve`) on a free port, SQLite in a temp
    data dir; Redis from ROBOSCOPE_TEST_REDIS_URL, else the server's embedded one."""
    data_dir = tmp_path_factory.mktemp("server")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ROBOSCOPE_") or key.startswith("ROBOSCOPE_TEST_")
    }
    env["ROBOSCOPE_DATA_DIR"] = str(data_dir)
    if redis_url := os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "roboscope", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
