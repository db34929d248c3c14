"""API tokens: made, listed, revoked, and checked on every request when auth is on.

A token is `rbs_` followed by 32 random bytes (256 bits, URL-safe base64). Only its SHA-256
is stored. A slow password hash (bcrypt, argon2) protects low-entropy secrets against
guessing after a database leak; a 256-bit random secret cannot be guessed however fast the
hash, so one SHA-256 is as safe here and lets a request find its token with one indexed
lookup, which a salted slow hash could not. The lookup matches the hash in SQL; the hash
is then compared once more with `hmac.compare_digest`, so no step of the check depends on
how much of a guess was right.

Every request looks its token up (no cache): a revoked token stops working at once, on
every process, because they all read the same row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.engine import RowMapping

from ..db import tokens as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import Conflict, InvalidInput, NotFound, Unauthenticated
from ..ids import new_id
from ..realtime.stream_tokens import StreamTokens
from ..wire.common import as_utc
from ..wire.tokens import ApiToken, ApiTokenCreate, ApiTokenCreated, Caller, StreamToken
from .access import Identity, require
from .clock import utcnow

PREFIX = "rbs_"
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_SECRET_LENGTH = 200
STREAM_TOKEN_SECONDS = 60


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`; anything else is refused in one line."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"expiry {text!r} is not a duration like 30d, 12h or 90m (days, hours, minutes)"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _token(row: RowMapping) -> ApiToken:
    return ApiToken.model_validate({key: row[key] for key in ApiToken.model_fields if key in row})


async def create(db: Database, caller: Identity, body: ApiTokenCreate) -> ApiTokenCreated:
    """A new token; its secret is in this answer only."""
    require(caller, "admin")
    now = utcnow()
    expires_at = None if body.expires_in is None else now + parse_duration(body.expires_in)
    secret = new_secret()
    values = {
        "id": new_id(),
        "name": body.name,
        "user_id": body.user_id,
        "scope": body.scope,
        "secret_hash": hash_secret(secret),
        "created_at": now,
        "expires_at": expires_at,
        "revoked_at": None,
    }
    async with db.transaction() as conn:
        if await rows.token_by_name(conn, body.name) is not None:
            raise Conflict(f"a token named {body.name!r} already exists")
        await rows.insert_token(conn, values)
    return ApiTokenCreated.model_validate({**values, "token": secret})


async def list_tokens(db: Database, caller: Identity) -> list[ApiToken]:
    require(caller, "admin")
    async with db.read() as conn:
        return [_token(row) for row in await rows.list_tokens(conn)]


async def revoke(db: Database, caller: Identity, name_or_id: str) -> ApiToken:
    """Revoke by name or id; revoking twice keeps the first time."""
    require(caller, "admin")
    async with db.transaction() as conn:
        row = await rows.token_by_name(conn, name_or_id)
        if row is None:
            try:
                token_id = UUID(name_or_id)
            except ValueError:
                token_id = None
            row = None if token_id is None else await rows.token_by_id(conn, token_id)
        if row is None:
            raise NotFound(f"no token named {name_or_id!r}")
        revoked = await rows.revoke_token(conn, row["id"], utcnow())
    assert revoked is not None
    return _token(revoked)


async def authenticate(db: Database, secret: str, client: str) -> Identity:
    """The identity of a bearer secret, or `Unauthenticated` (401) for any token that is not
    live: unknown, expired or revoked. The message never repeats the secret."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        raise Unauthenticated("the bearer token is not a Roboscope API token", invalid_token=True)
    digest = hash_secret(secret)
    async with db.read() as conn:
        row = await rows.token_by_hash(conn, digest)
    if row is None or not hmac.compare_digest(str(row["secret_hash"]), digest):
        raise Unauthenticated("the bearer token is not known", invalid_token=True)
    return live_identity(row, client)


def live_identity(row: RowMapping, client: str) -> Identity:
    if row["revoked_at"] is not None:
        raise Unauthenticated("the bearer token has been revoked", invalid_token=True)
    expires_at: datetime | None = row["expires_at"]
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise Unauthenticated("the bearer token has expired", invalid_token=True)
    return Identity(
        client=client,
        token_id=row["id"],
        token_name=row["name"],
        user_id=row["user_id"],
        scope=row["scope"],
    )


async def identity_of_token(db: Database, token_id: UUID, client: str) -> Identity:
    """The identity of a token by id, if it is still live (the stream's query tokens name
    the API token they were made with, so revoking it ends them too)."""
    async with db.read() as conn:
        row = await rows.token_by_id(conn, token_id)
    if row is None:
        raise Unauthenticated("the access token is not known", invalid_token=True)
    return live_identity(row, client)


async def stream_token(
    db: Database, store: StreamTokens, caller: Identity, session_id: UUID
) -> StreamToken:
    """A query token for one work session's live stream, valid `STREAM_TOKEN_SECONDS`."""
    async with db.read() as conn:
        if not await session_rows.work_session_exists(conn, session_id):
            raise NotFound(f"work session {session_id} does not exist")
    expires_at = utcnow() + timedelta(seconds=STREAM_TOKEN_SECONDS)
    secret = await store.issue(session_id, caller.token_id, STREAM_TOKEN_SECONDS * 1000)
    return StreamToken(token=secret, expires_at=expires_at)


async def describe_caller(db: Database, caller: Identity, *, auth_required: bool) -> Caller:
    """What a caller is, for `GET /whoami`: its token (never the secret), scope and user.
    A refused token never gets here: the edge answered 401 with the reason."""
    token = None
    if caller.token_id is not None:
        async with db.read() as conn:
            row = await rows.token_by_id(conn, caller.token_id)
        token = None if row is None else _token(row)
    return Caller(
        auth="required" if auth_required else "off",
        scope=caller.scope,
        user_id=caller.user_id,
        token=token,
    )
