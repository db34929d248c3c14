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

from roboscope.db.engine import Database
from roboscope.services import changes
from roboscope.settings import Settings

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


FLASH_RECORDER = """() => {
    window.flashed = new Set();
    new MutationObserver((changes) => {
        for (const change of changes) {
            if (change.target.classList.contains("flash")) {
                window.flashed.add(change.target.dataset.markerId);
            }
        }
    }).observe(document.querySelector(".map"), { subtree: true, attributeFilter: ["class"] });
}"""
"""Records which markers of the map were highlighted, however briefly."""


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

        # Created elsewhere: it appears on the map, highlighted, and in the table.
        await page.evaluate(FLASH_RECORDER)
        second = await api.marker(session, "B-2", 3, 2)
        await expect(shape_of(page, second)).to_have_count(1, timeout=DEADLINE_MS)
        await page.wait_for_function(
            "id => window.flashed.has(id)", arg=second["id"], timeout=DEADLINE_MS
        )
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
        await page.screenshot(path=screenshots / "console-markers.png", full_page=True)

        # Deleted elsewhere: it disappears from both.
        await api.call("DELETE", f"/markers/{second['id']}")
        await expect(shape_of(page, second)).to_have_count(0, timeout=DEADLINE_MS)
        await expect(row_of(page, second)).to_have_count(0)
        await expect(page.locator(".markers-panel h2")).to_have_text("Markers (1)")
        log = page.get_by_role("log")
        for name in ("marker.created", "marker.updated", "details.created", "marker.deleted"):
            await expect(log.locator(f'li[data-event="{name}"]').first).to_be_visible()
        # Newest first, and filtered by kind.
        await expect(log.locator("li").first).to_have_attribute("data-event", "marker.deleted")
        await page.get_by_label("Show").select_option("details")
        await expect(log.locator("li:visible")).to_have_count(1)
        await expect(log.locator("li:visible")).to_have_attribute("data-event", "details.created")
        await page.get_by_label("Show").select_option("")
        await expect(log.locator('li[data-kind="presence"]:visible').first).to_be_visible()
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


async def trim_the_log(data_dir: Path) -> None:
    """What the retention pass of the servers does once a minute, now: keep only the newest
    change log record (as with ROBOSCOPE_CHANGES_RETENTION_COUNT=1)."""
    database = Database(Settings(data_dir=data_dir).resolved_database_url)
    try:
        await changes.purge_expired(database, changes.Retention(max_count=1))
    finally:
        await database.dispose()


async def test_after_a_server_restart_the_page_reconnects_and_catches_up(
    browser: Browser, tmp_path: Path
) -> None:
    """The page's server is killed; while it is down, another server of the same data dir
    (same database, same Redis) takes changes; the restarted server gives the page every
    one of them, from its last event id. Then once more, but the log is trimmed past the
    page's last id meanwhile: the page reloads its snapshot (410) instead."""
    data_dir = tmp_path / "data"
    env = server_environment()
    first = start_server(data_dir, env=env)
    port = int(first.url.rsplit(":", 1)[1])
    other = start_server(data_dir, env=env)
    servers = [first, other]
    try:
        async with api_of(other) as api, watched_page(browser, check=False) as (page, watch):
            session = await api.session()
            moved = await api.marker(session, "moved", 0, 0)
            gone = await api.marker(session, "gone", 2, 0)
            await open_session(page, first, session)
            await expect(row_of(page, gone)).to_have_count(1)
            banner = page.locator("#banner")
            reloads = page.locator(".event-log li", has_text="reloading")

            first.stop(signal.SIGKILL)
            await expect(banner).to_contain_text("Reconnecting…", timeout=DEADLINE_MS)
            await expect(page.locator(".live-state")).to_have_text("Reconnecting…")
            # Changes while the page's server is down.
            created = await api.marker(session, "created", 4, 0)
            await api.call("PATCH", f"/markers/{moved['id']}", {"label": "away", "version": 0})
            await api.call("DELETE", f"/markers/{gone['id']}")

            servers.append(restarted := start_server(data_dir, env=env, port=port))
            await expect(page.locator(".live-state")).to_have_text("Live", timeout=30_000)
            await expect(banner).to_be_empty()
            await expect(row_of(page, created)).to_contain_text("created", timeout=DEADLINE_MS)
            await expect(row_of(page, moved).locator(".label")).to_have_text("away")
            await expect(row_of(page, gone)).to_have_count(0)
            await expect(shape_of(page, created)).to_have_count(1)
            await expect(shape_of(page, gone)).to_have_count(0)
            await expect(reloads).to_have_count(0)  # caught up from its last id

            # Down again, and away longer than the log keeps.
            newest = (await api.call("GET", f"/work-sessions/{session['id']}/changes"))["cursor"]
            restarted.stop(signal.SIGKILL)
            await expect(banner).to_contain_text("Reconnecting…", timeout=DEADLINE_MS)
            late = await api.marker(session, "late", 6, 0)
            await api.call("PATCH", f"/markers/{moved['id']}", {"label": "again", "version": 1})
            await trim_the_log(data_dir)
            expired = await api.http.get(
                f"/work-sessions/{session['id']}/changes", params={"since": newest}
            )
            assert expired.status_code == 410, expired.text
            servers.append(start_server(data_dir, env=env, port=port))
            await expect(page.locator(".live-state")).to_have_text("Live", timeout=30_000)
            await expect(reloads).to_have_count(1, timeout=DEADLINE_MS)
            await expect(row_of(page, late)).to_contain_text("late", timeout=DEADLINE_MS)
            await expect(row_of(page, moved).locator(".label")).to_have_text("again")
            await expect(page.locator("table.markers tbody tr")).to_have_count(3)
            await not_reloaded(page)  # the snapshot, not the page
            assert watch.elsewhere == []
            assert not [e for e in watch.errors if e.startswith("uncaught")], watch.errors
    finally:
        for server in servers:
            server.stop()


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
            watch.expected_statuses.add(("/api/v1/whoami", 401))
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
            watch.expected_statuses.add(("/api/v1/whoami", 401))
            await page.goto(f"{server.url}/console")
            await page.get_by_label("API token", exact=True).fill("rbs_not-a-token")
            await page.get_by_role("button", name="Open the console").click()
            await expect(page.locator("form.token-form [role=alert]")).to_contain_text(
                "The token was refused", timeout=DEADLINE_MS
            )
            assert await page.evaluate("Object.keys(sessionStorage).length") == 0


