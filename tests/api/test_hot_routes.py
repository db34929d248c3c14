"""The hot routes (server/hot_routes.py): heartbeats and lock acquires and releases answered
at the edge must answer what FastAPI answers for the same request, byte for byte (headers
but the date and the request id; bodies but the values that differ by nature: tokens,
fences, times), refusals included; and they must really be answered at the edge.

Each scenario runs twice, on the app (hot routes on) and on an app without them (FastAPI
serves every request), against the same database and Redis, on work sessions of its own.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from roboscope.db.engine import Database
from roboscope.server.app import create_app
from roboscope.server.hot_routes import HOT_ENDPOINTS, HotRoutes
from roboscope.settings import Settings

from ..conftest import api_client
from .conftest import Factory
from .test_auth import Tokens

Answer = tuple[int, list[tuple[str, str]], bytes]
Step = Callable[[httpx.AsyncClient, dict[str, Any]], Awaitable[httpx.Response]]

_VARYING = (
    (re.compile(rb'"token":"[0-9a-f]{48}"'), b'"token":"TOKEN"'),
    (re.compile(rb'"fence":[0-9]+'), b'"fence":0'),
    (re.compile(rb'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"'), b'"TIME"'),
)
_UNSHARED_HEADERS = frozenset({"date", "server", "x-request-id", "content-length"})


def normalized(response: httpx.Response) -> Answer:
    """Status, headers in order and body, with what differs by nature put to one value."""
    body = response.content
    for pattern, replacement in _VARYING:
        body = pattern.sub(replacement, body)
    headers = [
        (name.decode(), value.decode())
        for name, value in response.headers.raw
        if name.decode().lower() not in _UNSHARED_HEADERS
    ]
    return response.status_code, headers, body


@pytest.fixture
def make_token(database: Database) -> Tokens:
    return Tokens(database)


@pytest.fixture
def served_hot(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bool]]:
    """(method, path, answered at the edge) of each write the hot routes looked at."""
    seen: list[tuple[str, str, bool]] = []
    serve = HotRoutes.serve

    async def watched(
        self: HotRoutes, scope: Scope, body: bytes, receive: Receive, send: Send
    ) -> bool:
        answered = await serve(self, scope, body, receive, send)
        seen.append((scope["method"], scope["path"], answered))
        return answered

    monkeypatch.setattr(HotRoutes, "serve", watched)
    return seen


async def run(http: httpx.AsyncClient, steps: list[Step], context: dict[str, Any]) -> list[Answer]:
    answers = []
    for step in steps:
        response = await step(http, context)
        context["last"] = response
        answers.append(normalized(response))
    return answers


def post(path: str, body: Any = None, **options: Any) -> Step:
    """A POST of `path` (`{s}`: the scenario's work session), `body` as JSON or raw bytes."""

    async def step(http: httpx.AsyncClient, context: dict[str, Any]) -> httpx.Response:
        return await _send(http, "POST", path, body, context, **options)

    return step


def delete(path: str, body: Any = None, **options: Any) -> Step:
    async def step(http: httpx.AsyncClient, context: dict[str, Any]) -> httpx.Response:
        return await _send(http, "DELETE", path, body, context, **options)

    return step


async def _send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    context: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    token_of: str | None = None,
) -> httpx.Response:
    """`token_of`: put the token of the answer remembered under that name into the body."""
    if token_of is not None:
        body = {"token": context[token_of].json()["token"]}
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    return await http.request(
        method, path.format(**context), content=content, headers=headers or {}
    )


def remember(name: str, step: Step) -> Step:
    async def remembering(http: httpx.AsyncClient, context: dict[str, Any]) -> httpx.Response:
        response = await step(http, context)
        context[name] = response
        return response

    return remembering


BIG_META = {"blob": "x" * (70 * 1024)}  # past the default ROBOSCOPE_MAX_META_BYTES (64 KiB)

