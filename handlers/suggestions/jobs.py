"""Scheduled work: anonymous suggestions reach reviewers in hourly batches; undecided ones are reminded."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import structlog

from bot.core.jobs import JobContext, zone
from bot.core.messages import Actions, Button, Header, Message, Note, Section, user_text
from handlers.suggestions.cards import review_deliveries
from handlers.suggestions.common import floor_hour, reviewers
from storage import core
from storage import suggestions as q
from storage.models import Workspace
from storage.suggestions import Suggestion

log = structlog.get_logger("starling.suggestions")

REMIND_FROM_HOUR = 9  # local time, Monday to Friday
DRAFT_TTL = timedelta(days=1)


async def announce_anonymous(job: JobContext) -> None:
    """Post the review cards of anonymous suggestions whose hour is over.

    An anonymous suggestion keeps only the hour it was made, and its card goes out after that hour
    with any others of the same hour, so neither the database nor the review channel shows the
    minute someone was active. ``mark_announced`` lets exactly one scheduler post each card.
    """
    for s in await q.pending_announcements(job.session, before=floor_hour(job.now)):
        assert s.id is not None
        if not await q.mark_announced(job.session, suggestion_id=s.id, at=floor_hour(job.now)):
            continue
        ws = await job.session.get(Workspace, s.workspace_id)
        if ws is None:
            continue
        s.announced_at = floor_hour(job.now)
        for d in await review_deliveries(job.session, ws, s):
            send = job.dm if d.kind == "dm" else job.post
            await send(
                ws, d.target, d.message, kind="suggestion_review", dedupe_key=f"suggest:review:{s.id}:{d.target}"
            )
    await q.purge_drafts(job.session, before=job.now - DRAFT_TTL)


def reminder_message(job: JobContext, ws: Workspace, locale: str | None, items: list[Suggestion], days: int) -> Message:
    t = job.translator(ws, locale)
    lines = [
        t(
            "suggestions.remind.line",
            id=s.id,
            title=user_text(s.title),
            age=t.plural("suggestions.remind.waiting", (job.now - s.created_at).days),
        )
        for s in items
    ]
    buttons = [
        Button(label=t("suggestions.btn.open_card", id=s.id), action_id=f"suggest:card:{s.id}", value=str(s.id))
        for s in items[:20]
    ]
    return Message(
        blocks=[
            Header(text=t("suggestions.remind.title")),
            Section(text=t.plural("suggestions.remind.intro", len(items), days=days)),
            Section(text="\n".join(lines)),
            Actions(buttons=buttons),
            Note(text=t("suggestions.remind.footer")),
        ],
        text=t("suggestions.remind.title"),
    )


async def remind_approvers(job: JobContext) -> None:
    """Once per working day (from 09:00 local), remind approvers of suggestions past the decision deadline."""
    for ws_id in await q.workspaces_with_undecided(job.session):
        ws = await job.session.get(Workspace, ws_id)
        if ws is None:
            continue
        local = job.now.astimezone(zone(ws.timezone))
        if local.weekday() >= 5 or local.hour < REMIND_FROM_HOUR:
            continue
        settings = await q.get_settings(job.session, workspace_id=ws.id)
        items = await q.overdue(
            job.session, workspace_id=ws.id, created_before=job.now - timedelta(days=settings.deadline_days)
        )
        if not items:
            continue
        period = local.date().isoformat()
        if settings.review_channel_id:
            if await job.claim(
                workspace_id=ws.id, channel_id=settings.review_channel_id, kind="suggestion_reminder", period=period
            ):
                msg = reminder_message(job, ws, None, items, settings.deadline_days)
                await job.post(ws, settings.review_channel_id, msg, kind="suggestion_reminder")
            continue
        per_person: dict[str, list[Suggestion]] = defaultdict(list)
        for s in items:
            for uid in await reviewers(job.session, workspace_id=ws.id, department=s.department):
                per_person[uid].append(s)
        for uid, mine in per_person.items():
            if not await job.claim(workspace_id=ws.id, channel_id=uid, kind="suggestion_reminder", period=period):
                continue
            member = await core.get_member(job.session, workspace_id=ws.id, user_id=uid)
            msg = reminder_message(job, ws, member.locale if member else None, mine, settings.deadline_days)
            await job.dm(ws, uid, msg, kind="suggestion_reminder")
        log.info("suggestion_reminders_queued", workspace=ws.id, overdue=len(items), people=len(per_person))
