"""API tokens: made, listed, revoked, and checked on every request when auth is on.

A token is `rbs_` followed by 32 random bytes (256 bits, URL-safe base64). Only its SHA-256
is stored. A slow password hash (bcrypt, argon2) protects low-entropy secrets against
guessing after a database leak; a 256-bit random secret cannot be guessed however fast the
hash, so one SHA-256 is as safe here and lets a request find its token with one lookup,
which a salted slow hash could not. The lookup matches the hash (in SQL, or as a dict key
in the cache); the stored hash is compared once more with `hmac.compare_digest`, so no step
of the check depends on how much of a guess was right.

A request's check is one lookup in this process's cache (services/token_cache.py); the
database is read the first time a process sees a token, and again after a revocation.
Revoking writes the database, then tells every server process
and waits for each to confirm it forgot the token and ended its streams
(realtime/revocations.py): when `revoke` answers, the token is refused everywhere.
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
from ..errors import Conflict, InvalidInput, NotFound, RedisUnavailable, Unauthenticated
from ..ids import new_id
from ..realtime import EmbeddedRedis, create_redis
from ..realtime.revocations import CONFIRM_SECONDS, Revocations
from ..settings import Settings
from ..wire.common import as_utc
from ..wire.tokens import (
    ApiToken,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRevoked,
    Caller,
    Propagation,
    StreamToken,
)
from .access import Identity, require
from .clock import utcnow
from .stream_tokens import StreamTokenSigner
from .token_cache import CachedToken, TokenCache

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


async def revoke(
    db: Database, revocations: Revocations | None, caller: Identity, name_or_id: str
) -> ApiTokenRevoked:
    """Revoke by name or id (revoking twice keeps the first time), then tell every server
    process and wait, bounded, for each to confirm. The answer's `propagation` says whether
    they all did; the token is revoked in the database whatever it says.

    `revocations` is None when no server can be running (the CLI on a data dir whose
    embedded Redis is not up): nobody holds the token in a cache then.
    """
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
    token = _token(revoked)
    return ApiTokenRevoked(**token.model_dump(), propagation=await _announce(revocations, token))


async def revoke_from_outside(
    db: Database, settings: Settings, caller: Identity, name_or_id: str
) -> ApiTokenRevoked:
    """`roboscope tokens revoke`, beside the servers: revoke, and tell them through their
    Redis (ROBOSCOPE_REDIS_URL, or the embedded Redis of the data dir while a server runs
    it; when none runs, no server can hold the token)."""
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        url = embedded.url if embedded.is_running() else None
    if url is None:
        return await revoke(db, None, caller, name_or_id)
    redis = create_redis(url, timeout=settings.redis_timeout_seconds, max_connections=4)
    try:
        return await revoke(db, Revocations(redis), caller, name_or_id)
    finally:
        await redis.aclose()


async def _announce(revocations: Revocations | None, token: ApiToken) -> Propagation:
    if revocations is None:
        return Propagation(confirmed=True, processes=0)
    try:
        heard = await revocations.announce(token.id)
    except RedisUnavailable as error:
        return Propagation(confirmed=False, processes=0, problem=error.message)
    if heard.unconfirmed:
        return Propagation(
            confirmed=False,
            processes=heard.processes,
            unconfirmed=[str(process) for process in heard.unconfirmed],
            problem=f"{len(heard.unconfirmed)} of {heard.processes} server processes did not "
            f"confirm within {CONFIRM_SECONDS:g} s",
        )
    return Propagation(confirmed=True, processes=heard.processes)


async def authenticate(db: Database, cache: TokenCache, secret: str, client: str) -> Identity:
    """The identity of a bearer secret, or `Unauthenticated` (401) for any token that is not
    live: unknown, expired or revoked. The message never repeats the secret."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        raise Unauthenticated("the bearer token is not a Roboscope API token", invalid_token=True)
    digest = hash_secret(secret)
    entry = cache.by_hash(digest)
    if entry is None:
        generation = cache.generation
        async with db.read() as conn:
            row = await rows.token_by_hash(conn, digest)
        if row is None:
            raise Unauthenticated("the bearer token is not known", invalid_token=True)
        entry = cache.store(row, generation)
    if entry.secret_hash is None or not hmac.compare_digest(entry.secret_hash, digest):
        raise Unauthenticated("the bearer token is not known", invalid_token=True)
    return live_identity(entry, client)


def live_identity(token: CachedToken, client: str) -> Identity:
    """The identity of a token that is live now, else 401 saying why not."""
    if token.revoked_at is not None:
        raise Unauthenticated("the bearer token has been revoked", invalid_token=True)
    if not is_live(token):
        raise Unauthenticated("the bearer token has expired", invalid_token=True)
    return Identity(
        client=client,
        token_id=token.id,
        token_name=token.name,
        user_id=token.user_id,
        scope=token.scope,
    )


def is_live(token: CachedToken) -> bool:
    """Neither revoked nor expired, now (the expiry to the second, whatever the cache)."""
    expires_at: datetime | None = token.expires_at
    return token.revoked_at is None and (expires_at is None or as_utc(expires_at) > utcnow())


async def token_by_id(db: Database, cache: TokenCache, token_id: UUID) -> CachedToken | None:
    """A token by id, from the cache when fresh (stream query tokens and open streams name
    their API token by id)."""
    entry = cache.by_id(token_id)
    if entry is None:
        generation = cache.generation
        async with db.read() as conn:
            row = await rows.token_by_id(conn, token_id)
        if row is None:
            return None
        entry = cache.store(row, generation)
    return entry


async def identity_of_token(
    db: Database, cache: TokenCache, token_id: UUID, client: str
) -> Identity:
    """The identity of a token by id, if it is still live (the stream's query tokens name
    the API token they were made with, so revoking it ends them too)."""
    entry = await token_by_id(db, cache, token_id)
    if entry is None:
        raise Unauthenticated("the access token is not known", invalid_token=True)
    return live_identity(entry, client)


async def stream_token(
    db: Database, signer: StreamTokenSigner, caller: Identity, session_id: UUID
) -> StreamToken:
    """A query token for one work session's live stream, valid `STREAM_TOKEN_SECONDS`."""
    async with db.read() as conn:
        if not await session_rows.work_session_exists(conn, session_id):
            raise NotFound(f"work session {session_id} does not exist")
    expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=STREAM_TOKEN_SECONDS)
    secret = signer.issue(session_id, caller.token_id, expires_at)
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
