"""The goodwill budget (Kulanzbudget): team budgets, cases, and the append-only finance ledger.

Amounts are integers in the currency's minor units (cents, Rappen; yen have none), never floats.
A team's spending in one budget period is one row (``goodwill_period``); the conditional update of that
row is the budget check, so concurrent cases can never spend more than the budget allows. The ledger
(``goodwill_entry``) is only ever appended to: a correction is a reversal entry with a reason.

Personal data: a case names the person who logged it and, when an approver decided, who decided. After
the workspace's retention period those links and the story are cleared; the ledger lines carry no person
at all and are kept for the bookkeeping period (``LEDGER_YEARS``), then deleted by the goodwill ledger job.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Column, CursorResult, ForeignKey, Index, Integer, UniqueConstraint, delete, func
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import insert_ignore
from storage.models import opt_ts_column, ts_column
from storage.types import utcnow

LEDGER_YEARS = 10  # the longest bookkeeping period in DACH (CH OR Art. 958f; DE HGB § 257 for books)
PERIODS = ("year", "quarter", "month")
STATUSES = ("approved", "pending", "declined", "reversed")


class GoodwillSettings(SQLModel, table=True):
    """The workspace's goodwill currency (one per workspace: the ledger books in one currency)."""

    __tablename__ = "goodwill_settings"

    workspace_id: str = Field(primary_key=True, foreign_key="workspace.id", max_length=120)
    currency: str = Field(max_length=3)


