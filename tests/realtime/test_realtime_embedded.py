"""The embedded Redis's lifecycle, and the layer's behaviour when Redis goes away and returns.

These tests start their own servers in their own data dirs (not the shared session server).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import pytest
import redis

from roboscope.errors import ServiceUnavailable
from roboscope.processes import pid_alive
from roboscope.realtime.connection import create_redis, ping
from roboscope.realtime.embedded import EmbeddedRedis
from roboscope.realtime.locks import LockGrant, LockStore
from roboscope.realtime.presence import PresenceStore


def wait_gone(pid: int) -> None:
    for _ in range(500):
        if not pid_alive(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still alive")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[EmbeddedRedis]]:
    """Servers a test starts; whatever is still running at the end is stopped."""
    started: list[EmbeddedRedis] = []
    yield started
    for server in started:
        server.stop()
    for server in started:
        if server.pid is not None and pid_alive(server.pid):
            os.kill(server.pid, signal.SIGKILL)


def sync_client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=2)


def test_start_stop_and_context_manager(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        assert server.url == f"unix://{tmp_path.resolve() / 'redis.sock'}"
        client = sync_client(server)
        assert client.ping()
        info = client.info("server")
        assert info["redis_version"].startswith("6.2")
        assert int(info["tcp_port"]) == 0  # socket only
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        pid = server.pid
        assert pid is not None
        assert (tmp_path / "redis.pid").read_text().strip() == str(pid)
        client.close()
    wait_gone(pid)
    assert not (tmp_path / "redis.sock").exists()
    assert not (tmp_path / "redis.pid").exists()
    assert not server.is_running()
    server.stop()  # idempotent


def test_long_data_dir_falls_back_to_a_short_socket(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    server = EmbeddedRedis(deep)
    servers.append(server)
    server.start()
    socket = server.socket_path
    assert socket is not None
    # sun_path holds 104 bytes on macOS (108 on Linux), the terminating NUL included
    assert len(os.fsencode(socket)) <= 103
    assert socket.parent != deep.resolve()
    # An unpredictable name, in a folder only we can enter.
    assert socket.parent.name.startswith("roboscope-redis-")
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    assert sync_client(server).ping()
    # The data dir records its socket: a later start finds the server again.
    assert EmbeddedRedis(deep).socket_path == socket
    other = tmp_path / ("o" * 60) / ("e" * 60)
    with EmbeddedRedis(other) as second:
        assert second.socket_path is not None and second.socket_path != socket
    server.stop()
    assert not socket.exists()
    assert not socket.parent.exists()


def test_a_redis_at_a_recorded_socket_is_used_only_if_this_data_dir_owns_it(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    """A recorded /tmp socket that leads to another data dir's Redis (or into a folder that is
    not private) is not trusted: the data dir gets its own Redis."""
    foreign = EmbeddedRedis(tmp_path / "foreign")
    servers.append(foreign)
    foreign.start()
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "redis.socket").write_text(f"{foreign.socket_path}\n")

    mine = EmbeddedRedis(deep)
    servers.append(mine)
    mine.start()
    assert mine.pid != foreign.pid
    assert mine.socket_path != foreign.socket_path
    assert sync_client(foreign).ping()


def test_leftover_server_that_answers_is_reused(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    code = (
        "import sys; from roboscope.realtime.embedded import EmbeddedRedis; "
        "print(EmbeddedRedis(sys.argv[1]).start())"
    )
    # The owner "crashes": its process ends without releasing the server.
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True)
    crashed = EmbeddedRedis(tmp_path)
    servers.append(crashed)
    sync_client(crashed).set("survivor", "1")
    leftover_pid = int((tmp_path / "redis.pid").read_text())

    again = EmbeddedRedis(tmp_path)
    servers.append(again)
    again.start()
    assert again.pid == leftover_pid
    assert sync_client(again).get("survivor") == "1"
    again.stop()
    assert leftover_pid is not None
    wait_gone(leftover_pid)


def test_leftover_killed_server_is_cleaned_and_replaced(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    first = EmbeddedRedis(tmp_path)
    servers.append(first)
    first.start()
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    wait_gone(first.pid)
    assert (tmp_path / "redis.pid").exists()
    assert (tmp_path / "redis.sock").exists()

    fresh = EmbeddedRedis(tmp_path)
    servers.append(fresh)
    fresh.start()
    assert fresh.pid is not None and fresh.pid != first.pid
    assert sync_client(fresh).ping()


def test_leftover_hung_server_is_killed_and_replaced(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    hung = EmbeddedRedis(tmp_path)
    servers.append(hung)
    hung.start()
    assert hung.pid is not None
    os.kill(hung.pid, signal.SIGSTOP)  # still alive, but answers nothing

    fresh = EmbeddedRedis(tmp_path)
    servers.append(fresh)
    fresh.start()
    wait_gone(hung.pid)
    assert fresh.pid != hung.pid
    assert sync_client(fresh).ping()


def test_stale_files_of_a_vanished_process_are_cleaned(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (tmp_path / "redis.pid").write_text(done.stdout)
    (tmp_path / "redis.sock").write_text("not a socket")
    with EmbeddedRedis(tmp_path) as server:
        assert sync_client(server).ping()


def test_pidfile_naming_a_foreign_process_never_kills_it(tmp_path: Path) -> None:
    (tmp_path / "redis.pid").write_text(f"{os.getpid()}\n")  # pid reuse: it is us now
    with EmbeddedRedis(tmp_path) as server:
        assert sync_client(server).ping()
        assert server.pid != os.getpid()


def test_server_outlives_the_process_that_started_it(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    """`roboscope serve` starts it in the parent before uvicorn forks workers; it must not
    depend on the starter's loop or lifetime, and the next owner can stop it."""
    code = (
        "import sys; from roboscope.realtime.embedded import EmbeddedRedis; "
        "print(EmbeddedRedis(sys.argv[1]).start())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    server = EmbeddedRedis(tmp_path)
    servers.append(server)
    assert out.stdout.strip() == server.url
    assert server.is_running()
    server.start()
    server.stop()
    assert not server.is_running()


async def test_fences_rise_across_a_real_restart(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    server = EmbeddedRedis(tmp_path)
    servers.append(server)
    client = create_redis(server.start())
    try:
        locks = LockStore(client)
        session = uuid4()
        first = await locks.acquire(session, ttl_ms=60_000, owner="before")
        assert isinstance(first, LockGrant)

        server.stop()
        restarted = EmbeddedRedis(tmp_path)
        servers.append(restarted)
        restarted.start()
        assert restarted.pid != server.pid
        assert await client.dbsize() == 0  # it kept nothing: no counter, no lock

        second = await locks.acquire(session, ttl_ms=60_000, owner="after")
        assert isinstance(second, LockGrant)
        assert second.fence > first.fence
        assert await locks.fence_of(session, first.token) is None
    finally:
        await client.aclose()


async def test_redis_down_is_service_unavailable_and_recovers(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    server = EmbeddedRedis(tmp_path)
    servers.append(server)
    client = create_redis(server.start())
    locks, presence = LockStore(client), PresenceStore(client)
    session = uuid4()
    try:
        held = await locks.acquire(session, ttl_ms=60_000, owner=None)
        assert isinstance(held, LockGrant)
        await presence.heartbeat(
            session, "ann", device_id=None, display_name=None, meta=None, ttl_ms=60_000
        )
        assert await ping(client)

        server.stop()
        assert not await ping(client)
        with pytest.raises(ServiceUnavailable) as caught:
            await locks.acquire(session, ttl_ms=60_000, owner=None)
        assert caught.value.service == "redis"
        assert caught.value.status == 503
        with pytest.raises(ServiceUnavailable):
            await locks.status(session)
        with pytest.raises(ServiceUnavailable):
            await locks.fence_of(session, held.token)
        with pytest.raises(ServiceUnavailable):
            await locks.release(session, held.token)
        with pytest.raises(ServiceUnavailable):
            await presence.snapshot(session)
        with pytest.raises(ServiceUnavailable):
            await presence.leave(session, "ann")

        # Back, empty: the same client and stores work again without being rebuilt.
        again = EmbeddedRedis(tmp_path)
        servers.append(again)
        again.start()
        assert await ping(client)
        grant = await locks.acquire(session, ttl_ms=60_000, owner=None)
        assert isinstance(grant, LockGrant) and grant.fence > held.fence
        beat = await presence.heartbeat(
            session, "bob", device_id=None, display_name=None, meta=None, ttl_ms=60_000
        )
        assert beat.user_count == 1
        assert (await presence.snapshot(session)).users == ["bob"]
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "url",
    ["unix:///nonexistent/roboscope/redis.sock", "redis://127.0.0.1:1/0"],
    ids=["dead-socket", "closed-port"],
)
async def test_unreachable_redis_is_service_unavailable(url: str) -> None:
    client = create_redis(url)
    try:
        assert not await ping(client)
        with pytest.raises(ServiceUnavailable):
            await LockStore(client).acquire(uuid4(), ttl_ms=1_000, owner=None)
        with pytest.raises(ServiceUnavailable):
            await PresenceStore(client).snapshot(uuid4())
    finally:
        await client.aclose()


async def test_create_redis_accepts_passwords(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        admin = sync_client(server)
        admin.config_set("requirepass", "s3cr:t/pw")
        admin.close()
        url = f"unix://:{quote('s3cr:t/pw', safe='')}@{server.socket_path}"
        client = create_redis(url)
        try:
            assert await ping(client)
            assert isinstance(
                await LockStore(client).acquire(uuid4(), ttl_ms=1_000, owner=None), LockGrant
            )
        finally:
            await client.aclose()
        wrong = create_redis(f"unix://:wrong@{server.socket_path}")
        try:
            assert not await ping(wrong)
        finally:
            await wrong.aclose()


def test_servers_on_one_data_dir_share_it_and_the_last_one_stops_it(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    """Reference-counted: whichever leaves first, the other keeps a working Redis."""
    for first_out in (0, 1):
        a, b = EmbeddedRedis(tmp_path), EmbeddedRedis(tmp_path)
        servers.extend((a, b))
        assert a.start() == b.start()
        pid = a.pid
        assert pid == b.pid and pid is not None
        assert len(a.users()) == 2
        leaving, staying = (a, b) if first_out == 0 else (b, a)
        leaving.stop()
        assert sync_client(staying).ping()
        assert pid_alive(pid)
        staying.stop()
        wait_gone(pid)


def test_a_dead_user_does_not_keep_it_running(tmp_path: Path, servers: list[EmbeddedRedis]) -> None:
    """A server killed without releasing is pruned: the last live user stops the Redis."""
    code = (
        "import sys, os, signal; from roboscope.realtime.embedded import EmbeddedRedis; "
        "EmbeddedRedis(sys.argv[1]).start(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    server = EmbeddedRedis(tmp_path)
    servers.append(server)
    server.start()
    assert server.users() == [os.getpid()]
    pid = server.pid
    assert pid is not None
    server.stop()
    wait_gone(pid)


def test_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    with EmbeddedRedis(data_dir):
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("redis.log", "redis.pid", "redis.users"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
