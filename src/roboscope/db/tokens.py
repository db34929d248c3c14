"""API token rows: looked up by the SHA-256 of their secret (never by the secret itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import api_tokens

# What a lookup answers: everything but the hash, which never leaves this module's callers.
_PUBLIC = (
    api_tokens.c.id,
    api_tokens.c.name,
    api_tokens.c.user_id,
    api_tokens.c.scope,
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.revoked_at,
)


async def insert_token(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """A taken name fails the transaction with the database's unique violation (409)."""
    await conn.execute(api_tokens.insert().values(**values))


async def token_by_hash(conn: AsyncConnection, secret_hash: str) -> RowMapping | None:
    """The token whose secret hashes to `secret_hash` (unique index), with its hash."""
    stmt = select(*_PUBLIC, api_tokens.c.secret_hash).where(api_tokens.c.secret_hash == secret_hash)
    return (await conn.execute(stmt)).mappings().first()


async def token_by_id(conn: AsyncConnection, token_id: UUID) -> RowMapping | None:
    stmt = select(*_PUBLIC).where(api_tokens.c.id == token_id)
    return (await conn.execute(stmt)).mappings().first()


async def token_by_name(conn: AsyncConnection, name: str) -> RowMapping | None:
    stmt = select(*_PUBLIC).where(api_tokens.c.name == name)
    return (await conn.execute(stmt)).mappings().first()


async def list_tokens(conn: AsyncConnection) -> list[RowMapping]:
    stmt = select(*_PUBLIC).order_by(api_tokens.c.created_at, api_tokens.c.name)
    return list((await conn.execute(stmt)).mappings())


async def revoke_token(conn: AsyncConnection, token_id: UUID, now: datetime) -> RowMapping | None:
    """Mark it revoked (once: a second revoke keeps the first time); None when unknown."""
    await conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await token_by_id(conn, token_id)


async def revocation_mark(conn: AsyncConnection) -> tuple[int, datetime | None]:
    """How many tokens are revoked, and the latest revocation: it changes with every new
    revocation (a token is revoked once, and rows are never deleted)."""
    stmt = select(func.count(api_tokens.c.revoked_at), func.max(api_tokens.c.revoked_at))
    count, latest = (await conn.execute(stmt)).one()
    return int(count), latest
