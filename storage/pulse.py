"""Service-goal pulses: the pulse, who was asked, the answers, and each team's adopted goal (its fixed star).

An anonymous answer stores no author: its id is random, its time only the day, and while the pulse is
open it carries ``owner_key`` = HMAC-SHA256 of the person's id under the pulse's random ``salt`` so the
person can change it. At the close both the salt and every owner key are deleted (and the list of who
was asked), so afterwards nothing stored links an anonymous answer to anyone. On SQLite the answers
table has no rowid (``WITHOUT ROWID``), so the physical order of rows is the random ids' order, not the
order people answered in. A named answer keeps ``author_id`` (for export and erasure).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, String, delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import insert_ignore
from storage.models import Member, opt_ts_column, ts_column

STATUSES = ("open", "short", "closed")  # short: the deadline passed with fewer answers than the minimum group


class Pulse(SQLModel, table=True):
    """One question put to a team, open until ``deadline``; ``result`` holds the published aggregates."""

    __tablename__ = "pulse"
    __table_args__ = (Index("ix_pulse_ws_channel_status", "workspace_id", "channel_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    channel_id: str = Field(max_length=255)  # the team: where the result is posted
    department: str | None = Field(default=None, max_length=120)  # narrows who is asked
    question: str = Field(max_length=500)
    created_by: str = Field(max_length=120)  # the starter
    status: str = Field(default="open", max_length=10, index=True)
    audience: int = 0
    answers: int = 0
    score: int | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    salt: str | None = Field(default=None, max_length=64)  # deleted at the close
    schedule_id: int | None = None  # set when a recurring schedule started it
    opened_at: datetime = ts_column()
    deadline: datetime = ts_column(index=True)
    closed_at: datetime | None = opt_ts_column()


class PulseRecipient(SQLModel, table=True):
    """Who was asked while the pulse is open (so a reply to the private message finds its pulse)."""

    __tablename__ = "pulse_recipient"

    pulse_id: int = Field(sa_column=Column(Integer, ForeignKey("pulse.id", ondelete="CASCADE"), primary_key=True))
    user_id: str = Field(sa_column=Column(String(120), primary_key=True))


class PulseAnswer(SQLModel, table=True):
    """One answer. Anonymous: no author, a random id, only the day; ``owner_key`` exists only while open."""

    __tablename__ = "pulse_answer"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: str = Field(primary_key=True, max_length=32)
    pulse_id: int = Field(
        sa_column=Column(Integer, ForeignKey("pulse.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    text: str = Field(max_length=5000)
    owner_key: str | None = Field(default=None, max_length=64)
    author_id: str | None = Field(default=None, max_length=120)  # named answers only
    answered_on: date = Field(sa_column=Column(Date, nullable=False))


class PulseGoal(SQLModel, table=True):
    """A team's adopted service goal in one sentence: its fixed star."""

    __tablename__ = "pulse_goal"

    workspace_id: str = Field(primary_key=True, max_length=120)
    channel_id: str = Field(primary_key=True, max_length=255)
    text: str = Field(max_length=500)
    above_prompt: bool = False
    created_by: str | None = Field(default=None, max_length=120)
    updated_at: datetime = ts_column()


# --- pulses -------------------------------------------------------------------------------------------


async def open_pulse(session: AsyncSession, *, workspace_id: str, channel_id: str) -> Pulse | None:
    stmt = select(Pulse).where(
        Pulse.workspace_id == workspace_id,
        Pulse.channel_id == channel_id,
        col(Pulse.status).in_(("open", "short")),
    )
    return (await session.execute(stmt.limit(1))).scalars().first()


