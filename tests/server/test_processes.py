"""Several real server processes, and the embedded Redis's life around `roboscope serve`."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import httpx
import pytest

from roboscope import __version__
from roboscope.processes import pid_alive
from roboscope.realtime.embedded import socket_path_for

from ..servers import (
    ServerProcess,
    run_command,
    running_server,
    spawn_server,
    start_server,
    wait_until_serving,
)


def test_two_processes_agree_on_presence_and_locks(tmp_path: Path, shared_redis_url: str) -> None:
    env = {
        "ROBOSCOPE_REDIS_URL": shared_redis_url,
        "ROBOSCOPE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
    }
    # The shared SQLite file must be migrated once; serve only migrates its default database.
    from roboscope.db.migrate import upgrade

    upgrade(env["ROBOSCOPE_DATABASE_URL"])
    session = str(uuid.uuid4()).upper()
    with (
        running_server(tmp_path / "a", env=env) as a,
        running_server(tmp_path / "b", env=env) as b,
    ):
        httpx.post(f"{a.api}/presence/{session}", json={"user_id": "on-a"}).raise_for_status()
        httpx.post(f"{b.api}/presence/{session}", json={"user_id": "on-b"}).raise_for_status()
        for server in (a, b):
            users = httpx.get(f"{server.api}/presence/{session}").json()["users"]
            assert users == ["on-a", "on-b"]

        grant = httpx.post(f"{a.api}/locks/{session}", json={"ttl_seconds": 30}).json()
        assert grant["acquired"] is True
        assert httpx.post(f"{b.api}/locks/{session}", json={}).json()["acquired"] is False
        assert httpx.get(f"{b.api}/locks/work-sessions/{session}/status").json()["locked"]
        released = httpx.post(
            f"{b.api}/locks/work-sessions/{session}/unlock", json={"token": grant["token"]}
        ).json()
        assert released == {"released": True}
        assert httpx.get(f"{a.api}/locks/{session}").json()["locked"] is False

        httpx.delete(f"{b.api}/presence/{session}/on-a").raise_for_status()
        assert httpx.get(f"{a.api}/presence/{session}").json()["users"] == ["on-b"]


def _embedded_pid(data_dir: Path) -> int:
    return int((data_dir / "redis.pid").read_text().strip())


def test_serve_runs_and_stops_its_embedded_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        health = httpx.get(f"{server.api}/health").json()
        assert health == {"status": "ok", "version": __version__, "database": "up", "redis": "up"}
        pid = _embedded_pid(data_dir)
        assert pid_alive(pid)
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert not pid_alive(pid)
    socket = socket_path_for(data_dir)
    assert socket is not None and not socket.exists()


def test_serve_reuses_the_redis_left_by_a_killed_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crashed = start_server(data_dir)
    session = str(uuid.uuid4())
    httpx.post(f"{crashed.api}/presence/{session}", json={"user_id": "survivor"})
    crashed.stop(signal.SIGKILL)  # no cleanup runs: the embedded Redis is left behind
    leftover = _embedded_pid(data_dir)
    assert pid_alive(leftover)

    with running_server(data_dir) as restarted:
        assert _embedded_pid(data_dir) == leftover
        assert httpx.get(f"{restarted.api}/presence/{session}").json()["users"] == ["survivor"]
    assert not pid_alive(leftover)


def test_workers_share_one_embedded_redis(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", workers=2) as server:
        session = str(uuid.uuid4())
        grant = httpx.post(f"{server.api}/locks/{session}", json={}).json()
        # Whichever worker answers, it sees the one lock.
        with httpx.Client(base_url=server.api) as client:
            for _ in range(20):
                assert client.post(f"/locks/{session}", json={}).json()["acquired"] is False
        assert grant["acquired"] is True


def _presence_works(server: ServerProcess) -> bool:
    session = str(uuid.uuid4())
    response = httpx.post(f"{server.api}/presence/{session}", json={"user_id": "u"})
    return response.status_code == 200


@pytest.mark.parametrize("first_out", ["first", "second"])
def test_two_servers_on_one_data_dir_share_its_redis_in_either_shutdown_order(
    tmp_path: Path, first_out: str
) -> None:
    """Whichever stops first, the other keeps a working Redis; the last one stops it."""
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    second = start_server(data_dir)
    try:
        pid = _embedded_pid(data_dir)
        assert _presence_works(first) and _presence_works(second)
        leaving, staying = (first, second) if first_out == "first" else (second, first)
        assert leaving.stop() == 0
        assert pid_alive(pid)
        assert httpx.get(f"{staying.api}/health").json()["redis"] == "up"
        assert _presence_works(staying)
        assert staying.stop() == 0
        assert not pid_alive(pid)
    finally:
        first.stop()
        second.stop()


def test_a_server_that_cannot_bind_its_port_leaves_the_running_one_alone(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as running:
        pid = _embedded_pid(data_dir)
        port = int(running.url.rsplit(":", 1)[1])
        refused = run_command("serve", "--port", str(port), data_dir=data_dir)
        assert refused.returncode != 0
        assert "address already in use" in refused.stderr.lower()
        assert pid_alive(pid)
        assert httpx.get(f"{running.api}/health").json()["redis"] == "up"
        assert _presence_works(running)
    assert not pid_alive(pid)


def test_two_servers_started_at_once_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """Both migrate the new SQLite file and start the embedded Redis: one waits for the
    other instead of failing on "table already exists"."""
    data_dir = tmp_path / "data"
    servers = [spawn_server(data_dir) for _ in range(2)]
    try:
        for server in servers:
            wait_until_serving(server)
            assert _presence_works(server)
    finally:
        for server in servers:
            assert server.stop() == 0
