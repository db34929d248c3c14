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
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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
# For nullable JSON columns: Python `None` is SQL NULL, not the JSON literal `null`.
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
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
    # The newest lock fence of the session, granted or written (raised by every lock grant
    # and every X-Lock-Token write of the session, never lowered): see services/locks.py.
    Column("lock_fence", BigInteger),
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
    Column("calibrated_data", NullableJson),
    *_timestamps(),
    # The marker as lists send it, up to its details (`wire.markers.listed_head`), and the
    # version it was made at: it counts only while that is the marker's version, so a write
    # that did not store it (an earlier release's) leaves no stale text (db/markers.py).
    Column("listed", Text),
    Column("listed_version", BigInteger),
    # The session's markers in creation order (ids are UUIDv7) come from one index range.
    Index("ix_markers_work_session_id_id", "work_session_id", "id"),
)

# At most one per marker: the primary key makes concurrent calculations one upsert.
marker_details = Table(
    "marker_details",
    metadata,
    Column("marker_id", Uuid, ForeignKey("markers.id"), primary_key=True),
    Column("center_location_long", Double, nullable=False),
    Column("center_location_cross", Double, nullable=False),
    Column("x_negative", Double, nullable=False),
    Column("x_positive", Double, nullable=False),
    Column("z_positive", Double, nullable=False),
    Column("z_negative", Double, nullable=False),
    Column("long_size", Double, nullable=False),
    Column("cross_size", Double, nullable=False),
    Column("custom_props", Json, nullable=False),
    *_timestamps(),
    # The details as lists send them (`wire.markers.listed_details`) and the `updated_at`
    # they were made at, like `markers.listed`.
    Column("listed", Text),
    Column("listed_at", Timestamp),
)

# `local_z` is double precision and matched exactly: 2 and 2.0 are one key, 2.0000001 another.
anchors = Table(
    "anchors",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", Uuid, ForeignKey("work_sessions.id"), nullable=False),
    Column("run", BigInteger, nullable=False),
    Column("local_z", Double, nullable=False),
    Column("world_position", Json, nullable=False),
    *_timestamps(),
    # The upsert key; its leading column also serves "the anchors of a session".
    UniqueConstraint("session_id", "run", "local_z", name="uq_anchors_session_id_run_local_z"),
)

laser_guides = Table(
    "laser_guides",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("space_id", Uuid, ForeignKey("spaces.id"), nullable=False, unique=True),
    Column("grid", Json, nullable=False),
    Column("meta", Json, nullable=False),
    *_timestamps(),
)

reference_sets = Table(
    "reference_sets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("space_id", Uuid, ForeignKey("spaces.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("description", Text),
    Column("markers", Json, nullable=False),
    Column("version", BigInteger, nullable=False),
    *_timestamps(),
    Index("ix_reference_sets_space_id_id", "space_id", "id"),
)

# The first answer to each `Idempotency-Key`, per route (`scope`, e.g. "POST /api/v1/markers").
# Claimed and answered in the transaction of the create it records, so both commit or neither;
# `status` and `body` are empty only inside that transaction.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer),
    Column("body", LargeBinary),
    Column("created_at", Timestamp, nullable=False, index=True),
)

# The change log (an outbox): one row per create, update or delete, written in the same
# transaction as the change. `cursor` comes from `change_counter`, whose one row is locked
# until commit, so cursors become visible in order: a reader never sees cursor n+1 while n
# may still commit (the sequence gap that an autoincrement column would leave).
changes = Table(
    "changes",
    metadata,
    Column("cursor", BigInteger, primary_key=True, autoincrement=False),
    Column("op", String(16), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("work_session_id", Uuid),
    Column("space_id", Uuid),
    Column("version", BigInteger),
    Column("data", Json, nullable=False),
    Column("actor", String(500)),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_changes_work_session_id_cursor", "work_session_id", "cursor"),
    Index("ix_changes_space_id_cursor", "space_id", "cursor"),
    Index("ix_changes_entity_entity_id_cursor", "entity", "entity_id", "cursor"),
    Index("ix_changes_created_at", "created_at"),
)

# One row (id 1): the last cursor handed out, and the newest cursor removed by retention
# (a reader asking for changes after an older cursor would miss some: 410).
change_counter = Table(
    "change_counter",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("last_cursor", BigInteger, nullable=False),
    Column("purged_through", BigInteger, nullable=False),
)

# API tokens (ROBOSCOPE_AUTH=required). Only the secret's SHA-256 is stored (`secret_hash`,
# looked up on every request, hence unique and indexed); a revoked token keeps its row, so
# `tokens list` shows what was revoked and when.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("user_id", String(500)),
    Column("scope", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp),
    Column("revoked_at", Timestamp),
)
