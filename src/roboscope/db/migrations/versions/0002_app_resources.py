"""app resources: marker details, anchors, laser guides, reference sets, calibrated data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:10:00.000000

"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("markers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calibrated_data", NULLABLE_JSON, nullable=True))

    op.create_table(
        "marker_details",
        sa.Column("marker_id", sa.Uuid(), nullable=False),
        sa.Column("center_location_long", sa.Double(), nullable=False),
        sa.Column("center_location_cross", sa.Double(), nullable=False),
        sa.Column("x_negative", sa.Double(), nullable=False),
        sa.Column("x_positive", sa.Double(), nullable=False),
        sa.Column("z_positive", sa.Double(), nullable=False),
        sa.Column("z_negative", sa.Double(), nullable=False),
        sa.Column("long_size", sa.Double(), nullable=False),
        sa.Column("cross_size", sa.Double(), nullable=False),
        sa.Column("custom_props", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["marker_id"], ["markers.id"], name=op.f("fk_marker_details_marker_id_markers")
        ),
        sa.PrimaryKeyConstraint("marker_id", name=op.f("pk_marker_details")),
    )
    op.create_table(
        "anchors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("local_z", sa.Double(), nullable=False),
        sa.Column("world_position", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["session_id"], ["work_sessions.id"], name=op.f("fk_anchors_session_id_work_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchors")),
        sa.UniqueConstraint(
            "session_id", "run", "local_z", name="uq_anchors_session_id_run_local_z"
        ),
    )
    op.create_table(
        "laser_guides",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("space_id", sa.Uuid(), nullable=False),
        sa.Column("grid", JSON, nullable=False),
        sa.Column("meta", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_laser_guides_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laser_guides")),
        sa.UniqueConstraint("space_id", name=op.f("uq_laser_guides_space_id")),
    )
    op.create_table(
        "reference_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("space_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("markers", JSON, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_reference_sets_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_sets")),
    )
    with op.batch_alter_table("reference_sets", schema=None) as batch_op:
        batch_op.create_index("ix_reference_sets_space_id_id", ["space_id", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("reference_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_reference_sets_space_id_id")

    op.drop_table("reference_sets")
    op.drop_table("laser_guides")
    op.drop_table("anchors")
    op.drop_table("marker_details")
    with op.batch_alter_table("markers", schema=None) as batch_op:
        batch_op.drop_column("calibrated_data")
