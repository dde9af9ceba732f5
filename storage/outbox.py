"""Outbox delivery queries: lanes (one conversation each), leases, results, dead letters.

A *lane* is one conversation on one platform (a channel, or a person's DM). At most one worker holds a
lane at a time (a lease in ``outbox_lane``), so messages to a conversation go out in order and at the
platform's pace even with several replicas; different lanes are delivered in parallel. The rows a
worker is sending carry the same lease; when a worker dies, both leases run out and another worker
sends the rows again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, select

from storage.models import OutboxMessage, opt_ts_column


class OutboxLane(SQLModel, table=True):
    """Who is delivering to a conversation right now, and until when it must wait (``Retry-After``)."""

    __tablename__ = "outbox_lane"

    platform: str = Field(primary_key=True, max_length=20)
    workspace_id: str = Field(primary_key=True, max_length=120)
    target_kind: str = Field(primary_key=True, max_length=20)
    target_id: str = Field(primary_key=True, max_length=255)
    holder: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = opt_ts_column()
    paused_until: datetime | None = opt_ts_column()


@dataclass(frozen=True)
class Lane:
    platform: str
    workspace_id: str
    target_kind: str
    target_id: str

    @classmethod
    def of(cls, row: OutboxMessage) -> Lane:
        return cls(row.platform, row.workspace_id, row.target_kind, row.target_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.target_kind}:{self.target_id}"


def _in_lane(lane: Lane) -> object:
    return and_(
        OutboxMessage.platform == lane.platform,
        OutboxMessage.workspace_id == lane.workspace_id,
        OutboxMessage.target_kind == lane.target_kind,
        OutboxMessage.target_id == lane.target_id,
    )


def _due(now: datetime) -> object:
    """Pending and due, or being sent by a worker whose lease ran out (it crashed)."""
    return or_(
        (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == "sending") & (OutboxMessage.lease_until <= now),  # type: ignore[operator]
    )


def _lane_free(now: datetime) -> object:
    return and_(
        or_(OutboxLane.lease_until.is_(None), OutboxLane.lease_until <= now),  # type: ignore[union-attr,operator]
        or_(OutboxLane.paused_until.is_(None), OutboxLane.paused_until <= now),  # type: ignore[union-attr,operator]
    )


async def due_lanes(session: AsyncSession, *, now: datetime, platforms: Sequence[str], limit: int) -> list[Lane]:
    """Lanes with something to send now, oldest first, skipping lanes another worker holds or that wait."""
    if not platforms or limit <= 0:
        return []
    busy = (
        select(OutboxLane.platform, OutboxLane.workspace_id, OutboxLane.target_kind, OutboxLane.target_id)
        .where(~_lane_free(now))  # type: ignore[operator]
        .subquery()
    )
    stmt = (
        select(
            OutboxMessage.platform,
            OutboxMessage.workspace_id,
            OutboxMessage.target_kind,
            OutboxMessage.target_id,
            func.min(OutboxMessage.next_attempt_at).label("first"),
        )
        .outerjoin(
            busy,
            and_(
                busy.c.platform == OutboxMessage.platform,
                busy.c.workspace_id == OutboxMessage.workspace_id,
                busy.c.target_kind == OutboxMessage.target_kind,
                busy.c.target_id == OutboxMessage.target_id,
            ),
        )
        .where(OutboxMessage.platform.in_(list(platforms)), _due(now), busy.c.platform.is_(None))  # type: ignore[attr-defined,arg-type]
        .group_by(
            OutboxMessage.platform, OutboxMessage.workspace_id, OutboxMessage.target_kind, OutboxMessage.target_id
        )
        .order_by("first")
        .limit(limit)
    )
    return [Lane(p, w, k, t) for p, w, k, t, _ in (await session.execute(stmt)).all()]


async def acquire_lane(session: AsyncSession, *, lane: Lane, holder: str, now: datetime, lease: timedelta) -> bool:
    """Take the lane for ``holder`` unless another worker holds it or it waits; True if taken."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "platform": lane.platform,
        "workspace_id": lane.workspace_id,
        "target_kind": lane.target_kind,
        "target_id": lane.target_id,
        "holder": holder,
        "lease_until": now + lease,
        "paused_until": None,
    }
    stmt = insert(OutboxLane).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "workspace_id", "target_kind", "target_id"],
        set_={"holder": holder, "lease_until": now + lease},
        where=_lane_free(now),  # type: ignore[arg-type]
    )
    return bool((await session.execute(stmt)).rowcount)


def _held_by(lane: Lane, holder: str) -> object:
    return and_(
        OutboxLane.platform == lane.platform,
        OutboxLane.workspace_id == lane.workspace_id,
        OutboxLane.target_kind == lane.target_kind,
        OutboxLane.target_id == lane.target_id,
        OutboxLane.holder == holder,
    )