@asynccontextmanager
async def present(
    api: Api, session: dict[str, Any], *devices: dict[str, str]
) -> AsyncIterator[None]:
    """Devices that keep beating for the block (presence expires after 2 s here)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(heartbeats(api, session, stop, **device)) for device in devices]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_supervisor_finds_a_space_and_a_session_and_watches_it(
    browser: Browser, console_server: ServerProcess, screenshots: Path
) -> None:
    """The spaces (search, inactive ones, create, rename, deactivate), a space (sessions with
    their counts and filters, laser guide, reference sets), then a session with two devices
    at work: at desktop and tablet width, by mouse and keyboard."""
    async with api_of(console_server) as api, watched_page(browser) as (page, watch):
        north = await api.call("POST", "/spaces", {"key": "dock-north", "name": "Dock North"})
        await api.call(
            "POST", "/spaces", {"key": "dock-old", "name": "Dock Old", "is_active": False}
        )
        sessions = [
            await api.call(
                "POST",
                "/work-sessions",
                {"space_id": north["id"], "session_type": kind, "status": status},
            )
            for kind, status in (("inspection", "active"), ("repair", "draft"))
        ]
        watched = sessions[0]
        markers = [await api.marker(watched, f"M{i}", 1.5 * i, 0.4 * i) for i in range(5)]
        for marker in markers[:3]:
            await api.call("POST", f"/markers/{marker['id']}/details/calculate", {})
        await api.marker(sessions[1], "R1", 0, 0)
        grid = [{"x": float(x), "z": 0.0, "segment_length": 2.0} for x in range(3)]
        await api.call("PUT", f"/spaces/{north['id']}/laser-guide", {"grid": grid})
        reference = {"name": "Bay layout", "markers": [{"label": "ref", **square(0, 0)}]}
        await api.call("POST", f"/spaces/{north['id']}/reference-sets", reference)
        watch.expected_statuses.add(("/laser-guide", 404))  # spaces without one

        # The spaces: searched, with inactive ones on request, active first.
        await page.goto(f"{console_server.url}/")
        assert page.url == f"{console_server.url}/console"
        spaces = page.locator("table.spaces tbody tr")
        await page.get_by_label("Search by key or name").fill("dock")
        await expect(spaces).to_have_count(1, timeout=DEADLINE_MS)
        await expect(spaces.first).to_contain_text("Dock North")
        await page.get_by_label("Show inactive spaces").check()
        await expect(spaces).to_have_count(2, timeout=DEADLINE_MS)
        await expect(spaces.nth(1)).to_contain_text("Inactive")

        # Created, renamed and deactivated from the console.
        await page.get_by_text("New space").click()
        form = page.locator("form.create-space")
        await form.get_by_label("Key").fill("dock-south")
        await form.get_by_label("Name", exact=True).fill("Dock South")
        await form.get_by_role("button", name="Create space").click()
        south = page.locator("table.spaces tbody tr", has_text="dock-south")
        await expect(south).to_contain_text("Dock South", timeout=DEADLINE_MS)
        await south.get_by_role("button", name="Rename Dock South").click()
        await south.get_by_role("textbox").fill("Dock South Gate")
        await south.get_by_role("textbox").press("Enter")
        await expect(south.get_by_role("link")).to_have_text("Dock South Gate", timeout=DEADLINE_MS)
        await south.get_by_role("button", name="Deactivate Dock South Gate").click()
        await expect(south).to_contain_text("Inactive", timeout=DEADLINE_MS)
        found = await api.http.get("/spaces", params={"key": "dock-south", "include_inactive": "1"})
        (stored,) = found.json()
        assert (stored["name"], stored["is_active"]) == ("Dock South Gate", False)
        await page.screenshot(path=screenshots / "console-spaces.png")

        # A space: its sessions with counts, filtered; its laser guide and reference sets.
        async with present(api, watched, {"user_id": "ann", "device_id": "ipad-ann"}):
            await spaces.filter(has_text="Dock North").get_by_role("link").click()
            await expect(page.locator("h1")).to_have_text("Dock North", timeout=DEADLINE_MS)
            row = page.locator(f'table.sessions tr[data-session-id="{watched["id"]}"]')
            await expect(row.locator(".markers-count")).to_have_text("5", timeout=DEADLINE_MS)
            await expect(row.locator(".present-count")).to_have_text("1 (1 device)")
            await expect(page.locator(".laser-guide")).to_contain_text("3 lines")
            await expect(page.locator(".reference-sets")).to_contain_text("Bay layout · 1 marker")
            await page.screenshot(path=screenshots / "console-space.png")
        sessions_rows = page.locator("table.sessions tbody tr")
        await expect(sessions_rows).to_have_count(2)
        await page.get_by_label("Status").select_option("draft")
        await expect(sessions_rows).to_have_count(1, timeout=DEADLINE_MS)
        await expect(sessions_rows.first).to_contain_text("repair")
        await page.get_by_label("Status").select_option("")
        await expect(sessions_rows).to_have_count(2, timeout=DEADLINE_MS)
        await page.get_by_label("Type").select_option("inspection")
        await expect(sessions_rows).to_have_count(1, timeout=DEADLINE_MS)
        await expect(sessions_rows.first).to_have_attribute("data-session-id", watched["id"])

        # The session, with two devices at work on it.
        await sessions_rows.first.get_by_role("link").click()
        await expect(page.locator(".live-state")).to_have_text("Live", timeout=DEADLINE_MS)
        await page.evaluate("window.loadedOnce = true")
        devices = (
            {"user_id": "ann", "device_id": "ipad-ann", "display_name": "Ann"},
            {"user_id": "ben", "device_id": "iphone-ben", "display_name": "Ben"},
        )
        async with present(api, watched, *devices):
            await expect(page.locator(".presence-list > li")).to_have_count(2, timeout=DEADLINE_MS)
            await api.call("POST", f"/locks/{watched['id']}", {"ttl_seconds": 120, "owner": "ann"})
            await expect(page.locator(".lock-state")).to_contain_text(
                "Held by ann", timeout=DEADLINE_MS
            )
            await api.call(
                "PATCH", f"/markers/{markers[4]['id']}", {"label": "M4 moved", **square(7, 3)}
            )
            await api.marker(watched, "M5", 3, 3.2)
            await expect(page.locator("table.markers tbody tr")).to_have_count(
                6, timeout=DEADLINE_MS
            )
            await expect(row_of(page, markers[4])).to_contain_text("M4 moved")
            await page.screenshot(path=screenshots / "console-session.png", full_page=True)

            # Tablet width: nothing runs off the page (wide tables scroll in their box).
            await page.set_viewport_size({"width": 768, "height": 1024})
            await expect(page.locator(".session-grid")).to_be_visible()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 768
            await page.screenshot(path=screenshots / "console-tablet.png", full_page=True)

        # The keyboard: the map zooms and fits again; the table sorts.
        polygon = shape_of(page, markers[0]).locator("polygon")
        fitted = await polygon.get_attribute("points")
        await page.locator(".map-viewport").focus()
        await page.keyboard.press("+")
        await expect(polygon).not_to_have_attribute("points", fitted or "")
        await page.keyboard.press("0")
        await expect(polygon).to_have_attribute("points", fitted or "")
        label_header = page.locator("table.markers th", has_text="Label")
        await label_header.get_by_role("button").focus()
        await page.keyboard.press("Enter")
        await expect(label_header).to_have_attribute("aria-sort", "descending")
        await expect(page.locator("table.markers tbody tr").first).to_contain_text("M5")
        await not_reloaded(page)
