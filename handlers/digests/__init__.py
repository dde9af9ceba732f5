"""Team digests and leaderboard posts, on a schedule per channel, posted once.

``digest subscribe #team mon 09:00`` posts a weekly digest (kudos, values mix, cross-team share, top
givers and receivers, and whatever sections other features register, see
:mod:`handlers.digests.sections`); ``digest leaderboard #kudos month`` a monthly leaderboard;
``digest off``, ``digest preview``, ``digest status``. Schedules live in the ``schedule`` table and are
run by the scheduler (:mod:`bot.core.jobs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.core.commands import Arg
from bot.core.jobs import Days, JobContext, ScheduleError, is_zone, next_occurrence, parse_time, zone
from bot.core.messages import Block, Header, Markup, Message, Note, Section, channel_link
from bot.core.router import Context, Router, UserError, require_admin
from handlers.digests import feature_sections, kudos_sections
from handlers.digests.compose import (
    PERIODS,
    build_digest,
    build_leaderboard,
    days_for_period,
    describe_days,
    digest_span,
    fmt_span,
    fmt_when,
    leaderboard_span,
    running_span,
)
from handlers.digests.sections import DigestScope, digest_section, register_section, sections
from handlers.privacy_rules import min_group_size
from storage import scheduling as sq
from storage.models import Workspace
from storage.privacy import record_audit
from storage.scheduling import Schedule

__all__ = ["DigestScope", "digest_section", "register", "register_section", "sections"]

DIGEST, LEADERBOARD = "digest", "leaderboard"
DEFAULT_DAYS, DEFAULT_AT = "mon", "09:00"
CHANNEL_RE = re.compile(r"^(?:<#([A-Za-z0-9_.:@;\-]+)(?:\|[^>]*)?>|#([\w.\-]+))$")
PERIOD_WORDS = {
    "week": "week",
    "weekly": "week",
    "woche": "week",
    "wöchentlich": "week",
    "month": "month",
    "monthly": "month",
    "monat": "month",
    "monatlich": "month",
    "quarter": "quarter",
    "quarterly": "quarter",
    "quartal": "quarter",
    "quartalsweise": "quarter",
}
GIVERS_WORDS = {"givers", "givers-only", "geber", "gebende", "nur-geber"}
ALL_WORDS = {"all", "alle", "everyone"}


@dataclass
class ScheduleArgs:
    channel: str | None = None
    days: Days | None = None
    at: str | None = None
    timezone: str | None = None
    period: str | None = None
    givers_only: bool | None = None


def parse_args(words: list[str], *, allow_period: bool = False) -> ScheduleArgs:
    """``#channel``, days (``mon``, ``mon-fri``, ``daily``), a time (``09:00``), a zone (``Europe/Vienna``),
    and for leaderboards a period (``week|month|quarter``) and ``givers``."""
    out = ScheduleArgs()
    for word in words:
        low = word.lower()
        channel = CHANNEL_RE.match(word)
        if channel:
            out.channel = channel.group(1) or channel.group(2)
        elif allow_period and low in PERIOD_WORDS:
            out.period = PERIOD_WORDS[low]
        elif allow_period and low in GIVERS_WORDS | ALL_WORDS:
            out.givers_only = low in GIVERS_WORDS
        elif "/" in word:
            if not is_zone(word):
                raise UserError("digests.err.timezone", value=word)
            out.timezone = word
        elif any(ch.isdigit() for ch in word):
            try:
                out.at = parse_time(word).strftime("%H:%M")
            except ScheduleError:
                try:
                    out.days = Days.parse(word)
                except ScheduleError:
                    raise UserError("digests.err.time", value=word) from None
        else:
            try:
                out.days = Days.parse(word)
            except ScheduleError:
                raise UserError("digests.err.unknown_arg", arg=word) from None
    return out


def current_channel(ctx: Context) -> str | None:
    conv = ctx.event.conversation
    return conv.id if conv is not None and conv.kind in ("channel", "group") else None


def channel_or_here(ctx: Context, args: ScheduleArgs) -> str:
    channel = args.channel or current_channel(ctx)
    if channel is None:
        raise UserError("digests.err.need_channel")
    return channel


def schedule_zone(schedule: Schedule, workspace: Workspace) -> ZoneInfo:
    return zone(schedule.timezone, workspace.timezone)


def describe(ctx: Context, schedule: Schedule) -> str:
    tz = schedule_zone(schedule, ctx.workspace)
    days = Days.parse(schedule.days)
    nxt = next_occurrence(parse_time(schedule.at), days, tz, ctx.now)
    when = ctx.t("digests.when", days=describe_days(ctx.t, days), at=schedule.at, tz=tz.key)
    if nxt is not None:
        when = Markup(" · ").join([when, ctx.t("digests.next", when=fmt_when(ctx.t, nxt.due_at, tz))])
    return when


# --- commands -------------------------------------------------------------------------------------


async def _audit(ctx: Context, action: str, **details: object) -> None:
    """A schedule change enters the audit log in its own transaction (from chat and from the web alike)."""
    await record_audit(ctx.session, ctx.workspace.id, ctx.actor.user_id, action, None, details, at=ctx.now)


async def subscribe(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    args = parse_args(words)
    channel = channel_or_here(ctx, args)
    old = await sq.get_schedule(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel, kind=DIGEST)
    row = await sq.upsert_schedule(
        ctx.session,
        workspace_id=ctx.workspace.id,
        channel_id=channel,
        kind=DIGEST,
        at=args.at or (old.at if old else DEFAULT_AT),
        days=args.days.spec if args.days else (old.days if old else DEFAULT_DAYS),
        timezone=args.timezone or (old.timezone if old else None),
        now=ctx.now,
        created_by=ctx.actor.user_id,
    )
    await _audit(ctx, "digests.subscribe", channel=channel, days=row.days, at=row.at, timezone=row.timezone)
    ctx.ephemeral(ctx.t("digests.subscribed", channel=channel_link(channel), when=describe(ctx, row)))


BOARD_ACTIONS = {"off": "off", "aus": "off", "stop": "off", "preview": "preview", "vorschau": "preview"}


async def leaderboard(ctx: Context, action: str | None, words: list[str]) -> None:
    """``digest leaderboard #kanal …`` sets the post up; ``off``/``preview`` (``action``) turn it off or show it."""
    if action == "off":
        await turn_off(ctx, words, kind=LEADERBOARD)
        return
    if action == "preview":
        await preview_leaderboard(ctx, words)
        return
    require_admin(ctx)
    args = parse_args(words, allow_period=True)
    if args.days is not None:
        raise UserError("digests.err.board_days")
    channel = channel_or_here(ctx, args)
    old = await sq.get_schedule(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel, kind=LEADERBOARD)
    period = args.period or (str(old.settings.get("period", "month")) if old else "month")
    givers = args.givers_only if args.givers_only is not None else bool(old and old.settings.get("givers_only"))
    row = await sq.upsert_schedule(
        ctx.session,
        workspace_id=ctx.workspace.id,
        channel_id=channel,
        kind=LEADERBOARD,
        at=args.at or (old.at if old else DEFAULT_AT),
        days=days_for_period(period).spec,
        timezone=args.timezone or (old.timezone if old else None),
        settings={"period": period, "givers_only": givers},
        now=ctx.now,
        created_by=ctx.actor.user_id,
    )
    await _audit(ctx, "digests.leaderboard", channel=channel, period=period, at=row.at, timezone=row.timezone)
    mode = ctx.t("digests.board.mode_givers") if givers else ctx.t("digests.board.mode_all")
    ctx.ephemeral(
        ctx.t(
            "digests.board.subscribed",
            channel=channel_link(channel),
            every=ctx.t(f"digests.every.{period}"),
            mode=mode,
            when=describe(ctx, row),
        )
    )


