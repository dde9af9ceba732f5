"""Suggestion box tables and queries: suggestions, votes, followers, the audit trail, drafts, settings.

An anonymous suggestion stores no author and no author hash; its receipt code is kept only as a
SHA-256 hash, and its timestamps only to the hour.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Column, CursorResult, ForeignKey, Index, Integer, String, delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import insert_ignore, new_row_id
from storage.models import Member, opt_ts_column, ts_column

STATUSES = ("submitted", "in_review", "approved", "in_progress", "done", "declined", "duplicate")
UNDECIDED = ("submitted", "in_review")
OPEN = ("submitted", "in_review", "approved", "in_progress")
CATEGORIES = ("process", "form", "approval", "system", "media_break", "rule", "other")
WORKSPACE_WIDE = ""  # department key of workspace-wide approvers


class SuggestionSettings(SQLModel, table=True):
    """Suggestion box settings of one workspace."""

    __tablename__ = "suggestion_settings"

    workspace_id: str = Field(primary_key=True, max_length=120)
    review_channel_id: str | None = Field(default=None, max_length=255)
    reporting_text: str | None = Field(default=None, max_length=500)
    deadline_days: int = 14
    anon_hourly_limit: int = 20


class SuggestionApprover(SQLModel, table=True):
    """Who decides: workspace-wide (department "") or for one department."""

    __tablename__ = "suggestion_approver"

    workspace_id: str = Field(primary_key=True, max_length=120)
    department: str = Field(primary_key=True, max_length=120)
    user_id: str = Field(primary_key=True, max_length=120)


class Suggestion(SQLModel, table=True):
    __tablename__ = "suggestion"
    __table_args__ = (Index("ix_suggestion_ws_status", "workspace_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    title: str = Field(max_length=200)
    problem: str = Field(default="", max_length=4000)
    proposal: str = Field(default="", max_length=4000)
    category: str = Field(default="other", max_length=20)
    department: str | None = Field(default=None, max_length=120)
    affects_customers: bool = False
    anonymous: bool = False
    author_id: str | None = Field(default=None, max_length=120)  # always None when anonymous
    receipt_hash: str | None = Field(default=None, max_length=64, unique=True)
    status: str = Field(default="submitted", max_length=20)
    duplicate_of_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    decided_at: datetime | None = opt_ts_column()
    decided_by: str | None = Field(default=None, max_length=120)
    decision_note: str | None = Field(default=None, max_length=2000)
    done_at: datetime | None = opt_ts_column()
    announced_at: datetime | None = opt_ts_column()
    embedding: list[float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = ts_column()


class SuggestionVote(SQLModel, table=True):
    """One vote per person and suggestion: the primary key is the uniqueness check."""

    __tablename__ = "suggestion_vote"

    suggestion_id: int = Field(
        sa_column=Column(Integer, ForeignKey("suggestion.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: str = Field(sa_column=Column(String(120), primary_key=True))
    created_at: datetime = ts_column()


class SuggestionFollower(SQLModel, table=True):
    __tablename__ = "suggestion_follower"

    suggestion_id: int = Field(
        sa_column=Column(Integer, ForeignKey("suggestion.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: str = Field(sa_column=Column(String(120), primary_key=True))
    created_at: datetime = ts_column()


class SuggestionEvent(SQLModel, table=True):
    """The audit trail: every status change, question and answer, with actor (None: anonymous) and time."""

    __tablename__ = "suggestion_event"

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: int = Field(
        sa_column=Column(Integer, ForeignKey("suggestion.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(default="status", max_length=20)  # status | question | answer
    actor_id: str | None = Field(default=None, max_length=120)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=2000)
    at: datetime = ts_column()


class SuggestionDraft(SQLModel, table=True):
    """A submission held back while its author looks at similar suggestions. No author is stored."""

    __tablename__ = "suggestion_draft"

    token: str = Field(primary_key=True, max_length=64)
    workspace_id: str = Field(max_length=120, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = ts_column()


class SuggestionAnonBucket(SQLModel, table=True):
    """Anonymous submissions per workspace and hour: a rate limit that stores no identity."""

    __tablename__ = "suggestion_anon_bucket"

    workspace_id: str = Field(primary_key=True, max_length=120)
    hour: str = Field(primary_key=True, max_length=20)  # "2026-11-18T09" (UTC)
    count: int = 0


def receipt_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def _rowcount(session: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(stmt))
    return int(result.rowcount)


# --- settings and approvers ------------------------------------------------------------------------------


async def get_settings(session: AsyncSession, *, workspace_id: str) -> SuggestionSettings:
    """The workspace's settings (defaults when none were saved; not added to the session)."""
    row = await session.get(SuggestionSettings, workspace_id)
    return row or SuggestionSettings(workspace_id=workspace_id)


