"""Keyed de-duplication digests: the secret of each day, thrown away after the dedupe window.

The old processed-event keys were plain SHA-256 digests of platform ids (recomputable from the member
list): they are deleted, which only forgets that a few hours of events were processed.

Revision ID: 0008_privacy_dedupe
Revises: 0007_web_session
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_privacy_dedupe"
down_revision: str | Sequence[str] | None = "0007_web_session"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dedupe_secret",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.execute("DELETE FROM processed_event")


def downgrade() -> None:
    op.drop_table("dedupe_secret")
