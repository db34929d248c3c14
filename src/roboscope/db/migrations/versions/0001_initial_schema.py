"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 01:58:14.258234

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "spaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("model_glb_url", sa.Text(), nullable=True),
        sa.Column("model_usdc_url", sa.Text(), nullable=True),
        sa.Column("preview_url", sa.Text(), nullable=True),
        sa.Column("scan_url", sa.Text(), nullable=True),
        sa.Column("ml_model_url", sa.Text(), nullable=True),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spaces")),
        sa.UniqueConstraint("key", name=op.f("uq_spaces_key")),
    )
    op.create_table(
        "work_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("space_id", sa.Uuid(), nullable=False),
        sa.Column("session_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_work_sessions_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_sessions")),
    )
    with op.batch_alter_table("work_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_sessions_space_id"), ["space_id"], unique=False)

    op.create_table(
        "markers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_session_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("p1", JSON, nullable=False),
        sa.Column("p2", JSON, nullable=False),
        sa.Column("p3", JSON, nullable=False),
        sa.Column("p4", JSON, nullable=False),
        sa.Column("color", sa.Text(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("custom_props", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_session_id"],
            ["work_sessions.id"],
            name=op.f("fk_markers_work_session_id_work_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markers")),
    )
    with op.batch_alter_table("markers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_markers_work_session_id_id", ["work_session_id", "id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("markers", schema=None) as batch_op:
        batch_op.drop_index("ix_markers_work_session_id_id")

    op.drop_table("markers")
    with op.batch_alter_table("work_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_sessions_space_id"))

    op.drop_table("work_sessions")
    op.drop_table("spaces")
