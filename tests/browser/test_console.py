"""The web console (docs/console.md) in a real Chromium, against real `roboscope serve`
processes, while other clients work through the API: the live session page follows them
without a reload, keeps an edit that lost a race, survives a server restart, and refuses to
work without a token when auth is on. Every page is watched: no request may leave the
server and no console error may appear (tests/browser/conftest.py)."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from ..servers import ServerProcess, run_command, running_server, start_server
from .conftest import server_environment, watched_page

DEADLINE_MS = 10_000
"""How long a page may take to show a change: generous, since a loaded CI machine is slow;
the console shows changes as the stream brings them (a test never asserts a duration)."""

PRESENCE_TTL_SECONDS = "2"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server (auth off) for the tests that share it, each in its own work session.
    Presence expires after 2 s, so an expiry shows within a test."""
    env = server_environment(ROBOSCOPE_PRESENCE_TTL_SECONDS=PRESENCE_TTL_SECONDS)
    with running_server(tmp_path_factory.mktemp("console"), env=env) as server:
        yield server


class Api:
    """Another client of the server: what the devices of a session do through the API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.http.request(method, path, json=body)
        assert answer.is_success, (method, path, answer.status_code, answer.text)
        return answer.json() if answer.content else None

    async def session(self, name: str = "Hall A") -> dict[str, Any]:
        key = f"hall-{id(self)}-{name.lower().replace(' ', '-')}"
        space = await self.call("POST", "/spaces", {"key": key, "name": name})
        body = {"space_id": space["id"], "session_type": "inspection"}
        session: dict[str, Any] = await self.call("POST", "/work-sessions", body)
        return session

    async def marker(
        self, session: dict[str, Any], label: str, x: float, z: float
    ) -> dict[str, Any]:
        marker: dict[str, Any] = await self.call(
            "POST", "/markers", {"work_session_id": session["id"], "label": label, **square(x, z)}
        )
        return marker


def square(x: float, z: float) -> dict[str, list[float]]:
    return {"p1": [x, 0, z], "p2": [x + 1, 0, z], "p3": [x + 1, 0, z + 1], "p4": [x, 0, z + 1]}


@asynccontextmanager
async def api_of(server: ServerProcess, token: str | None = None) -> AsyncIterator[Api]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.api, headers=headers, timeout=30) as http:
        yield Api(http)


async def open_session(page: Page, server: ServerProcess, session: dict[str, Any]) -> None:
    """The session's live page, once its stream is open; marked so a reload would show."""
    await page.goto(f"{server.url}/console/work-sessions/{session['id']}")
    await expect(page.locator(".live-state")).to_have_text("Live", timeout=DEADLINE_MS)
    await page.evaluate("window.loadedOnce = true")


async def not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.loadedOnce === true"), "the page was reloaded"


def shape_of(page: Page, marker: dict[str, Any]) -> Locator:
    return page.locator(f'.map g.marker[data-marker-id="{marker["id"]}"]:not(.leaving)')


def row_of(page: Page, marker: dict[str, Any]) -> Locator:
    return page.locator(f'table.markers tr[data-marker-id="{marker["id"]}"]')


async def test_the_map_and_the_table_follow_markers_made_by_another_client(
    browser: Browser, console_server: ServerProcess, screenshots: Path
) -> None:
    async with api_of(console_server) as api, watched_page(browser) as (page, _):
        session = await api.session()
        first = await api.marker(session, "A-1", 0, 0)
        await open_session(page, console_server, session)
        await expect(shape_of(page, first)).to_have_count(1)
        await expect(row_of(page, first)).to_contain_text("A-1")

        # Created elsewhere: it appears on the map and in the table.
        second = await api.marker(session, "B-2", 3, 2)
        await expect(shape_of(page, second)).to_have_count(1, timeout=DEADLINE_MS)
        await expect(shape_of(page, second).locator("text")).to_have_text("B-2")
        await expect(row_of(page, second)).to_contain_text("B-2", timeout=DEADLINE_MS)
        await expect(page.locator(".markers-panel h2")).to_have_text("Markers (2)")

        # Moved elsewhere: its polygon and its row follow (and its version).
        polygon = shape_of(page, first).locator("polygon")
        before = await polygon.get_attribute("points")
        await api.call("PATCH", f"/markers/{first['id']}", {**square(5, 0), "version": 0})
        await expect(row_of(page, first)).to_contain_text(
            "p1 (5.00, 0.00, 0.00)", timeout=DEADLINE_MS
        )
        await expect(row_of(page, first).locator("td").nth(1)).to_have_text("1")
        await expect(polygon).not_to_have_attribute("points", before or "")

        # Details calculated elsewhere: the row shows them.
        await api.call("POST", f"/markers/{second['id']}/details/calculate", {})
        await expect(row_of(page, second)).to_contain_text("3.500", timeout=DEADLINE_MS)
        await page.screenshot(path=screenshots / "console-session.png", full_page=True)

        # Deleted elsewhere: it disappears from both.
        await api.call("DELETE", f"/markers/{second['id']}")
        await expect(shape_of(page, second)).to_have_count(0, timeout=DEADLINE_MS)
        await expect(row_of(page, second)).to_have_count(0)
        await expect(page.locator(".markers-panel h2")).to_have_text("Markers (1)")
        log = page.locator(".event-log")
        for name in ("marker.created", "marker.updated", "details.created", "marker.deleted"):
            await expect(log.locator(f'li[data-event="{name}"]').first).to_be_visible()
        await not_reloaded(page)


