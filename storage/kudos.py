"""Kudos queries: the give transaction, undo, reversal, leaderboards and personal stats."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, delete, func, label, literal, null, union_all, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col, select

from storage.core import dialect_of, insert_for
from storage.models import BudgetDay, Kudos, Member
from storage.privacy import TOMBSTONE_PREFIX
from storage.types import UTCDateTime


async def spend_budget(
    session: AsyncSession, *, workspace_id: str, user_id: str, day: date, points: int, budget: int
) -> int | None:
    """Atomically take ``points`` from the giver's budget for ``day``; returns what is left, or None.

    The conditional upsert is the budget check: under concurrency the row lock (PostgreSQL) or the
    write lock (SQLite) serializes a giver's transactions, so the budget can never be overspent.
    """
    if points > budget:
        return None
    dialect = dialect_of(session)
    params = {"ws": workspace_id, "uid": user_id, "day": day, "points": points, "budget": budget}
    spent = (await session.execute(_spend_statement(dialect), params)).scalar_one_or_none()
    return None if spent is None else budget - spent


@functools.cache
def _spend_statement(dialect: str) -> Any:
    """One upsert: the first kudos of the day creates the row, later ones add to it while the budget allows."""
    table = BudgetDay.__table__  # type: ignore[attr-defined]
    spent_col = table.c.spent  # the table, not the ORM entity: a plain INSERT skips the ORM's bulk-insert machinery
    points: Any = bindparam("points", type_=Integer())
    insert = insert_for(dialect)(table).values(
        workspace_id=bindparam("ws"), user_id=bindparam("uid"), day=bindparam("day"), spent=points
    )
    return insert.on_conflict_do_update(
        index_elements=["workspace_id", "user_id", "day"],
        set_={"spent": spent_col + points},
        where=spent_col + points <= bindparam("budget", type_=Integer()),
    ).returning(spent_col)


async def add_kudos(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store kudos rows (one per receiver) in one statement, without building an ORM object for each."""
    await session.execute(_ADD_KUDOS, list(rows))


_ADD_KUDOS = Kudos.__table__.insert()  # type: ignore[attr-defined]


async def refund_budget(session: AsyncSession, *, workspace_id: str, user_id: str, day: date, points: int) -> None:
    spent_col = col(BudgetDay.spent)
    await session.execute(
        update(BudgetDay)
        .where(
            col(BudgetDay.workspace_id) == workspace_id, col(BudgetDay.user_id) == user_id, col(BudgetDay.day) == day
        )
        .values(spent=func.max(spent_col - points, 0) if _is_sqlite(session) else func.greatest(spent_col - points, 0))
    )


def _is_sqlite(session: AsyncSession) -> bool:
    return dialect_of(session) == "sqlite"


async def spent_on(session: AsyncSession, *, workspace_id: str, user_id: str, day: date) -> int:
    row = await session.get(BudgetDay, (workspace_id, user_id, day))
    return row.spent if row else 0


async def pair_points_on(
    session: AsyncSession, *, workspace_id: str, giver_id: str, receiver_id: str, day: date
) -> int:
    params = {"ws": workspace_id, "giver": giver_id, "receiver": receiver_id, "day": day}
    return int((await session.execute(_PAIR_POINTS, params)).scalar_one())


_PAIR_POINTS = sa_select(func.coalesce(func.sum(Kudos.points), 0)).where(
    col(Kudos.workspace_id) == bindparam("ws"),
    col(Kudos.giver_id) == bindparam("giver"),
    col(Kudos.receiver_id) == bindparam("receiver"),
    col(Kudos.giver_day) == bindparam("day"),
)


