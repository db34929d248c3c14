"""`INSERT … ON CONFLICT DO UPDATE` in the dialect of the connection.

A unique key plus this one statement makes concurrent "create or update" calls safe on
PostgreSQL and SQLite alike: exactly one row per key, and no caller ever sees a duplicate-key
error. Both dialects' statements share `on_conflict_do_update` and `excluded`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    *,
    key: Iterable[str],
    update: Iterable[str],
) -> RowMapping:
    """Insert `values`, or when a row with the same `key` exists, overwrite its `update`
    columns with the new values; answers the stored row either way."""
    stmt = (
        postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    ).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: stmt.excluded[name] for name in update}
    )
    return (await conn.execute(stmt.returning(*table.c))).mappings().one()
