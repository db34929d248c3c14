"""A database that goes away gives 503 + Retry-After; the server recovers on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from roboscope.db.migrate import upgrade
from roboscope.settings import Settings

from ..conftest import require_service, serving
from ..tcp_proxy import TcpProxy


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    await asyncio.to_thread(upgrade, real.render_as_string(hide_password=False))
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    quick = Settings(database_url=url, data_dir=tmp_path, database_timeout_seconds=2)
    async with serving(quick) as client:
        yield proxy, client
    await proxy.stop()


async def test_outage_is_503_and_recovery_needs_no_restart(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    proxy, client = proxied
    assert (await client.get("/spaces")).status_code == 200

    await proxy.stop()
    for response in (
        await client.get("/spaces"),
        await client.post("/spaces", json={"key": "outage", "name": "x"}),
    ):
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert response.json()["error"] == "service_unavailable"
    health = await client.get("/health")
    assert health.status_code == 503
    assert health.json()["database"] == "down"

    await proxy.start()
    assert (await client.get("/spaces")).status_code == 200
    assert (await client.get("/health")).json()["database"] == "up"


async def test_a_lock_grant_needs_the_database_and_is_undone_without_it(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    """A grant records its fence in the database before it is answered; when it cannot, the
    grant is released again (else it would block the session for its TTL) and the answer is
    503. Status needs Redis only."""
    proxy, client = proxied
    session_id = str(uuid.uuid4())
    await proxy.stop()
    response = await client.post(f"/locks/{session_id}", json={"ttl_seconds": 600})
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json()["service"] == "database"
    assert (await client.get(f"/locks/{session_id}")).json()["locked"] is False

    await proxy.start()
    assert (await client.post(f"/locks/{session_id}", json={})).json()["acquired"] is True
