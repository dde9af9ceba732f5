"""Building digests and leaderboard posts: their periods, titles and blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.jobs import Days, local_midnight
from bot.core.messages import Bar, BarList, Block, Divider, Fields, Header, Message, Note, Section
from handlers.digests.kudos_sections import aggregate, percent, ranking, split_values, value_name
from handlers.digests.sections import DigestScope, sections
from handlers.privacy_rules import min_group_ok, min_group_size, names_allowed, rankings_allowed
from storage import core
from storage import digests as dq
from storage.models import Workspace

log = structlog.get_logger("starling.digests")

PERIODS = ("week", "month", "quarter")
BOARD_TOP = 10


@dataclass(frozen=True)
class Span:
    """A reporting period: local days ``first``..``last`` (inclusive), as UTC ``[start, end)``."""

    first: date
    last: date
    start: datetime
    end: datetime


def span(first: date, end_day: date, tz: ZoneInfo) -> Span:
    """The local days from ``first`` up to (not including) ``end_day``."""
    return Span(first, end_day - timedelta(days=1), local_midnight(first, tz), local_midnight(end_day, tz))


def digest_span(days: Days, day: date, tz: ZoneInfo) -> Span:
    """What the digest posted on ``day`` covers: from the previous posting day up to yesterday."""
    prev = day - timedelta(days=1)
    for _ in range(31):
        if days.matches(prev):
            break
        prev -= timedelta(days=1)
    else:
        prev = day - timedelta(days=7)
    return span(prev, day, tz)


def period_first_day(period: str, day: date) -> date:
    """The first day of the week / month / quarter that contains ``day``."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(day=1)


def previous_period_first_day(period: str, first: date) -> date:
    if period == "week":
        return first - timedelta(days=7)
    months = 3 if period == "quarter" else 1
    month = first.month - months
    year = first.year + (month - 1) // 12
    return first.replace(year=year, month=(month - 1) % 12 + 1, day=1)


def leaderboard_span(period: str, day: date, tz: ZoneInfo) -> Span:
    """The whole period before the one containing ``day`` (last week, last month, last quarter)."""
    current = period_first_day(period, day)
    return span(previous_period_first_day(period, current), current, tz)


def running_span(period: str, now: datetime, tz: ZoneInfo) -> Span:
    """The period that contains ``now``, up to ``now`` (for previews)."""
    today = now.astimezone(tz).date()
    first = period_first_day(period, today)
    return Span(first, today, local_midnight(first, tz), now + timedelta(microseconds=1))


def days_for_period(period: str) -> Days:
    return {"week": Days.weekly(0), "quarter": Days.quarterly(1)}.get(period, Days.monthly(1))


# --- text ---------------------------------------------------------------------------------------------


def fmt_day(t: Translator, d: date, *, year: bool = False) -> str:
    month = t(f"digests.months.{d.month}")
    if t.lang == "de":
        return f"{d.day}.{d.month}.{d.year}" if year else f"{d.day}.{d.month}."
    return f"{d.day} {month[:3]}" + (f" {d.year}" if year else "")


def fmt_span(t: Translator, s: Span) -> str:
    if s.first == s.last:
        return fmt_day(t, s.first, year=True)
    return f"{fmt_day(t, s.first)} – {fmt_day(t, s.last, year=True)}"


def fmt_period(t: Translator, period: str, s: Span) -> str:
    if period == "month":
        return f"{t(f'digests.months.{s.first.month}')} {s.first.year}"
    if period == "quarter":
        return f"Q{(s.first.month - 1) // 3 + 1} {s.first.year}"
    return t("digests.week_label", week=s.first.isocalendar()[1], span=fmt_span(t, s))


