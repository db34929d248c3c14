"""A real headless Chromium from the system's packages (Debian's `chromium`), driven by
Playwright; no browser is ever downloaded (`.ci/run` installs the package when missing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

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
