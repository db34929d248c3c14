"""Alembic environment: runs migrations over the same async drivers the server uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from roboscope.db.engine import sqlite_connect_args
from roboscope.db.tables import metadata

url: str = context.config.attributes.get("database_url") or context.config.get_main_option(
    "sqlalchemy.url", ""
)


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations ALTER tables on SQLite (copy-and-move).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    # A migration beside a running server waits for its SQLite writes like any writer.
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    engine = create_async_engine(
        url, poolclass=pool.NullPool, connect_args=sqlite_connect_args() if is_sqlite else {}
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
