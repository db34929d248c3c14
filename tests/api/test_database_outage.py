"""A database that goes away gives 503 + Retry-After; the server recovers on its own."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from roboscope.db.engine import Database
from roboscope.db.migrate import upgrade
from roboscope.errors import ServiceUnavailable
from roboscope.settings import Settings

from ..conftest import require_service, serving
from ..servers import ServerProcess, start_server
from ..tcp_proxy import TcpProxy
from ..waiting import until

# The iOS clients give up after 30 s; a stalled database must get its 503 out well before.
CLIENT_PATIENCE = 20


@pytest.fixture
def real_url() -> str:
    return require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture
async def proxied(
    tmp_path: Path, real_url: str
) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    real = make_url(real_url)
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
    assert health.headers["retry-after"].isdigit()
    assert health.json()["database"] == "down"
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"].isdigit()

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


async def _space_keys(url: str, key: str) -> list[str]:
    database = Database(url)
    try:
        async with database.read() as conn:
            rows = await conn.execute(text("SELECT key FROM spaces WHERE key = :key"), {"key": key})
            return [row[0] for row in rows]
    finally:
        await database.dispose()


async def _in_transaction(url: str) -> set[int]:
    """The backends of this database inside a transaction (but the asking one)."""
    database = Database(url)
    try:
        async with database.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
            return {row[0] for row in rows}
    finally:
        await database.dispose()


async def test_partition_is_503_in_time_and_the_write_is_never_committed(
    proxied: tuple[TcpProxy, httpx.AsyncClient], real_url: str
) -> None:
    """The database stops answering (packets dropped, not refused) just as the COMMIT goes
    out: the request gets 503 before the client gives up, and when the network heals, the
    COMMIT that was held in it must not be applied."""
    proxy, client = proxied
    assert (await client.get("/spaces")).status_code == 200

    proxy.pause_before(b"COMMIT")
    key = f"partition-{uuid.uuid4().hex[:8]}"
    response = await asyncio.wait_for(
        client.post("/spaces", json={"key": key, "name": "x"}), CLIENT_PATIENCE
    )
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "database" in response.json()["message"]

    # The write's transaction, if the database has not rolled it back yet (its idle
    # timeout is the same 2 s budget): the held COMMIT would end it once the network heals.
    open_before = await _in_transaction(real_url)
    proxy.resume()

    async def recovered() -> bool:  # with no restart
        return (await client.get("/spaces")).status_code == 200

    async def ended() -> bool:  # committed, rolled back, or its connection gone
        return not open_before & await _in_transaction(real_url)

    await until(recovered, what="the API answers again")
    await until(ended, what="the held transaction ends")
    assert await _space_keys(real_url, key) == []


async def test_a_stalled_database_is_503_in_time(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    proxy, client = proxied
    assert (await client.get("/spaces")).status_code == 200
    proxy.pause()
    for request in (client.get("/spaces"), client.post("/spaces", json={"key": "k", "name": "x"})):
        response = await asyncio.wait_for(request, CLIENT_PATIENCE)
        assert response.status_code == 503
    proxy.resume()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"database": "roboscope_no_such_db"}, "does not exist"),
        ({"username": "roboscope_no_such_role", "password": "wrong"}, "refuses the credentials"),
    ],
    ids=["missing-database", "wrong-credentials"],
)
async def test_a_database_that_refuses_us_is_named_in_503s_and_health(
    tmp_path: Path, real_url: str, change: dict[str, str], reason: str
) -> None:
    url = make_url(real_url).set(**change)  # type: ignore[arg-type]
    settings = Settings(database_url=url.render_as_string(hide_password=False), data_dir=tmp_path)
    async with serving(settings) as client:
        response = await client.get("/spaces")
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        body = response.json()
        assert body["error"] == "service_unavailable"
        assert f"{url.database} on {url.host}" in body["message"]
        assert reason in body["message"]
        assert "wrong" not in body["message"]
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "down"
        assert reason in health.json()["database_error"]


@pytest.mark.parametrize("unit", ["read", "transaction"])
async def test_a_statement_past_the_budget_is_503_not_500(real_url: str, unit: str) -> None:
    """The server's statement_timeout (or the client's command timeout, whichever fires
    first) cancels it; either way the caller gets the database's 503."""
    database = Database(real_url, timeout=1)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            async with getattr(database, unit)() as conn:
                await conn.execute(text("SELECT pg_sleep(3)"))
        assert caught.value.status == 503
        async with database.read() as conn:  # the pool still works
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await database.dispose()


