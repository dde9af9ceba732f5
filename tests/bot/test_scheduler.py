"""The tick contract: windows from the watermark, catch-up within the grace period, retries after failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from structlog.testing import capture_logs

from bot.app import Starling
from bot.core.jobs import Days, JobContext
from bot.scheduler import SchedulerService, run_tick
from storage.models import OutboxMessage, ScheduledClaim, Workspace
from tests.bot.outbox_kit import WORKSPACE, ensure_slack_workspace, make_app
from tests.kit import Clock

MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Berlin


def daily_post(
    app: Starling, name: str = "daily", channels: tuple[str, ...] = ("CDAILY",), fail: set[str] | None = None
) -> None:
    """A small feature: at 09:00 Berlin time every day, one post per channel."""

    @app.router.schedule(name, feature="test")
    async def job(job: JobContext) -> None:
        ws = await job.session.get(Workspace, WORKSPACE)
        assert ws is not None
        for channel in channels:
            for due in await job.due(
                time(9), Days(), "Europe/Berlin", kind=name, workspace_id=ws.id, channel_id=channel
            ):
                async with job.guard(channel=channel):
                    if await job.claim(workspace_id=ws.id, channel_id=channel, kind=name, period=due.period):
                        if fail is not None and channel in fail:
                            fail.discard(channel)
                            raise RuntimeError("the platform directory was down")
                        await job.post(
                            ws, channel, _message(due.period), kind=name, dedupe_key=f"{name}:{channel}:{due.period}"
                        )


def _message(text: str):
    from bot.core.messages import Message, Section

    return Message(blocks=[Section(text=text)], text=text)


async def posted(app: Starling, kind: str) -> list[tuple[str, str]]:
    async with app.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.target_id, OutboxMessage.dedupe_key)
            .where(OutboxMessage.cause == kind)
            .order_by(OutboxMessage.id)
        )
        return [(t, str(k).rsplit(":", 1)[-1]) for t, k in rows.all()]


async def test_windows_start_at_the_watermark_and_first_run_looks_back_the_grace_period(db_url: str) -> None:
    clock = Clock(MONDAY)
    app = make_app(db_url, clock=clock)
    windows: list[tuple[datetime, datetime]] = []

    @app.router.schedule("recorder", feature="test")
    async def recorder(job: JobContext) -> None:
        windows.append((await job.window_start(), job.now))

    try:
        await run_tick(app.router, app.services, clock())
        clock.advance(minutes=1)
        await run_tick(app.router, app.services, clock())
        await run_tick(app.router, app.services, clock())  # same minute again: an empty window
        clock.advance(hours=3)
        await run_tick(app.router, app.services, clock())
    finally:
        await app.close()
    minute = MONDAY + timedelta(minutes=1)
    assert windows == [
        (MONDAY - timedelta(hours=6), MONDAY),
        (MONDAY, minute),
        (minute, minute),
        (minute, minute + timedelta(hours=3)),
    ]


async def test_downtime_within_grace_is_caught_up_and_beyond_it_skipped_with_a_log_line(db_url: str) -> None:
    clock = Clock(MONDAY)
    app = make_app(db_url, clock=clock)
    daily_post(app)
    try:
        await ensure_slack_workspace(app)
        await run_tick(app.router, app.services, clock())  # Monday 07:00: nothing due yet
        clock.set(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))  # down until Tuesday 20:00 Berlin
        with capture_logs() as logs:
            await run_tick(app.router, app.services, clock())
        clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # down again, back Wednesday 13:00: 4 h late
        await run_tick(app.router, app.services, clock())
        assert await posted(app, "daily") == [("CDAILY", "2026-11-25")]
    finally:
        await app.close()
    skipped = [e for e in logs if e["event"] == "scheduled_post_skipped"]
    assert [(e["period"], e["channel"]) for e in skipped] == [("2026-11-23", "CDAILY"), ("2026-11-24", "CDAILY")]
    assert all(e["late_by_hours"] > 6 for e in skipped)


async def test_a_failed_part_is_retried_next_tick_and_nothing_is_posted_twice(db_url: str) -> None:
    clock = Clock(datetime(2026, 11, 23, 8, 0, 30, tzinfo=UTC))  # Monday 09:00:30 in Berlin
    app = make_app(db_url, clock=clock)
    fail = {"CB"}
    daily_post(app, channels=("CA", "CB"), fail=fail)
    try:
        await ensure_slack_workspace(app)
        with capture_logs() as logs:
            await run_tick(app.router, app.services, clock())
        assert await posted(app, "daily") == [("CA", "2026-11-23")]
        assert any(e["event"] == "scheduled_part_failed" for e in logs)
        clock.advance(minutes=1)
        await run_tick(app.router, app.services, clock())
        assert await posted(app, "daily") == [("CA", "2026-11-23"), ("CB", "2026-11-23")]
        clock.advance(minutes=1)
        await run_tick(app.router, app.services, clock())
        async with app.sessions() as session:
            claims = (
                await session.execute(
                    select(func.count()).select_from(ScheduledClaim).where(ScheduledClaim.kind == "daily")
                )
            ).scalar_one()
        assert claims == 2
    finally:
        await app.close()


async def test_service_catches_up_on_start_and_ticks_on_the_minute(db_url: str) -> None:
    clock = Clock(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))  # Monday 09:30 Berlin: the 09:00 post is due
    app = make_app(db_url, clock=clock)
    daily_post(app)
    service = SchedulerService(app, name="test-scheduler")
    try:
        await ensure_slack_workspace(app)
        await service.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while service.ticks == 0 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert await posted(app, "daily") == [("CDAILY", "2026-11-23")]
        job = service.scheduler.get_job("starling-tick")
        assert job is not None and job.next_run_time.second == 0 and job.next_run_time.microsecond == 0
    finally:
        await service.stop()
        await app.close()
    assert not service.scheduler.running