def fmt_when(t: Translator, when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    weekday = t(f"digests.weekdays.{local.weekday()}")
    return f"{weekday[:2] if t.lang == 'de' else weekday[:3]} {fmt_day(t, local.date(), year=True)}, {local:%H:%M}"


def describe_days(t: Translator, days: Days) -> str:
    if days.monthday is not None:
        key = "digests.days.quarterly" if days.months != Days().months else "digests.days.monthly"
        return t(key, day=days.monthday)
    if days.weekdays == frozenset(range(7)):
        return t("digests.days.daily")
    if days.weekdays == frozenset(range(5)):
        return t("digests.days.workdays")
    return t.join(t(f"digests.weekdays_plural.{d}") for d in sorted(days.weekdays))


# --- digest ---------------------------------------------------------------------------------------


async def build_digest(scope: DigestScope, period_text: str) -> Message:
    """The digest for ``scope``: a header, then every registered section in order."""
    t = scope.t
    title = t("digests.digest.title", period=period_text)
    blocks: list[Block] = [Header(text=(t("digests.preview_prefix") + " " if scope.preview else "") + title)]
    for section in sections():
        try:
            async with scope.session.begin_nested():
                part = await section.build(scope)
        except Exception:
            log.exception("digest_section_failed", section=section.name, workspace=scope.workspace.id)
            continue
        if part:
            if len(blocks) > 1:
                blocks.append(Divider())
            blocks.extend(part)
    blocks.append(Note(text=t("digests.digest.footer")))
    return Message(blocks=blocks, text=title)


# --- leaderboard post -----------------------------------------------------------------------------


async def build_leaderboard(
    session: AsyncSession,
    workspace: Workspace,
    t: Translator,
    *,
    period: str,
    s: Span,
    givers_only: bool = False,
    preview: bool = False,
) -> Message:
    """The periodic leaderboard post: rankings by name, or only aggregates in the works-council profile."""
    facts = await dq.kudos_between(session, workspace_id=workspace.id, start=s.start, end=s.end)
    stats = aggregate(facts)
    min_size = await min_group_size(session, workspace.id)
    label = fmt_period(t, period, s)
    title = t("digests.board.title_givers" if givers_only else "digests.board.title", period=label)
    blocks: list[Block] = [Header(text=(t("digests.preview_prefix") + " " if preview else "") + title)]
    if stats.kudos == 0:
        blocks.append(Section(text=t("digests.kudos.quiet")))
    elif not min_group_ok(len(stats.participants), min_size):
        blocks.append(Note(text=t("digests.board.too_few", min=min_size)))
    elif not names_allowed(workspace) or not await rankings_allowed(session, workspace):
        values = {v.tag: v for v in await core.list_values(session, workspace_id=workspace.id)}
        blocks.append(
            Fields(
                items=[
                    (t("digests.kudos.count"), str(stats.kudos)),
                    (t("digests.kudos.recognised"), str(len(stats.receivers))),
                    (t("digests.kudos.givers"), str(len(stats.givers))),
                    (t("digests.kudos.cross_team"), f"{percent(stats.cross_team, stats.kudos)} %"),
                ]
            )
        )
        shown, _rest = split_values(stats, lambda n: min_group_ok(n, min_size))
        mix = [
            Bar(
                label=value_name(t, tag, values),
                value=float(stats.value_points[tag]),
                display=t.plural("digests.kudos.points", stats.value_points[tag]),
            )
            for tag in shown
        ]
        if mix:
            blocks.append(BarList(title=t("digests.kudos.values"), rows=mix))
        blocks.append(Note(text=t("digests.board.aggregates_only")))
    else:
        hidden = await dq.leaderboard_hidden(session, workspace_id=workspace.id)
        boards = [("givers", stats.given)] if givers_only else [("receivers", stats.received), ("givers", stats.given)]
        for key, counts in boards:
            rows = await ranking(session, workspace_id=workspace.id, t=t, counts=counts, hidden=hidden, limit=BOARD_TOP)
            if rows:
                blocks.append(BarList(title=t(f"digests.kudos.top_{key}"), rows=rows))
        blocks.append(Note(text=t("digests.board.opt_out_hint")))
    return Message(blocks=blocks, text=title)
