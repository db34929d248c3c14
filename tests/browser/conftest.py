"""A real headless Chromium from the system's packages (Debian's `chromium`), driven by
Playwright; no browser is ever downloaded (`.ci/run` installs the package when missing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route, async_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Path:
    """The system's Chromium (`ROBOSCOPE_TEST_CHROMIUM`, default `/usr/bin/chromium`), or
    skip (locally) / fail (in CI, CI=true) without it."""
    path = Path(os.environ.get("ROBOSCOPE_TEST_CHROMIUM", "/usr/bin/chromium"))
    if not path.exists():
        message = f"{path} is missing: `apt-get install chromium` (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class PageWatch:
    """What a page did beyond what a test looks at: requests that left the server (refused
    by the route below), console errors and uncaught exceptions, and every URL asked."""

    elsewhere: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected_statuses: set[tuple[str, int]] = field(default_factory=set)
    """(URL ending, status) answers a test provokes on purpose: the browser logs each as a
    console error ("Failed to load resource"), which is then not a defect of the page."""

    def assert_clean(self) -> None:
        assert self.elsewhere == [], f"the page reached beyond the server: {self.elsewhere}"
        assert self.errors == [], f"console errors: {self.errors}"


def is_local(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:"))


@asynccontextmanager
async def watched_page(
    browser: Browser, *, width: int = 1280, height: int = 900, check: bool = True
) -> AsyncIterator[tuple[Page, PageWatch]]:
    """A page in a fresh context (its own sessionStorage) whose requests may only reach this
    machine; on a clean exit, none went elsewhere and the console stayed free of errors
    (`check=False`: the test asserts on the watch itself)."""
    watch = PageWatch()
    context = await browser.new_context(viewport={"width": width, "height": height})

    async def only_this_server(route: Route) -> None:
        url = route.request.url
        watch.urls.append(url)
        if is_local(url):
            await route.continue_()
        else:
            watch.elsewhere.append(url)
            await route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if any(
            url.endswith(ending) and f"status of {status}" in message.text
            for ending, status in watch.expected_statuses
        ):
            return
        watch.errors.append(f"{message.text} ({url})")

    await context.route("**/*", only_this_server)
    page = await context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    try:
        yield page, watch
    except Exception as failure:
        failure.add_note(f"page errors: {watch.errors}; requests elsewhere: {watch.elsewhere}")
        raise
    else:
        if check:
            watch.assert_clean()
    finally:
        await context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the console tests leave their screenshots: `ROBOSCOPE_TEST_SCREENSHOTS` (the
    README's come from `ROBOSCOPE_TEST_SCREENSHOTS=docs/screenshots`), else a temporary
    folder of the run."""
    chosen = os.environ.get("ROBOSCOPE_TEST_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def server_environment(**extra: str) -> dict[str, str]:
    """A test server's environment: the external Redis when the run has one (CI)."""
    env = dict(extra)
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if redis_url:
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    return env
