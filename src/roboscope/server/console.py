"""The web console (src/roboscope/console/), served by the API server itself.

One HTML page and its static files, shipped in the package: `roboscope serve` is the whole
install, nothing is fetched from the internet, and the console's requests are same-origin,
so no CORS setting is needed. The console is one more client of the public API and the live
stream; this module only hands out its files.

The page is the same for every console path (`/console`, `/console/spaces/{id}`,
`/console/work-sessions/{id}`): its script reads the path. Its `<base href>` carries the
ASGI root path, so the console works behind a proxy that mounts the server under a prefix.
"""

from __future__ import annotations

import html
from importlib import resources

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

CONSOLE_URL = "/console"
STATIC_PACKAGE = ("roboscope", "console/static")
BASE_MARK = "{{base}}"

# Everything from this server only; nothing inline. A stray external reference in a future
# edit is blocked by the browser (and the browser tests fail on it).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page_template() -> str:
    text = (resources.files("roboscope") / "console" / "index.html").read_text("utf-8")
    assert BASE_MARK in text, "console/index.html lost its base mark"
    return text


def install_console(app: FastAPI) -> None:
    """`/console` and its pages, `/console/static/…`, and `/` redirecting to the console."""
    template = _page_template()
    app.mount(f"{CONSOLE_URL}/static", StaticFiles(packages=[STATIC_PACKAGE]), name="console")

    async def page(request: Request) -> HTMLResponse:
        base = f"{request.scope.get('root_path', '')}{CONSOLE_URL}/"
        return HTMLResponse(
            template.replace(BASE_MARK, html.escape(base, quote=True)),
            headers=SECURITY_HEADERS,
        )

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{CONSOLE_URL}", 307)

    for path in (
        CONSOLE_URL,
        f"{CONSOLE_URL}/",
        f"{CONSOLE_URL}/spaces/{{space_id}}",
        f"{CONSOLE_URL}/work-sessions/{{session_id}}",
    ):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
