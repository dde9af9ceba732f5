"""The scheduler service: runs every feature's scheduled function on a tick.

``run_tick`` is the whole contract: one transaction per scheduled function, claims and outbox rows
written together. The APScheduler-driven service calls it once a minute.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.jobs import JobContext
from bot.router import Router, Services
from storage.db import transaction

log = structlog.get_logger("starling.scheduler")


async def run_tick(
    router: Router, services: Services, now: datetime | None = None, *, worker: str = "scheduler"
) -> int:
    """Run every scheduled function once for ``now``; returns how many messages were queued."""
    when = now or services.clock()
    queued = 0
    for name, fn in router.schedules.items():
        try:
            async with transaction(services.sessions) as session:
                job = JobContext(services=services, session=session, now=when, worker=worker)
                await fn(job)
                queued += job.queued
        except Exception:
            log.exception("scheduled_job_failed", job=name)
    if queued and services.on_outbox is not None:
        services.on_outbox()
    return queued
