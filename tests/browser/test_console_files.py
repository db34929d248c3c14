"""The console's files: served by the app from the package, same page for every console
path, a base URL that follows the ASGI root path, nothing from elsewhere, and a policy that
keeps it so."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from roboscope.server.app import create_app
from roboscope.settings import Settings

STATIC = Path(str(resources.files("roboscope") / "console" / "static"))
MODULES = {script.name: script.read_text() for script in STATIC.glob("*.js")}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app without its lifespan: serving files needs no database or Redis."""
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))


def client(app: FastAPI, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://roboscope.test")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "base":
            self.base = found["href"]
        elif tag in {"script", "link"}:
            self.urls.append(found.get("src") or found.get("href") or "")


async def test_every_console_path_answers_the_page_with_its_policy(app: FastAPI) -> None:
    async with client(app) as http:
        for path in ("/console", "/console/", "/console/spaces/x", "/console/work-sessions/y"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            policy = page.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "connect-src 'self'" in policy
            assert '<base href="/console/"' in page.text
        assert (await http.get("/console/elsewhere")).status_code == 404
        assert (await http.get("/")).headers["location"] == "/console"


async def test_the_page_and_every_module_load_from_this_server(app: FastAPI) -> None:
    async with client(app) as http:
        page = await http.get("/console")
        links = _Links()
        links.feed(page.text)
        assert links.base == "/console/"
        assert links.urls, page.text
        modules: set[str] = set()
        for url in links.urls:
            assert not re.match(r"(https?:)?//", url), url
            answer = await http.get(f"/console/{url}")
            assert answer.status_code == 200, url
        # Every module imports its peers by relative path, and each of them is served.
        assert "main.js" in MODULES
        for name, text in MODULES.items():
            assert not re.search(r"""(from|import)\s*\(?\s*["'](https?:)?//""", text), name
            modules.update(re.findall(r"""from\s+["']\./([\w.-]+)["']""", text))
        for module in modules:
            answer = await http.get(f"/console/static/{module}")
            assert answer.status_code == 200, module
            assert "javascript" in answer.headers["content-type"], module


async def test_behind_a_path_prefix_the_page_points_under_it(app: FastAPI) -> None:
    async with client(app, root_path="/roboscope") as http:
        page = await http.get("/console")
        assert '<base href="/roboscope/console/"' in page.text
        assert (await http.get("/")).headers["location"] == "/roboscope/console"
