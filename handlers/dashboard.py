"""The overview's figures, with the same privacy rules as every chat aggregate.

A figure is shown only if enough people stand behind it (``min_group_ok``): the team or workspace
itself (for a team: its head count and the people who were in it when they gave or received), each
value in the values mix, each arrow between two departments (its givers and its receivers). Teams are
counted by the departments stored on each kudos when it was given, so a move changes no past figure. Nothing here names a person; the works-council profile changes nothing because the
overview shows aggregates only. ``overview`` is the one entry point; it needs only a database session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.privacy_rules import feature_enabled, group_figure_ok, min_group_ok, min_group_size
from storage import core, goodwill
from storage import dashboard as q
from storage import kudos_rollup as rollup
from storage import pulse as pulse_store
from storage.models import Workspace
from storage.suggestions import DigestSummary, digest_summary

PERIODS = {"4w": 4, "12w": 12, "26w": 26, "52w": 52}
DEFAULT_PERIOD = "12w"


@dataclass
class WeekFigure:
    week: date  # Monday
    kudos: int = 0
    points: int = 0


@dataclass
class ValueFigure:
    tag: str | None
    label: str
    points: int


@dataclass
class Edge:
    source: str
    target: str
    kudos: int


@dataclass
class PromptWeek:
    week: date
    prompts: int = 0
    answers: int = 0


@dataclass
class GoodwillFigure:
    """The goodwill budget's spend in the period: per team and in total (never per person), as the digest."""

    currency: str
    spent: int  # minor units, net of reversals
    cases: int
    by_rule: int
    median: int | None
    by_team: list[tuple[str, int]] = field(default_factory=list)
    few: bool = False  # fewer people than the minimum group logged cases: no figures at all
    hidden_teams: int = 0  # teams with fewer people logging cases than the minimum group
    rest_hidden: bool = False  # no team's spend: beside the total it would give away the hidden teams' spend


@dataclass
class PulseFigure:
    """One closed service-goal pulse: its team's alignment score (0-100) from that many answers."""

    team: str  # the department it asked, or "#channel"
    closed_on: date
    score: int
    answers: int
    change: int | None = None  # against the team's previous pulse shown here


@dataclass
class Overview:
    workspace_id: str
    department: str | None
    period: str
    first_day: date
    last_day: date  # inclusive
    min_group: int
    departments: list[str]
    allowed: bool  # False: the chosen team is smaller than the minimum group
    weeks: list[WeekFigure] = field(default_factory=list)
    kudos_total: int = 0
    values: list[ValueFigure] = field(default_factory=list)
    values_hidden: int = 0
    cross_total: int = 0
    cross_count: int = 0
    edges: list[Edge] = field(default_factory=list)
    edges_hidden: int = 0
    prompt_weeks: list[PromptWeek] = field(default_factory=list)
    suggestions: DigestSummary | None = None
    median_shown: bool = True
    features: dict[str, bool] = field(default_factory=dict)
    goodwill: GoodwillFigure | None = None
    pulses: list[PulseFigure] = field(default_factory=list)
    pulses_hidden: int = 0  # closed with fewer answers than today's minimum group

    @property
    def cross_share(self) -> float | None:
        return self.cross_count / self.cross_total if self.cross_total else None


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """First Monday and the day after today for ``period`` weeks including this one."""
    weeks = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])
    first = monday(today) - timedelta(weeks=weeks - 1)
    return first, today + timedelta(days=1)


def day_start(day: date, timezone: str | None) -> datetime:
    """Midnight of ``day`` in the workspace's time zone."""
    return datetime.combine(day, time(), ZoneInfo(timezone or "UTC"))


