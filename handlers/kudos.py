"""Peer kudos tied to company values: give, undo, leaderboards, personal stats, opt-out."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from rapidfuzz import process

from bot.core.commands import Arg, ArgError, parse_args
from bot.core.events import CommandEvent, MessageDeletedEvent, MessageEvent, ReactionEvent, mention_ids
from bot.core.i18n import Translator
from bot.core.jobs import local_day, zone
from bot.core.messages import Bar, BarList, Block, Fields, Fold, Header, Message, Note, Section, mention, user_text
from bot.core.router import Context, Router, UserError
from handlers.privacy_rules import individual_boards, require_feature, team_board
from storage import core, moments
from storage import kudos as q
from storage.models import CompanyValue, Kudos, Member, Workspace

# A kudos may point at the customer moment it is for: ``goodwill:12``, ``answer:34``, ``quote:5``, ``suggestion:7``.
MOMENT_WORDS = {
    "goodwill": "goodwill",
    "kulanz": "goodwill",
    "kulanzfall": "goodwill",
    "answer": "answer",
    "antwort": "answer",
    "quote": "quote",
    "zitat": "quote",
    "suggestion": "suggestion",
    "vorschlag": "suggestion",
}
MOMENT_RE = re.compile(r"(?i)(?<![\w:])(" + "|".join(MOMENT_WORDS) + r"):#?(\d{1,9})\b")
HASHTAG_RE = re.compile(r"(?<![\w&])#([^\W_][\w\-]{0,39})", re.UNICODE)
MENTION_TOKEN_RE = re.compile(r"<@[A-Za-z0-9_.:\-]+>")
DIRECTION_WORDS = {
    "given": "given",
    "gegeben": "given",
    "givers": "given",
    "received": "received",
    "erhalten": "received",
}


@dataclass
class ParsedKudos:
    recipients: list[str]
    reason: str
    tags: list[str] = field(default_factory=list)
    emoji_count: int = 0
    moment: tuple[str, int] | None = None  # (kind, id) of the customer moment it is for


def parse_kudos(text: str, emoji: str | None = None) -> ParsedKudos:
    """Split neutral kudos text into recipients (``<@id>`` tokens), hashtags, a customer moment and the reason.

    Never raises: any input yields a (possibly empty) result.
    """
    recipients = mention_ids(text)
    tags = [t.lower() for t in HASHTAG_RE.findall(text)]
    emoji_count = text.count(f":{emoji}:") if emoji else 0
    found = MOMENT_RE.search(text)
    moment = (MOMENT_WORDS[found.group(1).lower()], int(found.group(2))) if found else None
    reason = MOMENT_RE.sub(" ", text)
    reason = MENTION_TOKEN_RE.sub(" ", reason)
    reason = HASHTAG_RE.sub(" ", reason)
    if emoji:
        reason = reason.replace(f":{emoji}:", " ")
    reason = " ".join(reason.split())
    return ParsedKudos(recipients, reason.strip(" ,.:;-"), tags, emoji_count, moment)


def period_start(period: str, now: datetime, tz: str) -> datetime | None:
    """Start of the current week (Monday) / month / quarter / year in the workspace's time zone."""
    local = now.astimezone(zone(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return midnight - timedelta(days=local.weekday())
    if period == "month":
        return midnight.replace(day=1)
    if period == "quarter":
        return midnight.replace(month=3 * ((local.month - 1) // 3) + 1, day=1)
    if period == "year":
        return midnight.replace(month=1, day=1)
    return None


def match_value(tag: str, values: list[CompanyValue]) -> CompanyValue | None:
    norm = tag.lower().replace("-", "").replace("_", "")
    for v in values:
        names = {v.tag.lower(), *[a.lower() for a in v.aliases]}
        labels = {v.label_de.lower().replace(" ", ""), v.label_en.lower().replace(" ", "")}
        if norm in names or norm in labels:
            return v
    return None


def unknown_value(tag: str, values: list[CompanyValue]) -> NoReturn:
    """Refuse an unknown tag, with the closest tag or alias as a hint when one is close enough."""
    names = [name for v in values for name in (v.tag, *v.aliases)]
    close = process.extractOne(tag, names, score_cutoff=60)
    known = ", ".join(f"#{v.tag}" for v in values)
    if close:
        raise UserError("kudos.err.unknown_value_close", tag=user_text(tag), closest=close[0], values=known)
    raise UserError("kudos.err.unknown_value", tag=user_text(tag), values=known)


def label_of(t: Translator, v: CompanyValue | None, tag: str | None = None) -> str:
    """A value's name in the reader's language."""
    if v is None:
        return t("kudos.no_value") if tag is None else user_text(f"#{tag}")
    return user_text(v.label_de if t.lang == "de" else v.label_en)


def value_label(ctx: Context, v: CompanyValue | None, tag: str | None = None) -> str:
    return label_of(ctx.t, v, tag)


def name_of(member: Member | None, user_id: str) -> str:
    if member is None:
        return user_text(user_id)
    return user_text(member.display_name or member.handle or user_id)


def budget_refusal(ctx: Context, *, cost: int, left: int) -> NoReturn:
    """Budget spent, or not enough left for this kudos."""
    budget = ctx.workspace.daily_budget
    if left <= 0:
        raise UserError("kudos.err.budget", budget=ctx.t.plural("kudos.points_dat", budget))
    raise UserError(
        "kudos.err.budget_short", cost=ctx.t.plural("kudos.points", cost), left=ctx.t.plural("kudos.points", left)
    )


def pair_refusal(ctx: Context, person: Member, *, given: int) -> NoReturn:
    cap = ctx.workspace.pair_daily_cap
    raise UserError(
        "kudos.err.pair_cap",
        name=user_text(name_of(person, person.user_id)),
        cap=ctx.t.plural("kudos.points", cap),
        given=ctx.t.plural("kudos.points", given),
    )


# --- giving ------------------------------------------------------------------------------------------


def moment_line(t: Translator, m: moments.Moment) -> str:
    """The customer moment a kudos is for, in one line."""
    if m.kind == "goodwill" and m.amount is not None and m.currency:
        from handlers.goodwill.money import fmt

        return t("kudos.moment.goodwill", id=m.id, amount=fmt(t, m.amount, m.currency))
    snippet = m.text if len(m.text) <= 80 else m.text[:79].rstrip() + "…"
    return t(f"kudos.moment.{m.kind}", id=m.id, text=user_text(snippet))


async def find_moment(ctx: Context, kind: str, moment_id: int) -> moments.Moment:
    found = await moments.find(ctx.session, workspace_id=ctx.workspace.id, kind=kind, moment_id=moment_id)
    if found is None:
        raise UserError("kudos.err.unknown_moment", moment=ctx.t(f"kudos.moment_one.{kind}"), id=moment_id)
    if kind == "suggestion" and found.status != "done":
        raise UserError("kudos.err.moment_not_done", id=moment_id)
    return found


async def give(
    ctx: Context, text: str, *, source: str, message_id: str | None = None, moment: tuple[str, int] | None = None
) -> None:
    """A kudos from the actor: checked, charged to their budget, stored, celebrated, and confirmed to them.
    ``moment`` (or a ``goodwill:12`` … in the text) is the customer moment it is for."""
    await require_feature(ctx, "kudos")
    refuse_guest_giver(ctx)
    parsed, value = await _checked(ctx, text)
    link = moment or parsed.moment
    pointed = await find_moment(ctx, *link) if link else None
    receivers = await _receivers(ctx, parsed.recipients)
    points = max(1, parsed.emoji_count)
    day, left = await _charge(ctx, receivers, points)
    batch = uuid.uuid4().hex
    conv = ctx.event.conversation.id if ctx.event.conversation else None
    giver_dept = ctx.member.department
    await q.add_kudos(
        ctx.session,
        [
            {
                "workspace_id": ctx.workspace.id,
                "batch_id": batch,
                "giver_id": ctx.actor.user_id,
                "receiver_id": person.user_id,
                "points": points,
                "value_tag": value.tag if value else None,
                "reason": parsed.reason,
                "cross_team": bool(giver_dept and person.department and giver_dept != person.department),
                "source": source,
                "conversation_id": conv,
                "message_id": message_id,
                "moment_kind": pointed.kind if pointed else None,
                "moment_id": pointed.id if pointed else None,
                "giver_department": giver_dept,
                "receiver_department": person.department,
                "giver_day": day,
                "created_at": ctx.now,
            }
            for person in receivers
        ],
    )
    _announce(ctx, parsed, value, receivers, points=points, left=left, batch=batch, source=source, pointed=pointed)


async def _checked(ctx: Context, text: str) -> tuple[ParsedKudos, CompanyValue | None]:
    """The parsed kudos and its company value, or a refusal for what a person can fix in their text."""
    ws = ctx.workspace
    parsed = parse_kudos(text, ws.kudos_emoji)
    if len(text) > ws.max_text_length:
        raise UserError("kudos.err.too_long", max=ws.max_text_length, length=len(text))
    if not parsed.recipients:
        raise UserError("kudos.err.no_recipient")
    if ctx.actor.user_id in parsed.recipients:
        raise UserError("kudos.err.self")
    if len(parsed.recipients) > ws.max_recipients:
        raise UserError("kudos.err.too_many", max=ws.max_recipients)
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    value: CompanyValue | None = None
    for tag in parsed.tags:
        found = match_value(tag, values)
        if found is None:
            unknown_value(tag, values)
        value = value or found
    if len(parsed.reason) < ws.min_reason_length:
        raise UserError("kudos.err.reason_short", min=ws.min_reason_length)
    return parsed, value


def refuse_guest_giver(ctx: Context) -> None:
    """Guests (Slack restricted accounts, Teams guests) take part in the chat, not in kudos."""
    if ctx.member.is_guest or ctx.actor.is_guest:
        raise UserError("kudos.err.guest_giver")


async def _receivers(ctx: Context, user_ids: list[str]) -> list[Member]:
    receivers: list[Member] = []
    for uid in user_ids:
        person = await ctx.person(uid)
        if person is None:
            raise UserError("kudos.err.unknown_user", user=uid)
        if person.is_bot:
            raise UserError("kudos.err.bot", name=user_text(name_of(person, uid)))
        if person.is_guest:
            raise UserError("kudos.err.guest_receiver", name=user_text(name_of(person, uid)))
        receivers.append(person)
    return receivers


async def _charge(ctx: Context, receivers: list[Member], points: int) -> tuple[date, int]:
    """Spend the points from the giver's daily budget (within the per-pair cap); the day and what is left."""
    ws, giver = ctx.workspace, ctx.actor.user_id
    day = local_day(ctx.now, ctx.member.timezone or ws.timezone)
    cost = points * len(receivers)
    left = await q.spend_budget(
        ctx.session, workspace_id=ws.id, user_id=giver, day=day, points=cost, budget=ws.daily_budget
    )
    if left is None:
        spent = await q.spent_on(ctx.session, workspace_id=ws.id, user_id=giver, day=day)
        budget_refusal(ctx, cost=cost, left=max(ws.daily_budget - spent, 0))
    if not pair_cap_binds(ws):
        return day, left
    for person in receivers:
        pair = await q.pair_points_on(
            ctx.session, workspace_id=ws.id, giver_id=giver, receiver_id=person.user_id, day=day
        )
        if pair + points > ws.pair_daily_cap:
            pair_refusal(ctx, person, given=pair)
    return day, left


def pair_cap_binds(ws: Workspace) -> bool:
    """Whether the per-pair cap can refuse anything: what a giver gives one person in a day is part of what they
    spend that day, which the budget already holds to ``daily_budget``; a cap at or above it never binds."""
    return ws.pair_daily_cap < ws.daily_budget


def _announce(
    ctx: Context,
    parsed: ParsedKudos,
    value: CompanyValue | None,
    receivers: list[Member],
    *,
    points: int,
    left: int,
    batch: str,
    source: str,
    pointed: moments.Moment | None = None,
) -> None:
    """The celebration in the channel, a DM to each receiver and the confirmation to the giver."""
    ws, giver = ctx.workspace, ctx.actor.user_id
    names = [mention(p.user_id) for p in receivers]
    cross_any = any(ctx.member.department and p.department and p.department != ctx.member.department for p in receivers)
    wt = ctx.translator_for_member(None)  # a public post speaks the workspace's language
    celebration: list[Block] = [
        Header(text=wt("kudos.celebrate.header")),
        Section(
            text=wt(
                "kudos.celebrate.text" if len(names) > 1 else "kudos.celebrate.text_one",
                giver=mention(giver),
                recipients=wt.join(names),
                points=points,
            )
            + "\n> "
            + user_text(parsed.reason)
        ),
    ]
    if pointed:
        celebration.append(Section(text=moment_line(wt, pointed)))
    notes = ([wt("kudos.celebrate.value", value=label_of(wt, value))] if value else []) + (
        [wt("kudos.cross_team")] if cross_any else []
    )
    if notes:
        celebration.append(Note(text="  ·  ".join(notes)))
    # A /kudos command is celebrated where it was given (or in the kudos channel); an emoji message in a
    # channel is already public, so it is celebrated only when a kudos channel is configured.
    conv = ctx.event.conversation.id if ctx.event.conversation else None
    in_dm = bool(ctx.event.conversation and ctx.event.conversation.kind == "dm")
    channel = ws.kudos_channel_id or (conv if source == "command" and not in_dm else None)
    if channel:
        line = wt("kudos.fold.line", giver=mention(giver), recipients=wt.join(names), points=points)
        fold = Fold(key="kudos", line=f"{line} {user_text(parsed.reason)}", header=wt("kudos.fold.header"))
        post = Message(blocks=celebration, text=wt("kudos.celebrate.header"), fold=fold)
        ctx.post(channel, post, dedupe_key=f"kudos:{batch}:post")
    for person in receivers:
        t = ctx.translator_for_member(person)
        dm_blocks: list[Block] = [
            Section(text=t("kudos.dm.text", giver=mention(giver), points=points) + "\n> " + user_text(parsed.reason))
        ]
        if pointed:
            dm_blocks.append(Section(text=moment_line(t, pointed)))
        if value:
            dm_blocks.append(Note(text=t("kudos.celebrate.value", value=label_of(t, value))))
        line = t("kudos.fold.dm_line", giver=mention(giver), points=points)
        fold = Fold(key="kudos", line=f"{line} {user_text(parsed.reason)}", header=t("kudos.fold.dm_header"))
        text = t("kudos.dm.text", giver=name_of(ctx.member, giver), points=points)
        ctx.dm(
            person.user_id,
            Message(blocks=dm_blocks, text=text, fold=fold),
            dedupe_key=f"kudos:{batch}:dm:{person.user_id}",
        )
    ctx.ephemeral(
        [
            Section(
                text=ctx.t(
                    "kudos.confirm",
                    recipients=ctx.t.join(names),
                    left=left,
                    budget=ctx.t.plural("kudos.points_dat", ws.daily_budget),
                )
            ),
            Note(text=ctx.t("kudos.undo_hint", minutes=ws.undo_minutes)),
        ]
    )


async def undo(ctx: Context) -> None:
    ws = ctx.workspace
    rows = await q.last_batch(
        ctx.session,
        workspace_id=ws.id,
        giver_id=ctx.actor.user_id,
        since=ctx.now - timedelta(minutes=ws.undo_minutes),
    )
    if not rows:
        raise UserError("kudos.err.nothing_to_undo", minutes=ws.undo_minutes)
    await q.delete_kudos(ctx.session, rows)
    names = ctx.t.join(mention(r.receiver_id) for r in rows)
    ctx.ephemeral(ctx.t("kudos.undone", recipients=names, left=ctx.t.plural("kudos.points", await budget_left(ctx))))


# --- reading -----------------------------------------------------------------------------------------


BOARD_ARGS = (
    Arg.period(optional=True),
    Arg.choice("direction", DIRECTION_WORDS, optional=True, label_key="kudos.help.direction"),
    Arg.value(optional=True),
    Arg.keyed("department", ("dept", "team", "abteilung"), optional=True),
)


def parse_board_words(words: list[str]) -> dict[str, Any]:
    """``leaderboard …`` (a command of its own) takes the same arguments as ``kudos leaderboard``."""
    try:
        return parse_args(BOARD_ARGS, " ".join(words))
    except ArgError as err:
        raise UserError("kudos.err.board_args", arg=user_text(err.word or "")) from None


async def show_leaderboard(ctx: Context) -> None:
    """The board for ``ctx.params`` (period, direction, value, department), all optional."""
    ws = ctx.workspace
    period: str = ctx.params.get("period", "month")
    direction: str = ctx.params.get("direction", "received")
    dept: str | None = ctx.params.get("department")
    tag: str | None = None
    if "value" in ctx.params:
        values = await core.list_values(ctx.session, workspace_id=ws.id)
        found = match_value(ctx.params["value"], values)
        if found is None:
            unknown_value(ctx.params["value"], values)
        tag = found.tag
    since = period_start(period, ctx.now, ws.timezone)
    works_council = ws.privacy_profile == "works-council"
    rows, mine = await q.board_and_rank(
        ctx.session,
        workspace_id=ws.id,
        user_id=None if ctx.member.leaderboard_opt_out else ctx.actor.user_id,
        since=since,
        direction=direction,
        value_tag=tag,
        department=dept,
        require_opt_in=works_council,
        caller_shown=not ctx.member.leaderboard_opt_out and (ctx.member.leaderboard_opt_in or not works_council),
    )
    title = ctx.t(f"kudos.board.title.{direction}", period=ctx.t(f"kudos.period.{period}"))
    if tag:
        title += " · " + user_text(f"#{tag}")
    if dept:
        title += " · " + user_text(dept)
    if not await individual_boards(ctx):
        return await team_board(ctx, title=title, since=since, direction=direction, value_tag=tag, department=dept)
    blocks: list = [Header(text=title)]
    if not rows:
        blocks.append(Section(text=ctx.t("kudos.board.empty")))
    else:
        bars = []
        for r in rows:
            bars.append(
                Bar(
                    label=r.name or r.user_id,
                    value=r.points,
                    rank=r.rank,
                    display=ctx.t.plural("kudos.points", r.points),
                    highlight=r.user_id == ctx.actor.user_id,
                )
            )
        blocks.append(BarList(rows=bars))
    if ctx.member.leaderboard_opt_out:
        blocks.append(Note(text=ctx.t("kudos.board.you_opted_out")))
    elif mine is not None:
        blocks.append(
            Note(text=ctx.t("kudos.board.your_rank", rank=mine.rank, points=ctx.t.plural("kudos.points", mine.points)))
        )
    ctx.reply(Message(blocks=blocks, text=title))


async def budget_left(ctx: Context) -> int:
    day = local_day(ctx.now, ctx.member.timezone or ctx.workspace.timezone)
    spent = await q.spent_on(ctx.session, workspace_id=ctx.workspace.id, user_id=ctx.actor.user_id, day=day)
    return max(ctx.workspace.daily_budget - spent, 0)


async def giving_streak(ctx: Context) -> int:
    """Consecutive weeks (up to this one or the last) in which the person gave kudos."""
    today = local_day(ctx.now, ctx.member.timezone or ctx.workspace.timezone)
    days = await q.giving_days(
        ctx.session, workspace_id=ctx.workspace.id, user_id=ctx.actor.user_id, since=today - timedelta(weeks=104)
    )
    weeks = {d.isocalendar()[:2] for d in days}
    monday = today - timedelta(days=today.weekday())
    if monday.isocalendar()[:2] not in weeks:
        monday -= timedelta(weeks=1)
    streak = 0
    while monday.isocalendar()[:2] in weeks:
        streak += 1
        monday -= timedelta(weeks=1)
    return streak


async def stats_blocks(ctx: Context) -> list:
    ws = ctx.workspace
    me = ctx.actor.user_id
    values = {v.tag: v for v in await core.list_values(ctx.session, workspace_id=ws.id)}
    received = await q.total_points(ctx.session, workspace_id=ws.id, user_id=me)
    given = await q.total_points(ctx.session, workspace_id=ws.id, user_id=me, direction="given")
    cross = await q.total_points(ctx.session, workspace_id=ws.id, user_id=me, cross_team=True)
    by_value = await q.points_by_value(ctx.session, workspace_id=ws.id, user_id=me)
    left = await budget_left(ctx)
    streak = await giving_streak(ctx)
    blocks: list = [
        Header(text=ctx.t("kudos.stats.title")),
        Fields(
            items=[
                (ctx.t("kudos.stats.received"), str(received)),
                (ctx.t("kudos.stats.cross_team"), str(cross)),
                (ctx.t("kudos.stats.given"), str(given)),
                (ctx.t("kudos.stats.budget"), ctx.t("kudos.stats.budget_value", left=left, budget=ws.daily_budget)),
                (ctx.t("kudos.stats.streak"), ctx.t.plural("kudos.weeks", streak)),
            ]
        ),
    ]
    if by_value:
        blocks.append(
            BarList(
                title=ctx.t("kudos.stats.by_value"),
                rows=[Bar(label=value_label(ctx, values.get(tag or ""), tag), value=n) for tag, n in by_value],
            )
        )
    by_moment = await moments.received_by(ctx.session, workspace_id=ws.id, user_id=me)
    if by_moment:
        blocks.append(
            BarList(
                title=ctx.t("kudos.stats.by_moment"),
                rows=[Bar(label=ctx.t(f"kudos.moment_kind.{kind}"), value=n) for kind, n in by_moment.items()],
            )
        )
    return blocks


async def show_stats(ctx: Context) -> None:
    ctx.ephemeral(Message(blocks=await stats_blocks(ctx), text=ctx.t("kudos.stats.title")))


async def set_opt_out(ctx: Context, out: bool) -> None:
    ctx.member.leaderboard_opt_out = out
    if not out:
        ctx.member.leaderboard_opt_in = True
    ctx.session.add(ctx.member)
    ctx.ephemeral(ctx.t("kudos.optout_done" if out else "kudos.optin_done"))


async def kudos_intro(ctx: Context) -> list[Block]:
    """How kudos work and the company's values, above the generated list of ``kudos`` subcommands."""
    ws = ctx.workspace
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    tags = ", ".join(f"#{v.tag} ({value_label(ctx, v)})" for v in values)
    return [
        Section(text=ctx.t("kudos.help.intro", emoji=ws.kudos_emoji, budget=ws.daily_budget)),
        Section(text=ctx.t("kudos.help.values", values=tags)),
    ]


# --- registration --------------------------------------------------------------------------------------


def register(router: Router) -> None:
    kudos = router.command(
        "kudos",
        aliases=("lob", "danke"),
        help_key="kudos.help.short",
        feature="kudos",
        default="help",
        in_threads=True,
        intro=kudos_intro,
        title_key="kudos.help.title",
    )

    @kudos.fallback(feature="kudos", help_key="kudos.help.give", usage_key="kudos.help.give_usage", requires=Arg.user())
    async def give_command(ctx: Context) -> None:
        assert isinstance(ctx.event, CommandEvent)
        # ``kudos …`` written openly in a thread is public already, like an emoji message.
        source = "message" if ctx.said_openly else "command"
        await give(ctx, ctx.event.text, source=source, message_id=ctx.event.message_id or ctx.event.event_id)

    @kudos.sub(
        "leaderboard",
        de="rangliste",
        aliases=("top",),
        feature="leaderboards",
        args=BOARD_ARGS,
        help_key="kudos.help.sub.leaderboard",
        error_key="kudos.err.board_args",
    )
    async def kudos_leaderboard(ctx: Context) -> None:
        await show_leaderboard(ctx)

    @kudos.sub("stats", de="statistik", aliases=("me",), feature="personal_stats", help_key="kudos.help.stats")
    async def kudos_stats(ctx: Context) -> None:
        await show_stats(ctx)

    @kudos.sub("undo", de="rückgängig", aliases=("zurück",), help_key="kudos.help.sub.undo")
    async def kudos_undo(ctx: Context) -> None:
        await undo(ctx)

    # Leaving the leaderboards is a privacy right: it works whatever is switched off.
    @kudos.sub("optout", de="abmelden", aliases=("opt-out",), feature="privacy", help_key="kudos.help.sub.optout")
    async def kudos_optout(ctx: Context) -> None:
        await set_opt_out(ctx, True)

    @kudos.sub("optin", de="anmelden", aliases=("opt-in",), feature="privacy", help_key="kudos.help.sub.optin")
    async def kudos_optin(ctx: Context) -> None:
        await set_opt_out(ctx, False)

    board = router.command(
        "leaderboard", aliases=("rangliste",), help_key="kudos.help.leaderboard", feature="leaderboards"
    )

    @board
    async def leaderboard_command(ctx: Context) -> None:
        ctx.params = parse_board_words(ctx.args)
        await show_leaderboard(ctx)

    @router.command("stats", aliases=("statistik",), help_key="kudos.help.stats", feature="personal_stats")
    async def stats_command(ctx: Context) -> None:
        await show_stats(ctx)

    def has_emoji_kudos(ev: MessageEvent) -> bool:
        return bool(mention_ids(ev.text)) and ":" in ev.text

    @router.message(has_emoji_kudos, feature="kudos")
    async def emoji_message(ctx: Context) -> None:
        assert isinstance(ctx.event, MessageEvent)
        emoji = f":{ctx.workspace.kudos_emoji}:"
        if emoji not in ctx.event.text or ctx.member.is_bot:
            ctx.decline()
        await give(ctx, ctx.event.text, source="message", message_id=ctx.event.message_id)

    @router.reaction(feature="kudos")
    async def on_reaction(ctx: Context) -> None:
        ev = ctx.event
        assert isinstance(ev, ReactionEvent)
        if ev.emoji != ctx.workspace.kudos_emoji or not ev.item_author_id or ctx.member.is_bot:
            return
        if ev.item_author_id == ctx.actor.user_id:
            if ev.added:
                raise UserError("kudos.err.self")
            return
        if ev.added:
            await give_reaction(ctx, ev)
        else:
            rows = await q.kudos_for_message(
                ctx.session,
                workspace_id=ctx.workspace.id,
                message_id=ev.message_id,
                giver_id=ctx.actor.user_id,
                source="reaction",
            )
            await q.delete_kudos(ctx.session, rows[:1])

    @router.on(MessageDeletedEvent, feature="kudos")
    async def on_deleted(ctx: Context) -> None:
        ev = ctx.event
        assert isinstance(ev, MessageDeletedEvent)
        rows = await q.kudos_for_message(
            ctx.session, workspace_id=ctx.workspace.id, message_id=ev.message_id, source="message"
        )
        await q.delete_kudos(ctx.session, rows)


async def give_reaction(ctx: Context, ev: ReactionEvent) -> None:
    """One point to the author of the message the kudos emoji was added to."""
    await require_feature(ctx, "reaction_kudos")
    ws = ctx.workspace
    assert ev.item_author_id
    refuse_guest_giver(ctx)
    person = await ctx.person(ev.item_author_id)
    if person is None or person.is_bot:
        return
    if person.is_guest:
        raise UserError("kudos.err.guest_receiver", name=user_text(name_of(person, person.user_id)))
    day = local_day(ctx.now, ctx.member.timezone or ws.timezone)
    left = await q.spend_budget(
        ctx.session, workspace_id=ws.id, user_id=ctx.actor.user_id, day=day, points=1, budget=ws.daily_budget
    )
    if left is None:
        budget_refusal(ctx, cost=1, left=0)
    if pair_cap_binds(ws):
        pair = await q.pair_points_on(
            ctx.session, workspace_id=ws.id, giver_id=ctx.actor.user_id, receiver_id=person.user_id, day=day
        )
        if pair + 1 > ws.pair_daily_cap:
            pair_refusal(ctx, person, given=pair)
    cross = bool(ctx.member.department and person.department and ctx.member.department != person.department)
    ctx.session.add(
        Kudos(
            workspace_id=ws.id,
            batch_id=uuid.uuid4().hex,
            giver_id=ctx.actor.user_id,
            receiver_id=person.user_id,
            points=1,
            reason="",
            cross_team=cross,
            source="reaction",
            conversation_id=ctx.event.conversation.id if ctx.event.conversation else None,
            message_id=ev.message_id,
            giver_department=ctx.member.department,
            receiver_department=person.department,
            giver_day=day,
            created_at=ctx.now,
        )
    )
    t = ctx.translator_for_member(person)
    ctx.dm(
        person.user_id,
        t("kudos.dm.reaction", giver=mention(ctx.actor.user_id)),
        dedupe_key=f"kudos:react:{ev.event_id or uuid.uuid4().hex}",
    )
