"""teams files waiting for consent

Revision ID: 0002_teams_files
Revises: 0001_core
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002_teams_files"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_pending_file",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mime", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("uploading_until", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token"),
        sa.UniqueConstraint("outbox_id", "position", name="uq_teams_pending_file_offer"),
    )
    with op.batch_alter_table("teams_pending_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_pending_file_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index("ix_teams_pending_file_user", ["workspace_id", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("teams_pending_file", schema=None) as batch_op:
        batch_op.drop_index("ix_teams_pending_file_user")
        batch_op.drop_index(batch_op.f("ix_teams_pending_file_expires_at"))

    op.drop_table("teams_pending_file")