async def overview(
    session: AsyncSession,
    *,
    workspace: Workspace,
    now: datetime,
    period: str = DEFAULT_PERIOD,
    department: str | None = None,
    lang: str = "de",
) -> Overview:
    period = period if period in PERIODS else DEFAULT_PERIOD
    today = now.astimezone(ZoneInfo(workspace.timezone or "UTC")).date()
    first, end = period_bounds(period, today)
    since, until = day_start(first, workspace.timezone), day_start(end, workspace.timezone)
    minimum = await min_group_size(session, workspace.id)
    sizes = await q.department_sizes(session, workspace_id=workspace.id)
    if department is not None:
        department = next((d for d in sizes if d.lower() == department.lower()), None)
    people = sizes.get(department, 0) if department else await q.member_total(session, workspace_id=workspace.id)
    out = Overview(
        workspace_id=workspace.id,
        department=department,
        period=period,
        first_day=first,
        last_day=end - timedelta(days=1),
        min_group=minimum,
        departments=list(sizes),
        allowed=min_group_ok(people, minimum),
        features={
            f: await feature_enabled(session, workspace.id, f)
            for f in ("kudos", "prompts", "suggestions", "goodwill", "pulse")
        },
    )
    p = q.Period(workspace.id, since, until, first, end, department)
    if out.allowed and department is not None:
        # A team's figures are about the people who were in it when they gave or received: a team that
        # reached the minimum today by people moved in still shows nothing of the few who were in it.
        out.allowed = min_group_ok(await rollup.team_people(session, _scope(p)), minimum)
        # The workspace's page minus the team's is the kudos among everyone else: they must make the minimum
        # group too (or be nobody), or the team's page would give away their figures.
        apart = await rollup.people_apart(session, rollup.Scope(workspace.id, first, None), department)
        out.allowed = out.allowed and (apart == 0 or min_group_ok(apart, minimum))
    if not out.allowed:
        return out
    await _kudos(session, p, out, workspace, minimum, lang)
    if out.features["pulse"]:
        await _pulses(session, p, out, minimum)
    if department is None:  # prompts and suggestions belong to the workspace, not to one team
        await _prompts(session, p, out)
        out.suggestions = await digest_summary(session, workspace.id, since, until)
        if out.features["goodwill"]:
            out.goodwill = await _goodwill(session, workspace.id, since, until, minimum)
        deciders = out.suggestions.deciders
        out.median_shown = deciders == 0 or await group_figure_ok(session, workspace.id, deciders)
    return out


def _scope(p: q.Period) -> rollup.Scope:
    """The kudos figures come from the roll-up (``storage.kudos_rollup``): the same numbers as the grouped
    statements over the kudos (``storage.dashboard``), read from a few thousand rows however long the history.
    The period starts on a Monday and runs until now."""
    return rollup.Scope(p.workspace_id, p.first_day, p.department)


async def _kudos(
    session: AsyncSession, p: q.Period, out: Overview, workspace: Workspace, minimum: int, lang: str
) -> None:
    weeks: dict[date, WeekFigure] = {}
    d = p.first_day
    while d < p.last_day:
        weeks.setdefault(monday(d), WeekFigure(monday(d)))
        d += timedelta(days=7)
    scope = _scope(p)
    this_week = monday(p.last_day - timedelta(days=1))
    for day, n, pts, cross in await rollup.kudos_by_week(session, scope):
        day = min(day, this_week)  # a giver ahead of the workspace's time zone may already be in next week
        w = weeks.setdefault(monday(day), WeekFigure(monday(day)))
        w.kudos += n
        w.points += pts
        out.cross_total += n
        out.cross_count += cross
    out.weeks = sorted(weeks.values(), key=lambda w: w.week)
    out.kudos_total = sum(w.kudos for w in out.weeks)
    labels = {
        v.tag: (v.label_de if lang == "de" else v.label_en)
        for v in await core.list_values(session, workspace_id=workspace.id)
    }
    mix = await rollup.value_mix(session, scope)
    shown = [(tag, points) for tag, points, receivers in mix if min_group_ok(receivers, minimum)]
    hidden = [tag for tag, _points, receivers in mix if not min_group_ok(receivers, minimum)]
    # The weeks' total is shown too: the total minus the shown values is what the hidden ones add up to, so
    # their receivers together must make the minimum group (or be nobody); else the smallest shown value
    # is hidden as well.
    while hidden and shown:
        rest = await rollup.receivers_of(session, scope, hidden)
        if rest == 0 or min_group_ok(rest, minimum):
            break
        hidden.append(shown.pop()[0])  # value_mix is ordered by points: the last shown has the fewest
    out.values = [ValueFigure(tag, labels.get(tag or "", tag or ""), points) for tag, points in shown]
    out.values_hidden = len(hidden)
    edges = await rollup.department_edges(session, scope)
    arrows = [(a, b, n) for a, b, n, g, r in edges if min_group_ok(g, minimum) and min_group_ok(r, minimum)]
    hidden_pairs = [(a, b) for a, b, _n, g, r in edges if not (min_group_ok(g, minimum) and min_group_ok(r, minimum))]
    # Beside the weeks' total, what the shown arrows leave over (hidden arrows, kudos with a side without a
    # department) is a figure too: its people must make the minimum group (or be nobody).
    while arrows:
        rest = await rollup.people_beside(session, scope, hidden_pairs)
        if rest == 0 or min_group_ok(rest, minimum):
            break
        a, b, _n = arrows.pop()  # ordered by kudos: the last shown arrow is the smallest
        hidden_pairs.append((a, b))
    out.edges = [Edge(a, b, n) for a, b, n in arrows]
    out.edges_hidden = len(hidden_pairs)