class GoodwillBudget(SQLModel, table=True):
    """A team's budget: a channel (``team`` = channel id) or a department (``team`` = ``dept:<name>``)."""

    __tablename__ = "goodwill_budget"
    __table_args__ = (UniqueConstraint("workspace_id", "team"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120, index=True)
    team: str = Field(max_length=160)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # per period, minor units
    period: str = Field(default="year", max_length=10)  # year | quarter | month
    case_limit: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # minor units
    rule_cases: int | None = None  # at most this many cases per period settled by rule
    stories: bool = False  # a short story line to the team channel for each case settled by rule
    updated_at: datetime = ts_column()


class GoodwillTeamMember(SQLModel, table=True):
    """Who belongs to a channel team, when the admin named them (without names: everyone may log)."""

    __tablename__ = "goodwill_team_member"

    budget_id: int = Field(
        sa_column=Column(Integer, ForeignKey("goodwill_budget.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: str = Field(primary_key=True, max_length=120)


class GoodwillPeriod(SQLModel, table=True):
    """A team's spending in one period: the row whose conditional update is the budget check."""

    __tablename__ = "goodwill_period"

    budget_id: int = Field(
        sa_column=Column(Integer, ForeignKey("goodwill_budget.id", ondelete="CASCADE"), primary_key=True)
    )
    period_key: str = Field(primary_key=True, max_length=10)  # "2026", "2026-Q4", "2026-11"
    spent: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rule_cases: int = 0
    warned: bool = False  # the 80 % warning went to the admins


class GoodwillCase(SQLModel, table=True):
    """One goodwill case. ``submission_key`` makes a retried or double-clicked submission count once."""

    __tablename__ = "goodwill_case"
    __table_args__ = (
        Index("ix_goodwill_case_ws_created", "workspace_id", "created_at"),
        UniqueConstraint("workspace_id", "submission_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    budget_id: int = Field(sa_column=Column(Integer, ForeignKey("goodwill_budget.id"), nullable=False, index=True))
    period_key: str = Field(max_length=10)
    author_id: str | None = Field(default=None, max_length=120)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    story: str = Field(default="", max_length=1000)
    category: str | None = Field(default=None, max_length=40)
    reference: str | None = Field(default=None, max_length=60)
    status: str = Field(default="pending", max_length=12)
    by_rule: bool = False
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = opt_ts_column()
    decision_note: str | None = Field(default=None, max_length=2000)
    submission_key: str | None = Field(default=None, max_length=120)
    created_at: datetime = ts_column()


class GoodwillEntry(SQLModel, table=True):
    """A line of the finance ledger: a spend (positive) or a reversal (negative), never changed afterwards."""

    __tablename__ = "goodwill_entry"
    __table_args__ = (Index("ix_goodwill_entry_ws_booked", "workspace_id", "booked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("goodwill_case.id"), nullable=False, index=True))
    kind: str = Field(default="spend", max_length=10)  # spend | reversal
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # signed, minor units
    currency: str = Field(max_length=3)
    by_rule: bool = False
    note: str | None = Field(default=None, max_length=500)  # the reason of a reversal
    booked_at: datetime = ts_column()


class GoodwillHighlight(SQLModel, table=True):
    """A colleague marked a case's story for the digest (one mark per person and case)."""

    __tablename__ = "goodwill_highlight"

    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("goodwill_case.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: str = Field(primary_key=True, max_length=120)
    created_at: datetime = ts_column()


async def _rowcount(session: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(stmt))
    return int(result.rowcount)


# --- settings and budgets ---------------------------------------------------------------------------------


async def currency(session: AsyncSession, *, workspace_id: str) -> str | None:
    row = await session.get(GoodwillSettings, workspace_id)
    return row.currency if row else None


async def set_currency(session: AsyncSession, *, workspace_id: str, code: str) -> None:
    await session.merge(GoodwillSettings(workspace_id=workspace_id, currency=code))
    await session.flush()


async def budgets(session: AsyncSession, *, workspace_id: str) -> list[GoodwillBudget]:
    stmt = (
        select(GoodwillBudget)
        .where(col(GoodwillBudget.workspace_id) == workspace_id)
        .order_by(col(GoodwillBudget.team))
    )
    return list((await session.execute(stmt)).scalars().all())


async def budget_for(session: AsyncSession, *, workspace_id: str, team: str) -> GoodwillBudget | None:
    stmt = select(GoodwillBudget).where(
        col(GoodwillBudget.workspace_id) == workspace_id, func.lower(col(GoodwillBudget.team)) == team.lower()
    )
    return (await session.execute(stmt)).scalars().first()


async def get_budget(session: AsyncSession, *, workspace_id: str, budget_id: int) -> GoodwillBudget | None:
    row = await session.get(GoodwillBudget, budget_id)
    return row if row is not None and row.workspace_id == workspace_id else None


async def save_budget(session: AsyncSession, *, workspace_id: str, team: str, **values: Any) -> GoodwillBudget:
    row = await budget_for(session, workspace_id=workspace_id, team=team)
    if row is None:
        row = GoodwillBudget(workspace_id=workspace_id, team=team, **values)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return row


async def set_members(session: AsyncSession, *, budget_id: int, user_ids: list[str]) -> None:
    await session.execute(delete(GoodwillTeamMember).where(col(GoodwillTeamMember.budget_id) == budget_id))
    for uid in dict.fromkeys(user_ids):
        session.add(GoodwillTeamMember(budget_id=budget_id, user_id=uid))
    await session.flush()


async def members(session: AsyncSession, *, budget_id: int) -> list[str]:
    stmt = select(GoodwillTeamMember.user_id).where(col(GoodwillTeamMember.budget_id) == budget_id)
    return sorted((await session.execute(stmt)).scalars().all())


# --- the period row: the budget check -------------------------------------------------------------------


async def period(session: AsyncSession, *, budget_id: int, period_key: str) -> GoodwillPeriod:
    row = await session.get(GoodwillPeriod, (budget_id, period_key), populate_existing=True)
    return row or GoodwillPeriod(budget_id=budget_id, period_key=period_key)


async def period_people(session: AsyncSession, *, budget_id: int, period_key: str) -> int:
    """How many people logged a budget's cases in one period (an erased author counts as nobody)."""
    author = col(GoodwillCase.author_id)
    stmt = select(func.count(func.distinct(author))).where(
        col(GoodwillCase.budget_id) == budget_id,
        col(GoodwillCase.period_key) == period_key,
        author.is_not(None),
        ~author.startswith("former-"),
    )
    return int((await session.execute(stmt)).scalar_one())


async def _ensure_period(session: AsyncSession, budget_id: int, period_key: str) -> None:
    await insert_ignore(
        session,
        GoodwillPeriod,
        {"budget_id": budget_id, "period_key": period_key, "spent": 0, "rule_cases": 0, "warned": False},
        ["budget_id", "period_key"],
    )


async def spend_by_rule(session: AsyncSession, *, budget: GoodwillBudget, period_key: str, amount: int) -> bool:
    """Take ``amount`` from the period if it fits the budget (and the rule's case count); False if not.

    One conditional UPDATE is the check: concurrent cases queue on the row (PostgreSQL) or the write
    lock (SQLite), and each sees what the one before it spent."""
    assert budget.id is not None
    await _ensure_period(session, budget.id, period_key)
    spent = col(GoodwillPeriod.spent)
    cases = col(GoodwillPeriod.rule_cases)
    conds = [
        col(GoodwillPeriod.budget_id) == budget.id,
        col(GoodwillPeriod.period_key) == period_key,
        spent + amount <= budget.amount,
    ]
    if budget.rule_cases is not None:
        conds.append(cases < budget.rule_cases)
    return bool(
        await _rowcount(
            session,
            sa_update(GoodwillPeriod).where(*conds).values(spent=spent + amount, rule_cases=cases + 1),
        )
    )


async def add_spent(session: AsyncSession, *, budget_id: int, period_key: str, amount: int) -> None:
    """Book an approver's decision (or a reversal, negative) into the period, whatever is left."""
    await _ensure_period(session, budget_id, period_key)
    spent = col(GoodwillPeriod.spent)
    await session.execute(
        sa_update(GoodwillPeriod)
        .where(col(GoodwillPeriod.budget_id) == budget_id, col(GoodwillPeriod.period_key) == period_key)
        .values(spent=spent + amount)
    )


async def claim_warning(session: AsyncSession, *, budget_id: int, period_key: str) -> bool:
    """True for exactly one caller per period: the 80 % warning goes out once."""
    return bool(
        await _rowcount(
            session,
            sa_update(GoodwillPeriod)
            .where(
                col(GoodwillPeriod.budget_id) == budget_id,
                col(GoodwillPeriod.period_key) == period_key,
                col(GoodwillPeriod.warned).is_(False),
            )
            .values(warned=True),
        )
    )


# --- cases and the ledger -------------------------------------------------------------------------------


async def case_by_key(session: AsyncSession, *, workspace_id: str, key: str) -> GoodwillCase | None:
    stmt = select(GoodwillCase).where(
        col(GoodwillCase.workspace_id) == workspace_id, col(GoodwillCase.submission_key) == key
    )
    return (await session.execute(stmt)).scalars().first()


async def get_case(
    session: AsyncSession, *, workspace_id: str, case_id: int, lock: bool = False
) -> GoodwillCase | None:
    stmt = select(GoodwillCase).where(col(GoodwillCase.workspace_id) == workspace_id, col(GoodwillCase.id) == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalars().first()


async def add_case(session: AsyncSession, case: GoodwillCase) -> bool:
    """Insert a case; False when its submission key was seen before (a retry or double click)."""
    values = case.model_dump(exclude={"id"})
    if case.submission_key is None:
        session.add(case)
        await session.flush()
        return True
    written = await insert_ignore(session, GoodwillCase, values, ["workspace_id", "submission_key"])
    if written:
        found = await case_by_key(session, workspace_id=case.workspace_id, key=case.submission_key)
        assert found is not None
        case.id = found.id
    return written


async def book(
    session: AsyncSession,
    *,
    case: GoodwillCase,
    amount: int,
    at: datetime,
    kind: str = "spend",
    note: str | None = None,
) -> GoodwillEntry:
    assert case.id is not None
    entry = GoodwillEntry(
        workspace_id=case.workspace_id,
        case_id=case.id,
        kind=kind,
        amount=amount,
        currency=case.currency,
        by_rule=case.by_rule,
        note=note,
        booked_at=at,
    )
    session.add(entry)
    await session.flush()
    return entry


async def decide(
    session: AsyncSession, *, case: GoodwillCase, to_status: str, actor_id: str, at: datetime, note: str | None
) -> bool:
    """Move a pending case to ``approved``/``declined``; False if someone else decided first."""
    assert case.id is not None
    changed = await _rowcount(
        session,
        sa_update(GoodwillCase)
        .where(col(GoodwillCase.id) == case.id, col(GoodwillCase.status) == "pending")
        .values(status=to_status, decided_by=actor_id, decided_at=at, decision_note=note)
        .execution_options(synchronize_session=False),
    )
    await session.refresh(case)
    return bool(changed)


async def mark_reversed(session: AsyncSession, *, case: GoodwillCase) -> bool:
    assert case.id is not None
    changed = await _rowcount(
        session,
        sa_update(GoodwillCase)
        .where(col(GoodwillCase.id) == case.id, col(GoodwillCase.status) == "approved")
        .values(status="reversed")
        .execution_options(synchronize_session=False),
    )
    await session.refresh(case)
    return bool(changed)


async def pending_cases(session: AsyncSession, *, workspace_id: str) -> list[GoodwillCase]:
    stmt = (
        select(GoodwillCase)
        .where(col(GoodwillCase.workspace_id) == workspace_id, col(GoodwillCase.status) == "pending")
        .order_by(col(GoodwillCase.id))
    )
    return list((await session.execute(stmt)).scalars().all())


@dataclass
class LedgerLine:
    entry: GoodwillEntry
    case: GoodwillCase
    team: str


async def ledger(session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime) -> list[LedgerLine]:
    stmt = (
        select(GoodwillEntry, GoodwillCase, GoodwillBudget.team)
        .join(GoodwillCase, col(GoodwillCase.id) == col(GoodwillEntry.case_id))
        .join(GoodwillBudget, col(GoodwillBudget.id) == col(GoodwillCase.budget_id))
        .where(
            col(GoodwillEntry.workspace_id) == workspace_id,
            col(GoodwillEntry.booked_at) >= since,
            col(GoodwillEntry.booked_at) < until,
        )
        .order_by(col(GoodwillEntry.booked_at), col(GoodwillEntry.id))
    )
    return [LedgerLine(e, c, str(team)) for e, c, team in (await session.execute(stmt)).all()]


async def highlight(session: AsyncSession, *, case_id: int, user_id: str, at: datetime) -> bool:
    return await insert_ignore(
        session, GoodwillHighlight, {"case_id": case_id, "user_id": user_id, "created_at": at}, ["case_id", "user_id"]
    )


async def purge_ledger(session: AsyncSession, *, before: datetime) -> int:
    """Delete ledger lines (and their cases) booked before ``before``: the bookkeeping period is over."""
    newer = select(GoodwillEntry.case_id).where(col(GoodwillEntry.booked_at) >= before)
    n = await _rowcount(session, delete(GoodwillEntry).where(col(GoodwillEntry.booked_at) < before))
    await session.execute(
        delete(GoodwillCase).where(col(GoodwillCase.created_at) < before, col(GoodwillCase.id).not_in(newer))
    )
    return n


# --- the digest ---------------------------------------------------------------------------------------------


@dataclass
class DigestFigures:
    cases: int = 0
    by_rule: int = 0  # settled without asking anyone
    spent: int = 0  # minor units, net of reversals
    median: int | None = None  # minor units, over cases approved in the period
    currency: str | None = None
    highlighted: list[GoodwillCase] | None = None
    people: int = 0  # distinct people who logged the period's cases (the minimum-group rule)
    people_per_budget: dict[int, int] = field(default_factory=dict)
    authors_per_budget: dict[int, set[str]] = field(default_factory=dict)  # who, for the rest beside a total


async def digest_figures(
    session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime, highlights: int = 2
) -> DigestFigures:
    stmt = select(GoodwillCase).where(
        col(GoodwillCase.workspace_id) == workspace_id,
        col(GoodwillCase.created_at) >= since,
        col(GoodwillCase.created_at) < until,
    )
    cases = list((await session.execute(stmt)).scalars().all())
    approved = [c for c in cases if c.status in ("approved", "reversed")]
    spent_stmt = select(func.coalesce(func.sum(GoodwillEntry.amount), 0)).where(
        col(GoodwillEntry.workspace_id) == workspace_id,
        col(GoodwillEntry.booked_at) >= since,
        col(GoodwillEntry.booked_at) < until,
    )
    spent = int((await session.execute(spent_stmt)).scalar_one())
    marks = func.count(col(GoodwillHighlight.user_id)).label("marks")
    hl_stmt = (
        select(GoodwillCase, marks)
        .join(GoodwillHighlight, col(GoodwillHighlight.case_id) == col(GoodwillCase.id))
        .where(
            col(GoodwillCase.workspace_id) == workspace_id,
            col(GoodwillCase.created_at) >= since,
            col(GoodwillCase.created_at) < until,
            col(GoodwillCase.story) != "",
        )
        .group_by(col(GoodwillCase.id))
        .order_by(marks.desc(), col(GoodwillCase.id))
        .limit(highlights)
    )
    top = [c for c, _ in (await session.execute(hl_stmt)).all()]
    return DigestFigures(
        cases=len(cases),
        by_rule=sum(1 for c in cases if c.by_rule),
        spent=spent,
        median=int(statistics.median_low([c.amount for c in approved])) if approved else None,
        currency=await currency(session, workspace_id=workspace_id),
        highlighted=top,
        people=len({c.author_id for c in cases if _a_person(c.author_id)}),
        people_per_budget={
            b: len({c.author_id for c in cases if c.budget_id == b and _a_person(c.author_id)})
            for b in {c.budget_id for c in cases}
        },
        authors_per_budget={
            b: {c.author_id for c in cases if c.budget_id == b and c.author_id and _a_person(c.author_id)}
            for b in {c.budget_id for c in cases}
        },
    )


def _a_person(author_id: str | None) -> bool:
    """Whether an author counts as a person behind a figure: an erased author's cases each carry their own
    tombstone id ("former-…"), and one person must not pass for several."""
    return bool(author_id) and not (author_id or "").startswith("former-")


async def workspaces_with_pending(session: AsyncSession) -> list[str]:
    stmt = select(GoodwillCase.workspace_id).where(col(GoodwillCase.status) == "pending").distinct()
    return list((await session.execute(stmt)).scalars().all())
