"""The OpenAPI document and the interactive docs: clean operation ids, the error bodies the
server really sends, and a docs page that needs nothing but this server.

Every answer of the API suite is also checked against the document by the `client` fixture
(tests/conftest.py), and tests/api/test_openapi_fuzz.py fuzzes a real server from it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi import FastAPI

from roboscope.server.openapi import SUMMARIES

from .conftest import SQUARE, Factory

ERROR_SCHEMAS = {
    "400": "BadRequestError",
    "401": "UnauthorizedError",
    "403": "ForbiddenError",
    "404": "NotFoundError",
    "410": "CursorExpiredError",
    "409": "ConflictError",
    "413": "BodyTooLargeError",
    "415": "UnsupportedMediaTypeError",
    "422": "ValidationErrorBody",
    "423": "LockedError",
    "429": "RateLimitedError",
    "503": "UnavailableError",
}
STREAM_ERRORS = {"503": "StreamUnavailableError"}  # the live stream's process cap


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    """Every operation of the document, by operation id."""
    found: dict[str, dict[str, Any]] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"] not in found, operation["operationId"]
            found[operation["operationId"]] = {**operation, "method": method, "path": path}
    return found


def test_operation_ids_are_tag_and_action_and_unique(app: FastAPI) -> None:
    ops = operations(app)  # asserts uniqueness
    for operation_id, operation in ops.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id), operation_id
        tag = operation["tags"][0].replace(" ", "_")
        assert operation_id.startswith(f"{tag}_"), (operation_id, tag)
    expected = {
        "markers_update": ("patch", "/api/v1/markers/{marker_id}"),
        "markers_list": ("get", "/api/v1/markers"),
        "markers_create_bulk": ("post", "/api/v1/markers/bulk"),
        "work_sessions_list_markers": ("get", "/api/v1/work-sessions/{session_id}/markers"),
        "locks_acquire": ("post", "/api/v1/locks/{session_id}"),
        "locks_app_acquire": ("post", "/api/v1/locks/work-sessions/{session_id}"),
        "presence_heartbeat": ("post", "/api/v1/presence/{session_id}"),
    }
    for operation_id, (method, path) in expected.items():
        assert (ops[operation_id]["method"], ops[operation_id]["path"]) == (method, path)


def test_every_operation_has_a_written_summary(app: FastAPI) -> None:
    """A sentence, not FastAPI's default (the handler's name title-cased: "List Markers",
    "Present"), which is what an operation missing from server/openapi.py's SUMMARIES shows."""
    ops = operations(app)
    for operation_id, operation in ops.items():
        summary = operation.get("summary", "")
        assert summary.strip() and summary != summary.title(), (
            f"add a summary to SUMMARIES for {operation_id} (it has {summary!r})"
        )
    assert len({op["summary"] for op in ops.values()}) == len(ops), "two share a summary"
    # (A check of the table itself: it names no operation that is gone.)
    assert not set(SUMMARIES) - set(ops), "SUMMARIES names operations that do not exist"


