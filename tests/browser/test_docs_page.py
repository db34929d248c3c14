"""The interactive docs render in a real browser with no network but this server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Route

from ..servers import ServerProcess, running_server

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {}
    redis_url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if redis_url:
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    with running_server(tmp_path / "server", env=env) as process:
        yield process


async def test_swagger_ui_renders_every_operation_offline(
    browser: Browser, server: ServerProcess, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{server.api}/openapi.json")).json()
    operations = sum(len(item) for item in document["paths"].values())
    elsewhere: list[str] = []
    served: list[str] = []

    async def only_this_server(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            served.append(url)
            await route.continue_()
        else:
            elsewhere.append(url)
            await route.abort()

    context = await browser.new_context()
    await context.route("**/*", only_this_server)
    page = await context.new_page()
    await page.goto(server.url + "/")  # redirects to the docs
    assert page.url == f"{server.api}/docs"
    await page.wait_for_selector(".opblock", timeout=30_000)
    await page.screenshot(path=tmp_path / "docs.png", full_page=False)
    assert await page.locator(".opblock").count() == operations
    assert await page.locator("text=Failed to load API definition").count() == 0
    await context.close()
    assert elsewhere == [], f"the docs page reached beyond the server: {elsewhere}"
    assert any(url.endswith("/swagger-ui-bundle.js") for url in served), served
    assert any(url.endswith("/openapi.json") for url in served), served