async def heartbeats(api: Api, session: dict[str, Any], stop: asyncio.Event, **body: str) -> None:
    """Keep a device present (every 0.3 s, well within the 2 s TTL) until `stop`."""
    while not stop.is_set():
        await api.call("POST", f"/presence/{session['id']}", body)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.3)


async def test_presence_and_the_lock_appear_change_and_go(
    browser: Browser, console_server: ServerProcess, screenshots: Path
) -> None:
    async with api_of(console_server) as api, watched_page(browser) as (page, _):
        session = await api.session()
        await open_session(page, console_server, session)
        people = page.locator(".presence-list > li")
        ann = page.locator('.presence-list > li[data-user-id="ann"]')
        await expect(page.locator(".presence .summary")).to_have_text("Nobody is present.")

        # Ann joins on two devices; one of them stops beating and expires.
        stop_tablet, stop_phone = asyncio.Event(), asyncio.Event()
        user = {"user_id": "ann", "display_name": "Ann"}
        tablet = asyncio.create_task(
            heartbeats(api, session, stop_tablet, device_id="ipad-1", **user)
        )
        phone = asyncio.create_task(heartbeats(api, session, stop_phone, device_id="phone", **user))
        try:
            await expect(ann.locator('li[data-device-id="ipad-1"]')).to_be_visible(
                timeout=DEADLINE_MS
            )
            await expect(ann.locator('li[data-device-id="phone"]')).to_be_visible(
                timeout=DEADLINE_MS
            )
            await expect(ann).to_contain_text("Ann")
            await expect(ann.locator(".age")).to_contain_text(
                re.compile(r"last heartbeat \d+ s ago")
            )
            await expect(page.locator(".presence .summary")).to_have_text("1 person on 2 devices")

            # The lock: held by Ann, with its fence and a countdown.
            grant = await api.call(
                "POST", f"/locks/{session['id']}", {"ttl_seconds": 60, "owner": "ann"}
            )
            lock = page.locator(".lock")
            await expect(lock.locator(".lock-state")).to_contain_text(
                f"Held by ann · fence {grant['fence']}", timeout=DEADLINE_MS
            )
            await expect(lock.locator(".countdown")).to_have_text(re.compile(r"Expires in \d+ s"))
            await page.screenshot(path=screenshots / "console-presence-lock.png")

            stop_phone.set()
            await phone
            await expect(ann.locator('li[data-device-id="phone"]')).to_have_count(
                0, timeout=DEADLINE_MS
            )
            await expect(ann.locator('li[data-device-id="ipad-1"]')).to_be_visible()
            expired = page.locator('.event-log li[data-event="presence.left"]')
            await expect(expired.first).to_contain_text("phone, expired")
        finally:
            stop_tablet.set()
            stop_phone.set()
            await asyncio.gather(tablet, phone)
        await expect(people).to_have_count(0, timeout=DEADLINE_MS)  # the tablet expires too
        await expect(page.locator(".presence .summary")).to_have_text("Nobody is present.")

        # Released by its holder: free.
        await api.call("DELETE", f"/locks/{session['id']}", {"token": grant["token"]})
        await expect(lock.locator(".lock-state")).to_have_text(
            "Free (released by its holder)", timeout=DEADLINE_MS
        )
        await expect(lock.locator(".countdown")).to_be_hidden()

        # A short grant expires by itself (the log shows that it was held).
        await api.call("POST", f"/locks/{session['id']}", {"ttl_seconds": 1, "owner": "bob"})
        await expect(lock.locator(".lock-state")).to_have_text(
            "Free (expired)", timeout=DEADLINE_MS
        )
        await expect(
            page.locator('.event-log li[data-event="lock.acquired"]').first
        ).to_contain_text("bob")

        # Forced free from the console (auth off: anyone may, like every operation).
        await api.call("POST", f"/locks/{session['id']}", {"ttl_seconds": 60, "owner": "carl"})
        await expect(lock.locator(".lock-state")).to_contain_text(
            "Held by carl", timeout=DEADLINE_MS
        )
        await lock.get_by_role("button", name="Force release").click()
        await expect(lock.locator(".lock-state")).to_have_text(
            "Free (force-released)", timeout=DEADLINE_MS
        )
        status = await api.call("GET", f"/locks/{session['id']}")
        assert status["locked"] is False
        await not_reloaded(page)


