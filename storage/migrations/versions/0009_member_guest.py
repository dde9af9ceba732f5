"""member guest flag (Slack multi- and single-channel guests, Teams guests: no kudos given or received)

Revision ID: 0009_member_guest
Revises: 0008_privacy_dedupe
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_member_guest"
down_revision: str | Sequence[str] | None = "0008_privacy_dedupe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_guest", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("is_guest")
