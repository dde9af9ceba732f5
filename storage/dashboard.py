"""The raw figures behind the web overview: grouped counts only, never a list of people.

Each function is one grouped statement; the rules about what may be shown (minimum group, profile)
are applied by ``handlers.dashboard``. The page reads the kudos figures from their roll-up
(``storage.kudos_rollup``); the kudos statements here are its reference (the tests compare both) and the
benchmark's raw queries. ``department`` narrows to kudos given or received in one
department: by the giver's and receiver's departments stored on each kudos when it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Kudos, Member
from storage.privacy import TOMBSTONE_PREFIX
from storage.prompts import PromptAnswer, PromptPost


def c(model: Any, name: str) -> Any:
    return getattr(model, name)


TOMBSTONES = TOMBSTONE_PREFIX + "%"  # an erased person's rows (one random id each)


def person(model: Any, name: str) -> Any:
    """A person column for distinct counts: an erased person's tombstones count nobody (each row has its
    own, so counting them would make one former person look like many and open a small group)."""
    column = c(model, name)
    return case((column.like(TOMBSTONES), None), else_=column)


@dataclass(frozen=True)
class Period:
    workspace_id: str
    since: datetime
    until: datetime
    first_day: date
    last_day: date  # exclusive
    department: str | None = None


def _in_team(p: Period) -> Any:
    """Kudos given or received in the team: by the departments stored on each kudos when it was given, so
    moving a person to another team changes none of the period's figures."""
    assert p.department
    d = p.department.lower()
    return or_(func.lower(c(Kudos, "giver_department")) == d, func.lower(c(Kudos, "receiver_department")) == d)


def _kudos_where(p: Period) -> list[Any]:
    clauses = [
        c(Kudos, "workspace_id") == p.workspace_id,
        c(Kudos, "giver_day") >= p.first_day,  # until now: a giver ahead of the workspace may be on tomorrow
    ]
    if p.department:
        clauses.append(_in_team(p))
    return clauses


async def kudos_by_day(session: AsyncSession, p: Period) -> list[tuple[date, int, int, int]]:
    """(giver's local day, kudos, points, kudos across teams) for each day with kudos: one pass."""
    day = c(Kudos, "giver_day")
    stmt = (
        select(
            day,
            func.count(),
            func.coalesce(func.sum(c(Kudos, "points")), 0),
            func.coalesce(func.sum(case((c(Kudos, "cross_team").is_(True), 1), else_=0)), 0),
        )
        .where(*_kudos_where(p))
        .group_by(day)
        .order_by(day)
    )
    return [
        (d if isinstance(d, date) else date.fromisoformat(str(d)), int(n), int(pts), int(cross))
        for d, n, pts, cross in (await session.execute(stmt)).all()
    ]


async def people_behind(session: AsyncSession, p: Period) -> tuple[int, int]:
    """Distinct givers and distinct receivers behind the period's kudos."""
    stmt = select(
        func.count(func.distinct(person(Kudos, "giver_id"))), func.count(func.distinct(person(Kudos, "receiver_id")))
    ).where(*_kudos_where(p))
    givers, receivers = (await session.execute(stmt)).one()
    return int(givers), int(receivers)


async def value_mix(session: AsyncSession, p: Period) -> list[tuple[str | None, int, int]]:
    """(value tag, points, distinct receivers) per value, most points first."""
    tag = c(Kudos, "value_tag")
    pts = func.coalesce(func.sum(c(Kudos, "points")), 0)
    stmt = (
        select(tag, pts, func.count(func.distinct(person(Kudos, "receiver_id"))))
        .where(*_kudos_where(p))
        .group_by(tag)
        .order_by(pts.desc())
    )
    return [(t, int(n), int(r)) for t, n, r in (await session.execute(stmt)).all()]


async def department_edges(session: AsyncSession, p: Period) -> list[tuple[str, str, int, int, int]]:
    """(giving department, receiving department, kudos, distinct givers, distinct receivers), by the
    departments stored on each kudos when it was given."""
    gd, rd = c(Kudos, "giver_department"), c(Kudos, "receiver_department")
    stmt = (
        select(
            gd,
            rd,
            func.count(),
            func.count(func.distinct(person(Kudos, "giver_id"))),
            func.count(func.distinct(person(Kudos, "receiver_id"))),
        )
        .where(*_kudos_where(p), gd.is_not(None), rd.is_not(None))
        .group_by(gd, rd)
        .order_by(func.count().desc())
    )
    return [(str(a), str(b), int(n), int(g), int(r)) for a, b, n, g, r in (await session.execute(stmt)).all()]


