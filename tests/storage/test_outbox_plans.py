"""The outbox keeps what it sent (for the resend checks and the retention job), so its history grows with every
kudos. Looking for due conversations and claiming a conversation's rows must read only unsent rows, through an
index: a search that walks the platform's or the workspace's rows made every kudos costlier the longer Starling
ran (measured: 5 ms per look at 13,000 rows; the overload benchmark's second window stored 0.54× its first)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.dialects import sqlite

from storage.db import migrate
from storage.outbox import CLAIM_STATEMENT, due_lanes_statement

#: Plan lines that would read sent rows too (a scan, or an index searched by a prefix that is not the status).
WALKS = ("SCAN outbox", "ix_outbox_workspace_id", "ix_outbox_lane (platform=?)")


def plan(path: Path, stmt: object, literal: bool) -> list[str]:
    compiled = stmt.compile(  # type: ignore[attr-defined]
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True} if literal else {}
    )
    sql = str(compiled)
    conn = sqlite3.connect(path)
    try:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?"))]
    finally:
        conn.close()


def outbox_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " outbox " in f" {line} " or line.startswith(("SCAN outbox", "SEARCH outbox "))]


def test_the_outbox_reads_only_unsent_rows_through_an_index(tmp_path: Path) -> None:
    path = tmp_path / "starling.db"
    migrate(f"sqlite:///{path}")
    due = plan(
        tmp_path / "starling.db", due_lanes_statement(now=datetime.now(UTC), platforms=["slack"], limit=500), True
    )
    claim = plan(path, CLAIM_STATEMENT, False)
    for lines in (due, claim):
        searches = outbox_lines(lines)
        assert searches, lines
        assert not [line for line in searches if any(w in line for w in WALKS)], lines
        # every search on the outbox is by status (the unsent rows) or by the primary key
        assert all("status=?" in line or "PRIMARY KEY" in line for line in searches), lines
