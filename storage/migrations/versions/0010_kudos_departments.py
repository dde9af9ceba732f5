"""kudos keep the giver's and receiver's department of the day they were given (department aggregates
count by them: moving a person changes no past total)

Revision ID: 0010_kudos_departments
Revises: 0009_member_guest
Create Date: 2026-12-06 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_kudos_departments"
down_revision: str | Sequence[str] | None = "0009_member_guest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("giver_department", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("receiver_department", sa.String(length=120), nullable=True))
    # Existing kudos take their people's departments of today: the best that is known of the past.
    for column, person in (("giver_department", "giver_id"), ("receiver_department", "receiver_id")):
        op.execute(
            f"UPDATE kudos SET {column} = (SELECT member.department FROM member "
            f"WHERE member.workspace_id = kudos.workspace_id AND member.user_id = kudos.{person})"
        )


def downgrade() -> None:
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.drop_column("receiver_department")
        batch_op.drop_column("giver_department")
