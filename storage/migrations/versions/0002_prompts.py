"""prompts

Revision ID: 0002_prompts
Revises: 0001_core
Create Date: 2026-11-22 22:03:12.867568
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002_prompts"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("text_de", sa.String(length=1000), nullable=False),
        sa.Column("text_en", sa.String(length=1000), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("reviewed_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("custom_prompt", schema=None) as batch_op:
        batch_op.create_index("ix_custom_prompt_ws_status", ["workspace_id", "status"], unique=False)

    op.create_table(
        "customer_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("redactions", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "source", "external_id"),
    )
    with op.batch_alter_table("customer_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_feedback_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "prompt_draft_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", storage.types.UTCDateTime(), nullable=True),
        sa.Column("drafted", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prompt_draft_request", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_draft_request_due", ["status", "lease_until"], unique=False)

    op.create_table(
        "prompt_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("prompt_key", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("platform_message_id", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("posted_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "channel_id", "day"),
    )
    with op.batch_alter_table("prompt_post", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_post_cycle", ["workspace_id", "channel_id", "cycle"], unique=False)
        batch_op.create_index("ix_prompt_post_message", ["workspace_id", "platform_message_id"], unique=False)
        batch_op.create_index("ix_prompt_post_ws_posted", ["workspace_id", "posted_at"], unique=False)

    op.create_table(
        "prompt_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("holiday_region", sa.String(length=40), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("active_since", storage.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "channel_id"),
    )
    op.create_table(
        "prompt_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("author_id", sa.String(length=120), nullable=True),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["prompt_post.id"],
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "message_id"),
    )
    with op.batch_alter_table("prompt_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompt_answer_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_prompt_answer_ws_created", ["workspace_id", "created_at"], unique=False)

    op.create_table(
        "prompt_highlight",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["prompt_answer.id"],
        ),
        sa.PrimaryKeyConstraint("answer_id", "user_id"),
    )
    with op.batch_alter_table("prompt_highlight", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompt_highlight_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prompt_highlight", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_highlight_workspace_id"))

    op.drop_table("prompt_highlight")
    with op.batch_alter_table("prompt_answer", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_answer_ws_created")
        batch_op.drop_index(batch_op.f("ix_prompt_answer_post_id"))

    op.drop_table("prompt_answer")
    op.drop_table("prompt_subscription")
    with op.batch_alter_table("prompt_post", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_post_ws_posted")
        batch_op.drop_index("ix_prompt_post_message")
        batch_op.drop_index("ix_prompt_post_cycle")

    op.drop_table("prompt_post")
    with op.batch_alter_table("prompt_draft_request", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_draft_request_due")

    op.drop_table("prompt_draft_request")
    with op.batch_alter_table("customer_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_feedback_workspace_id"))

    op.drop_table("customer_feedback")
    with op.batch_alter_table("custom_prompt", schema=None) as batch_op:
        batch_op.drop_index("ix_custom_prompt_ws_status")

    op.drop_table("custom_prompt")
