"""CORS: off by default (no browser page elsewhere may read or write), and an exact allow-list
with ROBOSCOPE_CORS_ORIGINS: preflights of listed origins pass with the headers our clients
send, their writes pass the cross-site check, and every other origin is still refused."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from roboscope.db.engine import Database
from roboscope.settings import Settings

from ..conftest import serving

CONSOLE = "https://console.example.com"
OTHER = "https://evil.example.net"
SENT = "authorization, content-type, x-lock-token, idempotency-key, last-event-id, x-request-id"


def preflight(origin: str, method: str = "POST", headers: str = SENT) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def from_page(origin: str) -> dict[str, str]:
    """What a browser adds to a script's request from a page at `origin`."""
    return {"Origin": origin, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    answer = await client.options("/spaces", headers=preflight(CONSOLE))
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers
    read = await client.get("/spaces", headers=from_page(CONSOLE))
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers
    write = await client.post("/spaces", json={"key": "k", "name": "S"}, headers=from_page(CONSOLE))
    assert write.status_code == 403
    assert write.json()["error"] == "cross_site_request"


async def test_listed_origins_may_call_and_others_may_not(
    settings: Settings, database: Database
) -> None:
    allowed = settings.model_copy(update={"cors_origins": [CONSOLE, "http://localhost:3000"]})
    async with serving(allowed) as client:
        ok = await client.options("/markers", headers=preflight(CONSOLE, "PATCH"))
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == CONSOLE
        assert "access-control-allow-credentials" not in ok.headers
        allowed_headers = ok.headers["access-control-allow-headers"].lower()
        for header in SENT.split(", "):
            assert header in allowed_headers
        assert "PATCH" in ok.headers["access-control-allow-methods"]
        assert int(ok.headers["access-control-max-age"]) > 0

        refused = await client.options("/markers", headers=preflight(OTHER))
        assert refused.status_code == 403
        assert refused.json()["error"] == "cors_refused"
        assert len(refused.content) < 200
        assert "access-control-allow-origin" not in refused.headers
        odd = await client.options("/markers", headers=preflight(CONSOLE, headers="x-secret"))
        assert odd.status_code == 403

        # A listed origin's write passes the cross-site check, and the page may read the
        # answer and our headers.
        created = await client.post(
            "/spaces", json={"key": "k", "name": "S"}, headers=from_page(CONSOLE)
        )
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == CONSOLE
        exposed = created.headers["access-control-expose-headers"].lower()
        for header in ("x-roboscope-cursor", "link", "retry-after", "x-request-id"):
            assert header in exposed
        listed = await client.get("/spaces", headers=from_page(CONSOLE))
        assert listed.headers["access-control-allow-origin"] == CONSOLE
        # Refusals carry CORS headers too, so the page can read why.
        huge = await client.post(
            "/spaces", content=b" " * (2 * 1024 * 1024), headers=from_page(CONSOLE)
        )
        assert huge.status_code == 413
        assert huge.headers["access-control-allow-origin"] == CONSOLE

        # Any other site: its writes are refused, and its reads are not readable to it.
        other = await client.post(
            "/spaces", json={"key": "o", "name": "S"}, headers=from_page(OTHER)
        )
        assert other.status_code == 403
        assert other.json()["error"] == "cross_site_request"
        read = await client.get("/spaces", headers=from_page(OTHER))
        assert "access-control-allow-origin" not in read.headers
        assert [space["key"] for space in read.json()] == ["k"]


def test_the_allow_list_takes_exact_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOSCOPE_CORS_ORIGINS", f" {CONSOLE}, HTTP://LocalHost:3000 ")
    assert Settings().cors_origins == [CONSOLE, "http://localhost:3000"]
    monkeypatch.setenv("ROBOSCOPE_CORS_ORIGINS", "")
    assert Settings().cors_origins == []
    for bad in ("*", "console.example.com", f"{CONSOLE}/", f"{CONSOLE}/app", "ftp://x.example"):
        monkeypatch.setenv("ROBOSCOPE_CORS_ORIGINS", bad)
        with pytest.raises(ValidationError, match="cors_origins"):
            Settings()