async def save_settings(session: AsyncSession, *, workspace_id: str, **values: Any) -> SuggestionSettings:
    await insert_ignore(session, SuggestionSettings, {"workspace_id": workspace_id}, ["workspace_id"])
    row = await session.get(SuggestionSettings, workspace_id, populate_existing=True)
    assert row is not None
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    await session.flush()
    return row


async def set_approvers(session: AsyncSession, *, workspace_id: str, department: str, user_ids: list[str]) -> None:
    await session.execute(
        delete(SuggestionApprover).where(
            col(SuggestionApprover.workspace_id) == workspace_id, col(SuggestionApprover.department) == department
        )
    )
    for uid in dict.fromkeys(user_ids):
        session.add(SuggestionApprover(workspace_id=workspace_id, department=department, user_id=uid))
    await session.flush()


async def list_approvers(session: AsyncSession, *, workspace_id: str) -> dict[str, list[str]]:
    """Department ("" = workspace-wide) → approver ids."""
    stmt = (
        select(SuggestionApprover)
        .where(col(SuggestionApprover.workspace_id) == workspace_id)
        .order_by(col(SuggestionApprover.department), col(SuggestionApprover.user_id))
    )
    out: dict[str, list[str]] = {}
    for row in (await session.execute(stmt)).scalars().all():
        out.setdefault(row.department, []).append(row.user_id)
    return out


async def deciders(session: AsyncSession, *, workspace_id: str, department: str | None) -> list[str]:
    """Who may decide a suggestion for ``department``: its approvers and the workspace-wide ones.

    Empty when no approvers are configured (then workspace admins decide)."""
    config = await list_approvers(session, workspace_id=workspace_id)
    found = list(config.get(WORKSPACE_WIDE, []))
    if department:
        for dept, ids in config.items():
            if dept and dept.lower() == department.lower():
                found = ids + [u for u in found if u not in ids]
    return found


async def admins(session: AsyncSession, *, workspace_id: str) -> list[str]:
    stmt = select(Member.user_id).where(
        col(Member.workspace_id) == workspace_id, col(Member.is_admin).is_(True), col(Member.is_bot).is_(False)
    )
    return sorted((await session.execute(stmt)).scalars().all())


async def departments(session: AsyncSession, *, workspace_id: str) -> list[str]:
    stmt = (
        select(Member.department)
        .where(col(Member.workspace_id) == workspace_id, col(Member.department).is_not(None))
        .distinct()
        .order_by(col(Member.department))
    )
    return [d for d in (await session.execute(stmt)).scalars().all() if d]


# --- suggestions ------------------------------------------------------------------------------------------