async def test_a_label_edit_against_a_stale_version_shows_the_conflict_and_the_fresh_value(
    browser: Browser, console_server: ServerProcess, screenshots: Path
) -> None:
    async with api_of(console_server) as api, watched_page(browser) as (page, watch):
        session = await api.session()
        marker = await api.marker(session, "old", 0, 0)
        watch.expected_statuses.add((f"/markers/{marker['id']}", 409))  # the lost race
        await open_session(page, console_server, session)
        row = row_of(page, marker)
        await row.get_by_role("button", name="Edit label of old").click()
        field = row.get_by_role("textbox")
        await expect(field).to_be_focused()
        await field.fill("mine")

        # Meanwhile another device renames it (version 0 -> 1); the field keeps "mine".
        await api.call("PATCH", f"/markers/{marker['id']}", {"label": "theirs", "version": 0})
        await expect(row.locator("td").nth(1)).to_have_text("1", timeout=DEADLINE_MS)
        await expect(field).to_have_value("mine")

        await field.press("Enter")
        conflict = row.locator(".conflict")
        await expect(conflict).to_contain_text("Changed by someone else", timeout=DEADLINE_MS)
        await expect(conflict.locator(".fresh-label")).to_have_text("theirs")
        await expect(conflict).to_contain_text("version 1")
        await expect(row.get_by_role("textbox")).to_have_value("mine")  # not lost
        stored = await api.call("GET", f"/markers/{marker['id']}")
        assert (stored["label"], stored["version"]) == ("theirs", 1)
        await page.screenshot(path=screenshots / "console-conflict.png")

        # Saving over it knowingly sends the fresh version.
        await row.get_by_role("button", name="Save mine anyway").click()
        await expect(row.locator(".label")).to_have_text("mine", timeout=DEADLINE_MS)
        stored = await api.call("GET", f"/markers/{marker['id']}")
        assert (stored["label"], stored["version"]) == ("mine", 2)
        await not_reloaded(page)


async def test_after_a_server_restart_the_page_reconnects_and_catches_up(
    browser: Browser, tmp_path: Path
) -> None:
    """The page's server is killed; while it is down, another server of the same data dir
    (same database, same Redis) takes changes; the restarted server gives the page every
    one of them, from its last event id."""
    data_dir = tmp_path / "data"
    env = server_environment()
    first = start_server(data_dir, env=env)
    other = start_server(data_dir, env=env)
    try:
        async with api_of(other) as api, watched_page(browser, check=False) as (page, watch):
            session = await api.session()
            moved = await api.marker(session, "moved", 0, 0)
            gone = await api.marker(session, "gone", 2, 0)
            await open_session(page, first, session)
            await expect(row_of(page, gone)).to_have_count(1)

            first.stop(signal.SIGKILL)
            banner = page.locator("#banner")
            await expect(banner).to_contain_text("Reconnecting…", timeout=DEADLINE_MS)
            await expect(page.locator(".live-state")).to_have_text("Reconnecting…")

            # Changes while the page's server is down.
            created = await api.marker(session, "created", 4, 0)
            await api.call(
                "PATCH", f"/markers/{moved['id']}", {"label": "moved-away", "version": 0}
            )
            await api.call("DELETE", f"/markers/{gone['id']}")

            restarted = start_server(data_dir, env=env, port=int(first.url.rsplit(":", 1)[1]))
            try:
                await expect(page.locator(".live-state")).to_have_text("Live", timeout=30_000)
                await expect(banner).to_be_empty()
                await expect(row_of(page, created)).to_contain_text("created", timeout=DEADLINE_MS)
                await expect(row_of(page, moved).locator(".label")).to_have_text("moved-away")
                await expect(row_of(page, gone)).to_have_count(0)
                await expect(shape_of(page, created)).to_have_count(1)
                await expect(shape_of(page, gone)).to_have_count(0)
                await not_reloaded(page)
            finally:
                restarted.stop()
            assert watch.elsewhere == []
            assert not [e for e in watch.errors if e.startswith("uncaught")], watch.errors
    finally:
        first.stop()
        other.stop()


