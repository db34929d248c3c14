"""Per-caller request budgets (ROBOSCOPE_RATE_LIMIT_*), kept in Redis: past a budget a request
gets a short JSON 429 with `Retry-After`, changes nothing, and the budget refills with time.

Over HTTP the caller is its address with auth off, its token with auth on; keying by token
is also tested on the limiter with `Identity` values directly. Small rates keep the tests
short; no test asserts a duration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from roboscope.db.engine import Database
from roboscope.db.migrate import upgrade
from roboscope.errors import RateLimited, RedisUnavailable
from roboscope.rate_budgets import BUDGETS
from roboscope.realtime import create_redis
from roboscope.realtime.presence import PresenceStore
from roboscope.realtime.rate_limits import Rate, RateStore
from roboscope.server.app import create_app
from roboscope.server.limits import budget_of
from roboscope.services import limits
from roboscope.services.access import Identity
from roboscope.services.limits import RateLimits
from roboscope.settings import Settings, variable_name

from ..conftest import api_client, require_service
from ..tcp_proxy import TcpProxy
from .conftest import SQUARE
from .test_auth import Tokens

Clients = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]
SLOW = 0.5  # per second: one request every 2 s refills; a test never waits for two


def address() -> str:
    """A caller of this test alone (the Redis database outlives a test)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def limited(settings: Settings, **rates: Any) -> Settings:
    """`settings` with every budget on (`burst` requests, then SLOW), or as given."""
    update: dict[str, Any] = {"rate_limits": True}
    for spec in BUDGETS:
        update[f"{spec.setting}_per_second"] = SLOW
        update[f"{spec.setting}_burst"] = 3
    update.update({f"rate_limit_{name}": value for name, value in rates.items()})
    return settings.model_copy(update=update)


@asynccontextmanager
async def app_with(settings: Settings) -> AsyncIterator[Clients]:
    """An app with `settings`; yields a factory of clients calling from a given address."""
    app = create_app(settings)
    async with LifespanManager(app):
        yield lambda address: api_client(app, address=address)