async def get(session: AsyncSession, *, workspace_id: str, suggestion_id: int, lock: bool = False) -> Suggestion | None:
    stmt = select(Suggestion).where(col(Suggestion.workspace_id) == workspace_id, col(Suggestion.id) == suggestion_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalars().first()


async def by_receipt(session: AsyncSession, *, workspace_id: str, code: str) -> Suggestion | None:
    stmt = select(Suggestion).where(
        col(Suggestion.workspace_id) == workspace_id, col(Suggestion.receipt_hash) == receipt_hash(code)
    )
    return (await session.execute(stmt)).scalars().first()


async def add_event(
    session: AsyncSession,
    *,
    suggestion_id: int,
    at: datetime,
    kind: str = "status",
    actor_id: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    anonymous: bool = False,
) -> SuggestionEvent:
    """One audit row; an anonymous one (no actor, an anonymous action) gets a random id."""
    event = SuggestionEvent(
        id=await new_row_id(session, SuggestionEvent, anonymous=anonymous),
        suggestion_id=suggestion_id,
        kind=kind,
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
        at=at,
    )
    session.add(event)
    await session.flush()
    return event


async def events(session: AsyncSession, *, suggestion_id: int) -> list[SuggestionEvent]:
    stmt = (
        select(SuggestionEvent)
        .where(col(SuggestionEvent.suggestion_id) == suggestion_id)
        .order_by(col(SuggestionEvent.at), col(SuggestionEvent.id))
    )
    return list((await session.execute(stmt)).scalars().all())


async def transition(
    session: AsyncSession,
    *,
    suggestion: Suggestion,
    allowed_from: tuple[str, ...],
    to_status: str,
    actor_id: str | None,
    at: datetime,
    note: str | None = None,
    decision: bool = False,
    duplicate_of: int | None = None,
    kind: str = "status",
) -> SuggestionEvent | None:
    """Move a suggestion to ``to_status`` if it is still in one of ``allowed_from``; None if it was not.

    The conditional UPDATE is the check, so two approvers deciding at once cannot both win.
    """
    assert suggestion.id is not None
    from_status = suggestion.status
    values: dict[str, Any] = {"status": to_status}
    if decision:
        values.update(decided_at=at, decided_by=actor_id, decision_note=note)
    if to_status == "done":
        values["done_at"] = at
    if duplicate_of is not None:
        values["duplicate_of_id"] = duplicate_of
    changed = await _rowcount(
        session,
        update(Suggestion)
        .where(col(Suggestion.id) == suggestion.id, col(Suggestion.status).in_(allowed_from))
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    await session.refresh(suggestion)
    if not changed:
        return None
    return await add_event(
        session,
        suggestion_id=suggestion.id,
        at=at,
        kind=kind,
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
    )


async def list_suggestions(
    session: AsyncSession,
    *,
    workspace_id: str,
    statuses: tuple[str, ...] | None = None,
    author_id: str | None = None,
    limit: int = 15,
) -> list[tuple[Suggestion, int]]:
    """Announced suggestions with their vote counts, most votes first, then newest."""
    votes = (
        select(SuggestionVote.suggestion_id, func.count().label("n"))
        .group_by(col(SuggestionVote.suggestion_id))
        .subquery()
    )
    n = func.coalesce(votes.c.n, 0)
    stmt = (
        select(Suggestion, n)
        .outerjoin(votes, votes.c.suggestion_id == Suggestion.id)
        .where(col(Suggestion.workspace_id) == workspace_id, col(Suggestion.announced_at).is_not(None))
    )
    if statuses:
        stmt = stmt.where(col(Suggestion.status).in_(statuses))
    if author_id is not None:
        stmt = stmt.where(col(Suggestion.author_id) == author_id)
    stmt = stmt.order_by(n.desc(), col(Suggestion.id).desc()).limit(limit)
    return [(s, int(c)) for s, c in (await session.execute(stmt)).all()]


async def candidates(session: AsyncSession, *, workspace_id: str, limit: int = 300) -> list[Suggestion]:
    """Announced open suggestions a new one could duplicate."""
    stmt = (
        select(Suggestion)
        .where(
            col(Suggestion.workspace_id) == workspace_id,
            col(Suggestion.status).in_(OPEN),
            col(Suggestion.announced_at).is_not(None),
        )
        .order_by(col(Suggestion.id).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def pending_announcements(session: AsyncSession, *, before: datetime) -> list[Suggestion]:
    stmt = (
        select(Suggestion)
        .where(col(Suggestion.announced_at).is_(None), col(Suggestion.created_at) < before)
        .order_by(col(Suggestion.id))
    )
    return list((await session.execute(stmt)).scalars().all())


async def mark_announced(session: AsyncSession, *, suggestion_id: int, at: datetime) -> bool:
    """True for exactly one caller, however many schedulers race."""
    return bool(
        await _rowcount(
            session,
            update(Suggestion)
            .where(col(Suggestion.id) == suggestion_id, col(Suggestion.announced_at).is_(None))
            .values(announced_at=at),
        )
    )


async def overdue(session: AsyncSession, *, workspace_id: str, created_before: datetime) -> list[Suggestion]:
    stmt = (
        select(Suggestion)
        .where(
            col(Suggestion.workspace_id) == workspace_id,
            col(Suggestion.status).in_(UNDECIDED),
            col(Suggestion.announced_at).is_not(None),
            col(Suggestion.created_at) <= created_before,
        )
        .order_by(col(Suggestion.id))
    )
    return list((await session.execute(stmt)).scalars().all())


async def workspaces_with_undecided(session: AsyncSession) -> list[str]:
    stmt = select(Suggestion.workspace_id).where(col(Suggestion.status).in_(UNDECIDED)).distinct()
    return list((await session.execute(stmt)).scalars().all())


# --- votes and followers --------------------------------------------------------------------------------


async def add_vote(session: AsyncSession, *, suggestion_id: int, user_id: str, at: datetime) -> bool:
    """False if the person has already voted."""
    return await insert_ignore(
        session,
        SuggestionVote,
        {"suggestion_id": suggestion_id, "user_id": user_id, "created_at": at},
        ["suggestion_id", "user_id"],
    )


async def add_follower(session: AsyncSession, *, suggestion_id: int, user_id: str, at: datetime) -> bool:
    return await insert_ignore(
        session,
        SuggestionFollower,
        {"suggestion_id": suggestion_id, "user_id": user_id, "created_at": at},
        ["suggestion_id", "user_id"],
    )


async def vote_count(session: AsyncSession, *, suggestion_id: int) -> int:
    stmt = select(func.count()).select_from(SuggestionVote).where(col(SuggestionVote.suggestion_id) == suggestion_id)
    return int((await session.execute(stmt)).scalar_one())


async def voters(session: AsyncSession, *, suggestion_id: int) -> list[str]:
    stmt = select(SuggestionVote.user_id).where(col(SuggestionVote.suggestion_id) == suggestion_id)
    return sorted((await session.execute(stmt)).scalars().all())


async def followers(session: AsyncSession, *, suggestion_id: int) -> list[str]:
    stmt = select(SuggestionFollower.user_id).where(col(SuggestionFollower.suggestion_id) == suggestion_id)
    return sorted((await session.execute(stmt)).scalars().all())


async def audience(session: AsyncSession, *, suggestion: Suggestion) -> list[str]:
    """Everyone told of a decision: the known author, voters and followers, each once."""
    assert suggestion.id is not None
    people = [suggestion.author_id] if suggestion.author_id else []
    people += await voters(session, suggestion_id=suggestion.id)
    people += await followers(session, suggestion_id=suggestion.id)
    return list(dict.fromkeys(people))


async def move_support(session: AsyncSession, *, from_id: int, to_id: int, at: datetime) -> None:
    """Votes and followers of a duplicate move to the original; people on both count once."""
    for model in (SuggestionVote, SuggestionFollower):
        table = cast(Any, model)
        rows = (await session.execute(select(table.user_id).where(table.suggestion_id == from_id))).scalars().all()
        for uid in rows:
            await insert_ignore(
                session, model, {"suggestion_id": to_id, "user_id": uid, "created_at": at}, ["suggestion_id", "user_id"]
            )
        await session.execute(delete(model).where(table.suggestion_id == from_id))


# --- drafts and the anonymous rate limit ------------------------------------------------------------------


async def take_draft(session: AsyncSession, *, workspace_id: str, token: str) -> dict[str, Any] | None:
    """Remove and return a draft; None if it is gone (used, discarded or expired)."""
    row = await session.get(SuggestionDraft, token)
    if row is None or row.workspace_id != workspace_id:
        return None
    payload = dict(row.payload)
    await session.delete(row)
    await session.flush()
    return payload


async def purge_drafts(session: AsyncSession, *, before: datetime) -> int:
    return await _rowcount(session, delete(SuggestionDraft).where(col(SuggestionDraft.created_at) < before))


async def take_anon_slot(session: AsyncSession, *, workspace_id: str, hour: str, limit: int) -> bool:
    """Count one anonymous submission in this workspace's hour; False when the hour's limit is reached."""
    await insert_ignore(
        session,
        SuggestionAnonBucket,
        {"workspace_id": workspace_id, "hour": hour, "count": 0},
        ["workspace_id", "hour"],
    )
    return bool(
        await _rowcount(
            session,
            update(SuggestionAnonBucket)
            .where(
                col(SuggestionAnonBucket.workspace_id) == workspace_id,
                col(SuggestionAnonBucket.hour) == hour,
                col(SuggestionAnonBucket.count) < limit,
            )
            .values(count=col(SuggestionAnonBucket.count) + 1),
        )
    )


# --- the digest --------------------------------------------------------------------------------------------


@dataclass
class DigestSummary:
    """Suggestion figures for a period: "you said, we did"."""

    submitted: int = 0
    decided: int = 0
    approved: int = 0
    declined: int = 0
    done: list[tuple[int, str]] = field(default_factory=list)  # (id, title) done in the period
    median_decision_hours: float | None = None  # over decisions made in the period
    deciders: int = 0  # distinct people behind those decisions


async def digest_summary(session: AsyncSession, workspace_id: str, since: datetime, until: datetime) -> DigestSummary:
    """Submitted, decided and done suggestions in [since, until) and the median decision cycle time."""
    base = select(Suggestion).where(col(Suggestion.workspace_id) == workspace_id)
    submitted = (
        await session.execute(
            select(func.count())
            .select_from(Suggestion)
            .where(
                col(Suggestion.workspace_id) == workspace_id,
                col(Suggestion.created_at) >= since,
                col(Suggestion.created_at) < until,
            )
        )
    ).scalar_one()
    decided_rows = (
        (
            await session.execute(
                base.where(
                    col(Suggestion.decided_at).is_not(None),
                    col(Suggestion.decided_at) >= since,
                    col(Suggestion.decided_at) < until,
                )
            )
        )
        .scalars()
        .all()
    )
    done_rows = (
        (
            await session.execute(
                base.where(
                    col(Suggestion.done_at).is_not(None),
                    col(Suggestion.done_at) >= since,
                    col(Suggestion.done_at) < until,
                ).order_by(col(Suggestion.done_at))
            )
        )
        .scalars()
        .all()
    )
    hours = [(s.decided_at - s.created_at).total_seconds() / 3600 for s in decided_rows if s.decided_at is not None]
    approved_like = ("approved", "in_progress", "done")
    return DigestSummary(
        submitted=int(submitted),
        decided=len(decided_rows),
        approved=sum(1 for s in decided_rows if s.status in approved_like),
        declined=sum(1 for s in decided_rows if s.status == "declined"),
        done=[(s.id or 0, s.title) for s in done_rows],
        median_decision_hours=statistics.median(hours) if hours else None,
        deciders=len({s.decided_by for s in decided_rows if s.decided_by}),
    )
