"""service-goal pulse: pulses, who was asked, anonymous answers (no rowid on SQLite), team goals

Revision ID: 0006_pulse
Revises: 0005_kudos_conversation_ids
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006_pulse"
down_revision: str | Sequence[str] | None = "0005_kudos_conversation_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("department", sa.String(length=120), nullable=True),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("salt", sa.String(length=64), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("deadline", storage.types.UTCDateTime(), nullable=False),
        sa.Column("closed_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pulse_ws_channel_status", "pulse", ["workspace_id", "channel_id", "status"], unique=False)
    op.create_index("ix_pulse_status", "pulse", ["status"], unique=False)
    op.create_index("ix_pulse_deadline", "pulse", ["deadline"], unique=False)
    op.create_table(
        "pulse_recipient",
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["pulse_id"], ["pulse.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pulse_id", "user_id"),
    )
    op.create_table(
        "pulse_answer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=5000), nullable=False),
        sa.Column("owner_key", sa.String(length=64), nullable=True),
        sa.Column("author_id", sa.String(length=120), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["pulse_id"], ["pulse.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_pulse_answer_pulse_id", "pulse_answer", ["pulse_id"], unique=False)
    op.create_table(
        "pulse_goal",
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("above_prompt", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "channel_id"),
    )


def downgrade() -> None:
    op.drop_table("pulse_goal")
    op.drop_index("ix_pulse_answer_pulse_id", table_name="pulse_answer")
    op.drop_table("pulse_answer")
    op.drop_table("pulse_recipient")
    op.drop_index("ix_pulse_deadline", table_name="pulse")
    op.drop_index("ix_pulse_status", table_name="pulse")
    op.drop_index("ix_pulse_ws_channel_status", table_name="pulse")
    op.drop_table("pulse")