def _timestamp_properties(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property named `…_at` in the document, with its schema (the non-null branch)."""
    if isinstance(node, dict):
        for name, schema in node.get("properties", {}).items():
            if name.endswith("_at"):
                branches = schema.get("anyOf", [schema])
                for branch in branches:
                    if branch.get("type") != "null":
                        yield f"{path}.{name}", branch
        for key, value in node.items():
            yield from _timestamp_properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _timestamp_properties(value, f"{path}/{index}")


def test_timestamps_are_documented_as_date_times(app: FastAPI) -> None:
    """Generated clients decode `format: date-time` into dates; answers carry exactly the
    contract's form, which the document's pattern states (and the API suite's checker holds
    every answer to)."""
    found = dict(_timestamp_properties(app.openapi()))
    assert any("Marker" in path for path in found), "no timestamps found at all"
    for path, schema in found.items():
        assert schema.get("type") == "string" and schema.get("format") == "date-time", path
    created = app.openapi()["components"]["schemas"]["Marker"]["properties"]["created_at"]
    assert re.fullmatch(created["pattern"], "2026-11-28T00:53:48Z")
    assert not re.fullmatch(created["pattern"], "2026-11-28T00:53:48.5Z")


def test_errors_are_documented_with_the_bodies_the_server_sends(app: FastAPI) -> None:
    document = app.openapi()
    assert "HTTPValidationError" not in json.dumps(document)  # FastAPI's 422 shape: not ours
    for operation_id, operation in operations(app).items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = response["content"]["application/json"]["schema"]["$ref"]
            own = {"health_get": "/Health", "health_ready": "/Readiness"}  # reports, not errors
            if operation_id in own:
                assert schema.endswith(own[operation_id])
                continue
            expected = ERROR_SCHEMAS[status]
            if operation_id == "changes_session_events":
                expected = STREAM_ERRORS.get(status, expected)
            assert schema.endswith(f"/{expected}"), (operation_id, status)
            if status in {"429", "503"}:
                assert "Retry-After" in response["headers"], (operation_id, status)
            if status == "401":
                assert response["headers"]["WWW-Authenticate"]["required"] is True
    schemas = document["components"]["schemas"]
    assert schemas["ConflictError"]["properties"]["current_version"]["type"] == "integer"
    assert "problems" in schemas["ValidationErrorBody"]["properties"]
    assert "service" in schemas["UnavailableError"]["required"]


def test_each_operation_documents_the_errors_it_can_answer(app: FastAPI) -> None:
    ops = operations(app)

    def statuses(operation_id: str) -> set[int]:
        return {int(status) for status in ops[operation_id]["responses"] if int(status) >= 400}

    # A fenced, versioned write on the database: every kind of refusal.
    # (401 and 403 on every operation behind authentication: docs/auth.md.)
    assert statuses("markers_update") == {400, 401, 403, 404, 409, 413, 415, 422, 423, 429, 503}
    # A lock grant: no row to miss, no version to conflict.
    assert statuses("locks_acquire") == {400, 401, 403, 413, 415, 422, 429, 503}
    # A body-less fenced write (the app sends `{}`, curl nothing): no 400, but 413 and 415.
    assert statuses("marker_details_calculate") == {
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        423,
        429,
        503,
    }
    # Reads are never rate limited; the live stream has its own caps.
    assert statuses("spaces_list") == {401, 403, 422, 503}
    assert statuses("markers_get") == {401, 403, 404, 422, 503}
    assert statuses("locks_status") == {401, 403, 422, 503}
    assert statuses("changes_session_events") == {401, 403, 404, 410, 422, 429, 503}
    # Health stays open: no token, so no 401.
    assert statuses("health_get") == {503}
    assert statuses("health_ready") == {503}
    assert statuses("health_live") == set()  # the probe touches nothing that can fail


async def test_the_error_answers_conform_to_the_document(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    """Each refusal, checked against the document by the `client` fixture as it arrives."""
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    missing = await client.get(f"/markers/{uuid.uuid4()}")
    assert missing.status_code == 404
    stale = await client.patch(url, json={"label": "x", "version": 7})
    assert stale.status_code == 409 and stale.json()["current_version"] == 0
    bad = await client.patch(url, json={"p1": [0, 0]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "p1"
    unknown = await client.post("/markers", json={**SQUARE, "work_session_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["error"] == "invalid_reference"
    fenced = await client.patch(url, json={"label": "x"}, headers={"X-Lock-Token": "f" * 48})
    assert fenced.status_code == 423
    not_json = await client.patch(url, content=b"{", headers={"content-type": "text/plain"})
    assert not_json.status_code == 415
    broken = await client.patch(url, content=b"{")
    assert broken.status_code == 400
    huge = await client.patch(url, content=b" " * (5 * 1024 * 1024))
    assert huge.status_code == 413
    assert (await client.get(url)).json() == marker


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


async def test_the_docs_page_and_its_assets_come_from_this_server(
    client: httpx.AsyncClient,
) -> None:
    """No CDN: the page, Swagger UI's script and style, the favicon and the document all load
    from the server itself (tests/browser/ checks a real browser makes no other request)."""
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9]", page.text, re.IGNORECASE), page.text
    parser = _Assets()
    parser.feed(page.text)
    urls = parser.urls + re.findall(r"url: '([^']+)'", page.text)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls), urls
    assert any(url.endswith("swagger-ui.css") for url in urls), urls
    assert any("favicon" in url for url in urls), urls
    assert "/api/v1/openapi.json" in urls
    for url in urls:
        assert url.startswith("/api/v1/"), url
        asset = await client.get(f"http://roboscope.test{url}")
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text


async def test_the_root_redirects_to_the_console(app: FastAPI, client: httpx.AsyncClient) -> None:
    home = await client.get("http://roboscope.test/")
    assert home.status_code == 307
    assert home.headers["location"] == "/console"
    paths = app.openapi()["paths"]
    assert "/" not in paths
    assert not any("docs" in path or "console" in path for path in paths)


def test_patch_fields_that_cannot_be_cleared_are_not_documented_as_nullable(
    app: FastAPI,
) -> None:
    """A PATCH may leave `p1` out but not send `null` (422): the document says the same,
    while fields that can be cleared (`label`) stay nullable."""
    schemas = app.openapi()["components"]["schemas"]
    for model, required, clearable in (
        ("MarkerUpdate", ["p1", "meta", "custom_props"], "label"),
        ("WorkSessionUpdate", ["status", "space_id", "meta"], "started_at"),
        ("SpaceUpdate", ["name", "key", "is_active"], "description"),
    ):
        properties = schemas[model]["properties"]
        for name in required:
            text = json.dumps(properties[name])
            assert '"null"' not in text and "default" not in properties[name], (model, text)
        assert '"null"' in json.dumps(properties[clearable]), (model, clearable)
