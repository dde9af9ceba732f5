"""Join the feature branches of the schema into one line: every later migration follows this one.

Revision ID: 0003_one_line
Revises: 0002_config_rev, 0002_privacy, 0002_prompts, 0002_scheduling, 0002_suggestions, 0002_teams,
0002_teams_files
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_one_line"
down_revision: str | Sequence[str] | None = (
    "0002_config_rev",
    "0002_privacy",
    "0002_prompts",
    "0002_scheduling",
    "0002_suggestions",
    "0002_teams",
    "0002_teams_files",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only gives the history one head."""


def downgrade() -> None:
    """Nothing to change."""
