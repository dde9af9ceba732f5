"""Scheduled work: the daily prompt per subscribed channel, and queued prompt drafting by the language model.

Drafting runs here rather than after the command's reply: the request is a row in the database, so it
survives restarts and runs once even with several schedulers (leased like the outbox), and the model
call happens outside every database transaction and outside any request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import structlog

from bot.core.i18n import translator_for
from bot.core.jobs import JobContext
from bot.core.messages import Message, Note, Section
from bot.core.router import Router
from bot.core.services import Services
from handlers.prompts.feedback import store_prompts
from handlers.prompts.insights import draft_prompts
from handlers.prompts.library import library
from handlers.prompts.posting import compose
from handlers.prompts.schedule import due_day
from storage import core
from storage import prompts as store
from storage.db import transaction
from storage.models import Workspace
from storage.privacy import feature_enabled

log = structlog.get_logger("starling.prompts")

DRAFT_LEASE = timedelta(minutes=5)
DRAFT_RETRY = timedelta(minutes=5)
DRAFT_ATTEMPTS = 3


async def post_due_prompts(job: JobContext) -> None:
    """Each subscribed channel whose local prompt time has come (within the grace window) gets its prompt,
    claimed by (workspace, channel, "prompt", local date) so it goes out once."""
    services = cast(Services, job.services)
    grace = timedelta(hours=services.settings.scheduler_grace_hours)
    for sub, ws in await store.active_subscriptions(job.session):
        if not await feature_enabled(job.session, ws.id, "prompts"):
            continue
        try:
            day = due_day(
                job.now,
                hour=sub.hour,
                minute=sub.minute,
                days=sub.days,
                zone=sub.timezone,
                region=sub.holiday_region,
                grace=grace,
                not_before=sub.active_since,
            )
            if day is None:
                continue
            if await store.post_for_day(job.session, workspace_id=ws.id, channel_id=sub.channel_id, day=day):
                continue
            async with job.session.begin_nested():
                if not await job.claim(
                    workspace_id=ws.id, channel_id=sub.channel_id, kind="prompt", period=day.isoformat()
                ):
                    continue
                post, message = await compose(
                    job.session,
                    workspace=ws,
                    channel_id=sub.channel_id,
                    day=day,
                    language=sub.language,
                    categories=sub.categories,
                    t=job.translator(ws, sub.language),
                    now=job.now,
                )
                await job.post(ws, sub.channel_id, message, kind="prompt", dedupe_key=post.dedupe_key)
        except Exception:
            log.exception("prompt_post_failed", workspace=ws.id, channel=sub.channel_id)


async def run_draft_requests(job: JobContext) -> None:
    """Drafts for queued requests; each model call runs between two short transactions, never inside one."""
    services = cast(Services, job.services)
    if not services.model.configured:
        return
    async with transaction(services.sessions) as session:
        requests = await store.lease_draft_requests(session, now=job.now, lease=DRAFT_LEASE)
    for req in requests:
        async with transaction(services.sessions) as session:
            ws = await session.get(Workspace, req.workspace_id)
            if ws is None:
                continue
            if not await feature_enabled(session, ws.id, "llm"):  # switched off since the request
                await store.finish_draft_request(
                    session, request_id=req.id or 0, status="failed", drafted=0, now=job.now
                )
                continue
            values = [
                v.label_de if req.language == "de" else v.label_en
                for v in await core.list_values(session, workspace_id=ws.id)
            ]
            quotes = [f.text for f in await store.recent_feedback(session, workspace_id=ws.id)]
        examples = [p.text(req.language) for p in library().prompts[:: max(1, len(library().prompts) // 3)][:3]]
        rows = await draft_prompts(
            services.model.bound(ws.id),
            company=ws.name,
            values=values,
            quotes=quotes,
            count=req.count,
            examples=examples,
        )
        async with transaction(services.sessions) as session:
            t = translator_for(req.language, ws.locale, tone=ws.tone)
            inner = JobContext(services=services, session=session, now=job.now, worker=job.worker)
            if rows is None and req.attempts < DRAFT_ATTEMPTS:
                await store.retry_draft_request(session, request_id=req.id or 0, at=job.now + DRAFT_RETRY)
                continue
            saved = await store_prompts(
                session,
                workspace_id=ws.id,
                rows=rows or [],
                source="model",
                created_by=None,
                now=job.now,
                status="draft",
            )
            await store.finish_draft_request(
                session,
                request_id=req.id or 0,
                status="done" if rows is not None else "failed",
                drafted=len(saved),
                now=job.now,
            )
            if rows is None:
                text = t("prompts.draft.failed")
            elif not saved:
                text = t("prompts.draft.unusable")
            else:
                ids = ", ".join(f"#{p.id}" for p in saved)
                text = t("prompts.draft.ready", n=len(saved), ids=ids)
            await inner.dm(
                ws,
                req.requested_by,
                Message(blocks=[Section(text=text), Note(text=t("prompts.list.review_hint"))], text=text),
                kind="prompt_drafts",
                dedupe_key=f"prompt-drafts:{req.id}",
            )
            job.queued += inner.queued


def register(router: Router) -> None:
    router.schedule("prompts", feature="prompts")(post_due_prompts)
    router.schedule("prompt_drafts", feature="prompts")(run_draft_requests)