def assert_rate_limited(response: httpx.Response, budget: str) -> int:
    """A short JSON 429 naming the budget, with a sane `Retry-After`; returns the seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) < 200, response.content
    body = response.json()
    assert body["error"] == "rate_limited"
    assert body["budget"] == budget
    assert set(body) == {"error", "message", "budget"}
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= int(1 / SLOW) + 1
    return retry_after


async def test_writes_past_the_budget_get_429_and_change_nothing(
    settings: Settings, database: Database
) -> None:
    caller, other = address(), address()
    async with app_with(limited(settings)) as clients, clients(caller) as http:
        for n in range(3):
            created = await http.post("/spaces", json={"key": f"k{n}", "name": "S"})
            assert created.status_code == 201
        refused = await http.post("/spaces", json={"key": "k3", "name": "S"})
        retry_after = assert_rate_limited(refused, "writes")
        # Nothing was stored; reads are not limited.
        listed = await http.get("/spaces")
        assert listed.status_code == 200
        assert sorted(space["key"] for space in listed.json()) == ["k0", "k1", "k2"]
        # Every kind of write draws on the same budget, invalid ones included (refused before
        # their body is validated).
        assert_rate_limited(await http.delete(f"/spaces/{uuid.uuid4()}"), "writes")
        assert_rate_limited(await http.post("/markers", json={"p1": [0]}), "writes")

        # Another address has its own budget.
        async with clients(other) as elsewhere:
            assert (
                await elsewhere.post("/spaces", json={"key": "o", "name": "S"})
            ).status_code == 201

        # The budget refills: after Retry-After seconds the caller may write again.
        await asyncio.sleep(retry_after)
        assert (await http.post("/spaces", json={"key": "k3", "name": "S"})).status_code == 201


async def test_heartbeats_locks_and_writes_are_separate_budgets(
    settings: Settings, database: Database
) -> None:
    caller = address()
    async with app_with(limited(settings)) as clients, clients(caller) as http:
        space = (await http.post("/spaces", json={"key": "k", "name": "S"})).json()
        body = {"space_id": space["id"], "session_type": "inspection"}
        session = (await http.post("/work-sessions", json=body)).json()["id"]
        marker = {"work_session_id": session, **SQUARE}
        assert (await http.post("/markers", json=marker)).status_code == 201
        assert_rate_limited(await http.post("/markers", json=marker), "writes")

        # Heartbeats (and leaves) have their own budget.
        beat = {"user_id": "u", "device_id": "d"}
        for _ in range(2):
            assert (await http.post(f"/presence/{session}", json=beat)).status_code == 200
        assert (await http.delete(f"/presence/{session}/u")).status_code == 200
        assert_rate_limited(await http.post(f"/presence/{session}", json=beat), "heartbeats")
        assert (await http.get(f"/presence/{session}")).status_code == 200  # a read

        # Lock acquire, extend and release (both route families) share the locks budget;
        # status is a read.
        grant = (await http.post(f"/locks/{session}", json={"ttl_seconds": 30})).json()
        assert grant["acquired"] is True
        token = grant["token"]
        extended = await http.post(f"/locks/work-sessions/{session}/extend", json={"token": token})
        assert extended.status_code == 200 and extended.json()["extended"] is True
        for _ in range(3):
            assert (await http.get(f"/locks/{session}")).status_code == 200
        assert (await http.get(f"/locks/work-sessions/{session}/status")).status_code == 200
        released = await http.request("DELETE", f"/locks/{session}", json={"token": token})
        assert released.status_code == 200
        again = await http.post(f"/locks/work-sessions/{session}", json={})
        assert_rate_limited(again, "locks")


async def test_a_budget_of_zero_is_off_and_the_switch_turns_all_off(
    settings: Settings, database: Database
) -> None:
    caller = address()
    async with app_with(limited(settings, writes_per_second=0)) as clients, clients(caller) as http:
        for n in range(10):
            assert (
                await http.post("/spaces", json={"key": f"a{n}", "name": "S"})
            ).status_code == 201
        session = str(uuid.uuid4())
        for _ in range(3):
            await http.post(f"/presence/{session}", json={"user_id": "u"})
        assert_rate_limited(
            await http.post(f"/presence/{session}", json={"user_id": "u"}), "heartbeats"
        )

    off = limited(settings).model_copy(update={"rate_limits": False})
    async with app_with(off) as clients, clients(caller) as http:
        for n in range(10):
            assert (
                await http.post("/spaces", json={"key": f"b{n}", "name": "S"})
            ).status_code == 201


async def test_concurrent_requests_never_overdraw_a_budget(redis_client: Any) -> None:
    """50 requests at once on a budget of 10 (refilling far slower than the test runs): the
    script is atomic, so exactly 10 pass, whatever the interleaving."""
    limits = RateLimits(RateStore(redis_client), {"writes": Rate(per_second=0.001, burst=10)})
    caller = Identity(client=address())
    results = await asyncio.gather(
        *(limits.take(caller, "writes") for _ in range(50)), return_exceptions=True
    )
    assert sum(result is True for result in results) == 10
    refused = [result for result in results if result is not True]
    assert len(refused) == 40
    assert all(getattr(error, "status", None) == 429 for error in refused)
    # ~1000 s until one more: a whole number of seconds, rounded up.
    assert all(getattr(error, "retry_after", 0) >= 999 for error in refused)


async def test_the_budget_is_the_token_s_when_there_is_one(redis_client: Any) -> None:
    """With auth on, `Identity.budget_key` is the token: two tokens behind one address have a
    budget each, and one token calling from two addresses has one."""
    limits = RateLimits(RateStore(redis_client), {"locks": Rate(per_second=0.001, burst=2)})
    shared_address = address()
    alice = Identity(client=shared_address, token_id=uuid.uuid4(), user_id="alice", scope="write")
    bob = Identity(client=shared_address, token_id=uuid.uuid4(), user_id="bob", scope="write")
    for _ in range(2):
        await limits.take(alice, "locks")
    with pytest.raises(Exception) as refused:
        await limits.take(alice, "locks")
    assert getattr(refused.value, "status", None) == 429
    await limits.take(bob, "locks")  # same address, another token: its own budget
    await limits.take(bob, "locks")
    alice_elsewhere = Identity(client=address(), token_id=alice.token_id, user_id="alice")
    with pytest.raises(Exception) as again:
        await limits.take(alice_elsewhere, "locks")  # same token, another address: spent
    assert getattr(again.value, "status", None) == 429
    # Without a token, the address is the budget: it was never drawn from.
    await limits.take(Identity(client=shared_address), "locks")


async def test_a_limiter_that_cannot_reach_redis_lets_requests_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail open: a write that needs only the database must not fail because the limiter is
    blind; it says so in the log, once (not once per request)."""
    dead = create_redis("redis://127.0.0.1:1/0", timeout=0.5, pool_timeout=0.5)
    limits = RateLimits(RateStore(dead), {"writes": Rate(per_second=0.001, burst=1)})
    caller = Identity(client=address())
    try:
        with caplog.at_level(logging.WARNING, logger="roboscope.limits"):
            for _ in range(3):
                await limits.take(caller, "writes")
    finally:
        await dead.aclose()
    warnings = [r for r in caplog.records if "rate limits not enforced" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_draw_folded_into_an_operation_fails_open_as_a_take_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hot routes' draw rides on the operation's script (services/limits.py `folded`):
    when Redis cannot answer that call, the limiter is blind as after a failed `take`
    (logged once, no draw to give back, and the next request draws with `take`)."""
    dead = create_redis("redis://127.0.0.1:1/0", timeout=0.5, pool_timeout=0.5)
    limits = RateLimits(RateStore(dead), {"heartbeats": Rate(per_second=0.001, burst=1)})
    presence = PresenceStore(dead)
    caller = Identity(client=address())
    try:
        with caplog.at_level(logging.WARNING, logger="roboscope.limits"):
            draw = limits.folded(caller, "heartbeats")
            assert draw is not None
            with pytest.raises(RedisUnavailable) as failed:
                await presence.heartbeat(
                    uuid.uuid4(), "ann", device_id=None, display_name=None, meta=None,
                    ttl_ms=1000, draw=draw,
                )  # fmt: skip
            assert await limits.settle(caller, "heartbeats", draw, failed.value) is False
            assert limits.folded(caller, "heartbeats") is None  # blind: no draw for a while
            assert await limits.take(caller, "heartbeats") is False
    finally:
        await dead.aclose()
    warnings = [r for r in caplog.records if "rate limits not enforced" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_refund_gives_back_one_request_never_more_than_the_burst(
    redis_client: Any,
) -> None:
    limits = RateLimits(RateStore(redis_client), {"locks": Rate(per_second=0.001, burst=2)})
    caller = Identity(client=address())
    await limits.refund(caller, "locks")  # a full bucket: nothing to give back
    for _ in range(2):
        assert await limits.take(caller, "locks") is True
    with pytest.raises(RateLimited):
        await limits.take(caller, "locks")
    await limits.refund(caller, "locks")
    assert await limits.take(caller, "locks") is True  # the one given back
    with pytest.raises(RateLimited):
        await limits.take(caller, "locks")
    for _ in range(5):
        await limits.refund(caller, "locks")
    for _ in range(2):
        assert await limits.take(caller, "locks") is True  # full again, and no fuller
    with pytest.raises(RateLimited):
        await limits.take(caller, "locks")


@pytest.fixture
async def database_proxy(tmp_path: Path) -> AsyncIterator[tuple[TcpProxy, str]]:
    """PostgreSQL behind a proxy that the test can stop: (the proxy, the URL through it)."""
    real_url = require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL")
    await asyncio.to_thread(upgrade, real_url)
    real = urlsplit(real_url)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 5432)
    await proxy.start()
    yield proxy, proxy.url(real_url)
    await proxy.stop()


async def test_a_request_that_fails_with_503_gets_its_budget_back(
    database_proxy: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    """Told "not now", a client has not spent its budget: with a budget of one request, a
    lock grant and a write that the database could not record (503) are each followed by one
    that goes through once the database is back, not by a 429."""
    proxy, url = database_proxy
    base = Settings(
        database_url=url,
        redis_url=os.environ.get("ROBOSCOPE_TEST_REDIS_URL"),
        data_dir=tmp_path,
        database_timeout_seconds=2,
    )
    # One request, refilled far slower than the test runs: only a refund gives it back.
    one = limited(
        base, locks_burst=1, writes_burst=1, locks_per_second=0.001, writes_per_second=0.001
    )
    session = str(uuid.uuid4())
    async with app_with(one) as clients, clients(address()) as http:
        await proxy.stop()
        requests: list[Callable[[], Awaitable[httpx.Response]]] = [
            lambda: http.post(f"/locks/{session}", json={}),
            lambda: http.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "S"}),
        ]
        for request in requests:
            failed = await request()
            assert failed.status_code == 503, failed.text
            assert failed.json()["service"] == "database"
            await proxy.start()
            again = await request()
            assert again.status_code in (200, 201), again.text
            await proxy.stop()
        await proxy.start()
        spent = await http.post(f"/locks/{uuid.uuid4()}", json={})  # the budget still counts
        assert (spent.status_code, spent.json()["budget"]) == (429, "locks")


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[Any]:
    """The app's Redis (the test Redis, or the embedded one of the session's app)."""
    app = create_app(settings)
    async with LifespanManager(app):
        yield app.state.roboscope.redis


async def test_with_auth_on_a_token_has_one_budget_wherever_it_calls_from(
    settings: Settings, database: Database
) -> None:
    """Auth on: the budget is the token's, not the address's: one token calling from two
    addresses draws on one budget, and another token at the same address has its own."""
    tokens = Tokens(database)
    ann = await tokens.make("admin", name=f"ann-{uuid.uuid4().hex[:8]}")
    bob = await tokens.make("admin", name=f"bob-{uuid.uuid4().hex[:8]}")
    secure = limited(settings).model_copy(update={"auth": "required"})
    async with (
        app_with(secure) as clients,
        clients(address()) as near,
        clients(address()) as far,
    ):
        for n, http in enumerate((near, far, near)):
            created = await http.post("/spaces", json={"key": f"a{n}", "name": "S"}, headers=ann)
            assert created.status_code == 201, created.text
        refused = await far.post("/spaces", json={"key": "a3", "name": "S"}, headers=ann)
        assert_rate_limited(refused, "writes")
        created = await near.post("/spaces", json={"key": "b0", "name": "S"}, headers=bob)
        assert created.status_code == 201, created.text


# The budgets are described once (rate_budgets.py); what users and clients see of them is
# written out here, so a change to the description that changes behaviour fails a test.
DOCUMENTED = {
    # budget: (environment variables' stem, default per second, default burst, 429 message)
    "heartbeats": ("ROBOSCOPE_RATE_LIMIT_HEARTBEATS", 50.0, 200, "too many presence requests"),
    "locks": ("ROBOSCOPE_RATE_LIMIT_LOCKS", 25.0, 100, "too many lock requests"),
    "writes": ("ROBOSCOPE_RATE_LIMIT_WRITES", 50.0, 500, "too many writes"),
}


def test_each_budget_has_its_settings_defaults_and_message() -> None:
    defaults = Settings.model_construct()
    assert [spec.name for spec in BUDGETS] == list(DOCUMENTED)
    for spec in BUDGETS:
        stem, per_second, burst, message = DOCUMENTED[spec.name]
        assert variable_name(f"{spec.setting}_per_second") == f"{stem}_PER_SECOND"
        assert variable_name(f"{spec.setting}_burst") == f"{stem}_BURST"
        assert Settings.model_fields[f"{spec.setting}_per_second"].default == per_second
        assert Settings.model_fields[f"{spec.setting}_burst"].default == burst
        assert defaults.rate(spec.name) == (per_second, burst)
        with pytest.raises(RateLimited) as refused:
            limits.refused(spec.name, 1500)
        assert refused.value.message == f"{message}; retry after 2 s"


def test_the_docs_list_every_budget() -> None:
    """docs/limits.md: a row of the limits table and a bullet of "Rate limits" per budget;
    README.md: a row of the settings table."""
    root = Path(__file__).parents[2]
    limits_md = (root / "docs" / "limits.md").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for spec in BUDGETS:
        stem, per_second, burst, _ = DOCUMENTED[spec.name]
        row = f"| `{stem}_PER_SECOND`, `…_BURST` | `{per_second:g}`/s, burst `{burst}` |"
        assert row in limits_md, row
        assert f"- **{spec.name}**: " in limits_md
        setting = f"| `{stem}_PER_SECOND` / `_BURST` | `{per_second:g}` / `{burst}` |"
        assert setting in readme, setting


@pytest.mark.parametrize(
    ("method", "path", "budget"),
    [
        ("POST", "/presence/{session_id}", "heartbeats"),
        ("DELETE", "/api/v1/presence/{session_id}/{user_id}", "heartbeats"),
        ("POST", "/locks/{session_id}", "locks"),
        ("DELETE", "/locks/{session_id}", "locks"),
        ("POST", "/locks/work-sessions/{session_id}/unlock", "locks"),
        ("POST", "/markers", "writes"),
        ("PATCH", "/api/v1/spaces/{space_id}", "writes"),
        ("GET", "/locks/{session_id}", None),
        ("GET", "/markers", None),
    ],
)
def test_which_budget_a_request_draws_on(method: str, path: str, budget: str | None) -> None:
    assert budget_of(method, path) == budget
