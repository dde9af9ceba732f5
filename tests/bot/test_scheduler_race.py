"""Several schedulers against one database: every scheduled post exactly once, also through crashes.

Deliveries are counted in the fake Slack Web API's log (each post carries its outbox dedupe key).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from multiprocessing.process import BaseProcess

from sqlalchemy import func, select

from bot.scheduler import SchedulerService
from storage import scheduling as sq
from storage.db import transaction
from storage.models import OutboxMessage
from tests.bot.outbox_kit import (
    WORKSPACE,
    ensure_slack_workspace,
    keys_delivered,
    make_app,
    only_schedules,
    with_fake_slack,
)
from tests.bot.scheduler_proc import fork
from tests.fakes import FakeSlackAPI

START = datetime(2026, 1, 5, 8, 10, tzinfo=UTC)  # Monday 09:10 in Berlin
PERIODS = 100


def expected_keys(periods: int = PERIODS) -> set[str]:
    days = [date(2026, 1, 5) + timedelta(days=n) for n in range(periods)]
    digests = {f"digest:{WORKSPACE}:CDAILY:{d.isoformat()}" for d in days}
    boards = {
        f"leaderboard:{WORKSPACE}:CBOARD:week:{(d - timedelta(days=7)).isoformat()}" for d in days if d.weekday() == 0
    }
    return digests | boards


async def set_up_schedules(db_url: str) -> None:
    app = make_app(db_url)
    try:
        await ensure_slack_workspace(app)
        async with transaction(app.sessions) as session:
            before = START - timedelta(days=1)
            await sq.upsert_schedule(
                session,
                workspace_id=WORKSPACE,
                channel_id="CDAILY",
                kind="digest",
                at="09:00",
                days="daily",
                now=before,
            )
            await sq.upsert_schedule(
                session,
                workspace_id=WORKSPACE,
                channel_id="CBOARD",
                kind="leaderboard",
                at="09:00",
                days="mon",
                settings={"period": "week"},
                now=before,
            )
    finally:
        await app.close()


def accepted_posts(fake: FakeSlackAPI) -> int:
    return len(fake.ok_calls("chat.postMessage"))


async def test_three_schedulers_on_postgresql_race_over_100_periods_and_post_each_once(pg_url: str) -> None:
    await set_up_schedules(pg_url)
    async with FakeSlackAPI() as fake:
        apps = [
            only_schedules(
                with_fake_slack(make_app(pg_url, outbox_pace_seconds={"slack": 0.0}), fake.api_url), "digests"
            )
            for _ in range(3)
        ]
        services = [SchedulerService(app, name=f"replica-{i}") for i, app in enumerate(apps)]
        try:
            for app in apps:
                await app.outbox.start(poll_seconds=0.5)

            async def replica(i: int) -> None:
                rng = random.Random(i)
                for day in range(PERIODS):
                    await services[i].tick(START + timedelta(days=day, minutes=rng.randint(0, 50)))

            await asyncio.gather(*(replica(i) for i in range(3)))
            await fake.wait_for(
                lambda r: r.op == "chat.postMessage" and r.accepted, count=len(expected_keys()), timeout=60
            )
            for app in apps:
                await app.outbox.drain()
        finally:
            for app in apps:
                await app.outbox.stop()
                await app.close()
        delivered = keys_delivered(fake)
        assert set(delivered) == expected_keys()
        assert set(delivered.values()) == {1}
        assert accepted_posts(fake) == len(expected_keys())


async def finish(proc: BaseProcess, timeout: float = 120) -> int:
    """Wait (without blocking the fake server's event loop) for a process to end; its exit code."""
    await asyncio.to_thread(proc.join, timeout)
    assert proc.exitcode is not None, "the scheduler process did not finish in time"
    return proc.exitcode


async def test_two_processes_on_sqlite_post_each_scheduled_post_once(db_url: str) -> None:
    await set_up_schedules(db_url)
    async with FakeSlackAPI() as fake:
        common = ["--db", db_url, "--slack", fake.api_url, "--start", START.isoformat()]
        go = multiprocessing.get_context("fork").Event()
        procs = [fork([*common, "--name", name], go) for name in ("alpha", "bravo")]
        go.set()
        assert [await finish(proc) for proc in procs] == [0, 0]
        delivered = keys_delivered(fake)
        assert set(delivered) == expected_keys()
        assert set(delivered.values()) == {1}


async def test_processes_killed_between_claim_and_send_lose_nothing_and_double_nothing(db_url: str) -> None:
    await set_up_schedules(db_url)
    periods = 30
    async with FakeSlackAPI() as fake:
        common = ["--db", db_url, "--slack", fake.api_url, "--start", START.isoformat(), "--lease", "2"]
        common += ["--periods", str(periods)]
        # 1. a scheduler-only process dies while building its 12th digest: after the claim, before the commit
        assert await finish(fork([*common, "--name", "first", "--no-outbox", "--crash-in-digest", "12"])) == -9
        assert accepted_posts(fake) == 0
        # 2. the next process dies right before its 5th send: that message is leased, not yet sent
        assert await finish(fork([*common, "--name", "second", "--concurrency", "1", "--crash-on-send", "5"])) == -9
        assert accepted_posts(fake) == 4
        # 3. a third process finishes the job: the leased messages after their lease ran out, everything once
        assert await finish(fork([*common, "--name", "third"])) == 0
    delivered = keys_delivered(fake)
    assert set(delivered) == expected_keys(periods)
    assert set(delivered.values()) == {1}
    app = make_app(db_url)
    try:
        async with app.sessions() as session:
            statuses = Counter((await session.execute(select(OutboxMessage.status))).scalars())
            retried = (
                await session.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.attempts > 1))
            ).scalar_one()
    finally:
        await app.close()
    assert statuses == {"sent": len(expected_keys(periods))}
    assert retried >= 1  # the messages leased by the process that died went out on a second attempt