async def test_with_auth_on_the_console_refuses_without_a_token_and_works_with_one(
    browser: Browser, tmp_path: Path, screenshots: Path
) -> None:
    data_dir = tmp_path / "data"
    env = server_environment(ROBOSCOPE_AUTH="required")
    with running_server(data_dir, env=env) as server:
        made = run_command(
            "tokens",
            "create",
            "ops",
            "--scope",
            "admin",
            "--user",
            "ops",
            data_dir=data_dir,
            env=env,
        )
        assert made.returncode == 0, made.stderr
        admin = made.stdout.strip()
        async with api_of(server, admin) as api, watched_page(browser) as (page, watch):
            watch.expected_statuses.add(("/api/v1/identity", 401))
            body = {"name": "viewer", "scope": "read", "user_id": "vi"}
            viewer = (await api.call("POST", "/tokens", body))["token"]
            session = await api.session()
            marker = await api.marker(session, "seen", 0, 0)

            await page.goto(f"{server.url}/console")
            form = page.locator("form.token-form")
            await expect(form).to_be_visible(timeout=DEADLINE_MS)
            await expect(page.locator("table.spaces")).to_have_count(0)
            await page.screenshot(path=screenshots / "console-token.png")

            await form.get_by_label("API token", exact=True).fill(viewer)
            await form.get_by_role("button", name="Open the console").click()
            await expect(page.locator("table.spaces")).to_contain_text(
                "Hall A", timeout=DEADLINE_MS
            )
            await expect(page.locator("#who")).to_have_text("viewer (vi) · read scope")
            # Read scope can only look.
            await expect(page.get_by_role("button", name=re.compile("^Rename"))).to_have_count(0)
            await expect(page.get_by_text("New space")).to_have_count(0)

            await page.goto(f"{server.url}/console/work-sessions/{session['id']}")
            await expect(page.locator(".live-state")).to_have_text("Live", timeout=DEADLINE_MS)
            await expect(row_of(page, marker)).to_contain_text("seen")
            await expect(
                row_of(page, marker).get_by_role("button", name=re.compile("^Edit"))
            ).to_have_count(0)
            await expect(page.get_by_role("button", name="Force release")).to_have_count(0)
            later = await api.marker(session, "later", 2, 0)  # through the query token's stream
            await expect(row_of(page, later)).to_contain_text("later", timeout=DEADLINE_MS)

            # The API token never shows in a URL (the stream's minute-long query token does).
            assert not [url for url in watch.urls if viewer in url]
            assert any("access_token=rbq_" in url for url in watch.urls), watch.urls
            assert await page.evaluate("Object.keys(sessionStorage).length") == 1

            # Forgetting it: refused again.
            await page.get_by_role("button", name="Forget token").click()
            await expect(page.locator("form.token-form")).to_be_visible(timeout=DEADLINE_MS)

            # An admin token may edit and force a lock release.
            await page.locator("form.token-form").get_by_label("API token", exact=True).fill(admin)
            await page.locator("form.token-form").get_by_role("button").click()
            await expect(page.locator(".live-state")).to_have_text("Live", timeout=DEADLINE_MS)
            await expect(page.get_by_role("button", name="Force release")).to_be_visible()
            await expect(
                row_of(page, marker).get_by_role("button", name="Edit label of seen")
            ).to_be_visible()

        # A refused token is named as refused, and forgotten.
        async with watched_page(browser) as (page, watch):
            watch.expected_statuses.add(("/api/v1/identity", 401))
            await page.goto(f"{server.url}/console")
            await page.get_by_label("API token", exact=True).fill("rbs_not-a-token")
            await page.get_by_role("button", name="Open the console").click()
            await expect(page.locator("form.token-form [role=alert]")).to_contain_text(
                "The token was refused", timeout=DEADLINE_MS
            )
            assert await page.evaluate("Object.keys(sessionStorage).length") == 0
