"""The scheduler service: APScheduler ticks once a minute and runs every feature's scheduled function.

``run_tick`` is the whole contract (see :mod:`bot.core.jobs`): each scheduled function gets the window since
its last completed run (its watermark), and in one transaction its claims and outbox rows are written
and the watermark moves on, all or nothing. Any number of scheduler processes may run against one
database: a replica that comes second finds the window done, or, if two windows overlap, finds the
claims taken (on PostgreSQL its claim waits for the first replica's commit), so every post happens once.
Functions that do not ask for a window (they decide "is it due?" themselves) simply run every tick.

Process roles: ``starling serve`` calls :func:`start_scheduler` (unless ``--no-scheduler``);
``starling scheduler`` runs :func:`run_scheduler` (the scheduler and the outbox worker, no web server).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.core import metrics
from bot.core.jobs import JobContext
from bot.core.router import Router
from bot.core.services import Services
from storage import scheduling as sq
from storage.db import transaction

if TYPE_CHECKING:
    from bot.app import Starling

log = structlog.get_logger("starling.scheduler")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_tick(
    router: Router,
    services: Services,
    now: datetime | None = None,
    *,
    worker: str = "scheduler",
    since: datetime | None = None,
) -> int:
    """Run every scheduled function once for ``now``; returns how many messages were queued.

    A function's window starts where its last completed run ended (its watermark), at most
    ``scheduler_grace_hours`` back on the very first run; ``since`` overrides it. Each function runs in
    its own transaction, which also moves its watermark: a failing function is rolled back alone.
    """
    when = now or services.clock()
    grace = timedelta(hours=services.settings.scheduler_grace_hours)
    queued = 0
    for name, spec in router.schedules.items():
        try:
            # One transaction per function, begun lazily: a function may open its own short transactions
            # (e.g. around a slow call) as long as it has not used ``job.session`` yet.
            async with transaction(services.sessions) as session:
                job = JobContext(
                    services=services,
                    session=session,
                    now=when,
                    worker=worker,
                    since=since,
                    grace=grace,
                    name=name,
                    feature=spec.feature,
                    gate=router.gate,
                )
                await spec.fn(job)
                if job.failed:
                    log.warning("scheduled_window_kept_open", job=name, since=str(job.since))
                elif job.uses_window:
                    await sq.advance_watermark(session, name=name, tick_at=when, by=worker)
            queued += job.queued
        except Exception:
            metrics.SCHEDULER_JOB_FAILURES.labels(name).inc()
            log.exception("scheduled_job_failed", job=name)
    if queued and services.on_outbox is not None:
        services.on_outbox(None)
    return queued


async def tick_job(service: SchedulerService) -> None:
    """The APScheduler job: one tick at the start of every minute."""
    await service.tick()


class SchedulerService:
    """Ticks ``run_tick`` at the start of every minute (UTC), and once at start to catch up."""

    def __init__(self, starling: Starling, *, name: str | None = None) -> None:
        self.starling = starling
        self.name = name or worker_name()
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._lock = asyncio.Lock()
        self._current: asyncio.Task[None] | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self.ticks = 0

    async def tick(self, now: datetime | None = None) -> int:
        """One tick for ``now`` (default: Starling's clock). Ticks of one service never overlap."""
        async with self._lock:
            self._current = asyncio.current_task()  # type: ignore[assignment]
            try:
                when = now or self.starling.services.clock()
                queued = await run_tick(self.starling.router, self.starling.services, when, worker=self.name)
                self.ticks += 1
                metrics.SCHEDULER_TICKS.inc()
                metrics.SCHEDULER_LAST_TICK.set(when.timestamp())
                return queued
            finally:
                self._current = None

    async def _first_tick(self) -> None:
        try:
            await self.tick()
        except Exception:  # a broken database at start is logged; the minute ticks keep trying
            log.exception("scheduler_catch_up_failed")

    async def start(self, *, catch_up: bool = True) -> SchedulerService:
        self.scheduler.add_job(
            tick_job,
            CronTrigger(second=0, timezone="UTC"),
            args=[self],
            id="starling-tick",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        log.info("scheduler_started", worker=self.name, grace_hours=self.starling.settings.scheduler_grace_hours)
        if catch_up:
            self._catch_up = asyncio.create_task(self._first_tick())
        return self

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Stop ticking; a tick in progress may finish within ``timeout``, else it is rolled back."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        running = self._current
        if running is not None and not running.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(running), timeout)
            if not running.done():
                running.cancel()
        if self._catch_up is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._catch_up
        log.info("scheduler_stopped", worker=self.name, ticks=self.ticks)


async def start_scheduler(starling: Starling) -> SchedulerService:
    """Start ticking in this process (``starling serve`` does this unless ``--no-scheduler``)."""
    return await SchedulerService(starling).start()


async def run_scheduler(starling: Starling, stop: asyncio.Event) -> None:
    """``starling scheduler``: the scheduler and the outbox worker, until ``stop`` is set."""
    service = await start_scheduler(starling)
    await starling.outbox.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
        await starling.outbox.stop()
