"""Schedules (what is posted where and when) and the scheduler's watermarks.

A schedule is a local wall-clock time on some days in an IANA time zone, per workspace, channel and
kind (``digest``, ``leaderboard``, ...). It lives in the database, so every scheduler replica knows it.
A watermark per scheduled function records up to when it has run, so a restart knows what it missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import dialect_of, insert_for
from storage.models import Workspace, opt_ts_column, ts_column
from storage.outbox import rowcount


class Schedule(SQLModel, table=True):
    """A recurring post: ``at`` (``HH:MM`` local) on ``days`` in ``timezone`` (None: the workspace's)."""

    __tablename__ = "schedule"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120, index=True)
    channel_id: str = Field(max_length=255)
    kind: str = Field(max_length=40, index=True)
    at: str = Field(default="09:00", max_length=5)
    days: str = Field(default="mon", max_length=64)  # "mon", "mon-fri", "daily", "month:1", "quarter:1"
    timezone: str | None = Field(default=None, max_length=64)
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str | None = Field(default=None, max_length=120)
    created_at: datetime = ts_column()
    updated_at: datetime = ts_column()


class SchedulerWatermark(SQLModel, table=True):
    """Up to when a scheduled function has run (shared by every scheduler replica)."""

    __tablename__ = "scheduler_watermark"

    name: str = Field(primary_key=True, max_length=120)
    tick_at: datetime | None = opt_ts_column()
    updated_by: str = Field(default="", max_length=120)


async def upsert_schedule(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_id: str,
    kind: str,
    at: str,
    days: str,
    now: datetime,
    timezone: str | None = None,
    settings: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> Schedule:
    """Create or replace the schedule of ``kind`` in a channel, enabled."""
    row = await get_schedule(session, workspace_id=workspace_id, channel_id=channel_id, kind=kind)
    if row is None:
        row = Schedule(
            workspace_id=workspace_id,
            channel_id=channel_id,
            kind=kind,
            created_by=created_by,
            created_at=now,
        )
    row.at, row.days, row.timezone, row.enabled = at, days, timezone, True
    row.settings = dict(settings or {})
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def get_schedule(session: AsyncSession, *, workspace_id: str, channel_id: str, kind: str) -> Schedule | None:
    stmt = select(Schedule).where(
        col(Schedule.workspace_id) == workspace_id, col(Schedule.channel_id) == channel_id, col(Schedule.kind) == kind
    )
    return (await session.execute(stmt)).scalars().first()


async def list_schedules(
    session: AsyncSession, *, kind: str | None = None, workspace_id: str | None = None, enabled: bool | None = True
) -> list[Schedule]:
    """Schedules in a stable order (by id), so every replica claims in the same order."""
    stmt = select(Schedule)
    if kind is not None:
        stmt = stmt.where(col(Schedule.kind) == kind)
    if workspace_id is not None:
        stmt = stmt.where(col(Schedule.workspace_id) == workspace_id)
    if enabled is not None:
        stmt = stmt.where(col(Schedule.enabled).is_(enabled))
    return list((await session.execute(stmt.order_by(col(Schedule.id)))).scalars().all())


async def schedules_with_workspaces(session: AsyncSession, *, kinds: Sequence[str]) -> list[tuple[Schedule, Workspace]]:
    """The enabled schedules of these kinds with their workspaces, in a stable order (one query)."""
    stmt = (
        select(Schedule, Workspace)
        .join(Workspace, col(Workspace.id) == col(Schedule.workspace_id))
        .where(col(Schedule.kind).in_(list(kinds)), col(Schedule.enabled).is_(True))
        .order_by(col(Schedule.id))
    )
    return [(row, ws) for row, ws in (await session.execute(stmt)).all()]


async def disable_schedules(
    session: AsyncSession, *, workspace_id: str, kind: str, now: datetime, channel_id: str | None = None
) -> int:
    """Turn off ``kind`` in one channel (or all channels of the workspace); returns how many were on."""
    stmt = (
        update(Schedule)
        .where(col(Schedule.workspace_id) == workspace_id, col(Schedule.kind) == kind, col(Schedule.enabled).is_(True))
        .values(enabled=False, updated_at=now)
    )
    if channel_id is not None:
        stmt = stmt.where(col(Schedule.channel_id) == channel_id)
    return rowcount(await session.execute(stmt))


async def read_watermark(session: AsyncSession, *, name: str) -> datetime | None:
    stmt = select(col(SchedulerWatermark.tick_at)).where(col(SchedulerWatermark.name) == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def advance_watermark(session: AsyncSession, *, name: str, tick_at: datetime, by: str) -> None:
    """Move the watermark forward to ``tick_at`` (never back), creating it on the first run."""
    insert = insert_for(dialect_of(session))
    table = SchedulerWatermark.__table__  # type: ignore[attr-defined]
    stmt = insert(table).values(name=name, tick_at=tick_at, updated_by=by[:120])
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"tick_at": stmt.excluded.tick_at, "updated_by": stmt.excluded.updated_by},
        where=or_(table.c.tick_at.is_(None), table.c.tick_at < stmt.excluded.tick_at),
    )
    await session.execute(stmt)
