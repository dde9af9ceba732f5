"""Scheduled work: pulses close at their deadline, recurring pulses start on their day.

Closing reads what it needs in one short transaction, asks the model (when the workspace allows it)
with no transaction open, and then publishes in the job's transaction: the pulse's status moves from
``open`` to ``closing`` by a conditional update and the post is claimed ``(workspace, channel,
"pulse_result", <pulse id>)``, so with several schedulers the result goes out once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import structlog

from bot.core.jobs import JobContext
from bot.core.services import Services
from handlers.pulse import flow
from handlers.pulse import result as res
from handlers.pulse.method import analyse
from storage import pulse as q
from storage.db import transaction
from storage.models import Workspace
from storage.privacy import feature_enabled, min_group_size

log = structlog.get_logger("starling.pulse")

LABEL_SYSTEM = (
    "You name groups of answers to a survey about the goal of a customer service team. For each numbered group "
    "give a label of at most five words in the language of its answers. Reply with one line per group: "
    "'<number>. <label>'."
)
_LABEL_LINE = re.compile(r"^\s*(\d+)[.)]\s*(.+?)\s*$")


@dataclass
class Plan:
    pulse_id: int
    workspace_id: str
    short: bool
    data: res.Gathered | None = None
    use_model: bool = False
    embeddings: list[list[float]] | None = None
    labels: list[str] | None = None


async def close_due(job: JobContext) -> None:
    services = cast(Services, job.services)
    if not services.model.configured:  # no model: everything happens in the job's own transaction
        plans = await plan_closes(job.session, services, job.now)
    else:  # read in a short transaction of its own, so that no transaction is open during the model calls
        async with transaction(services.sessions) as s:
            plans = await plan_closes(s, services, job.now)
        for plan in plans:
            if plan.use_model and plan.data is not None:
                await ask_model(services, plan)
    for plan in plans:
        async with job.guard(pulse=plan.pulse_id):
            await finish(job, plan)


async def plan_closes(session: Any, services: Services, now: Any) -> list[Plan]:
    plans: list[Plan] = []
    for p in await q.due_pulses(session, now=now):
        assert p.id is not None
        if not await feature_enabled(session, p.workspace_id, "pulse"):
            continue
        count = await q.answer_count(session, pulse_id=p.id)
        if count < await min_group_size(session, p.workspace_id):
            plans.append(Plan(p.id, p.workspace_id, short=True))
            continue
        use_model = await services.model.allowed(p.workspace_id, session=session)
        plans.append(Plan(p.id, p.workspace_id, short=False, data=await res.gather(session, p), use_model=use_model))
    return plans


async def ask_model(services: Services, plan: Plan) -> None:
    """Embeddings for the answers (and the goal), then labels for the clusters; any failure: the local method."""
    assert plan.data is not None
    model = services.model.bound(plan.workspace_id)  # the one gate: switch, profile, scrubbing on every call
    texts = list(plan.data.texts) + ([plan.data.goal] if plan.data.goal else [])
    try:
        vectors = await model.embed(texts)
        if vectors and len(vectors) == len(texts):
            plan.embeddings = [[float(x) for x in v] for v in vectors]
    except Exception as err:
        log.warning("pulse_embeddings_failed", error=type(err).__name__)
    try:
        embeddings = plan.embeddings[: len(plan.data.texts)] if plan.embeddings else None
        analysis = analyse(plan.data.texts, embeddings=embeddings)
        groups = [[plan.data.texts[i] for i in g.examples[:3]] for g in analysis.groups[: res.MAX_GROUPS]]
        reply = await model.complete(LABEL_SYSTEM, res.label_prompt(plan.data.texts, groups), max_tokens=200)
        if reply:
            labels = [""] * len(groups)
            for line in reply.splitlines():
                m = _LABEL_LINE.match(line)
                if m and 1 <= int(m.group(1)) <= len(groups):
                    labels[int(m.group(1)) - 1] = m.group(2)[:80]
            plan.labels = labels
    except Exception as err:
        log.warning("pulse_labels_failed", error=type(err).__name__)


async def finish(job: JobContext, plan: Plan) -> None:
    session = job.session
    ws = await session.get(Workspace, plan.workspace_id)
    pulse = await q.get_pulse(session, workspace_id=plan.workspace_id, pulse_id=plan.pulse_id)
    if ws is None or pulse is None or pulse.status != "open" or pulse.deadline > job.now:
        return
    if plan.short:
        if await q.claim_close(session, pulse_id=plan.pulse_id, from_status="open"):
            pulse.status = "short"
            session.add(pulse)
            pulse.answers = await q.answer_count(session, pulse_id=plan.pulse_id)
            minimum = await min_group_size(session, ws.id)
            t = job.translator(ws)
            await job.dm(
                ws,
                pulse.created_by,
                res.short_message(t, pulse, minimum),
                kind="pulse_short",
                dedupe_key=f"pulse:short:{pulse.id}:{pulse.deadline.isoformat()}",
            )
        return
    assert plan.data is not None
    if not await q.claim_close(session, pulse_id=plan.pulse_id, from_status="open"):
        return
    if not await job.claim(
        workspace_id=ws.id, channel_id=pulse.channel_id, kind="pulse_result", period=str(plan.pulse_id)
    ):
        return
    result = res.compute(plan.data, embeddings=plan.embeddings, labels=plan.labels)
    to_channel, to_starter = await flow.publish(session, ws, pulse, result, job.now)
    await job.post(ws, pulse.channel_id, to_channel, kind="pulse_result", dedupe_key=f"pulse:result:{pulse.id}")
    await job.dm(ws, pulse.created_by, to_starter, kind="pulse_result", dedupe_key=f"pulse:starter:{pulse.id}")


async def start_recurring(job: JobContext) -> None:
    """Recurring pulses (``pulse repeat``): on their day and time, on a working day, once."""
    for schedule, ws in await job.schedules("pulse"):
        for due in await job.due_for(schedule, ws):
            async with job.guard(schedule=schedule.id):
                await _start_one(job, schedule, ws, due.day, due.period)


async def _start_one(job: JobContext, schedule: Any, ws: Workspace, day: Any, period: str) -> None:
    session = job.session
    region = await flow.holiday_region(session, ws, schedule.channel_id)
    if not await feature_enabled(session, ws.id, "pulse") or not flow.working_day(day, region):
        return
    if await q.open_pulse(session, workspace_id=ws.id, channel_id=schedule.channel_id):
        return
    settings = schedule.settings or {}
    department = settings.get("department")
    people = await q.audience(session, workspace_id=ws.id, department=department)
    starter = schedule.created_by or ""
    if starter and starter not in people:
        people.append(starter)
    if len(people) < await min_group_size(session, ws.id):
        log.warning("pulse_recurring_too_few", workspace=ws.id, channel=schedule.channel_id, people=len(people))
        return
    if not await job.claim(workspace_id=ws.id, channel_id=schedule.channel_id, kind="pulse_start", period=period):
        return
    t = job.translator(ws)
    pulse = await q.create_pulse(
        session,
        workspace_id=ws.id,
        channel_id=schedule.channel_id,
        question=settings.get("question") or t("pulse.default_question"),
        created_by=starter,
        deadline=flow.add_working_days(job.now, int(settings.get("days") or flow.DEFAULT_WORKING_DAYS), ws, region),
        now=job.now,
        recipients=people,
        department=department,
        schedule_id=schedule.id,
    )
    pending: list[tuple[str, Any, str | None]] = []
    await flow.invite(
        session, ws, pulse, people, lambda uid, msg, dedupe_key=None: pending.append((uid, msg, dedupe_key))
    )
    for uid, msg, key in pending:
        await job.dm(ws, uid, msg, kind="pulse_invite", dedupe_key=key)
    await job.post(
        ws,
        schedule.channel_id,
        flow.announcement(t, ws, pulse),
        kind="pulse_start",
        dedupe_key=f"pulse:announce:{pulse.id}",
    )
