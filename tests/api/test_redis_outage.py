"""Redis going away: presence and locks answer 503, the data API keeps working, and
everything recovers without a restart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from roboscope.settings import Settings

from ..conftest import require_service, serving
from ..tcp_proxy import TcpProxy
from .conftest import SQUARE


@pytest.fixture
async def proxied(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    real = urlsplit(require_service("ROBOSCOPE_TEST_REDIS_URL", "Redis over TCP"))
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
    await proxy.start()
    netloc = real.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    through = urlunsplit(real._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    async with serving(
        settings.model_copy(update={"redis_url": through, "data_dir": tmp_path})
    ) as client:
        yield proxy, client
    await proxy.stop()


async def test_redis_outage_is_503_for_realtime_only(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    proxy, client = proxied
    space = (await client.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "s"})).json()
    session = (
        await client.post(
            "/work-sessions", json={"space_id": space["id"], "session_type": "repair"}
        )
    ).json()
    presence = f"/presence/{session['id']}"
    assert (await client.post(presence, json={"user_id": "u"})).status_code == 200
    grant = (await client.post(f"/locks/{session['id']}", json={})).json()

    await proxy.stop()
    for response in (
        await client.post(presence, json={"user_id": "u"}),
        await client.get(presence),
        await client.delete(f"{presence}/u"),
        await client.post(f"/locks/{session['id']}", json={}),
        await client.get(f"/locks/work-sessions/{session['id']}/status"),
        await client.request("DELETE", f"/locks/{session['id']}", json={"token": "t"}),
        await client.post(
            "/markers",
            json={"work_session_id": session["id"], **SQUARE},
            headers={"X-Lock-Token": grant["token"]},
        ),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert response.json() == {
            "error": "service_unavailable",
            "message": "redis is unavailable (unreachable), retry shortly",
            "service": "redis",
        }

    # The data API does not need Redis.
    marker = await client.post("/markers", json={"work_session_id": session["id"], **SQUARE})
    assert marker.status_code == 201
    assert (await client.get(f"/work-sessions/{session['id']}")).status_code == 200
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "database": "up",
        "redis": "down",
        "redis_problem": "unreachable",
    }

    await proxy.start()
    assert (await client.get(presence)).json()["users"] == ["u"]
    assert (await client.get(f"/locks/{session['id']}")).json()["locked"] is True
    assert (await client.get("/health")).json() == {"status": "ok", "database": "up", "redis": "up"}
