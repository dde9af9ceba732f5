"""Scheduled goodwill work: approvers are reminded of cases past the decision deadline."""

from __future__ import annotations

from collections import defaultdict

from bot.core.i18n import Translator
from bot.core.jobs import JobContext, zone
from bot.core.messages import Header, Message, Note, Section
from handlers import decisions
from handlers.goodwill import money
from handlers.goodwill.common import department_of, team_label
from storage import core
from storage import goodwill as q
from storage.goodwill import GoodwillBudget, GoodwillCase
from storage.models import Workspace

REMIND_FROM_HOUR = 9  # local time, Monday to Friday


def reminder(t: Translator, ws: Workspace, items: list[tuple[GoodwillCase, GoodwillBudget]]) -> Message:
    lines = [
        t(
            "goodwill.remind.line",
            id=c.id,
            amount=money.fmt(t, c.amount, c.currency),
            team=team_label(b.team),
            date=decisions.fmt_date(t, c.created_at, ws.timezone),
        )
        for c, b in items
    ]
    return Message(
        blocks=[
            Header(text=t("goodwill.remind.title")),
            Section(text="\n".join(lines)),
            Note(text=t("goodwill.remind.howto")),
        ],
        text=t("goodwill.remind.title"),
    )


async def remind_approvers(job: JobContext) -> None:
    """Once per working day (from 09:00 local), the deciders hear of goodwill cases past the deadline."""
    for ws_id in await q.workspaces_with_pending(job.session):
        ws = await job.session.get(Workspace, ws_id)
        if ws is None or not await job.feature_on(ws.id):
            continue
        local = job.now.astimezone(zone(ws.timezone))
        if local.weekday() >= 5 or local.hour < REMIND_FROM_HOUR:
            continue
        rules = await decisions.rules(job.session, workspace_id=ws.id)
        overdue: list[tuple[GoodwillCase, GoodwillBudget]] = []
        for case in await q.pending_cases(job.session, workspace_id=ws.id):
            budget = await q.get_budget(job.session, workspace_id=ws.id, budget_id=case.budget_id)
            if budget is not None and decisions.deadline(case.created_at, rules.deadline_days) <= job.now:
                overdue.append((case, budget))
        if not overdue:
            continue
        period = local.date().isoformat()
        if rules.review_channel_id:
            if await job.claim(
                workspace_id=ws.id, channel_id=rules.review_channel_id, kind="goodwill_reminder", period=period
            ):
                msg = reminder(job.translator(ws), ws, overdue)
                await job.post(ws, rules.review_channel_id, msg, kind="goodwill_reminder")
            continue
        per_person: dict[str, list[tuple[GoodwillCase, GoodwillBudget]]] = defaultdict(list)
        for case, budget in overdue:
            for uid in await decisions.deciders(job.session, workspace_id=ws.id, department=department_of(budget)):
                per_person[uid].append((case, budget))
        for uid, mine in per_person.items():
            if not await job.claim(workspace_id=ws.id, channel_id=uid, kind="goodwill_reminder", period=period):
                continue
            member = await core.get_member(job.session, workspace_id=ws.id, user_id=uid)
            msg = reminder(job.translator(ws, member.locale if member else None), ws, mine)
            await job.dm(ws, uid, msg, kind="goodwill_reminder")
