"""drop markers.lock_fence: fences are kept per work session since 0003's code changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:00:00.000000

Not backward compatible for a rolling upgrade: processes of earlier versions still select the
column with every marker. Stop them before upgrading to this revision (docs/deployment.md).
Its downgrade brings the column back empty, as it always was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("markers") as batch:
        batch.drop_column("lock_fence")


def downgrade() -> None:
    with op.batch_alter_table("markers") as batch:
        batch.add_column(sa.Column("lock_fence", sa.BigInteger(), nullable=True))
