"""The schema's history is one line: one head, so a new migration has exactly one place to go."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from storage.db import alembic_config


def test_the_migrations_have_one_head_and_run_in_one_line_after_the_join() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"several heads {heads}: point the newest migration's down_revision at the head of main"
    rev = script.get_revision(heads[0])
    while rev is not None and rev.revision != "0003_one_line":
        assert isinstance(rev.down_revision, str), f"{rev.revision} has {rev.down_revision!r} as parents"
        rev = script.get_revision(rev.down_revision)
    assert rev is not None  # the join is an ancestor of the head
