"""The reader engine (long read-only page queries on SQLite) never holds up a writer."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage import core
from storage.db import create_engine_for, create_reader_engine_for, session_factory, transaction


async def test_a_long_read_does_not_hold_the_write_lock(db_url: str) -> None:
    engine = create_engine_for(db_url)
    reader_engine = create_reader_engine_for(db_url)
    assert reader_engine is not None
    sessions, reader = session_factory(engine), session_factory(reader_engine)
    try:
        async with reader() as r:
            await r.execute(text("SELECT count(*) FROM kudos"))  # the read transaction is open from here on
            async with asyncio.timeout(10):  # a writer queued behind a lock would wait busy_timeout (30 s)
                async with transaction(sessions) as w:
                    await core.ensure_workspace(
                        w, workspace_id="console:r", platform="console", locale="de", timezone="UTC"
                    )
            # the reader keeps its snapshot: the new workspace is not in it
            seen = (await r.execute(text("SELECT count(*) FROM workspace WHERE id = 'console:r'"))).scalar_one()
            assert seen == 0
    finally:
        await reader_engine.dispose()
        await engine.dispose()


def test_postgres_needs_no_reader() -> None:
    assert create_reader_engine_for("postgresql://u@127.0.0.1/db") is None