async def test_not_ready_and_counted_while_the_database_is_down(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    """Readiness fails (so a load balancer stops sending traffic), liveness does not (a
    restart would not help), and each failure shows in `roboscope_database_errors_total`."""
    proxy, client = proxied
    assert (await client.get("/health/ready")).status_code == 200
    before = _database_errors((await client.get("http://roboscope.test/metrics")).text)

    await proxy.stop()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert body["database"] == "down"
    assert body["redis"] == "up"
    assert body["migrations"] == "unknown"
    assert len(body["problems"]) == 1
    assert body["problems"][0].startswith("database ")
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/spaces")).status_code == 503
    during = _database_errors((await client.get("http://roboscope.test/metrics")).text)
    assert during >= before + 2

    await proxy.start()
    assert (await client.get("/health/ready")).status_code == 200


def _database_errors(metrics: str) -> float:
    [line] = [
        line for line in metrics.splitlines() if line.startswith("roboscope_database_errors_total ")
    ]
    return float(line.split()[-1])


async def test_a_client_side_timeout_in_a_write_is_503_not_500(real_url: str) -> None:
    """When the client's command timeout fires first (here the server's is lifted), the
    connection is invalidated mid-transaction; its bookkeeping must not fail on that."""
    database = Database(real_url, timeout=1)
    try:
        with pytest.raises(ServiceUnavailable):
            async with database.transaction() as conn:
                await conn.execute(text("SET LOCAL statement_timeout = 0"))
                await conn.execute(text("SELECT pg_sleep(5)"))
        async with database.read() as conn:  # the pool still works
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await database.dispose()


@pytest.fixture
async def served_through_proxy(
    tmp_path: Path, real_url: str
) -> AsyncIterator[tuple[TcpProxy, ServerProcess]]:
    """A real `roboscope serve` (uvicorn's own event loop, uvloop) whose database is reached
    through a proxy in this test's loop."""
    real = make_url(real_url)
    await asyncio.to_thread(upgrade, real.render_as_string(hide_password=False))
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = {"ROBOSCOPE_DATABASE_URL": url, "ROBOSCOPE_DATABASE_TIMEOUT_SECONDS": "2"}
    if redis_url := os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    server = await asyncio.to_thread(start_server, tmp_path, env=env)
    try:
        yield proxy, server
    finally:
        await asyncio.to_thread(server.stop)
        await proxy.stop()


async def test_connections_reset_mid_statement_are_503_and_the_server_recovers(
    served_through_proxy: tuple[TcpProxy, ServerProcess],
) -> None:
    """A database restart or failover resets connections while statements are on their way
    (a read, a write, its COMMIT; then every connection at once, under load): each request
    gets the database's 503 with Retry-After or its answer, never a 500, and the server goes
    on serving on new connections."""
    proxy, server = served_through_proxy
    async with httpx.AsyncClient(base_url=server.api, timeout=CLIENT_PATIENCE) as client:
        assert (await client.get("/spaces")).status_code == 200

        async def write(key: str) -> httpx.Response:
            return await client.post("/spaces", json={"key": key, "name": "x"})

        async def read(key: str) -> httpx.Response:
            return await client.get("/spaces", params={"key": key})

        for where, attempt in (("read", read), ("write", write), ("commit", write)):
            key = f"reset-{where}-{uuid.uuid4().hex}"  # a bind value: sent with the statement
            proxy.reset_on(b"COMMIT" if where == "commit" else key.encode())
            resets = proxy.resets
            response = await attempt(key)
            assert proxy.resets == resets + 1, f"{where}: the statement never went out"
            assert response.status_code == 503, (where, response.text, server.log_tail())
            assert response.headers["retry-after"].isdigit()
            assert response.json()["service"] == "database"
            assert (await attempt(key)).status_code in (200, 201), server.log_tail()

        # A restart under load: every open connection is reset while requests are in flight.
        # The pause holds what each connection sends until every one has a statement out.
        assert (await read("warm-up")).status_code == 200
        proxy.pause()
        keys = [f"restart-{n}-{uuid.uuid4().hex}" for n in range(40)]
        pending = [
            asyncio.ensure_future(write(key) if n % 2 else read(key)) for n, key in enumerate(keys)
        ]
        deadline = asyncio.get_running_loop().time() + CLIENT_PATIENCE
        while proxy.held < proxy.connections or proxy.held == 0:
            assert asyncio.get_running_loop().time() < deadline, "no statement reached the proxy"
            await asyncio.sleep(0.01)
        assert proxy.reset_all() >= 1
        proxy.resume()
        answers = await asyncio.gather(*pending)
        statuses = sorted({response.status_code for response in answers})
        assert set(statuses) <= {200, 201, 503}, (statuses, server.log_tail())
        for response in answers:
            if response.status_code == 503:
                assert response.headers["retry-after"].isdigit()
        for key in keys:  # and it serves again, on new connections
            assert (await read(key)).status_code == 200