async def last_batch(session: AsyncSession, *, workspace_id: str, giver_id: str, since: datetime) -> list[Kudos]:
    stmt = (
        select(Kudos.batch_id)
        .where(Kudos.workspace_id == workspace_id, Kudos.giver_id == giver_id, Kudos.created_at >= since)
        .where(Kudos.source != "reaction")
        .order_by(col(Kudos.created_at).desc(), col(Kudos.id).desc())
        .limit(1)
    )
    batch = (await session.execute(stmt)).scalar_one_or_none()
    if batch is None:
        return []
    rows = await session.execute(select(Kudos).where(Kudos.batch_id == batch))
    return list(rows.scalars().all())


async def delete_kudos(session: AsyncSession, rows: Sequence[Kudos]) -> None:
    """Remove kudos and give the points back to the givers' budgets of that day."""
    for row in rows:
        await refund_budget(
            session, workspace_id=row.workspace_id, user_id=row.giver_id, day=row.giver_day, points=row.points
        )
    ids = [r.id for r in rows]
    if ids:
        await session.execute(delete(Kudos).where(col(Kudos.id).in_(ids)))


async def kudos_for_message(
    session: AsyncSession, *, workspace_id: str, message_id: str, giver_id: str | None = None, source: str | None = None
) -> list[Kudos]:
    stmt = select(Kudos).where(Kudos.workspace_id == workspace_id, Kudos.message_id == message_id)
    if giver_id is not None:
        stmt = stmt.where(Kudos.giver_id == giver_id)
    if source is not None:
        stmt = stmt.where(Kudos.source == source)
    return list((await session.execute(stmt)).scalars().all())


def _who(direction: str) -> Mapped[str]:
    """The person column a ranking groups by: the receiver, or the giver for ``given``."""
    return col(Kudos.receiver_id) if direction == "received" else col(Kudos.giver_id)


def _visible(who: Mapped[str], workspace_id: Any, *, require_opt_in: bool) -> ColumnElement[bool]:
    """Who may appear on a leaderboard: not opted out (and, when required, opted in).

    ``workspace_id`` is a value or a bound parameter (the prebuilt board statement). An erased person is
    nobody: each of their kudos carries its own tombstone id, never a place on a board."""
    people = select(Member.user_id).where(Member.workspace_id == workspace_id)
    if require_opt_in:
        opted_in = people.where(col(Member.leaderboard_opt_in).is_(True), col(Member.leaderboard_opt_out).is_(False))
        return who.in_(opted_in)
    return who.not_in(people.where(col(Member.leaderboard_opt_out).is_(True))) & ~who.startswith(TOMBSTONE_PREFIX)


def _department_of(direction: str) -> Mapped[str | None]:
    """The department the ranked person had when each kudos was given (stored on the row): a board by
    department counts kudos received (or given) in that department, so moving a person changes no past total."""
    return col(Kudos.receiver_department) if direction == "received" else col(Kudos.giver_department)


def _in_department(direction: str, department: Any) -> ColumnElement[bool]:
    """``department`` is a lower-cased value or a bound parameter."""
    return func.lower(_department_of(direction)) == department


@dataclass
class Ranked:
    user_id: str
    points: int
    rank: int
    name: str | None = field(default=None, compare=False)  # display name (or handle), where the query joined it


async def leaderboard(
    session: AsyncSession,
    *,
    workspace_id: str,
    since: datetime | None,
    until: datetime | None = None,
    direction: str = "received",
    value_tag: str | None = None,
    department: str | None = None,
    limit: int = 10,
    require_opt_in: bool = False,
) -> list[Ranked]:
    """Top people by points in a period, with dense ranks. Opted-out people never appear."""
    who = _who(direction)
    total = func.sum(Kudos.points).label("total")
    stmt = select(who, total).where(Kudos.workspace_id == workspace_id)
    if since is not None:
        stmt = stmt.where(Kudos.created_at >= since)
    if until is not None:
        stmt = stmt.where(Kudos.created_at < until)
    if value_tag:
        stmt = stmt.where(Kudos.value_tag == value_tag)
    stmt = stmt.where(_visible(who, workspace_id, require_opt_in=require_opt_in))
    if department:
        stmt = stmt.where(_in_department(direction, department.lower()))
    stmt = stmt.group_by(who).order_by(total.desc(), who).limit(limit)
    rows = (await session.execute(stmt)).all()
    out: list[Ranked] = []
    rank, last = 0, None
    for uid, pts in rows:
        if pts != last:
            rank += 1
            last = pts
        out.append(Ranked(uid, int(pts), rank))
    return out


