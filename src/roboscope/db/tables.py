"""The schema, as SQLAlchemy Core tables; Alembic migrations are written against it.

Portable types only (SQLAlchemy picks native UUID/JSONB/TIMESTAMPTZ on PostgreSQL), so one
schema serves the embedded SQLite file and production PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSONB on PostgreSQL: comparable (`=`) and compact; plain JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")
Timestamp = DateTime(timezone=True)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", Timestamp, nullable=False),
        Column("updated_at", Timestamp, nullable=False),
    ]


spaces = Table(
    "spaces",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", String(500), nullable=False, unique=True),
    Column("name", String(500), nullable=False),
    Column("description", Text),
    Column("model_glb_url", Text),
    Column("model_usdc_url", Text),
    Column("preview_url", Text),
    Column("scan_url", Text),
    Column("ml_model_url", Text),
    Column("meta", Json, nullable=False),
    Column("is_active", Boolean, nullable=False),
    *_timestamps(),
)

work_sessions = Table(
    "work_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("space_id", Uuid, ForeignKey("spaces.id"), nullable=False, index=True),
    Column("session_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", Timestamp),
    Column("completed_at", Timestamp),
    Column("version", BigInteger, nullable=False),
    Column("meta", Json, nullable=False),
    *_timestamps(),
)

markers = Table(
    "markers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("work_session_id", Uuid, ForeignKey("work_sessions.id"), nullable=False),
    Column("label", Text),
    Column("p1", Json, nullable=False),
    Column("p2", Json, nullable=False),
    Column("p3", Json, nullable=False),
    Column("p4", Json, nullable=False),
    Column("color", Text),
    Column("version", BigInteger, nullable=False),
    Column("meta", Json, nullable=False),
    Column("custom_props", Json, nullable=False),
    *_timestamps(),
    # The session's markers in creation order (ids are UUIDv7) come from one index range.
    Index("ix_markers_work_session_id_id", "work_session_id", "id"),
)
