"""The interactive docs render in a real browser with no network but this server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from ..servers import ServerProcess, running_server
from .conftest import server_environment, watched_page


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "server", env=server_environment()) as process:
        yield process


async def test_swagger_ui_renders_every_operation_offline(
    browser: Browser, server: ServerProcess, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{server.api}/openapi.json")).json()
    operations = sum(len(item) for item in document["paths"].values())
    async with watched_page(browser) as (page, watch):
        await page.goto(f"{server.api}/docs")
        await page.wait_for_selector(".opblock", timeout=30_000)
        await page.screenshot(path=tmp_path / "docs.png", full_page=False)
        assert await page.locator(".opblock").count() == operations
        assert await page.locator("text=Failed to load API definition").count() == 0
    assert any(url.endswith("/swagger-ui-bundle.js") for url in watch.urls), watch.urls
    assert any(url.endswith("/openapi.json") for url in watch.urls), watch.urls