async def rank_of(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    since: datetime | None,
    direction: str = "received",
    value_tag: str | None = None,
    department: str | None = None,
    require_opt_in: bool = False,
) -> Ranked | None:
    """The caller's own dense rank on the board with the same filters (None when they are not on it).

    The caller is ranked even when hidden from others (e.g. not opted in); the others are only
    the people the board would show.
    """
    who = _who(direction)
    uid = label("uid", who)
    total = func.sum(Kudos.points).label("total")
    base = select(uid, total).where(Kudos.workspace_id == workspace_id)
    if since is not None:
        base = base.where(Kudos.created_at >= since)
    if value_tag:
        base = base.where(Kudos.value_tag == value_tag)
    if department:
        base = base.where(_in_department(direction, department.lower()))
    visible = _visible(who, workspace_id, require_opt_in=require_opt_in)
    sub = base.where(visible | (who == user_id)).group_by(who).subquery()
    mine = (await session.execute(select(sub.c.total).where(sub.c.uid == user_id))).scalar_one_or_none()
    if mine is None:
        return None
    higher = (
        await session.execute(
            select(func.count(func.distinct(sub.c.total))).where(sub.c.total > mine, sub.c.uid != user_id)
        )
    ).scalar_one()
    return Ranked(user_id, int(mine), int(higher) + 1)


async def points_by_value(
    session: AsyncSession, *, workspace_id: str, user_id: str, direction: str = "received"
) -> list[tuple[str | None, int]]:
    who = _who(direction)
    stmt = (
        select(Kudos.value_tag, func.sum(Kudos.points))
        .where(Kudos.workspace_id == workspace_id, who == user_id)
        .group_by(Kudos.value_tag)
        .order_by(func.sum(Kudos.points).desc())
    )
    return [(tag, int(n)) for tag, n in (await session.execute(stmt)).all()]


async def total_points(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    direction: str = "received",
    cross_team: bool | None = None,
) -> int:
    """All-time points received (or given); ``cross_team`` limits to kudos across departments."""
    who = _who(direction)
    stmt = select(func.coalesce(func.sum(Kudos.points), 0)).where(Kudos.workspace_id == workspace_id, who == user_id)
    if cross_team is not None:
        stmt = stmt.where(Kudos.cross_team == cross_team)
    return int((await session.execute(stmt)).scalar_one())


async def giving_days(session: AsyncSession, *, workspace_id: str, user_id: str, since: date) -> list[date]:
    stmt = (
        select(col(Kudos.giver_day))
        .where(Kudos.workspace_id == workspace_id, Kudos.giver_id == user_id, col(Kudos.giver_day) >= since)
        .distinct()
    )
    return [d for (d,) in (await session.execute(stmt)).all()]