async def _pulses(session: AsyncSession, p: q.Period, out: Overview, minimum: int) -> None:
    """The service-goal alignment trend: the period's closed pulses, of the chosen team (by the department a
    pulse asked) or of all teams. A pulse is a figure about the people who answered it: one that closed with
    fewer answers than today's minimum group is not shown, only counted."""
    last: dict[str, int] = {}
    for found in await pulse_store.closed_between(session, workspace_id=p.workspace_id, since=p.since, until=p.until):
        if p.department and (found.department or "").lower() != p.department.lower():
            continue
        if found.score is None or found.closed_at is None:
            continue
        if not min_group_ok(found.answers, minimum):
            out.pulses_hidden += 1
            continue
        team = found.department or f"#{found.channel_id}"
        closed_on = found.closed_at.astimezone(p.since.tzinfo).date()
        previous = last.get(team)
        out.pulses.append(
            PulseFigure(
                team, closed_on, found.score, found.answers, None if previous is None else found.score - previous
            )
        )
        last[team] = found.score


async def _prompts(session: AsyncSession, p: q.Period, out: Overview) -> None:
    weeks: dict[date, PromptWeek] = {w.week: PromptWeek(w.week) for w in out.weeks}
    for day, posts, answers, _named in await q.prompts_by_day(session, p):
        w = weeks.setdefault(monday(day), PromptWeek(monday(day)))
        w.prompts += posts
        w.answers += answers
    out.prompt_weeks = sorted(weeks.values(), key=lambda w: w.week)


async def _goodwill(
    session: AsyncSession, workspace_id: str, since: datetime, until: datetime, minimum: int
) -> GoodwillFigure | None:
    """The digest's figures and rule: a few people's spend would be their own spend, so a period or a team
    with fewer people logging cases than the minimum group shows no amount."""
    figures = await goodwill.digest_figures(session, workspace_id=workspace_id, since=since, until=until, highlights=0)
    budgets = await goodwill.budgets(session, workspace_id=workspace_id)
    if figures.currency is None or not budgets or not figures.cases:
        return None
    if not min_group_ok(figures.people, minimum):
        return GoodwillFigure(figures.currency, 0, figures.cases, 0, None, few=True)
    shown = {b.team for b in budgets if min_group_ok(figures.people_per_budget.get(b.id or 0, 0), minimum)}
    teams: dict[str, int] = {}
    for line in await goodwill.ledger(session, workspace_id=workspace_id, since=since, until=until):
        if line.team in shown:
            teams[line.team] = teams.get(line.team, 0) + line.entry.amount
    with_cases = {b.team for b in budgets if figures.people_per_budget.get(b.id or 0, 0)}
    # Beside the total, the shown teams' spend leaves over the hidden teams' spend: the people who logged
    # those cases must make the minimum group together, or no team's spend is shown.
    rest: set[str] = set()
    for b in budgets:
        if b.team not in shown:
            rest |= figures.authors_per_budget.get(b.id or 0, set())
    rest_hidden = bool(teams) and bool(rest) and not min_group_ok(len(rest), minimum)
    return GoodwillFigure(
        figures.currency,
        figures.spent,
        figures.cases,
        figures.by_rule,
        figures.median,
        [] if rest_hidden else sorted(teams.items(), key=lambda kv: -kv[1]),
        hidden_teams=len(with_cases - shown),
        rest_hidden=rest_hidden,
    )
