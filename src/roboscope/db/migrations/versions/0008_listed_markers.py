"""listed markers: each marker and its details stored also as the text a list sends

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:00:00.000000

Backward compatible for a rolling upgrade: a text counts only while it was made at its row's
current version (`listed_version`, `listed_at`); any other row, such as every row this
migration leaves and every write of a process of an earlier version, is rendered by the list
from its columns. Each server start stores the missing texts in the background
(services/listed_markers.py). Its downgrade drops the four columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("markers", sa.Column("listed", sa.Text(), nullable=True))
    op.add_column("markers", sa.Column("listed_version", sa.BigInteger(), nullable=True))
    op.add_column("marker_details", sa.Column("listed", sa.Text(), nullable=True))
    op.add_column(
        "marker_details", sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("marker_details") as batch:
        batch.drop_column("listed_at")
        batch.drop_column("listed")
    with op.batch_alter_table("markers") as batch:
        batch.drop_column("listed_version")
        batch.drop_column("listed")
