"""Starting a pulse, answering it, closing and extending it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import structlog

from bot.core.events import CommandEvent
from bot.core.i18n import Translator, translator_for
from bot.core.jobs import local_instant, zone
from bot.core.messages import Actions, Button, Form, Header, Input, Message, Note, Section, channel_link, user_text
from bot.core.router import Context, UserError, require_admin
from handlers.privacy_rules import language_model, min_group_size
from handlers.prompts.schedule import holiday_name
from handlers.pulse import result as res
from storage import core
from storage import prompts as prompt_store
from storage import pulse as q
from storage.models import Workspace
from storage.pulse import Pulse

log = structlog.get_logger("starling.pulse")

MAX_ANSWER = 1000
MAX_QUESTION = 500
DEFAULT_WORKING_DAYS = 3
MAX_WORKING_DAYS = 30
CLOSE_AT = time(17, 0)
CHANNEL_RE = re.compile(r"^(?:<#([A-Za-z0-9_.:@;\-]+)(?:\|[^>]*)?>|#([\w.\-]+))$")
DATE_RE = re.compile(r"^(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})\.(\d{1,2})\.(\d{4})?)$")
DAYS_WORDS = {"days", "tage", "tagen", "werktage"}
UNTIL_WORDS = {"until", "bis"}
TEAM_WORDS = {"team", "abteilung", "department", "dept"}
NAMED_WORDS = {"--named", "--name", "--mit-namen", "named:", "mit-namen:"}


def channel_of(word: str) -> str | None:
    m = CHANNEL_RE.match(word)
    return (m.group(1) or m.group(2)) if m else None


def current_channel(ctx: Context) -> str | None:
    conv = ctx.event.conversation
    return conv.id if conv is not None and conv.kind in ("channel", "group", "console") else None


def working_day(day: date, region: str | None) -> bool:
    return day.weekday() < 5 and holiday_name(region, day) is None


async def holiday_region(session: Any, ws: Workspace, channel_id: str) -> str | None:
    """The workspace's holiday region, else the one chosen for the channel's daily prompt."""
    if ws.holiday_region:
        return ws.holiday_region
    sub = await prompt_store.get_subscription(session, workspace_id=ws.id, channel_id=channel_id)
    return sub.holiday_region if sub is not None else None


def add_working_days(start: datetime, n: int, ws: Workspace, region: str | None = None) -> datetime:
    """The same local time ``n`` working days later (weekends and the region's public holidays skipped)."""
    tz = zone(ws.timezone)
    local = start.astimezone(tz)
    day, counted = local.date(), 0
    while counted < n:
        day += timedelta(days=1)
        if working_day(day, region or ws.holiday_region):
            counted += 1
    return local_instant(day, local.time().replace(second=0, microsecond=0), tz)


def parse_date(word: str, today: date) -> date | None:
    m = DATE_RE.match(word)
    if not m:
        return None
    try:
        if m.group(1):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        year = int(m.group(6)) if m.group(6) else today.year
        found = date(year, int(m.group(5)), int(m.group(4)))
        return found if m.group(6) or found >= today else date(year + 1, found.month, found.day)
    except ValueError:
        return None


@dataclass
class StartArgs:
    channel: str | None = None
    department: str | None = None
    working_days: int | None = None
    until: date | None = None
    question: str = ""


def parse_start(words: list[str], today: date) -> StartArgs:
    """``#channel``, ``team <department>``, ``days <n>`` or ``until <date>``, and the rest as the question."""
    out = StartArgs()
    rest: list[str] = []
    i = 0
    while i < len(words):
        word, low = words[i], words[i].lower()
        nxt = words[i + 1] if i + 1 < len(words) else None
        if not rest and out.channel is None and channel_of(word):
            out.channel = channel_of(word)
        elif not rest and low in DAYS_WORDS and nxt is not None:
            if not nxt.isdigit() or not 1 <= int(nxt) <= MAX_WORKING_DAYS:
                raise UserError("pulse.err.days", value=nxt, max=MAX_WORKING_DAYS)
            out.working_days = int(nxt)
            i += 1
        elif not rest and low in UNTIL_WORDS and nxt is not None:
            found = parse_date(nxt, today)
            if found is None or found <= today:
                raise UserError("pulse.err.until", value=nxt)
            out.until = found
            i += 1
        elif not rest and low in TEAM_WORDS and nxt is not None:
            out.department = nxt
            i += 1
        else:
            rest.append(word)
        i += 1
    out.question = " ".join(rest).strip()
    return out


def answer_form(t: Translator, pulse: Pulse, *, initial: str | None = None) -> Form:
    return Form(
        title=t("pulse.form.title"),
        action_id="pulse:answer",
        submit_label=t("pulse.form.submit"),
        private_metadata=str(pulse.id),
        inputs=[
            Input(
                id="answer",
                label=pulse.question[:150],
                type="multiline",
                max_length=MAX_ANSWER,
                placeholder=t("pulse.form.placeholder"),
                initial=initial,
            ),
            Input(id="named", label=t("pulse.form.named"), type="checkbox", required=False),
        ],
    )


def fmt_deadline(t: Translator, when: datetime, ws: Workspace) -> str:
    local = when.astimezone(zone(ws.timezone))
    return local.strftime("%d.%m.%Y, %H:%M Uhr") if t.lang == "de" else local.strftime("%a %d %b %Y, %H:%M")


def invitation(t: Translator, ws: Workspace, pulse: Pulse, *, starter: bool) -> Message:
    deadline = fmt_deadline(t, pulse.deadline, ws)
    intro = t("pulse.invite.starter" if starter else "pulse.invite.member", channel=channel_link(pulse.channel_id))
    return Message(
        blocks=[
            Header(text=t("pulse.invite.title")),
            Section(text=intro),
            Section(text="*" + user_text(pulse.question) + "*"),
            Actions(
                buttons=[
                    Button(
                        label=t("pulse.btn.answer"),
                        action_id=f"pulse:form:{pulse.id}",
                        value=str(pulse.id),
                        style="primary",
                    )
                ]
            ),
            Note(text=t("pulse.invite.how", deadline=deadline, id=pulse.id)),
            Note(text=t("pulse.invite.anonymous")),
        ],
        text=t("pulse.invite.title") + ": " + user_text(pulse.question),
    )


async def start(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    ws = ctx.workspace
    local_today = ctx.now.astimezone(zone(ws.timezone)).date()
    args = parse_start(words, local_today)
    channel = args.channel or current_channel(ctx)
    if channel is None:
        raise UserError("pulse.err.need_channel")
    if len(args.question) > MAX_QUESTION:
        raise UserError("pulse.err.question_long", max=MAX_QUESTION)
    question = args.question or ctx.t("pulse.default_question")
    if await q.open_pulse(ctx.session, workspace_id=ws.id, channel_id=channel):
        raise UserError("pulse.err.already_open", channel=channel_link(channel))
    department = None
    if args.department:
        known = await q.departments(ctx.session, workspace_id=ws.id)
        department = next((d for d in known if d.lower() == args.department.lower()), None)
        if department is None:
            raise UserError(
                "pulse.err.department", department=user_text(args.department), known=", ".join(known) or "—"
            )
    people = await q.audience(ctx.session, workspace_id=ws.id, department=department)
    if ctx.actor.user_id not in people:
        people.append(ctx.actor.user_id)
    minimum = await min_group_size(ctx.session, ws.id)
    if len(people) < minimum:
        raise UserError("pulse.err.too_few", people=len(people), min=minimum)
    if args.until is not None:
        deadline = local_instant(args.until, CLOSE_AT, zone(ws.timezone))
    else:
        region = await holiday_region(ctx.session, ws, channel)
        deadline = add_working_days(ctx.now, args.working_days or DEFAULT_WORKING_DAYS, ws, region)
    pulse = await q.create_pulse(
        ctx.session,
        workspace_id=ws.id,
        channel_id=channel,
        question=question,
        created_by=ctx.actor.user_id,
        deadline=deadline,
        now=ctx.now,
        recipients=people,
        department=department,
    )
    await invite(ctx.session, ws, pulse, people, ctx.dm)
    ctx.post(channel, announcement(t_channel(ctx), ws, pulse), dedupe_key=f"pulse:announce:{pulse.id}")
    ctx.ephemeral(
        Message(
            blocks=[
                Section(
                    text=ctx.t(
                        "pulse.started",
                        id=pulse.id,
                        channel=channel_link(channel),
                        people=len(people),
                        deadline=fmt_deadline(ctx.t, deadline, ws),
                    )
                ),
                Section(text=ctx.t("pulse.answer_first")),
                Actions(
                    buttons=[
                        Button(
                            label=ctx.t("pulse.btn.answer"),
                            action_id=f"pulse:form:{pulse.id}",
                            value=str(pulse.id),
                            style="primary",
                        )
                    ]
                ),
            ],
            text=ctx.t(
                "pulse.started",
                id=pulse.id,
                channel=channel_link(channel),
                people=len(people),
                deadline=fmt_deadline(ctx.t, deadline, ws),
            ),
        )
    )
    log.info("pulse_started", workspace=ws.id, pulse=pulse.id, audience=len(people))


def announcement(t: Translator, ws: Workspace, pulse: Pulse) -> Message:
    return Message(
        blocks=[
            Header(text=t("pulse.announce.title")),
            Section(
                text=t(
                    "pulse.announce.text",
                    question=user_text(pulse.question),
                    people=pulse.audience,
                    deadline=fmt_deadline(t, pulse.deadline, ws),
                )
            ),
            Note(text=t("pulse.invite.anonymous")),
        ],
        text=t("pulse.announce.title"),
    )


def t_channel(ctx: Context) -> Translator:
    """Channel posts speak the workspace's language (not the actor's)."""
    return ctx.translator_for_member(None)


async def invite(session: Any, ws: Workspace, pulse: Pulse, people: list[str], dm: Any) -> None:
    """The question privately to each person (the starter's copy asks them to answer first)."""
    for uid in people:
        member = await core.get_member(session, workspace_id=ws.id, user_id=uid)
        t = translator_for(member.locale if member else None, ws.locale, tone=ws.tone)
        dm(uid, invitation(t, ws, pulse, starter=uid == pulse.created_by), dedupe_key=f"pulse:invite:{pulse.id}:{uid}")


async def target_pulse(ctx: Context, raw_id: str | None = None) -> Pulse:
    """The open pulse this person was asked in: by id, by the current channel, else the newest."""
    ws = ctx.workspace
    if raw_id is not None and raw_id.lstrip("#").isdigit():
        found = await q.get_pulse(ctx.session, workspace_id=ws.id, pulse_id=int(raw_id.lstrip("#")))
        if found is None or found.status not in ("open", "short"):
            raise UserError("pulse.err.closed")
        return found
    mine = await q.pulses_for(ctx.session, workspace_id=ws.id, user_id=ctx.actor.user_id)
    here = current_channel(ctx)
    for p in mine:
        if p.channel_id == here:
            return p
    if mine:
        return mine[0]
    raise UserError("pulse.err.no_open")


def check_answer(text: str) -> str:
    text = text.strip()
    if not text:
        raise UserError("pulse.err.empty")
    if len(text) > MAX_ANSWER:
        raise UserError("pulse.err.too_long", max=MAX_ANSWER, length=len(text))
    return text


async def answer(ctx: Context, text: str, *, named: bool = False, pulse: Pulse | None = None) -> None:
    text = check_answer(text)
    if pulse is None:
        pulse = await target_pulse(ctx)
    assert pulse.id is not None
    if pulse.status not in ("open", "short"):
        raise UserError("pulse.err.closed")
    if not await q.is_recipient(ctx.session, pulse_id=pulse.id, user_id=ctx.actor.user_id):
        # Someone who joined after the start may answer too: they are added to the asked.
        await q.add_recipient(ctx.session, pulse_id=pulse.id, user_id=ctx.actor.user_id)
    local_day = ctx.now.astimezone(zone(ctx.workspace.timezone)).date()
    changed = await q.save_answer(
        ctx.session, pulse=pulse, user_id=ctx.actor.user_id, text=text, named=named, today=local_day
    )
    key = "pulse.answered.changed" if changed else "pulse.answered.new"
    thanks = ctx.t(key, deadline=fmt_deadline(ctx.t, pulse.deadline, ctx.workspace))
    ctx.ephemeral(
        Message(
            blocks=[
                Section(text=thanks),
                Note(text=ctx.t("pulse.answered.named" if named else "pulse.answered.anonymous")),
            ],
            text=thanks,
        )
    )
    # No log line names the person or the moment of an anonymous answer.


async def close(ctx: Context, words: list[str]) -> None:
    """``pulse close [#channel]``: the starter or an admin closes now."""
    channel = next((c for c in (channel_of(w) for w in words) if c), None) or current_channel(ctx)
    pulse = await q.open_pulse(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel or "")
    if pulse is None:
        mine = [p for p in await q.pulses_for(ctx.session, workspace_id=ctx.workspace.id, user_id=ctx.actor.user_id)]
        pulse = next((p for p in mine if p.created_by == ctx.actor.user_id), None)
    if pulse is None:
        raise UserError("pulse.err.nothing_to_close")
    if pulse.created_by != ctx.actor.user_id:
        require_admin(ctx)
    assert pulse.id is not None
    count = await q.answer_count(ctx.session, pulse_id=pulse.id)
    if count == 0:
        raise UserError("pulse.err.close_empty")
    minimum = await min_group_size(ctx.session, ctx.workspace.id)
    if count < minimum:
        pulse.answers = count
        ctx.ephemeral(res.short_message(ctx.t, pulse, minimum))
        return
    if await language_model(ctx) is not None:
        # The model is asked outside every transaction: the scheduler's close does it within a minute.
        pulse.deadline, pulse.status = ctx.now, "open"
        ctx.session.add(pulse)
        await ctx.session.flush()
        ctx.ephemeral(ctx.t("pulse.closing_soon"))
        return
    if not await q.claim_close(ctx.session, pulse_id=pulse.id, from_status=pulse.status):
        raise UserError("pulse.err.closed")
    data = await res.gather(ctx.session, pulse)
    result = res.compute(data)
    to_channel, to_starter = await publish(ctx.session, ctx.workspace, pulse, result, ctx.now)
    ctx.post(pulse.channel_id, to_channel, dedupe_key=f"pulse:result:{pulse.id}")
    ctx.dm(pulse.created_by, to_starter, dedupe_key=f"pulse:starter:{pulse.id}")
    ctx.ephemeral(ctx.t("pulse.closed", channel=channel_link(pulse.channel_id)))


async def publish(
    session: Any, ws: Workspace, pulse: Pulse, result: dict[str, Any], now: datetime
) -> tuple[Message, Message]:
    """Store the result and seal the pulse; returns the channel post and the starter's fuller view."""
    res.finish(pulse, result, now)
    await q.seal(session, pulse=pulse, status="closed", now=now)
    t_ws = translator_for(None, ws.locale, tone=ws.tone)
    starter = await core.get_member(session, workspace_id=ws.id, user_id=pulse.created_by)
    t_starter = translator_for(starter.locale if starter else None, ws.locale, tone=ws.tone)
    log.info("pulse_closed", workspace=ws.id, pulse=pulse.id, answers=result["answers"], score=result["score"])
    return res.channel_message(t_ws, pulse, result), res.starter_message(t_starter, ws, pulse, result)


async def extend(ctx: Context, words: list[str], *, pulse_id: int | None = None) -> None:
    days = next((int(w) for w in words if w.isdigit()), DEFAULT_WORKING_DAYS)
    if not 1 <= days <= MAX_WORKING_DAYS:
        raise UserError("pulse.err.days", value=str(days), max=MAX_WORKING_DAYS)
    if pulse_id is not None:
        pulse = await q.get_pulse(ctx.session, workspace_id=ctx.workspace.id, pulse_id=pulse_id)
    else:
        channel = next((c for c in (channel_of(w) for w in words) if c), None) or current_channel(ctx)
        pulse = await q.open_pulse(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel or "")
    if pulse is None or pulse.status not in ("open", "short"):
        raise UserError("pulse.err.nothing_to_close")
    if pulse.created_by != ctx.actor.user_id:
        require_admin(ctx)
    base = max(ctx.now, pulse.deadline)
    region = await holiday_region(ctx.session, ctx.workspace, pulse.channel_id)
    pulse.deadline = add_working_days(base, days, ctx.workspace, region)
    pulse.status = "open"
    ctx.session.add(pulse)
    await ctx.session.flush()
    ctx.ephemeral(ctx.t("pulse.extended", deadline=fmt_deadline(ctx.t, pulse.deadline, ctx.workspace)))


async def status(ctx: Context) -> None:
    channel = current_channel(ctx)
    ws = ctx.workspace
    pulse = await q.open_pulse(ctx.session, workspace_id=ws.id, channel_id=channel or "")
    if pulse is None:
        mine = await q.pulses_for(ctx.session, workspace_id=ws.id, user_id=ctx.actor.user_id)
        pulse = mine[0] if mine else None
    if pulse is None:
        ctx.ephemeral(ctx.t("pulse.status.none"))
        return
    assert pulse.id is not None
    count = await q.answer_count(ctx.session, pulse_id=pulse.id)
    ctx.ephemeral(
        ctx.t(
            "pulse.status.open",
            id=pulse.id,
            channel=channel_link(pulse.channel_id),
            question=user_text(pulse.question),
            answers=count,
            audience=pulse.audience,
            deadline=fmt_deadline(ctx.t, pulse.deadline, ws),
        )
    )


def command_text(ctx: Context) -> str:
    """The text after ``pulse answer`` as typed (line breaks kept)."""
    assert isinstance(ctx.event, CommandEvent)
    text = ctx.event.text.strip()
    parts = text.split(None, 1)
    return parts[1] if len(parts) > 1 else ""