@dataclass
class Claimed:
    row: OutboxMessage
    resend: bool  # it was being sent by a worker that died: the platform may or may not have it


async def claim_lane_rows(
    session: AsyncSession, *, lane: Lane, holder: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed] | None:
    """Renew the lane and lease its next due rows (attempts + 1), oldest first.

    Returns None if the lane is no longer ours (our lease ran out and someone took it). When nothing
    is due the lane is released in the same transaction and the list is empty.
    """
    until = now + lease
    renewed = await session.execute(update(OutboxLane).where(_held_by(lane, holder)).values(lease_until=until))  # type: ignore[arg-type]
    if not renewed.rowcount:
        return None
    found = (
        await session.execute(
            select(OutboxMessage.id, OutboxMessage.status)
            .where(_in_lane(lane), _due(now))  # type: ignore[arg-type]
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
            .limit(limit)
        )
    ).all()
    if not found:
        await session.execute(
            update(OutboxLane).where(_held_by(lane, holder)).values(holder=None, lease_until=None)  # type: ignore[arg-type]
        )
        return []
    was = {oid: status for oid, status in found}
    claimed = (
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(was)), _due(now))  # type: ignore[union-attr,arg-type]
            .values(status="sending", lease_until=until, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
        )
    ).scalars()
    ids = sorted(claimed)
    rows = (
        (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))  # type: ignore[union-attr]
                .order_by(OutboxMessage.id)  # type: ignore[arg-type]
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    return [Claimed(row, was.get(row.id) == "sending") for row in rows]


async def renew_lane(
    session: AsyncSession, *, lane: Lane, holder: str, row_ids: Sequence[int], now: datetime, lease: timedelta
) -> bool:
    """Extend the lease of the lane and of the rows still to be sent; False if the lane was lost."""
    until = now + lease
    renewed = await session.execute(update(OutboxLane).where(_held_by(lane, holder)).values(lease_until=until))  # type: ignore[arg-type]
    if not renewed.rowcount:
        return False
    if row_ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(row_ids)), OutboxMessage.status == "sending")  # type: ignore[union-attr]
            .values(lease_until=until)
        )
    return True


async def release_lane(
    session: AsyncSession,
    *,
    lane: Lane,
    holder: str,
    unsent: Sequence[int] = (),
    paused_until: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Give the lane back; rows leased but not tried go back to pending without counting an attempt."""
    await session.execute(
        update(OutboxLane)
        .where(_held_by(lane, holder))  # type: ignore[arg-type]
        .values(holder=None, lease_until=None, paused_until=paused_until)
    )
    if unsent:
        values: dict[str, object] = {"status": "pending", "lease_until": None, "attempts": OutboxMessage.attempts - 1}
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(unsent)), OutboxMessage.status == "sending")  # type: ignore[union-attr]
            .values(**values)
        )


async def record_result(
    session: AsyncSession,
    *,
    row_id: int,
    status: str,
    now: datetime,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    platform_message_id: str | None = None,
    extra_attempt: bool = False,
) -> None:
    """Store what happened to one send: ``sent``, ``pending`` (retry at ``next_attempt_at``) or ``dead``."""
    values: dict[str, object] = {"status": status, "last_error": error, "lease_until": None}
    if status == "sent":
        values.update(sent_at=now, platform_message_id=platform_message_id, last_error=None)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if extra_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


# --- operations (CLI, metrics) ------------------------------------------------------------------------


async def status_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """(platform, status) → number of messages, for every status but ``sent``."""
    stmt = (
        select(OutboxMessage.platform, OutboxMessage.status, func.count())
        .where(OutboxMessage.status != "sent")
        .group_by(OutboxMessage.platform, OutboxMessage.status)
    )
    return {(p, s): int(n) for p, s, n in (await session.execute(stmt)).all()}


async def list_messages(session: AsyncSession, *, statuses: Sequence[str], limit: int = 50) -> list[OutboxMessage]:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(list(statuses)))  # type: ignore[attr-defined]
        .order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def retry_dead(session: AsyncSession, *, now: datetime, ids: Sequence[int] | None = None) -> list[int]:
    """Put dead letters back in the queue with a fresh attempt count; None retries every dead letter."""
    stmt = update(OutboxMessage).where(OutboxMessage.status == "dead")
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))  # type: ignore[union-attr]
    stmt = stmt.values(status="pending", attempts=0, next_attempt_at=now, lease_until=None).returning(OutboxMessage.id)
    return sorted((await session.execute(stmt)).scalars())