async def board_and_rank(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str | None,
    since: datetime | None,
    direction: str = "received",
    value_tag: str | None = None,
    department: str | None = None,
    limit: int = 10,
    require_opt_in: bool = False,
    caller_shown: bool | None = None,
) -> tuple[list[Ranked], Ranked | None]:
    """The board (as :func:`leaderboard`) and the caller's dense rank (as :func:`rank_of`) in ONE statement.

    The period's kudos are grouped once (a materialized CTE); the top ``limit`` rows and the caller's
    total with the number of distinct higher totals come back together. ``user_id=None`` skips the rank
    (e.g. the caller opted out). ``caller_shown`` says whether the caller may appear on the board
    (their own flags, which the caller usually knows); None looks them up.
    """
    if user_id is not None and caller_shown is None:
        flags = (
            await session.execute(
                select(Member.leaderboard_opt_out, Member.leaderboard_opt_in).where(
                    Member.workspace_id == workspace_id, Member.user_id == user_id
                )
            )
        ).first()
        opted_out, opted_in = (bool(flags[0]), bool(flags[1])) if flags else (False, False)
        caller_shown = not opted_out and (opted_in or not require_opt_in)
    stmt = _board_statement(
        direction,
        since is not None,
        bool(value_tag),
        bool(department),
        require_opt_in,
        user_id is not None,
        bool(caller_shown),
    )
    params = {
        "ws": workspace_id,
        "since": since,
        "tag": value_tag,
        "dept": department.lower() if department else None,
        "me": user_id,
        "limit": limit,
    }
    rows = list((await session.execute(stmt, params)).all())
    board: list[Ranked] = []
    mine: Ranked | None = None
    rank, last = 0, None
    for person, pts, higher, kind, name in rows:
        if kind == "m":
            mine = Ranked(person, int(pts), int(higher) + 1)
            continue
        if pts != last:
            rank += 1
            last = pts
        board.append(Ranked(person, int(pts), rank, name))
    return board, mine


@functools.cache
def _board_statement(
    direction: str,
    since: bool,
    value_tag: bool,
    department: bool,
    require_opt_in: bool,
    with_caller: bool,
    caller_shown: bool,
) -> Any:
    """The board query for one combination of filters, built once; values come as bound parameters
    (``ws``, ``since``, ``tag``, ``dept``, ``me``, ``limit``). Building the expression costs more than
    running it on a small period, so each shape is kept."""
    ws: Any = bindparam("ws")
    me: Any = bindparam("me")
    who = _who(direction)
    uid = label("uid", who)
    total = func.sum(Kudos.points).label("total")
    shown = _visible(who, ws, require_opt_in=require_opt_in)
    base = sa_select(uid, total).where(col(Kudos.workspace_id) == ws)
    if since:
        base = base.where(col(Kudos.created_at) >= bindparam("since", type_=UTCDateTime()))
    if value_tag:
        base = base.where(col(Kudos.value_tag) == bindparam("tag"))
    if department:
        base = base.where(_in_department(direction, bindparam("dept")))
    base = base.where(shown | (who == me) if with_caller else shown).group_by(who)
    totals = base.cte("totals").prefix_with("MATERIALIZED")
    top = sa_select(totals.c.uid, totals.c.total, literal(0).label("higher"), literal("b").label("kind"))
    if with_caller and not caller_shown:
        top = top.where(totals.c.uid != me)
    board = top.order_by(totals.c.total.desc(), totals.c.uid).limit(bindparam("limit")).subquery("board")
    # The names for the board come with it (one round trip fewer than looking them up afterwards).
    person = aliased(Member, name="person")
    name = func.coalesce(func.nullif(person.display_name, ""), person.handle).label("name")
    out = sa_select(board.c.uid, board.c.total, board.c.higher, board.c.kind, name).outerjoin(
        person, (col(person.workspace_id) == ws) & (col(person.user_id) == board.c.uid)
    )
    if not with_caller:
        return out.order_by(board.c.total.desc(), board.c.uid)
    # One more row for the caller: their total and how many distinct totals are higher.
    others = totals.alias("others")
    higher = (
        sa_select(func.count(func.distinct(others.c.total)))
        .where(others.c.total > totals.c.total, others.c.uid != me)
        .scalar_subquery()
    )
    mine = sa_select(
        totals.c.uid, totals.c.total, higher.label("higher"), literal("m").label("kind"), null().label("name")
    ).where(totals.c.uid == me)
    both = union_all(out, mine).subquery("rows")
    return sa_select(both).order_by(both.c.kind, both.c.total.desc(), both.c.uid)
