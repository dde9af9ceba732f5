"""web sessions, sign-in attempts and one-time links

Revision ID: 0007_web_session
Revises: 0006_pulse
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007_web_session"
down_revision: str | Sequence[str] | None = "0006_pulse"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("workspace_id", sa.String(length=120), nullable=True),
        sa.Column("user_id", sa.String(length=120), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index("ix_web_session_expires", ["expires_at"], unique=False)
        batch_op.create_index("ix_web_session_user", ["workspace_id", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index("ix_web_session_user")
        batch_op.drop_index("ix_web_session_expires")
    op.drop_table("web_session")
