"""teams conversation references

Revision ID: 0002_teams
Revises: 0001_core
Create Date: 2026-11-22 22:02:19.055695
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002_teams"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_conversation",
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("service_url", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("bot_id", sa.String(length=160), nullable=False),
        sa.Column("bot_name", sa.String(length=200), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=255), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("teams_channel_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "conversation_id"),
    )
    with op.batch_alter_table("teams_conversation", schema=None) as batch_op:
        batch_op.create_index("ix_teams_conversation_recent", ["workspace_id", "updated_at"], unique=False)
        batch_op.create_index("ix_teams_conversation_user", ["workspace_id", "user_id", "kind"], unique=False)

    op.create_table(
        "teams_user",
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("aad_object_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "user_id"),
    )
    with op.batch_alter_table("teams_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_user_aad_object_id"), ["aad_object_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("teams_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_user_aad_object_id"))

    op.drop_table("teams_user")
    with op.batch_alter_table("teams_conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_teams_conversation_user")
        batch_op.drop_index("ix_teams_conversation_recent")

    op.drop_table("teams_conversation")
