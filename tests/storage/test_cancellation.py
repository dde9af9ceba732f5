"""A transaction cancelled at any await point hands its connection back clean, on SQLite and PostgreSQL.

The kudos, digest and outbox paths run again and again; run *k* cancels the task that issues the
*k*-th database call (a statement or a commit) just as it awaits that call, the way a client
disconnect, a shutdown or a timeout does. After every cancellation the next transaction must be able
to start at once: on SQLite nobody may hold the file's write lock (a probe's ``BEGIN IMMEDIATE`` with
no busy wait succeeds) and no pooled connection is left checked out; on PostgreSQL (where a connection
cancelled mid-statement is closed, not reused) no session of the database stays idle in a transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from bot.scheduler import SchedulerService
from storage.models import Kudos, OutboxMessage
from tests.bot.outbox_kit import only_schedules
from tests.kit import BotHarness, CancelAt, Clock

LOOSE_END = 60.0  # seconds a cancelled run may take to unwind before the test calls it a hang


async def assert_clean(bot: BotHarness) -> None:
    url = bot.settings.database_url
    if url.startswith("sqlite"):
        assert bot.app.engine.pool.checkedout() == 0, bot.app.engine.pool.status()
        path = url.split(":///", 1)[1]
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails at once with "database is locked" if a lock was left
            probe.execute("ROLLBACK")
        finally:
            probe.close()
        return
    # PostgreSQL: a connection cancelled mid-statement is discarded (closed), not rolled back; its server
    # session ends when the server reads the closed socket, a moment later. Poll for that with a deadline.
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    name = plain.rsplit("/", 1)[1]
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        with psycopg.connect(plain, autocommit=True) as conn:
            (stuck,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state LIKE 'idle in transaction%%'",
                (name,),
            ).fetchone()  # type: ignore[misc]
        out = bot.app.engine.pool.checkedout()
        if stuck == 0 and out == 0:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{stuck} session(s) idle in a transaction, {out} out"
        await asyncio.sleep(0.02)


async def cancel_everywhere(bot: BotHarness, run: Callable[[], Awaitable[Any]]) -> int:
    """Run ``run`` once per database call it makes, cancelled at that call; returns how many were cancelled."""
    nth = 0
    while True:
        nth += 1
        with CancelAt(bot.app.engine, nth) as cut:
            task = asyncio.ensure_future(run())
            (outcome,) = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), LOOSE_END)
        await assert_clean(bot)
        if not cut.fired:
            assert not isinstance(outcome, BaseException), outcome
            return nth - 1
        assert isinstance(outcome, asyncio.CancelledError | Exception)


async def count(bot: BotHarness, model: Any) -> int:
    async with bot.app.sessions() as session:
        return len((await session.execute(select(model))).all())


@pytest.fixture
async def harness(any_db_url: str, clock: Clock) -> Any:
    bot = await BotHarness(any_db_url, clock).start()
    yield bot
    await bot.close()


async def test_kudos_path_cancelled_at_every_await_leaves_no_lock(harness: BotHarness) -> None:
    said = 0

    async def give() -> None:
        nonlocal said
        said += 1
        await harness.say(f"kudos @anna danke für Runde {said} #kundenfokus", as_="clara")

    points = await cancel_everywhere(harness, give)
    assert points >= 5
    assert await count(harness, Kudos) >= 1  # the uncancelled last run stored its kudos
    assert "danke" in await harness.say("kudos @ben danke fürs Zuhören #teamwork", as_="clara")


async def test_digest_tick_cancelled_at_every_await_leaves_no_lock(harness: BotHarness, clock: Clock) -> None:
    await harness.say("digest subscribe #team mo 09:00")
    await harness.say("kudos @anna danke für die schnelle Hilfe #kundenfokus", as_="clara")
    only_schedules(harness.app, "digests")
    service = SchedulerService(harness.app, name="cancel-test")
    clock.advance(days=5)  # Monday after 09:00 in Berlin: the digest is due
    points = await cancel_everywhere(harness, lambda: service.tick(clock()))
    assert points >= 3
    await harness.app.outbox.drain()
    assert any("→ #team:" in line.split("\n", 1)[0] for line in harness.output)  # "(3) → #team:"


async def test_outbox_drain_cancelled_at_every_await_leaves_no_lock(harness: BotHarness, clock: Clock) -> None:
    await harness.say("digest subscribe #team mo 09:00")
    only_schedules(harness.app, "digests")
    service = SchedulerService(harness.app, name="cancel-test")
    clock.advance(days=5)
    await service.tick(clock())
    points = await cancel_everywhere(harness, harness.app.outbox.drain)
    assert points >= 2
    clock.advance(seconds=harness.settings.outbox_lease_seconds + 1)  # a lease a cancelled run left runs out
    await harness.app.outbox.drain()
    async with harness.app.sessions() as session:
        statuses = set((await session.execute(select(OutboxMessage.status))).scalars())
    assert statuses == {"sent"}