async def team_people(session: AsyncSession, p: Period) -> int:
    """How many people of the team stand behind the team's figures in the period: its givers and receivers
    by the departments stored on the kudos (not its head count today, which a move can change)."""
    assert p.department
    d = p.department.lower()
    givers = select(c(Kudos, "giver_id").label("uid")).where(
        *_kudos_where(p), func.lower(c(Kudos, "giver_department")) == d, c(Kudos, "giver_id").not_like(TOMBSTONES)
    )
    receivers = select(c(Kudos, "receiver_id").label("uid")).where(
        *_kudos_where(p),
        func.lower(c(Kudos, "receiver_department")) == d,
        c(Kudos, "receiver_id").not_like(TOMBSTONES),
    )
    people = union(givers, receivers).subquery()
    return int((await session.execute(select(func.count()).select_from(people))).scalar_one())


async def department_sizes(session: AsyncSession, *, workspace_id: str) -> dict[str, int]:
    """People per department (people without a department are not counted)."""
    dept = c(Member, "department")
    stmt = (
        select(dept, func.count())
        .where(c(Member, "workspace_id") == workspace_id, dept.is_not(None), c(Member, "is_bot").is_(False))
        .group_by(dept)
        .order_by(dept)
    )
    return {str(d): int(n) for d, n in (await session.execute(stmt)).all()}


async def member_total(session: AsyncSession, *, workspace_id: str) -> int:
    stmt = select(func.count()).where(c(Member, "workspace_id") == workspace_id, c(Member, "is_bot").is_(False))
    return int((await session.execute(stmt)).scalar_one())


async def prompts_by_day(session: AsyncSession, p: Period) -> list[tuple[date, int, int, int]]:
    """(prompt day, prompts posted, answers, distinct named answerers) per day with a prompt."""
    day = c(PromptPost, "day")
    stmt = (
        select(
            day,
            func.count(func.distinct(c(PromptPost, "id"))),
            func.count(c(PromptAnswer, "id")),
            func.count(func.distinct(c(PromptAnswer, "author_id"))),
        )
        .select_from(PromptPost)
        .outerjoin(PromptAnswer, c(PromptAnswer, "post_id") == c(PromptPost, "id"))
        .where(c(PromptPost, "workspace_id") == p.workspace_id, day >= p.first_day, day < p.last_day)
        .group_by(day)
        .order_by(day)
    )
    return [
        (d if isinstance(d, date) else date.fromisoformat(str(d)), int(a), int(b), int(n))
        for d, a, b, n in (await session.execute(stmt)).all()
    ]


async def board_rows(
    session: AsyncSession, *, workspace_id: str, statuses: tuple[str, ...] | None, text: str, limit: int
) -> list[tuple[Any, int]]:
    """Announced suggestions with their votes, most votes first: by status and words in title or text."""
    from storage.suggestions import Suggestion, SuggestionVote

    votes = (
        select(c(SuggestionVote, "suggestion_id"), func.count().label("n"))
        .group_by(c(SuggestionVote, "suggestion_id"))
        .subquery()
    )
    n = func.coalesce(votes.c.n, 0)
    stmt = (
        select(Suggestion, n)
        .outerjoin(votes, votes.c.suggestion_id == c(Suggestion, "id"))
        .where(c(Suggestion, "workspace_id") == workspace_id, c(Suggestion, "announced_at").is_not(None))
    )
    if statuses:
        stmt = stmt.where(c(Suggestion, "status").in_(statuses))
    words = text.lower().replace("\\", "").replace("%", "").replace("_", "").strip()
    if words:
        like = f"%{words}%"
        stmt = stmt.where(
            or_(
                func.lower(c(Suggestion, "title")).like(like),
                func.lower(c(Suggestion, "problem")).like(like),
                func.lower(c(Suggestion, "proposal")).like(like),
            )
        )
    stmt = stmt.order_by(n.desc(), c(Suggestion, "id").desc()).limit(limit)
    return [(s, int(k)) for s, k in (await session.execute(stmt)).all()]


async def people(session: AsyncSession, *, workspace_id: str) -> list[tuple[str, str]]:
    """(user id, display name) of the workspace's people, for an admin's choice lists."""
    stmt = (
        select(c(Member, "user_id"), c(Member, "display_name"))
        .where(c(Member, "workspace_id") == workspace_id, c(Member, "is_bot").is_(False))
        .order_by(c(Member, "display_name"))
    )
    return [(str(uid), str(name or uid)) for uid, name in (await session.execute(stmt)).all()]
