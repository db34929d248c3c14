"""What the app's state opens it closes: every background task (the live hub's, the stream
upkeep, the expiry sweeper, change-log retention) and the exit-signal hook that ends live
streams when the server is told to stop (server/state.py, server/exit_signals.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from types import FrameType

import httpx
from asgi_lifespan import LifespanManager

from roboscope.db.migrate import upgrade
from roboscope.server.app import create_app
from roboscope.server.exit_signals import on_exit_signal
from roboscope.server.state import app_state
from roboscope.settings import Settings

from ..conftest import IOS_HEADERS
from ..waiting import until


def _settings(tmp_path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lifetime.db'}"
    upgrade(url)
    # The CI Redis when there is one, else the app's own embedded Redis.
    return Settings(
        data_dir=tmp_path,
        database_url=url,
        redis_url=os.environ.get("ROBOSCOPE_TEST_REDIS_URL"),
        auth="required",  # the token watch's tasks too
    )


async def test_the_app_state_stops_every_task_it_started(tmp_path: Path) -> None:
    settings = await asyncio.to_thread(_settings, tmp_path)
    before = asyncio.all_tasks()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    async with app_state(settings) as state:
        started = asyncio.all_tasks() - before
        # hub: wake-up listener and poll; upkeep loop; sweeper; retention; token watch
        assert len(started) >= 6, started
        state.live.poll_soon()  # one of the hub's short tasks, in flight at the stop
    left = {task for task in asyncio.all_tasks() - before if not task.done()}
    assert left == set()
    assert state.database.listener is None  # nothing to wake once the hub is gone
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers


async def test_an_exit_signal_reaches_the_app_then_the_server() -> None:
    heard: list[str] = []
    app_heard = asyncio.Event()

    def server(signum: int, frame: FrameType | None) -> None:
        heard.append("server")

    def app() -> None:
        heard.append("app")
        app_heard.set()

    previous = signal.signal(signal.SIGTERM, server)
    try:
        with on_exit_signal(app):
            signal.raise_signal(signal.SIGTERM)
            async with asyncio.timeout(5):
                await app_heard.wait()
            # The server's handler runs in the signal handler; the app's callback in the
            # event loop, after it.
            assert heard == ["server", "app"]
        assert signal.getsignal(signal.SIGTERM) is server
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert heard == ["server", "app", "server"]
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_signal_without_a_server_handler_is_left_alone() -> None:
    """No server stops on it (the default action ends the process): nothing to follow."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with on_exit_signal(lambda: None):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_stream_opened_while_the_server_stops_ends_with_stream_closing(
    tmp_path: Path,
) -> None:
    """After the exit signal, a new stream gets `stream.closing` at once, and nothing else:
    it reconnects to another process."""
    settings = await asyncio.to_thread(_settings, tmp_path)
    settings = settings.model_copy(update={"auth": "off"})
    app = create_app(settings)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # the "server"
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t/api/v1", headers=IOS_HEADERS
            ) as http:
                space = await http.post("/spaces", json={"key": "k", "name": "S"})
                body = {"space_id": space.json()["id"], "session_type": "inspection"}
                session = (await http.post("/work-sessions", json=body)).json()["id"]
                signal.raise_signal(signal.SIGTERM)
                await until(lambda: app.state.roboscope.streams.stopping)
                async with asyncio.timeout(10):
                    answer = await http.get(f"/work-sessions/{session}/events")
        assert answer.status_code == 200
        names = [line for line in answer.text.splitlines() if line.startswith("event: ")]
        assert names == ["event: stream.closing"]
        assert 'data: {"reason":"server_shutdown"}' in answer.text
    finally:
        signal.signal(signal.SIGTERM, previous)
