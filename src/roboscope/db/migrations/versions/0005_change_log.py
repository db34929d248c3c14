"""change log: every create, update and delete, with gap-free cursors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("cursor", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("work_session_id", sa.Uuid(), nullable=True),
        sa.Column("space_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("actor", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cursor", name="pk_changes"),
    )
    op.create_index("ix_changes_work_session_id_cursor", "changes", ["work_session_id", "cursor"])
    op.create_index("ix_changes_space_id_cursor", "changes", ["space_id", "cursor"])
    op.create_index(
        "ix_changes_entity_entity_id_cursor", "changes", ["entity", "entity_id", "cursor"]
    )
    op.create_index("ix_changes_created_at", "changes", ["created_at"])
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
        sa.Column("purged_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_counter"),
    )
    op.bulk_insert(counter, [{"id": 1, "last_cursor": 0, "purged_through": 0}])


def downgrade() -> None:
    op.drop_table("change_counter")
    op.drop_index("ix_changes_created_at", table_name="changes")
    op.drop_index("ix_changes_entity_entity_id_cursor", table_name="changes")
    op.drop_index("ix_changes_space_id_cursor", table_name="changes")
    op.drop_index("ix_changes_work_session_id_cursor", table_name="changes")
    op.drop_table("changes")