AUTH_OFF_STEPS: list[Step] = [
    post("/presence/{s}", {"user_id": "u1", "device_id": "d1", "display_name": "Ann",
                           "meta": {"k": [1, 2.5, "x", None, {"é": True}]}}),
    post("/presence/{s}", {"user_id": "u2"}),
    post("/presence/{S}", {"user_id": "u3"},
         headers={"content-type": "application/json; charset=utf-8"}),
    post("/presence/{s}", {"user_id": "u4"},
         headers={"content-type": "application/merge-patch+json"}),
    post("/presence/{s}", {"user_id": ""}),
    post("/presence/{s}", {"user_id": "u5", "unknown": 1}),
    post("/presence/{s}", b'{"user_id": "u5", "meta": {"x": NaN}}'),
    post("/presence/{s}", b"{"),
    post("/presence/{s}", b"[]"),
    post("/presence/{s}", b"null"),
    post("/presence/{s}", b""),
    post("/presence/{s}", {"user_id": "u6", "meta": BIG_META}),
    post("/presence/not-a-uuid", {"user_id": "u7"}),
    post("/presence/{s}/", {"user_id": "u8"}),
    remember("grant", post("/locks/{s}")),
    post("/locks/{s}", {"ttl_seconds": 30, "owner": "x"}),
    post("/locks/{other}", {"ttl_seconds": 0}),
    post("/locks/{other}", {"ttl_seconds": "30"}),
    post("/locks/{other}", b"null"),
    delete("/locks/{s}", {"token": "not-the-token"}),
    delete("/locks/{s}", token_of="grant"),
    delete("/locks/{s}", token_of="grant"),
    delete("/locks/{s}"),
    remember("app_grant", post("/locks/work-sessions/{s}", {"owner": "bob", "ttl_seconds": 5})),
    post("/locks/work-sessions/{s}", {}),
    post("/locks/work-sessions/{s}/unlock", token_of="app_grant"),
    post("/locks/work-sessions/{s}/unlock", token_of="app_grant"),
    post("/locks/work-sessions/{s}/unlock", {}),
    remember("free", post("/locks/{nowhere}", {})),  # a session that is not in the database
    delete("/locks/{nowhere}", token_of="free"),
]  # fmt: skip


async def scenario_context(make_session: Factory) -> dict[str, Any]:
    session = (await make_session())["id"]
    return {
        "s": session,
        "S": session.upper(),  # the iOS clients send upper-case ids
        "other": (await make_session())["id"],
        "nowhere": str(uuid.uuid4()),
    }


async def test_the_five_routes_are_answered_at_the_edge(app: FastAPI) -> None:
    hot = HotRoutes.of(app)
    assert len(hot) == len(HOT_ENDPOINTS) == 5
    assert {route.endpoint for routes in hot.by_method.values() for route in routes} == set(
        HOT_ENDPOINTS
    )


async def test_hot_routes_answer_what_fastapi_answers(
    app: FastAPI,
    plain_app: FastAPI,
    database: Database,
    make_session: Factory,
    served_hot: list[tuple[str, str, bool]],
) -> None:
    hot_context = await scenario_context(make_session)
    plain_context = await scenario_context(make_session)
    served_hot.clear()
    async with api_client(app) as hot_http:
        hot = await run(hot_http, AUTH_OFF_STEPS, hot_context)
    answered_hot = [answered for _, _, answered in served_hot]
    async with api_client(plain_app) as plain_http:
        plain = await run(plain_http, AUTH_OFF_STEPS, plain_context)
    assert not any(answered for _, _, answered in served_hot[len(answered_hot) :])
    for number, (one, other) in enumerate(zip(hot, plain, strict=True), 1):
        assert one == other, f"step {number}"
    # They were answered at the edge, but for the requests it leaves to FastAPI (anything
    # malformed, another JSON media type, a path no hot route has).
    assert answered_hot == [
        True, True, True, False, False, True, False, False, False, False, False, False, False,
        False,
        True, True, True, False, False, True, True, True, False,
        True, True, True, True, False, True, True,
    ]  # fmt: skip


async def test_with_auth_required_too(
    settings: Settings,
    database: Database,
    make_session: Factory,
    make_token: Tokens,
    served_hot: list[tuple[str, str, bool]],
) -> None:
    """Refusals of the caller (401, 403 for the scope, 403 for another user) alike."""
    alice = await make_token.make("write", "alice")
    reader = await make_token.make("read", "alice")
    nobody = await make_token.make("write", None)
    revoked = await make_token.make("write", "alice", revoked=True)
    steps: list[Step] = [
        post("/presence/{s}", {"user_id": "alice"}),
        post("/presence/{s}", {"user_id": "alice"}, headers={"authorization": "Bearer rbs_x"}),
        post("/presence/{s}", {"user_id": "alice"}, headers={"authorization": "Basic abc"}),
        post("/presence/{s}", {"user_id": "alice"}, headers=revoked),
        post("/presence/{s}", {"user_id": "alice"}, headers=reader),
        post("/presence/{s}", {"user_id": "bob"}, headers=alice),
        post("/presence/{s}", {"user_id": "alice", "device_id": "phone"}, headers=alice),
        post("/locks/{s}", {}, headers=nobody),
        remember("grant", post("/locks/{s}", {"owner": "alice"}, headers=alice)),
        post("/locks/{s}", {"owner": "bob"}, headers=alice),
        delete("/locks/{s}", headers=reader, token_of="grant"),
        delete("/locks/{s}", headers=alice, token_of="grant"),
    ]
    secure = settings.model_copy(update={"auth": "required"})
    answers = []
    answered_hot: list[bool] = []
    for hot_routes in (True, False):
        context = await scenario_context(make_session)
        application = create_app(secure, hot_routes=hot_routes)
        async with LifespanManager(application), api_client(application) as http:
            served_hot.clear()
            answers.append(await run(http, steps, context))
            answered_hot = answered_hot or [answered for _, _, answered in served_hot]
    for number, (one, other) in enumerate(zip(*answers, strict=True), 1):
        assert one == other, f"step {number}"
    assert answered_hot == [
        False, False, False, False, False, True, True, True, True, True, False, True,
    ]  # fmt: skip


