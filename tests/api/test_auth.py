"""Access control (docs/auth.md): API tokens, scopes and identity rules, with
ROBOSCOPE_AUTH=required (`secure`) and off (`client`), on SQLite and PostgreSQL.

Every answer is checked against the OpenAPI document of the app that sent it (the 401 and
403 bodies and `WWW-Authenticate` included)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from roboscope.db import tokens as token_rows
from roboscope.db.engine import Database
from roboscope.realtime.revocations import Revocations
from roboscope.server.app import create_app
from roboscope.server.state import AppState
from roboscope.services import tokens
from roboscope.services.clock import utcnow
from roboscope.services.stream_tokens import StreamTokenSigner
from roboscope.services.token_cache import TokenCache
from roboscope.settings import Settings
from roboscope.wire.common import as_utc

from ..conftest import api_client
from ..waiting import until
from .conftest import SQUARE

CHALLENGE = 'Bearer realm="roboscope"'
INVALID = 'Bearer realm="roboscope", error="invalid_token"'


@pytest.fixture
async def secure(secure_app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(secure_app) as http:
        yield http


class Tokens:
    """Makes tokens straight in the database (as `roboscope tokens create` does)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.count = 0
        self.last_id: uuid.UUID | None = None

    async def make(
        self,
        scope: str = "write",
        user_id: str | None = "alice",
        *,
        name: str | None = None,
        expires_in: timedelta | None = None,
        revoked: bool = False,
    ) -> dict[str, str]:
        """The `Authorization` header of a new token."""
        self.count += 1
        secret = tokens.new_secret()
        now = utcnow()
        self.last_id = uuid.uuid4()
        async with self.database.transaction() as conn:
            await token_rows.insert_token(
                conn,
                {
                    "id": self.last_id,
                    "name": name or f"token-{self.count}",
                    "user_id": user_id,
                    "scope": scope,
                    "secret_hash": tokens.hash_secret(secret),
                    "created_at": now,
                    "expires_at": None if expires_in is None else now + expires_in,
                    "revoked_at": now if revoked else None,
                },
            )
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def make_token(database: Database) -> Tokens:
    return Tokens(database)


