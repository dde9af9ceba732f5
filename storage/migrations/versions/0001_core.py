"""core tables

Revision ID: 0001_core
Revises:
Create Date: 2026-11-22 21:51:17.097632
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0001_core"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "budget_day",
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("spent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", "day"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=255), nullable=False),
        sa.Column("thread_id", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("cause", sa.String(length=120), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("lease_until", storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("platform_message_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "processed_event",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_event_created_at"), ["created_at"], unique=False)

    op.create_table(
        "scheduled_claim",
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("claimed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "channel_id", "kind", "period"),
    )
    op.create_table(
        "workspace",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("tone", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("holiday_region", sa.String(length=10), nullable=True),
        sa.Column("daily_budget", sa.Integer(), nullable=False),
        sa.Column("min_reason_length", sa.Integer(), nullable=False),
        sa.Column("max_recipients", sa.Integer(), nullable=False),
        sa.Column("pair_daily_cap", sa.Integer(), nullable=False),
        sa.Column("max_text_length", sa.Integer(), nullable=False),
        sa.Column("undo_minutes", sa.Integer(), nullable=False),
        sa.Column("kudos_emoji", sa.String(length=64), nullable=False),
        sa.Column("kudos_channel_id", sa.String(length=120), nullable=True),
        sa.Column("privacy_profile", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "company_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("label_de", sa.String(length=80), nullable=False),
        sa.Column("label_en", sa.String(length=80), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "tag"),
    )
    with op.batch_alter_table("company_value", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_company_value_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "kudos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("giver_id", sa.String(length=120), nullable=False),
        sa.Column("receiver_id", sa.String(length=120), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("value_tag", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("cross_team", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("message_id", sa.String(length=120), nullable=True),
        sa.Column("giver_day", sa.Date(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kudos_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_kudos_ws_created_giver", ["workspace_id", "created_at", "giver_id", "points"], unique=False
        )
        batch_op.create_index(
            "ix_kudos_ws_created_receiver", ["workspace_id", "created_at", "receiver_id", "points"], unique=False
        )
        batch_op.create_index("ix_kudos_ws_giver_day", ["workspace_id", "giver_id", "giver_day"], unique=False)
        batch_op.create_index("ix_kudos_ws_message", ["workspace_id", "message_id"], unique=False)

    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=120), nullable=True),
        sa.Column("department", sa.String(length=120), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("leaderboard_opt_out", sa.Boolean(), nullable=False),
        sa.Column("leaderboard_opt_in", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "user_id"),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_workspace_id"))

    op.drop_table("member")
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.drop_index("ix_kudos_ws_message")
        batch_op.drop_index("ix_kudos_ws_giver_day")
        batch_op.drop_index("ix_kudos_ws_created_receiver")
        batch_op.drop_index("ix_kudos_ws_created_giver")
        batch_op.drop_index(batch_op.f("ix_kudos_batch_id"))

    op.drop_table("kudos")
    with op.batch_alter_table("company_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_company_value_workspace_id"))

    op.drop_table("company_value")
    op.drop_table("workspace")
    op.drop_table("scheduled_claim")
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_created_at"))

    op.drop_table("processed_event")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_workspace_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    op.drop_table("budget_day")
