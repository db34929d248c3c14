"""Interactive API docs that work offline: Swagger UI served from the package, not a CDN.

FastAPI's default docs page loads Swagger UI (and a favicon) from the internet, so it is a
blank page on a site network without internet access. The `fastapi-offline` package ships
Swagger UI's files; this page and its assets come from this server alone.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PACKAGE = ("fastapi_offline", "static")
"""Swagger UI 5's `swagger-ui-bundle.js`, `swagger-ui.css` and a favicon (MIT/Apache-2.0)."""


def install_docs(app: FastAPI, prefix: str) -> None:
    """`{prefix}/docs` (Swagger UI) and `{prefix}/docs/assets/…`."""
    docs_url = f"{prefix}/docs"
    assets = f"{docs_url}/assets"
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"
    app.mount(assets, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} docs",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png",
            # No validator badge: it would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_api_route(docs_url, docs, methods=["GET"], include_in_schema=False)