def assert_short_json(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == code
    assert len(response.content) < 300
    return body


# 401


async def test_a_request_without_a_token_gets_401_with_the_bare_challenge(
    secure: httpx.AsyncClient,
) -> None:
    for method, path in [("GET", "/spaces"), ("POST", "/spaces"), ("GET", "/tokens")]:
        answer = await secure.request(method, path, json={"key": "k", "name": "n"})
        assert_short_json(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "header",
    [
        "Bearer rbs_unknown-but-well-formed-0123456789abcdefghijklmnopq",
        "Bearer not-a-roboscope-token",
        "Bearer",
        "Bearer   ",
        "Basic YWxpY2U6c2VjcmV0",
        "rbs_without_a_scheme",
    ],
)
async def test_an_unknown_or_malformed_token_gets_401_invalid_token(
    secure: httpx.AsyncClient, header: str
) -> None:
    answer = await secure.get("/spaces", headers={"Authorization": header})
    body = assert_short_json(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"] == INVALID
    assert "rbs_" not in body["message"]  # the secret is never repeated


async def test_expired_and_revoked_tokens_get_401(
    secure: httpx.AsyncClient, make_token: Tokens
) -> None:
    expired = await make_token.make(expires_in=timedelta(seconds=-1))
    revoked = await make_token.make(revoked=True)
    live = await make_token.make(expires_in=timedelta(hours=1))
    for header, word in [(expired, "expired"), (revoked, "revoked")]:
        answer = await secure.get("/spaces", headers=header)
        body = assert_short_json(answer, 401, "invalid_token")
        assert word in body["message"]
        assert answer.headers["www-authenticate"] == INVALID
    assert (await secure.get("/spaces", headers=live)).status_code == 200


async def test_health_metrics_docs_and_the_openapi_document_stay_open(
    secure: httpx.AsyncClient,
) -> None:
    """What docs/auth.md lists as open."""
    plain = httpx.AsyncClient(transport=secure._transport, base_url="http://roboscope.test/api/v1")
    async with plain:
        assert (await plain.get("/health")).status_code == 200
        assert (await plain.get("http://roboscope.test/metrics")).status_code == 200
        assert (await plain.get("/openapi.json")).status_code == 200
        assert (await plain.get("/docs")).status_code == 200
        assert (await plain.get("/spaces")).status_code == 401


async def test_with_auth_off_no_token_is_needed_and_any_header_is_ignored(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/spaces")).status_code == 200
    junk = {"Authorization": "Bearer whatever"}
    created = await client.post("/spaces", json={"key": "k", "name": "n"}, headers=junk)
    assert created.status_code == 201


# 403: scopes


async def test_whoami_tells_a_caller_its_token_user_and_scope(
    secure: httpx.AsyncClient, client: httpx.AsyncClient, make_token: Tokens
) -> None:
    """What the web console and `roboscope whoami` read to show what a token may do."""
    viewer = await make_token.make("read", "vi", name="viewer")
    seen = (await secure.get("/whoami", headers=viewer)).json()
    assert (seen["auth"], seen["scope"], seen["user_id"]) == ("required", "read", "vi")
    assert (seen["token"]["name"], seen["token"]["scope"]) == ("viewer", "read")
    assert "secret_hash" not in seen["token"]
    ci = await make_token.make("admin", None, name="ci")
    seen = (await secure.get("/whoami", headers=ci)).json()
    assert (seen["auth"], seen["scope"], seen["user_id"]) == ("required", "admin", None)
    assert seen["token"]["name"] == "ci"
    assert_short_json(await secure.get("/whoami"), 401, "unauthorized")
    revoked = await make_token.make(revoked=True)
    assert_short_json(await secure.get("/whoami", headers=revoked), 401, "invalid_token")
    # Auth off: no token, every right.
    assert (await client.get("/whoami")).json() == {
        "auth": "off",
        "scope": "admin",
        "user_id": None,
        "token": None,
    }


async def test_scopes_read_write_admin(secure: httpx.AsyncClient, make_token: Tokens) -> None:
    read, write, admin = [await make_token.make(scope) for scope in ("read", "write", "admin")]
    space = await secure.post("/spaces", json={"key": "s", "name": "S"}, headers=admin)
    assert space.status_code == 201
    space_id = space.json()["id"]
    assert (await secure.get(f"/spaces/{space_id}", headers=read)).status_code == 200
    refused = await secure.patch(f"/spaces/{space_id}", json={"name": "x"}, headers=read)
    body = assert_short_json(refused, 403, "insufficient_scope")
    assert "write" in body["message"]
    assert (
        await secure.patch(f"/spaces/{space_id}", json={"name": "x"}, headers=write)
    ).status_code == 200
    session = {"space_id": space_id, "session_type": "inspection"}
    assert (await secure.post("/work-sessions", json=session, headers=write)).status_code == 201
    assert (await secure.post("/work-sessions", json=session, headers=read)).status_code == 403


async def test_admin_operations_need_admin_scope(
    secure: httpx.AsyncClient, make_token: Tokens
) -> None:
    write, admin = await make_token.make("write"), await make_token.make("admin")
    space = (await secure.post("/spaces", json={"key": "s", "name": "S"}, headers=admin)).json()
    guide = f"/spaces/{space['id']}/laser-guide"
    sets = f"/spaces/{space['id']}/reference-sets"
    refused = [
        await secure.post("/spaces", json={"key": "t", "name": "T"}, headers=write),
        await secure.delete(f"/spaces/{space['id']}", headers=write),
        await secure.put(guide, json={"grid": []}, headers=write),
        await secure.delete(guide, headers=write),
        await secure.post(sets, json={"name": "r"}, headers=write),
        await secure.get("/tokens", headers=write),
        await secure.post("/tokens", json={"name": "x"}, headers=write),
        await secure.delete("/tokens/x", headers=write),
        await secure.post(f"/locks/{uuid.uuid4()}/force-release", headers=write),
    ]
    for answer in refused:
        body = assert_short_json(answer, 403, "insufficient_scope")
        assert "admin" in body["message"]
    assert (await secure.put(guide, json={"grid": []}, headers=admin)).status_code == 201
    assert (await secure.delete(guide, headers=admin)).status_code == 204
    made = await secure.post(sets, json={"name": "r"}, headers=admin)
    assert made.status_code == 201
    # Updating a reference set is an ordinary write; deleting it is admin.
    set_url = f"/reference-sets/{made.json()['id']}"
    assert (await secure.patch(set_url, json={"name": "q"}, headers=write)).status_code == 200
    assert (await secure.delete(set_url, headers=write)).status_code == 403
    assert (await secure.delete(set_url, headers=admin)).status_code == 204
    assert (await secure.delete(f"/spaces/{space['id']}", headers=admin)).status_code == 204


# Identity rules


async def test_presence_only_as_the_tokens_user(
    secure: httpx.AsyncClient, make_token: Tokens
) -> None:
    alice = await make_token.make(user_id="alice")
    userless = await make_token.make("admin", user_id=None, name="ci-bot")
    session = str(uuid.uuid4())
    beat = {"user_id": "alice", "device_id": "ipad"}
    assert (await secure.post(f"/presence/{session}", json=beat, headers=alice)).status_code == 200
    as_bob = await secure.post(
        f"/presence/{session}", json={**beat, "user_id": "bob"}, headers=alice
    )
    assert_short_json(as_bob, 403, "forbidden")
    bob_leaves = await secure.delete(f"/presence/{session}/bob", headers=alice)
    assert_short_json(bob_leaves, 403, "forbidden")
    nobody = await secure.post(f"/presence/{session}", json=beat, headers=userless)
    assert "--user" in assert_short_json(nobody, 403, "forbidden")["message"]
    left = await secure.delete(f"/presence/{session}/alice", headers=alice)
    assert left.status_code == 200 and left.json()["users"] == []


async def test_with_auth_off_presence_and_locks_take_any_user(client: httpx.AsyncClient) -> None:
    session = str(uuid.uuid4())
    beat = {"user_id": "bob", "device_id": "d"}
    assert (await client.post(f"/presence/{session}", json=beat)).status_code == 200
    assert (await client.delete(f"/presence/{session}/bob")).status_code == 200
    grant = await client.post(f"/locks/{session}", json={"owner": "carol"})
    assert grant.json()["owner"] == "carol"


async def test_a_locks_owner_is_the_tokens_user(
    secure: httpx.AsyncClient, make_token: Tokens
) -> None:
    alice = await make_token.make(user_id="alice")
    userless = await make_token.make("admin", user_id=None)
    session = str(uuid.uuid4())
    grant = await secure.post(f"/locks/{session}", headers=alice)
    assert grant.json()["owner"] == "alice"
    status = await secure.get(f"/locks/{session}", headers=alice)
    assert status.json()["owner"] == "alice" and "token" not in status.json()
    other = str(uuid.uuid4())
    assert_short_json(
        await secure.post(f"/locks/{other}", json={"owner": "bob"}, headers=alice), 403, "forbidden"
    )
    assert_short_json(
        await secure.post(f"/locks/work-sessions/{other}", headers=userless), 403, "forbidden"
    )
    assert (await secure.post(f"/locks/{other}", json={"owner": "alice"}, headers=alice)).json()[
        "acquired"
    ]


async def test_the_change_log_records_who_made_each_change(
    secure: httpx.AsyncClient, client: httpx.AsyncClient, make_token: Tokens
) -> None:
    admin = await make_token.make("admin", user_id=None, name="ops-bot")
    alice = await make_token.make(user_id="alice")
    space = (await secure.post("/spaces", json={"key": "s", "name": "S"}, headers=admin)).json()
    session = (
        await secure.post(
            "/work-sessions",
            json={"space_id": space["id"], "session_type": "inspection"},
            headers=alice,
        )
    ).json()
    marker = (
        await secure.post(
            "/markers", json={**SQUARE, "work_session_id": session["id"]}, headers=alice
        )
    ).json()
    await client.patch(f"/markers/{marker['id']}", json={"label": "anonymous"})
    events = (await secure.get("/events", headers=alice)).json()["changes"]
    actors = [(e["entity"], e["op"], e["actor"]) for e in events]
    assert actors == [
        ("space", "created", "ops-bot"),
        ("work_session", "created", "alice"),
        ("marker", "created", "alice"),
        ("marker", "updated", None),  # auth off: nobody known
    ]


# Forced release


@pytest.mark.parametrize("auth", ["on", "off"])
async def test_a_forced_release_fences_off_the_old_holder(
    auth: str,
    secure: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_token: Tokens,
    make_marker: Any,
) -> None:
    api = secure if auth == "on" else client
    holder = await make_token.make(user_id="alice") if auth == "on" else {}
    admin = await make_token.make("admin", user_id=None) if auth == "on" else {}
    marker = await make_marker()
    session = marker["work_session_id"]
    grant = (await api.post(f"/locks/{session}", headers=holder)).json()
    fenced = {**holder, "X-Lock-Token": grant["token"]}
    url = f"/markers/{marker['id']}"
    assert (await api.patch(url, json={"label": "mine"}, headers=fenced)).status_code == 200
    forced = await api.post(f"/locks/{session}/force-release", headers=admin)
    assert forced.status_code == 200 and forced.json() == {"released": True}
    refused = await api.patch(url, json={"label": "late"}, headers=fenced)
    assert refused.status_code == 423 and refused.json()["error"] == "locked"
    assert (await api.get(f"/locks/{session}", headers=holder)).json()["locked"] is False
    again = await api.post(f"/locks/{session}/force-release", headers=admin)
    assert again.json() == {"released": False}
    # The next holder writes normally.
    regrant = (await api.post(f"/locks/{session}", headers=holder)).json()
    ok = await api.patch(
        url, json={"label": "next"}, headers={**holder, "X-Lock-Token": regrant["token"]}
    )
    assert ok.status_code == 200


# Token management over HTTP


async def test_tokens_over_http_create_list_revoke(
    secure: httpx.AsyncClient, secure_app: FastAPI, make_token: Tokens
) -> None:
    await listening(secure_app.state.roboscope)  # so that it is one of those to confirm
    admin = await make_token.make("admin", user_id=None, name="root")
    created = await secure.post(
        "/tokens", json={"name": "ipad-7", "user_id": "bob", "expires_in": "30d"}, headers=admin
    )
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["token"].startswith("rbs_") and made["scope"] == "write"
    bob = {"Authorization": f"Bearer {made['token']}"}
    assert (await secure.get("/spaces", headers=bob)).status_code == 200
    listed = (await secure.get("/tokens", headers=admin)).json()
    assert {t["name"] for t in listed} == {"root", "ipad-7"}
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    duplicate = await secure.post("/tokens", json={"name": "ipad-7"}, headers=admin)
    assert duplicate.status_code == 409
    bad = await secure.post("/tokens", json={"name": "x", "expires_in": "3w"}, headers=admin)
    assert bad.status_code == 422
    revoked = await secure.delete("/tokens/ipad-7", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    spread = revoked.json()["propagation"]  # this app's process confirmed, at least
    me = secure_app.state.roboscope.token_watch.me
    assert spread["processes"] >= 1 and str(me) not in spread["unconfirmed"]
    assert set(spread) == {
        "confirmed",
        "processes",
        "unconfirmed",
        "problem",
    }
    assert_short_json(await secure.get("/spaces", headers=bob), 401, "invalid_token")
    by_id = await secure.delete(f"/tokens/{made['id']}", headers=admin)
    assert by_id.json()["revoked_at"] == revoked.json()["revoked_at"]  # the first time stays
    assert (await secure.delete("/tokens/nobody", headers=admin)).status_code == 404


# The token cache: one in-process lookup per request, revocation still at once


@asynccontextmanager
async def secure_serving(settings: Settings, **changes: Any) -> AsyncIterator[SecureApp]:
    """An app of its own with auth required and `changes` to its settings."""
    application = create_app(settings.model_copy(update={"auth": "required", **changes}))
    async with LifespanManager(application), api_client(application) as http:
        yield SecureApp(http, application.state.roboscope)


class SecureApp:
    def __init__(self, http: httpx.AsyncClient, state: AppState) -> None:
        self.http = http
        self.state = state

    async def listening(self) -> None:
        await listening(self.state)


async def listening(state: AppState) -> None:
    """Wait until an app hears revocations (it registers once subscribed)."""
    watch = state.token_watch
    assert watch is not None
    await until(lambda: _registered(state.revocations, watch.me.id))


async def _registered(revocations: Revocations, process_id: str) -> bool:
    return process_id in {process.id for process in await revocations.processes()}


async def revoke_behind_its_back(database: Database, token_id: uuid.UUID) -> None:
    """Revoke in the database only, as if the broadcast of the revocation were lost."""
    async with database.transaction() as conn:
        await token_rows.revoke_token(conn, token_id, utcnow())


async def test_a_token_check_is_an_in_process_lookup_and_a_revocation_still_stops_it(
    settings: Settings, database: Database, make_token: Tokens
) -> None:
    async with secure_serving(settings, auth_recheck_seconds=300) as served:
        await served.listening()
        header = await make_token.make()
        token_id = make_token.last_id
        assert token_id is not None
        assert (await served.http.get("/spaces", headers=header)).status_code == 200
        # Revoked in the database alone: this process does not read it again (cached)...
        await revoke_behind_its_back(database, token_id)
        assert (await served.http.get("/spaces", headers=header)).status_code == 200
        # ... until it hears the revocation, which it confirms: then the next request is 401.
        heard = await served.state.revocations.announce(token_id)
        assert served.state.token_watch is not None
        assert served.state.token_watch.me.id not in {p.id for p in heard.unconfirmed}
        refused = await served.http.get("/spaces", headers=header)
        assert assert_short_json(refused, 401, "invalid_token")["message"].endswith("revoked")


async def test_a_lost_revocation_message_is_caught_by_the_recheck(
    settings: Settings, database: Database, make_token: Tokens
) -> None:
    async with secure_serving(settings, auth_recheck_seconds=0.5) as served:
        await served.listening()
        header = await make_token.make()
        assert make_token.last_id is not None
        assert (await served.http.get("/spaces", headers=header)).status_code == 200
        await revoke_behind_its_back(database, make_token.last_id)

        async def refused() -> bool:
            return (await served.http.get("/spaces", headers=header)).status_code == 401

        await until(refused)


async def test_a_cached_token_expires_to_the_second(settings: Settings, make_token: Tokens) -> None:
    async with secure_serving(settings, auth_recheck_seconds=300) as served:
        await served.listening()
        header = await make_token.make(expires_in=timedelta(seconds=2))
        assert (await served.http.get("/spaces", headers=header)).status_code == 200
        async with make_token.database.read() as conn:
            row = await token_rows.token_by_id(conn, make_token.last_id)  # type: ignore[arg-type]
        assert row is not None
        expires_at = as_utc(row["expires_at"])
        await until(lambda: utcnow() >= expires_at)  # the clock, not a guess
        answer = await served.http.get("/spaces", headers=header)  # still in the cache
        assert assert_short_json(answer, 401, "invalid_token")["message"].endswith("expired")


def test_a_database_read_begun_before_a_revocation_is_not_cached() -> None:
    cache = TokenCache()
    token_id = uuid.uuid4()
    row = {
        "id": token_id,
        "name": "t",
        "user_id": None,
        "scope": "read",
        "expires_at": None,
        "revoked_at": None,
        "secret_hash": "ab" * 32,
    }
    before = cache.generation
    cache.forget(token_id)  # the revocation is heard while the read is on its way
    cache.store(row, before)
    assert cache.by_hash("ab" * 32) is None and len(cache) == 0
    cache.store(row, cache.generation)
    entry = cache.by_hash("ab" * 32)
    assert entry is not None and entry.id == token_id
    cache.clear()
    assert cache.by_id(token_id) is None


def test_a_stream_token_holds_its_session_its_token_and_its_expiry() -> None:
    signer = StreamTokenSigner(b"k" * 32)
    session, token = uuid.uuid4(), uuid.uuid4()
    expires = utcnow().replace(microsecond=0) + timedelta(seconds=60)
    issued = signer.issue(session, token, expires)
    assert signer.verify(session, issued, expires - timedelta(microseconds=1)) == token
    assert signer.verify(session, issued, expires) is None  # expired at its second
    assert signer.verify(uuid.uuid4(), issued, utcnow()) is None
    assert StreamTokenSigner(b"x" * 32).verify(session, issued, utcnow()) is None
    assert signer.verify(session, signer.issue(session, None, expires), utcnow()) is None


# The stream's query token (its use on a real stream: tests/server/test_auth_processes.py)


async def test_stream_query_tokens_are_refused_where_they_do_not_apply(
    secure: httpx.AsyncClient, secure_app: FastAPI, make_token: Tokens, make_session: Any
) -> None:
    reader = await make_token.make("read")
    session, other = (await make_session())["id"], (await make_session())["id"]
    issued = await secure.post(f"/work-sessions/{session}/stream-token", headers=reader)
    assert issued.status_code == 200, issued.text
    query = issued.json()["token"]
    assert query.startswith("rbq_")
    # Another session's stream, another route, or as a header: refused.
    wrong = await secure.get(f"/work-sessions/{other}/events", params={"access_token": query})
    assert_short_json(wrong, 401, "invalid_token")
    elsewhere = await secure.get(
        f"/work-sessions/{session}/changes", params={"access_token": query}
    )
    assert_short_json(elsewhere, 401, "unauthorized")
    as_header = await secure.get("/spaces", headers={"Authorization": f"Bearer {query}"})
    assert_short_json(as_header, 401, "invalid_token")
    missing = await secure.post(f"/work-sessions/{uuid.uuid4()}/stream-token", headers=reader)
    assert missing.status_code == 404
    # Expired (one made directly: the real ones last 60 s), or altered: refused.
    signer = secure_app.state.roboscope.stream_signer
    expired = signer.issue(uuid.UUID(session), make_token.last_id, utcnow())
    gone = await secure.get(f"/work-sessions/{session}/events", params={"access_token": expired})
    assert_short_json(gone, 401, "invalid_token")
    for forged in (query[:-2] + ("AA" if query[-2:] != "AA" else "BB"), query + "A", "rbq_x"):
        refused = await secure.get(
            f"/work-sessions/{session}/events", params={"access_token": forged}
        )
        assert_short_json(refused, 401, "invalid_token")


def test_the_access_log_masks_query_tokens() -> None:
    import logging

    from roboscope.server.auth import RedactQueryTokens

    path = "/api/v1/work-sessions/x/events?since=3&access_token=rbq_secret123&ping=5"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", path, "1.1", 200),
        None,
    )
    assert RedactQueryTokens().filter(record)
    line = record.getMessage()
    assert "rbq_secret123" not in line
    assert "access_token=***&ping=5" in line and "since=3" in line
