"""The acknowledgement's promise at the inbox: a ``put`` that returns has its row stored; one that raises or is
cancelled acknowledges nothing. Acknowledgements of one moment share a commit and are all stored, on both
databases (on PostgreSQL over the inbox's own connection, on SQLite in the inbox's own file)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from bot.app import Starling
from bot.settings import Settings
from tests.kit import Clock


def starling_on(url: str, clock: Clock, *, migrate: bool = True) -> Starling:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    return Starling(settings, clock=clock, run_migrations=migrate)


async def put(app: Starling, n: int) -> int:
    await app.inbox.put(platform="slack", workspace_id="T0INBOX", kind="events", body={"n": n}, context={})
    return n


async def stored(app: Starling) -> list[int]:
    from sqlalchemy import select

    from storage import inbox as store

    def bodies(conn: Any) -> list[int]:
        return [row[0]["n"] for row in conn.execute(select(store.INBOX.c.body)).all()]

    return sorted(await app.inbox._run(bodies))


async def test_a_burst_of_acknowledgements_is_stored_whole(any_db_url: str, clock: Clock) -> None:
    app = starling_on(any_db_url, clock)
    try:
        done = await asyncio.gather(*(put(app, n) for n in range(300)))
        assert sorted(done) == list(range(300))
        assert await stored(app) == list(range(300))
        assert await app.inbox.count() == 300  # what /readyz and starling_inbox_pending show
    finally:
        await app.close()


async def test_a_cancelled_acknowledgement_never_says_stored_for_a_row_that_is_not(
    any_db_url: str, clock: Clock
) -> None:
    """Requests cancelled at every point of the write (a client that went away, a shutdown): each put either
    returned (its row is there) or did not; the next put works at once."""
    app = starling_on(any_db_url, clock)
    try:
        returned: list[int] = []

        async def one(n: int) -> None:
            returned.append(await put(app, n))

        n = 0
        rng = random.Random(7)
        for round_ in range(40):
            tasks = [asyncio.create_task(one(n + i)) for i in range(20)]
            n += 20
            for _ in range(round_ % 8):  # cancelled after 0 to 7 turns of the event loop
                await asyncio.sleep(0)
            for task in rng.sample(tasks, 10):
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
        rows = await stored(app)
        assert set(returned) <= set(rows)  # nothing acknowledged that is not stored
        assert len(rows) == len(set(rows))  # and nothing stored twice
        await put(app, 10_000)
        assert 10_000 in await stored(app)
    finally:
        await app.close()


async def test_an_unreachable_database_acknowledges_nothing(clock: Clock) -> None:
    """PostgreSQL refusing connections: the put raises (Slack gets 503 and sends the event again)."""
    app = starling_on("postgresql+psycopg://postgres@127.0.0.1:1/none", clock, migrate=False)
    try:
        raised = False
        try:
            await put(app, 1)
        except Exception:
            raised = True
        assert raised
    finally:
        await app.close()
