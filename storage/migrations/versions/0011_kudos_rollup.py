"""kudos roll-up for the web overview: kudos per week and group, and who stands behind each group, kept exact
by triggers on kudos (the overview over a million kudos reads a few thousand rows)

Revision ID: 0011_kudos_rollup
Revises: 0010_kudos_departments
Create Date: 2026-12-06 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import kudos_rollup

revision: str = "0011_kudos_rollup"
down_revision: str | Sequence[str] | None = "0010_kudos_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kudos_week",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("k", sa.String(length=400), nullable=False),
        sa.Column("value_tag", sa.String(length=40), nullable=True),
        sa.Column("giver_department", sa.String(length=120), nullable=True),
        sa.Column("receiver_department", sa.String(length=120), nullable=True),
        sa.Column("kudos", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("cross_team", sa.Integer(), nullable=False),
        sa.UniqueConstraint("workspace_id", "week", "k"),
    )
    op.create_table(
        "kudos_person",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=1), nullable=False),
        sa.Column("k", sa.String(length=400), nullable=False),
        sa.Column("value_tag", sa.String(length=40), nullable=True),
        sa.Column("giver_department", sa.String(length=120), nullable=True),
        sa.Column("receiver_department", sa.String(length=120), nullable=True),
        sa.Column("user_id", sa.String(length=120), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.UniqueConstraint("workspace_id", "role", "k", "user_id"),
    )
    # covering: "people behind each value" and "behind each pair of departments" read only the index
    op.create_index(
        "ix_kudos_person_value", "kudos_person", ["workspace_id", "role", "value_tag", "user_id", "last_day"]
    )
    op.create_index(
        "ix_kudos_person_pair",
        "kudos_person",
        ["workspace_id", "role", "giver_department", "receiver_department", "user_id", "last_day"],
    )
    # an undone or deleted kudos finds the receiver's other kudos in the group (the giver's index exists)
    op.create_index("ix_kudos_ws_receiver_day", "kudos", ["workspace_id", "receiver_id", "giver_day"])
    dialect = op.get_bind().dialect.name
    for stmt in kudos_rollup.rebuild(dialect) + kudos_rollup.create_triggers(dialect):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in kudos_rollup.drop_triggers(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_index("ix_kudos_ws_receiver_day", table_name="kudos")
    op.drop_index("ix_kudos_person_pair", table_name="kudos_person")
    op.drop_index("ix_kudos_person_value", table_name="kudos_person")
    op.drop_table("kudos_person")
    op.drop_table("kudos_week")
