"""A browser page following a work session with docs/live.md's `followSession` keeps
receiving changes across real server restarts, on the zero-setup default (SQLite and the
embedded Redis, both restarted), with auth required.

The function is taken from the docs themselves, so the example cannot drift from what
works. Across a restart the page's query token stays valid (it is signed with the data
dir's key, not kept in Redis); when a reconnect is refused (here: the server comes back
with another key), the page makes a new one and resumes where it left off."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Request

from ..servers import ServerProcess, free_port, run_command, start_server

DOCS = Path(__file__).parents[2] / "docs" / "live.md"
WAIT_MS = 90_000  # a deadline for what takes a restart: slow on a busy machine, never a guess


def follow_session_source() -> str:
    """The ```js block of docs/live.md that defines `followSession`."""
    blocks = re.findall(r"```js\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    [source] = [block for block in blocks if "function followSession(" in block]
    return str(source)


class Deployment:
    """`roboscope serve` on one data dir and port, stopped and started again at will."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {"ROBOSCOPE_AUTH": "required", "ROBOSCOPE_SECRET_KEY": ""}  # the data dir's
        self.server: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **env: str) -> None:
        self.env.update(env)
        self.server = start_server(self.data_dir, env=self.env, port=self.port)

    def restart(self, **env: str) -> None:
        self.stop()
        self.start(**env)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    running = Deployment(tmp_path / "data")
    try:
        yield running
    finally:
        running.stop()


async def wait_for_label(page: Page, event: str, label: str) -> None:
    await page.wait_for_function(
        "([event, label]) => window.seen.some((e) => e.name === event && e.data.label === label)",
        arg=[event, label],
        timeout=WAIT_MS,
    )


async def test_a_page_keeps_following_a_session_across_server_restarts(
    browser: Browser, deployment: Deployment
) -> None:
    made = run_command(
        "tokens",
        "create",
        "browser",
        "--scope",
        "admin",
        "--create-database",
        data_dir=deployment.data_dir,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    await asyncio.to_thread(deployment.start)
    api = httpx.AsyncClient(
        base_url=f"{deployment.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
    async with api:
        space = await api.post("/spaces", json={"key": "live", "name": "Live"})
        assert space.status_code == 201, space.text
        made_session = await api.post(
            "/work-sessions", json={"space_id": space.json()["id"], "session_type": "other"}
        )
        session = made_session.json()["id"]

        page = await browser.new_page()
        stream_tokens: list[str] = []

        def count(request: Request) -> None:
            if request.method == "POST" and request.url.endswith("/stream-token"):
                stream_tokens.append(request.url)

        page.on("request", count)
        await page.goto(f"{deployment.url}/api/v1/health")  # the API's origin
        await page.evaluate(
            "([source, token, session]) => {"
            "  window.seen = [];"
            "  (0, eval)(source);"  # the docs' function, as if pasted into the page
            "  window.follow = followSession(token, session,"
            "    (name, data) => window.seen.push({ name, data }));"
            "}",
            [follow_session_source(), token, session],
        )
        await page.wait_for_function(
            "() => window.seen.some((e) => e.name === 'lock.snapshot')", timeout=WAIT_MS
        )
        corners = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
        marker = await api.post(
            "/markers", json={"work_session_id": session, "label": "before", **corners}
        )
        assert marker.status_code == 201, marker.text
        marker_id = marker.json()["id"]
        await wait_for_label(page, "marker.created", "before")

        # A restart (the embedded Redis goes and comes back empty): the page's query token
        # still opens the stream, so it resumes without asking for a new one.
        await asyncio.to_thread(deployment.restart)
        moved = await api.patch(f"/markers/{marker_id}", json={"label": "after restart"})
        assert moved.status_code == 200
        await wait_for_label(page, "marker.updated", "after restart")
        assert len(stream_tokens) == 1

        # Back with another key: its reconnect is refused (401), so it makes a new token.
        await asyncio.to_thread(
            deployment.restart, ROBOSCOPE_SECRET_KEY="a-new-key-for-this-deployment-0123456789"
        )
        moved = await api.patch(f"/markers/{marker_id}", json={"label": "new key"})
        assert moved.status_code == 200
        await wait_for_label(page, "marker.updated", "new key")
        assert len(stream_tokens) == 2

        seen: list[dict[str, Any]] = await page.evaluate("window.seen")
        labels = [e["data"]["label"] for e in seen if e["name"].startswith("marker.")]
        assert labels == ["before", "after restart", "new key"]  # each once, in order
        assert not any(e["name"] == "stopped" for e in seen), seen
        await page.evaluate("window.follow.stop()")
        await page.close()