async def turn_off(ctx: Context, words: list[str], *, kind: str) -> None:
    require_admin(ctx)
    args = parse_args(words)
    count = await sq.disable_schedules(
        ctx.session, workspace_id=ctx.workspace.id, kind=kind, now=ctx.now, channel_id=args.channel
    )
    if not count:
        raise UserError(f"digests.err.nothing_on_{kind}")
    await _audit(ctx, f"digests.off_{kind}", channel=args.channel)
    where = channel_link(args.channel) if args.channel else ctx.t("digests.everywhere")
    ctx.ephemeral(ctx.t(f"digests.off_{kind}", where=where))


async def preview_digest(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    args = parse_args(words)
    channel = channel_or_here(ctx, args)
    ws = ctx.workspace
    row = await sq.get_schedule(ctx.session, workspace_id=ws.id, channel_id=channel, kind=DIGEST)
    at = parse_time(row.at if row and row.enabled else DEFAULT_AT)
    days = Days.parse(row.days if row and row.enabled else DEFAULT_DAYS)
    tz = zone(row.timezone if row else None, ws.timezone)
    nxt = next_occurrence(at, days, tz, ctx.now)
    assert nxt is not None
    s = digest_span(days, nxt.day, tz)
    scope = DigestScope(
        session=ctx.session,
        workspace=ws,
        channel_id=channel,
        start=s.start,
        end=min(s.end, ctx.now + timedelta(microseconds=1)),  # include what happened this instant
        t=ctx.t,
        now=ctx.now,
        preview=True,
        services=ctx.services,
        min_size=await min_group_size(ctx.session, ws.id),
    )
    message = await build_digest(scope, fmt_span(ctx.t, s))
    key = "digests.preview_note" if row and row.enabled else "digests.preview_note_unsubscribed"
    message.blocks.append(Note(text=ctx.t(key, channel=channel_link(channel), when=fmt_when(ctx.t, nxt.due_at, tz))))
    ctx.ephemeral(message)


async def preview_leaderboard(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    args = parse_args(words, allow_period=True)
    channel = channel_or_here(ctx, args)
    ws = ctx.workspace
    row = await sq.get_schedule(ctx.session, workspace_id=ws.id, channel_id=channel, kind=LEADERBOARD)
    period = args.period or (str(row.settings.get("period", "month")) if row else "month")
    givers = args.givers_only if args.givers_only is not None else bool(row and row.settings.get("givers_only"))
    tz = zone(row.timezone if row else None, ws.timezone)
    s = running_span(period, ctx.now, tz)
    message = await build_leaderboard(ctx.session, ws, ctx.t, period=period, s=s, givers_only=givers, preview=True)
    ctx.ephemeral(message)


async def status(ctx: Context) -> None:
    rows = await sq.list_schedules(ctx.session, workspace_id=ctx.workspace.id, enabled=True)
    mine = [r for r in rows if r.kind in (DIGEST, LEADERBOARD)]
    if not mine:
        ctx.ephemeral(ctx.t("digests.status.none"))
        return
    lines = []
    for r in mine:
        label = ctx.t(f"digests.status.{r.kind}")
        if r.kind == LEADERBOARD:
            details = [ctx.t("digests.period." + str(r.settings.get("period", "month")))]
            if r.settings.get("givers_only"):
                details.append(ctx.t("digests.board.mode_givers"))
            label += f" ({', '.join(details)})"
        lines.append(f"• {label} → {channel_link(r.channel_id)}: {describe(ctx, r)}")
    ctx.ephemeral(Message(blocks=[Header(text=ctx.t("digests.status.title")), Section(text="\n".join(lines))]))


# --- scheduled posts --------------------------------------------------------------------------------


async def post_scheduled(job: JobContext) -> None:
    """Digests and leaderboard posts that fell due in this tick's window (one query for both); the
    job's gate leaves out digests where ``digests`` is off and leaderboard posts where ``leaderboards`` is."""
    for schedule, ws in await job.schedules(DIGEST, LEADERBOARD, features={LEADERBOARD: "leaderboards"}):
        if schedule.kind == DIGEST:
            await post_digest(job, schedule, ws)
        else:
            await post_leaderboard(job, schedule, ws)


async def post_digest(job: JobContext, schedule: Schedule, ws: Workspace) -> None:
    tz = schedule_zone(schedule, ws)
    for due in await job.due_for(schedule, ws):
        async with job.guard(schedule=schedule.id, period=due.period):
            if not await job.claim(workspace_id=ws.id, channel_id=schedule.channel_id, kind=DIGEST, period=due.period):
                continue
            s = digest_span(Days.parse(schedule.days), due.day, tz)
            t = job.translator(ws)
            scope = DigestScope(
                session=job.session,
                workspace=ws,
                channel_id=schedule.channel_id,
                start=s.start,
                end=s.end,
                t=t,
                now=job.now,
                services=job.services,
                min_size=await min_group_size(job.session, ws.id),
            )
            message = await build_digest(scope, fmt_span(t, s))
            await job.post(
                ws,
                schedule.channel_id,
                message,
                kind=DIGEST,
                dedupe_key=f"{DIGEST}:{ws.id}:{schedule.channel_id}:{due.period}",
            )


async def post_leaderboard(job: JobContext, schedule: Schedule, ws: Workspace) -> None:
    tz = schedule_zone(schedule, ws)
    period = str(schedule.settings.get("period", "month"))
    if period not in PERIODS:
        period = "month"
    for due in await job.due_for(schedule, ws):
        s = leaderboard_span(period, due.day, tz)
        key = f"{period}:{s.first.isoformat()}"
        async with job.guard(schedule=schedule.id, period=key):
            if not await job.claim(workspace_id=ws.id, channel_id=schedule.channel_id, kind=LEADERBOARD, period=key):
                continue
            t = job.translator(ws)
            message = await build_leaderboard(
                job.session, ws, t, period=period, s=s, givers_only=bool(schedule.settings.get("givers_only"))
            )
            await job.post(
                ws,
                schedule.channel_id,
                message,
                kind=LEADERBOARD,
                dedupe_key=f"{LEADERBOARD}:{ws.id}:{schedule.channel_id}:{key}",
            )


async def digests_intro(ctx: Context) -> list[Block]:
    """Who is named in digests, above the generated list of ``digest`` subcommands."""
    return [Section(text=ctx.t("digests.help.intro"))]


def register(router: Router) -> None:
    kudos_sections.register()
    feature_sections.register()

    digest = router.command(
        "digest",
        aliases=("digests", "zusammenfassung"),
        help_key="digests.help.short",
        feature="digests",
        default="help",
        intro=digests_intro,
    )
    words = (Arg.text(optional=True, label_key="digests.help.arg.where"),)

    @digest.sub(
        "subscribe", de="abonnieren", aliases=("on", "an", "set"), args=words, help_key="digests.help.sub.subscribe"
    )
    async def _subscribe(ctx: Context) -> None:
        await subscribe(ctx, ctx.args)

    @digest.sub("off", de="aus", aliases=("stop",), args=words, help_key="digests.help.sub.off")
    async def _off(ctx: Context) -> None:
        await turn_off(ctx, ctx.args, kind=DIGEST)

    @digest.sub("preview", de="vorschau", args=words, help_key="digests.help.sub.preview")
    async def _preview(ctx: Context) -> None:
        await preview_digest(ctx, ctx.args)

    @digest.sub(
        "leaderboard",
        de="rangliste",
        aliases=("board",),
        feature="leaderboards",
        args=(Arg.choice("action", BOARD_ACTIONS, optional=True, label_key="digests.help.arg.board_action"), *words),
        help_key="digests.help.sub.leaderboard",
    )
    async def _leaderboard(ctx: Context) -> None:
        action = ctx.params.get("action")
        await leaderboard(ctx, action, ctx.args[1:] if action else ctx.args)

    @digest.sub("status", de="liste", aliases=("list",), help_key="digests.help.sub.status")
    async def _status(ctx: Context) -> None:
        await status(ctx)

    router.schedule("digests", feature="digests")(post_scheduled)
