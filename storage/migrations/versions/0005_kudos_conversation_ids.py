"""Kudos keep the whole conversation id: a Teams personal chat's id is longer than 120 characters.

Revision ID: 0005_kudos_conversation_ids
Revises: 0004_goodwill
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_kudos_conversation_ids"
down_revision: str | Sequence[str] | None = "0004_goodwill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kudos") as batch:
        batch.alter_column(
            "conversation_id", type_=sa.String(400), existing_type=sa.String(120), existing_nullable=True
        )
        batch.alter_column("message_id", type_=sa.String(255), existing_type=sa.String(120), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("kudos") as batch:
        batch.alter_column("message_id", type_=sa.String(120), existing_type=sa.String(255), existing_nullable=True)
        batch.alter_column(
            "conversation_id", type_=sa.String(120), existing_type=sa.String(400), existing_nullable=True
        )