async def get_pulse(session: AsyncSession, *, workspace_id: str, pulse_id: int, lock: bool = False) -> Pulse | None:
    stmt = select(Pulse).where(Pulse.workspace_id == workspace_id, Pulse.id == pulse_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def create_pulse(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    question: str,
    created_by: str,
    deadline: datetime,
    now: datetime,
    recipients: list[str],
    department: str | None = None,
    schedule_id: int | None = None,
) -> Pulse:
    pulse = Pulse(
        workspace_id=workspace_id,
        channel_id=channel_id,
        department=department,
        question=question,
        created_by=created_by,
        audience=len(recipients),
        salt=secrets.token_hex(32),
        schedule_id=schedule_id,
        opened_at=now,
        deadline=deadline,
    )
    session.add(pulse)
    await session.flush()
    assert pulse.id is not None
    for uid in recipients:
        session.add(PulseRecipient(pulse_id=pulse.id, user_id=uid))
    await session.flush()
    return pulse


async def pulses_for(session: AsyncSession, *, workspace_id: str, user_id: str) -> list[Pulse]:
    """The open pulses that asked ``user_id``, newest first."""
    stmt = (
        select(Pulse)
        .join(PulseRecipient, col(PulseRecipient.pulse_id) == col(Pulse.id))
        .where(
            Pulse.workspace_id == workspace_id,
            PulseRecipient.user_id == user_id,
            col(Pulse.status).in_(("open", "short")),
        )
        .order_by(col(Pulse.id).desc())
    )
    return list((await session.execute(stmt)).scalars().all())


async def is_recipient(session: AsyncSession, *, pulse_id: int, user_id: str) -> bool:
    return await session.get(PulseRecipient, (pulse_id, user_id)) is not None


async def add_recipient(session: AsyncSession, *, pulse_id: int, user_id: str) -> bool:
    return await insert_ignore(
        session, PulseRecipient, {"pulse_id": pulse_id, "user_id": user_id}, ["pulse_id", "user_id"]
    )


async def due_pulses(session: AsyncSession, *, now: datetime) -> list[Pulse]:
    """Open pulses whose deadline has passed."""
    stmt = select(Pulse).where(Pulse.status == "open", col(Pulse.deadline) <= now).order_by(col(Pulse.id))
    return list((await session.execute(stmt)).scalars().all())


async def previous_result(session: AsyncSession, *, workspace_id: str, channel_id: str, before_id: int) -> Pulse | None:
    """The last closed pulse of the same team before ``before_id``."""
    stmt = (
        select(Pulse)
        .where(
            Pulse.workspace_id == workspace_id,
            Pulse.channel_id == channel_id,
            Pulse.status == "closed",
            col(Pulse.id) < before_id,
            col(Pulse.score).is_not(None),
        )
        .order_by(col(Pulse.id).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def latest_results(
    session: AsyncSession, *, workspace_id: str, limit: int = 2, until: datetime | None = None
) -> list[Pulse]:
    """The newest closed pulses with a score, newest first."""
    stmt = select(Pulse).where(
        Pulse.workspace_id == workspace_id, Pulse.status == "closed", col(Pulse.score).is_not(None)
    )
    if until is not None:
        stmt = stmt.where(col(Pulse.closed_at) < until)
    stmt = stmt.order_by(col(Pulse.closed_at).desc(), col(Pulse.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def closed_between(session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime) -> list[Pulse]:
    """Closed pulses with a score that closed in [since, until), oldest first (the web overview's trend)."""
    stmt = (
        select(Pulse)
        .where(
            Pulse.workspace_id == workspace_id,
            Pulse.status == "closed",
            col(Pulse.score).is_not(None),
            col(Pulse.closed_at) >= since,
            col(Pulse.closed_at) < until,
        )
        .order_by(col(Pulse.closed_at), col(Pulse.id))
    )
    return list((await session.execute(stmt)).scalars().all())


# --- answers ------------------------------------------------------------------------------------------


def owner_key(salt: str, workspace_id: str, user_id: str) -> str:
    return hmac.new(bytes.fromhex(salt), f"{workspace_id}\0{user_id}".encode(), hashlib.sha256).hexdigest()


async def find_answer(session: AsyncSession, *, pulse: Pulse, user_id: str) -> PulseAnswer | None:
    if pulse.salt is None or pulse.id is None:
        return None
    key = owner_key(pulse.salt, pulse.workspace_id, user_id)
    stmt = select(PulseAnswer).where(PulseAnswer.pulse_id == pulse.id, PulseAnswer.owner_key == key)
    named = select(PulseAnswer).where(PulseAnswer.pulse_id == pulse.id, PulseAnswer.author_id == user_id)
    return (await session.execute(stmt)).scalars().first() or (await session.execute(named)).scalars().first()


async def save_answer(
    session: AsyncSession, *, pulse: Pulse, user_id: str, text: str, named: bool, today: date
) -> bool:
    """Store or replace the person's answer; True when it replaced an earlier one."""
    assert pulse.id is not None and pulse.salt is not None
    old = await find_answer(session, pulse=pulse, user_id=user_id)
    if old is not None:
        await session.delete(old)
        await session.flush()
    session.add(
        PulseAnswer(
            id=secrets.token_hex(16),  # a new random id on every change: no id tells the order of answers
            pulse_id=pulse.id,
            text=text,
            owner_key=None if named else owner_key(pulse.salt, pulse.workspace_id, user_id),
            author_id=user_id if named else None,
            answered_on=today,
        )
    )
    await session.flush()
    pulse.answers = await answer_count(session, pulse_id=pulse.id)
    session.add(pulse)
    await session.flush()
    return old is not None


async def answer_count(session: AsyncSession, *, pulse_id: int) -> int:
    stmt = select(func.count()).select_from(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id)
    return int((await session.execute(stmt)).scalar_one())


async def answers_of(session: AsyncSession, *, pulse_id: int) -> list[PulseAnswer]:
    """The answers in the order of their random ids (which says nothing about when they came)."""
    stmt = select(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id).order_by(col(PulseAnswer.id))
    return list((await session.execute(stmt)).scalars().all())


async def seal(session: AsyncSession, *, pulse: Pulse, status: str, now: datetime) -> None:
    """Close: drop the salt, every owner key and the list of who was asked."""
    assert pulse.id is not None
    await session.execute(update(PulseAnswer).where(col(PulseAnswer.pulse_id) == pulse.id).values(owner_key=None))
    await session.execute(delete(PulseRecipient).where(col(PulseRecipient.pulse_id) == pulse.id))
    pulse.salt = None
    pulse.status = status
    pulse.closed_at = now
    session.add(pulse)
    await session.flush()


async def claim_close(session: AsyncSession, *, pulse_id: int, from_status: str = "open") -> bool:
    """Move the pulse out of ``from_status`` exactly once (across replicas): the close's claim."""
    res = await session.execute(
        update(Pulse).where(col(Pulse.id) == pulse_id, col(Pulse.status) == from_status).values(status="closing")
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


# --- goals --------------------------------------------------------------------------------------------


async def get_goal(session: AsyncSession, *, workspace_id: str, channel_id: str) -> PulseGoal | None:
    return await session.get(PulseGoal, (workspace_id, channel_id))


async def goals_of(session: AsyncSession, *, workspace_id: str) -> list[PulseGoal]:
    stmt = select(PulseGoal).where(PulseGoal.workspace_id == workspace_id).order_by(col(PulseGoal.channel_id))
    return list((await session.execute(stmt)).scalars().all())


async def set_goal(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    text: str,
    by: str,
    now: datetime,
    above_prompt: bool | None = None,
) -> PulseGoal:
    goal = await get_goal(session, workspace_id=workspace_id, channel_id=channel_id)
    if goal is None:
        goal = PulseGoal(workspace_id=workspace_id, channel_id=channel_id, text=text)
    goal.text, goal.created_by, goal.updated_at = text, by, now
    if above_prompt is not None:
        goal.above_prompt = above_prompt
    session.add(goal)
    await session.flush()
    return goal


async def clear_goal(session: AsyncSession, *, workspace_id: str, channel_id: str) -> bool:
    res = await session.execute(
        delete(PulseGoal).where(col(PulseGoal.workspace_id) == workspace_id, col(PulseGoal.channel_id) == channel_id)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


# --- people -------------------------------------------------------------------------------------------


async def audience(session: AsyncSession, *, workspace_id: str, department: str | None) -> list[str]:
    """The people a pulse asks: everyone Starling knows in the workspace (no bots, no erased people),
    or one department's people."""
    stmt = select(Member.user_id).where(
        Member.workspace_id == workspace_id,
        col(Member.is_bot).is_(False),
        ~col(Member.user_id).startswith("former-"),
    )
    if department:
        stmt = stmt.where(func.lower(col(Member.department)) == department.lower())
    return sorted((await session.execute(stmt)).scalars().all())


async def departments(session: AsyncSession, *, workspace_id: str) -> list[str]:
    stmt = (
        select(Member.department)
        .where(Member.workspace_id == workspace_id, col(Member.department).is_not(None))
        .distinct()
        .order_by(col(Member.department))
    )
    return [d for d in (await session.execute(stmt)).scalars().all() if d]
