"""Idempotency-key rows: claim a key, store its answer, read it back, purge expired ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import idempotency_keys as keys


@dataclass(frozen=True, slots=True)
class StoredKey:
    request_hash: str
    status: int | None
    body: bytes | None
    created_at: datetime


async def claim(
    conn: AsyncConnection,
    scope: str,
    key: str,
    request_hash: str,
    *,
    now: datetime,
    expired_before: datetime,
) -> bool:
    """Take the key for this transaction: True when it was free or had expired.

    One `INSERT … ON CONFLICT DO UPDATE … WHERE expired`: on PostgreSQL a concurrent claim of
    the same key waits here until the first transaction ends, then finds the key taken (or
    free again if that one rolled back), with no duplicate-key error on either side.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(keys).values(
        scope=scope, key=key, request_hash=request_hash, status=None, body=None, created_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[keys.c.scope, keys.c.key],
        set_={
            "request_hash": stmt.excluded.request_hash,
            "status": None,
            "body": None,
            "created_at": stmt.excluded.created_at,
        },
        where=keys.c.created_at < expired_before,
    )
    return (await conn.execute(stmt.returning(keys.c.key))).first() is not None


async def store_answer(
    conn: AsyncConnection, scope: str, key: str, status: int, body: bytes
) -> None:
    stmt = (
        update(keys)
        .where(keys.c.scope == scope, keys.c.key == key)
        .values(status=status, body=body)
    )
    await conn.execute(stmt)


async def get(conn: AsyncConnection, scope: str, key: str) -> StoredKey | None:
    stmt = select(keys.c.request_hash, keys.c.status, keys.c.body, keys.c.created_at).where(
        keys.c.scope == scope, keys.c.key == key
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return StoredKey(row.request_hash, row.status, row.body, row.created_at)


async def purge_expired(conn: AsyncConnection, *, expired_before: datetime, batch: int) -> int:
    """Delete at most `batch` expired keys, oldest first; rows another transaction is
    deleting are skipped (PostgreSQL), so concurrent purges never wait on each other."""
    oldest = (
        select(keys.c.scope, keys.c.key)
        .where(keys.c.created_at < expired_before)
        .order_by(keys.c.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    stmt = delete(keys).where(tuple_(keys.c.scope, keys.c.key).in_(oldest))
    result = await conn.execute(stmt)
    return result.rowcount
