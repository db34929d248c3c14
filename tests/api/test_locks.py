"""Edit locks over HTTP: both route families, TTLs, tokens and contention."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from roboscope.db.engine import Database
from roboscope.errors import ServiceUnavailable
from roboscope.realtime import scripts
from roboscope.realtime.connection import create_redis
from roboscope.realtime.locks import LockStore
from roboscope.services import locks
from roboscope.services.access import anonymous
from roboscope.services.grant_fences import GrantFences
from roboscope.services.locks import LockPolicy
from roboscope.wire.locks import LockAcquire

from ..conftest import require_service
from ..tcp_proxy import TcpProxy
from ..waiting import until
from .contract import assert_wire_response

SEED = "seed"
APP = "app"


class Routes:
    """The iOS guide's and the shipping app's routes for the same operations."""

    def __init__(self, client: httpx.AsyncClient, family: str, session_id: str) -> None:
        self.client = client
        self.base = (
            f"/locks/{session_id}" if family == SEED else f"/locks/work-sessions/{session_id}"
        )
        self.family = family

    async def acquire(self, **body: object) -> httpx.Response:
        return await self.client.post(self.base, json=body)

    async def status(self) -> httpx.Response:
        return await self.client.get(self.base if self.family == SEED else f"{self.base}/status")

    async def extend(self, **body: object) -> httpx.Response:
        return await self.client.post(f"{self.base}/extend", json=body)

    async def release(self, token: str) -> httpx.Response:
        if self.family == SEED:
            return await self.client.request("DELETE", self.base, json={"token": token})
        return await self.client.post(f"{self.base}/unlock", json={"token": token})


def new_session() -> str:
    return str(uuid.uuid4()).upper()


@pytest.fixture(params=[SEED, APP])
def routes(request: pytest.FixtureRequest, client: httpx.AsyncClient) -> Routes:
    return Routes(client, request.param, new_session())


async def test_acquire_contend_extend_release(routes: Routes) -> None:
    granted = await routes.acquire(ttl_seconds=30, owner="ann@ipad")
    assert_wire_response(granted)
    grant = granted.json()
    assert grant["acquired"] is True
    assert re.fullmatch(r"[0-9a-f]{48}", grant["token"])  # 192 random bits
    assert grant["owner"] == "ann@ipad"
    assert isinstance(grant["fence"], int)

    contended = await routes.acquire(ttl_seconds=30)
    assert contended.status_code == 200
    assert_wire_response(contended)
    lost = contended.json()
    assert lost["acquired"] is False
    assert lost["token"] is None
    # Who holds it and until when (never the holder's token or fence).
    assert lost["owner"] == "ann@ipad"
    held_until = datetime.fromisoformat(grant["expires_at"])
    assert abs(datetime.fromisoformat(lost["expires_at"]) - held_until) <= timedelta(seconds=1)
    assert (lost["fence"], lost["ttl_seconds"]) == (None, None)

    status = (await routes.status()).json()
    assert status["locked"] is True
    assert status["owner"] == "ann@ipad"
    assert status["fence"] == grant["fence"]
    assert 0 < status["ttl_remaining_ms"] <= 30_000
    assert grant["token"] not in str(status)

    extended = (await routes.extend(token=grant["token"], ttl_seconds=60)).json()
    assert extended["acquired"] is True and extended["extended"] is True
    assert extended["fence"] == grant["fence"]
    wrong = (await routes.extend(token="not-the-token", ttl_seconds=60)).json()
    assert wrong["acquired"] is False and wrong["extended"] is False

    assert (await routes.release("not-the-token")).json() == {"released": False}
    assert (await routes.status()).json()["locked"] is True
    assert (await routes.release(grant["token"])).json() == {"released": True}
    assert (await routes.status()).json() == {
        "locked": False,
        "owner": None,
        "fence": None,
        "expires_at": None,
        "ttl_remaining_ms": None,
    }
    assert (await routes.release(grant["token"])).json() == {"released": False}

    again = (await routes.acquire()).json()
    assert again["acquired"] is True
    assert again["fence"] > grant["fence"]


async def test_both_families_share_one_lock(client: httpx.AsyncClient) -> None:
    session = new_session()
    seed, app = Routes(client, SEED, session), Routes(client, APP, session)
    grant = (await seed.acquire(ttl_seconds=30)).json()
    assert (await app.acquire()).json()["acquired"] is False
    assert (await app.status()).json()["locked"] is True
    assert (await app.extend(token=grant["token"])).json()["extended"] is True
    assert (await app.release(grant["token"])).json()["released"] is True
    assert (await seed.status()).json()["locked"] is False


async def test_app_acquire_without_body_uses_default_ttl(client: httpx.AsyncClient) -> None:
    session = new_session()
    response = await client.post(f"/locks/work-sessions/{session}")
    assert response.json()["acquired"] is True
    assert response.json()["ttl_seconds"] == 30


@pytest.mark.parametrize("ttl", [0, -1, 3601, 1.5, "10", None])
async def test_ttl_out_of_range_is_422(routes: Routes, ttl: object) -> None:
    body = {"ttl_seconds": ttl}
    if ttl is None:
        response = await routes.client.post(routes.base, content=b'{"ttl_seconds": 1e999}')
    else:
        response = await routes.acquire(**body)
    assert response.status_code == 422, response.text
    assert (await routes.status()).json()["locked"] is False


async def test_lock_expires_by_itself(routes: Routes) -> None:
    grant = (await routes.acquire(ttl_seconds=1)).json()

    async def unlocked() -> bool:
        return bool((await routes.status()).json()["locked"] is False)

    await until(unlocked)  # with no call from the holder
    late = (await routes.extend(token=grant["token"], ttl_seconds=30)).json()
    assert late["acquired"] is False and late["extended"] is False
    assert (await routes.release(grant["token"])).json()["released"] is False
    assert (await routes.acquire(ttl_seconds=1)).json()["acquired"] is True


async def test_many_concurrent_acquires_grant_exactly_one(client: httpx.AsyncClient) -> None:
    session = new_session()
    responses = await asyncio.gather(
        *(
            client.post(f"/locks/{session}", json={"ttl_seconds": 30, "owner": f"c{n}"})
            for n in range(100)
        )
    )
    grants = [r.json() for r in responses if r.json()["acquired"]]
    assert len(grants) == 1
    status = (await client.get(f"/locks/{session}")).json()
    assert status["owner"] == grants[0]["owner"]


async def test_a_grant_the_database_cannot_record_is_undone_through_a_redis_outage() -> None:
    """The grant is made in Redis, the database cannot record its fence (503), and Redis goes
    away right after the grant, before the grant could be undone: the undo is retried until
    Redis is back, so the lock does not stay held for its TTL by a token nobody has."""
    database_url = require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL")
    redis_url = require_service("ROBOSCOPE_TEST_REDIS_URL", "Redis over TCP")
    proxies: list[TcpProxy] = []
    for url, port in ((database_url, 5432), (redis_url, 6379)):
        real = urlsplit(url)
        proxies.append(TcpProxy(real.hostname or "127.0.0.1", real.port or port))
        await proxies[-1].start()
    database_proxy, redis_proxy = proxies
    db = Database(database_proxy.url(database_url), timeout=2)
    through, direct = create_redis(redis_proxy.url(redis_url)), create_redis(redis_url)
    store, truth = LockStore(through), LockStore(direct)
    session = uuid.uuid4()
    try:
        await through.script_load(scripts.source_for(through, "lock_acquire"))
        await through.script_load(scripts.source_for(through, "lock_abandon"))
        await database_proxy.stop()
        redis_proxy.fault_after(1, "reset")  # the grant passes, the next call does not
        with pytest.raises(ServiceUnavailable) as refused:
            await locks.acquire(
                store,
                GrantFences(db),
                anonymous("test"),
                session,
                LockAcquire(ttl_seconds=600),
                LockPolicy(),
            )
        assert await truth.status(session) is not None  # granted, and not undone yet
        await redis_proxy.heal()
        for _ in range(100):  # the undo retries at least once a second
            if await truth.status(session) is None:
                break
            await asyncio.sleep(0.05)
        assert await truth.status(session) is None, "a ghost lock, held for its whole TTL"
        assert refused.value.service == "database"
    finally:
        await store.aclose()
        await through.aclose()
        await direct.aclose()
        await db.dispose()
        for proxy in proxies:
            await proxy.stop()
