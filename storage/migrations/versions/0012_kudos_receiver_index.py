"""SQLite: the roll-up's index on a receiver's kudos leads with the receiver's department, so the leaderboard's
GROUP BY receiver_id keeps its range scan over the month instead of walking every kudos in receiver order

Revision ID: 0012_kudos_receiver_index
Revises: 0011_kudos_rollup
Create Date: 2026-12-07 00:15:00.000000

With ix_kudos_ws_receiver_day (workspace_id, receiver_id, giver_day), SQLite's planner (no histograms) chose it
for "points per receiver since the 1st" to avoid sorting the groups, and read every kudos of the workspace:
2.8 s instead of 0.09 s over 1,000,000 kudos. The triggers look a receiver up with her department too
(``receiver_department IS …``, and the giver's department and the value), so an index that starts with the
department serves them from the index alone and cannot order a GROUP BY receiver_id. PostgreSQL keeps the first index: its planner uses the created_at range (measured), and
it cannot use an index for the triggers' ``IS NOT DISTINCT FROM`` on the department.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_kudos_receiver_index"
down_revision: str | Sequence[str] | None = "0011_kudos_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_kudos_ws_receiver_day", table_name="kudos")
    op.create_index(
        "ix_kudos_ws_rdept_receiver_day",
        "kudos",
        ["workspace_id", "receiver_department", "receiver_id", "giver_department", "value_tag", "giver_day"],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_kudos_ws_rdept_receiver_day", table_name="kudos")
    op.create_index("ix_kudos_ws_receiver_day", "kudos", ["workspace_id", "receiver_id", "giver_day"])