async def test_past_the_budget_alike(
    settings: Settings, database: Database, make_session: Factory
) -> None:
    """429 with `Retry-After`, drawn from the same budgets (one address per app)."""
    limited = settings.model_copy(
        update={
            "rate_limits": True,
            "rate_limit_heartbeats_per_second": 0.5,
            "rate_limit_heartbeats_burst": 2,
            "rate_limit_locks_per_second": 0.5,
            "rate_limit_locks_burst": 2,
        }
    )
    steps: list[Step] = [post("/presence/{s}", {"user_id": "u"}) for _ in range(3)]
    steps += [post("/locks/{other}", {"ttl_seconds": "bad"}), post("/locks/{other}", {})]
    steps += [post("/locks/{other}", {})]
    answers = []
    for hot_routes in (True, False):
        application = create_app(limited, hot_routes=hot_routes)
        caller = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        async with LifespanManager(application), api_client(application, address=caller) as http:
            answers.append(await run(http, steps, await scenario_context(make_session)))
    statuses = [status for status, _, _ in answers[0]]
    assert statuses == [200, 200, 429, 422, 200, 429]
    for number, (one, other) in enumerate(zip(*answers, strict=True), 1):
        assert one == other, f"step {number}"


async def test_a_revoked_token_stops_at_once_on_the_hot_routes(
    settings: Settings, database: Database, make_session: Factory, make_token: Tokens
) -> None:
    """The token check is an in-process lookup there too; a revocation still ends it."""
    from .test_auth import revoke_behind_its_back, secure_serving

    async with secure_serving(settings, auth_recheck_seconds=300) as served:
        await served.listening()
        header = await make_token.make("write", "alice")
        token_id = make_token.last_id
        assert token_id is not None
        session = (await make_session())["id"]
        beat = {"user_id": "alice"}
        assert (
            await served.http.post(f"/presence/{session}", json=beat, headers=header)
        ).is_success
        await revoke_behind_its_back(database, token_id)  # the cache does not read it again
        assert (
            await served.http.post(f"/presence/{session}", json=beat, headers=header)
        ).is_success
        await served.state.revocations.announce(token_id)  # every process confirms it forgot
        refused = await served.http.post(f"/presence/{session}", json=beat, headers=header)
        assert refused.status_code == 401
        assert refused.json()["message"].endswith("revoked")


async def test_a_draw_in_the_operation_s_own_call_keeps_the_budget_s_rules(
    settings: Settings,
    database: Database,
    make_session: Factory,
    make_token: Tokens,
    served_hot: list[tuple[str, str, bool]],
) -> None:
    """At the edge on a single Redis, the draw rides on the operation's own script call
    (limits.drawing). As through FastAPI: a request refused before that call (403 for
    another user, 422 for a TTL out of bounds) still draws, so once its budget is spent it
    is answered 429 first; a request its budget refuses changes nothing (no device joins,
    no lock is taken)."""
    limited = settings.model_copy(
        update={
            "auth": "required",
            "rate_limits": True,
            "rate_limit_heartbeats_per_second": 0.5,
            "rate_limit_heartbeats_burst": 2,
            "rate_limit_locks_per_second": 0.5,
            "rate_limit_locks_burst": 2,
        }
    )
    answers = []
    for hot_routes in (True, False):
        name = f"alice-{uuid.uuid4()}"
        alice = await make_token.make("write", "alice", name=name)  # a budget per app
        steps: list[Step] = [
            post("/presence/{s}", {"user_id": "bob"}, headers=alice),
            post("/presence/{s}", {"user_id": "alice", "device_id": "a"}, headers=alice),
            post("/presence/{s}", {"user_id": "alice", "device_id": "b"}, headers=alice),
            post("/presence/{s}", {"user_id": "bob"}, headers=alice),
            post("/locks/{other}", {"ttl_seconds": 0}, headers=alice),
            post("/locks/{s}", {}, headers=alice),
            post("/locks/{other}", {}, headers=alice),
        ]
        context = await scenario_context(make_session)
        application = create_app(limited, hot_routes=hot_routes)
        async with LifespanManager(application), api_client(application) as http:
            served_hot.clear()
            got = await run(http, steps, context)
            answers.append([(st, hs, body.replace(name.encode(), b"NAME")) for st, hs, body in got])
            assert [answered for _, _, answered in served_hot] == [hot_routes] * len(steps)
            present = await http.get(f"/presence/{context['s']}", headers=alice)
            assert [m["devices"] for m in present.json()["members"]] == [["a"]]
            assert not (await http.get(f"/locks/{context['other']}", headers=alice)).json()[
                "locked"
            ]
    assert [status for status, _, _ in answers[0]] == [403, 200, 429, 429, 422, 200, 429]
    for number, (one, other) in enumerate(zip(*answers, strict=True), 1):
        assert one == other, f"step {number}"
