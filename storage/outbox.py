"""Outbox delivery queries: lanes (one conversation each), leases, results, dead letters.

A *lane* is one conversation on one platform (a channel, or a person's DM). At most one worker holds a
lane at a time (a lease in ``outbox_lane``), so messages to a conversation go out in order and at the
platform's pace even with several replicas; different lanes are delivered in parallel. The rows a
worker is sending carry the same lease; when a worker dies, both leases run out and another worker
sends the rows again.

The delivery path uses table-level (Core) statements: they cost about half of ORM-enabled ones.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from storage.core import dialect_of, insert_for
from storage.models import OutboxMessage, opt_ts_column
from storage.types import UTCDateTime


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


OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
LANES: Table = OutboxLane.__table__  # type: ignore[attr-defined]
_LANE_COLS = ("platform", "workspace_id", "target_kind", "target_id")


@dataclass(frozen=True)
class Lane:
    platform: str
    workspace_id: str
    target_kind: str
    target_id: str

    @classmethod
    def of(cls, row: Sendable) -> Lane:
        return cls(row.platform, row.workspace_id, row.target_kind, row.target_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.target_kind}:{self.target_id}"


def rowcount(result: Any) -> int:
    """Rows an UPDATE touched (the typed Result hides it)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _in_lane(lane: Lane) -> ColumnElement[bool]:
    return and_(*(OUTBOX.c[name] == getattr(lane, name) for name in _LANE_COLS))


def _due(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """Pending and due, or being sent by a worker whose lease ran out (it crashed)."""
    c = OUTBOX.c
    return or_(
        and_(c.status == "pending", c.next_attempt_at <= now),
        and_(c.status == "sending", c.lease_until <= now),
    )


def _lane_free(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    c = LANES.c
    return and_(
        or_(c.lease_until.is_(None), c.lease_until <= now),
        or_(c.paused_until.is_(None), c.paused_until <= now),
    )


def _held_by(lane: Lane, holder: str) -> ColumnElement[bool]:
    return and_(*(LANES.c[name] == getattr(lane, name) for name in _LANE_COLS), LANES.c.holder == holder)


async def due_lanes(session: AsyncSession, *, now: datetime, platforms: Sequence[str], limit: int) -> list[Lane]:
    """Lanes with something to send now, oldest first, skipping lanes another worker holds or that wait."""
    if not platforms or limit <= 0:
        return []
    stmt = _due_lanes(tuple(platforms), limit)
    return [Lane(r[0], r[1], r[2], r[3]) for r in (await session.execute(stmt, {"now": now})).all()]


def due_lanes_statement(*, now: datetime, platforms: Sequence[str], limit: int) -> Any:
    """The statement of :func:`due_lanes` with ``now`` bound (for query plans)."""
    return _due_lanes(tuple(platforms), limit).params(now=now)


@functools.lru_cache(maxsize=64)
def _due_lanes(platforms: tuple[str, ...], limit: int) -> Any:
    """Built once per platforms and limit (the outbox looks several times a second), ``now`` a parameter."""
    now = bindparam("now", type_=UTCDateTime())
    # The two kinds of due rows as two index searches on (status, next_attempt_at): with the OR of ``_due`` the
    # planner walked every row of the platform, sent ones included, so each look grew with the outbox's history.
    c, on = OUTBOX.c, OUTBOX.c.platform.in_(list(platforms))
    keys = [c[n] for n in _LANE_COLS]
    due = union_all(
        select(*keys, c.next_attempt_at.label("at")).where(c.status == "pending", c.next_attempt_at <= now, on),
        select(*keys, c.next_attempt_at.label("at")).where(c.status == "sending", c.lease_until <= now, on),
    ).subquery()
    busy = select(LANES.c.holder).where(*(LANES.c[n] == due.c[n] for n in _LANE_COLS), ~_lane_free(now)).exists()
    due_keys = [due.c[n] for n in _LANE_COLS]
    stmt = (
        select(*due_keys, func.min(due.c.at).label("first"))
        .where(~busy)
        .group_by(*due_keys)
        .order_by("first")
        .limit(limit)
    )
    return stmt


async def acquire_lanes(
    session: AsyncSession, *, lanes: Sequence[Lane], holder: str, now: datetime, lease: timedelta
) -> list[Lane]:
    """Take the lanes for ``holder`` unless another worker holds them or they wait; returns those taken."""
    if not lanes:
        return []
    insert = insert_for(dialect_of(session))
    until = now + lease
    rows = [
        {
            **{name: getattr(lane, name) for name in _LANE_COLS},
            "holder": holder,
            "lease_until": until,
            "paused_until": None,
        }
        for lane in lanes
    ]
    stmt = (
        insert(LANES)
        .values(rows)
        .on_conflict_do_update(
            index_elements=list(_LANE_COLS),
            set_={"holder": holder, "lease_until": until},
            where=_lane_free(now),
        )
        .returning(*(LANES.c[n] for n in _LANE_COLS))
    )
    taken = {Lane(r[0], r[1], r[2], r[3]) for r in (await session.execute(stmt)).all()}
    return [lane for lane in lanes if lane in taken]


async def _renew(session: AsyncSession, lane: Lane, holder: str, until: datetime) -> bool:
    stmt = update(LANES).where(_held_by(lane, holder)).values(lease_until=until).returning(LANES.c.holder)
    return (await session.execute(stmt)).first() is not None


@dataclass(slots=True)
class QueuedRow:
    """An outbox row as a worker holds it: plain values. Building the table's model for every claimed row (a busy
    channel's conversation has dozens) held the event loop for milliseconds at a time."""

    id: int
    workspace_id: str
    platform: str
    target_kind: str
    target_id: str
    thread_id: str | None
    payload: dict[str, Any]
    cause: str
    dedupe_key: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    platform_message_id: str | None
    created_at: datetime
    sent_at: datetime | None


#: What a sender is given: a claimed row, or a message a platform adapter sends straight away.
Sendable = OutboxMessage | QueuedRow


@dataclass
class Claimed:
    row: QueuedRow
    resend: bool  # it was being sent by a worker that died: the platform may or may not have it


RESEND = "lease expired while sending"


def _checked(due: ColumnElement[bool]) -> ColumnElement[bool]:
    """``due`` as a filter on rows already found by their ids (not an index search of its own)."""
    return func.coalesce(due, False)


def _claim_statements() -> tuple[Any, Any]:
    """The claim and release statements, built once with bind parameters (the hot path of delivery)."""
    c, lanes = OUTBOX.c, LANES.c
    now = bindparam("now", type_=UTCDateTime())
    lane_is = [c[n] == bindparam(f"p_{n}") for n in _LANE_COLS]
    lane_held = [*(lanes[n] == bindparam(f"p_{n}") for n in _LANE_COLS), lanes.holder == bindparam("p_holder")]
    due = or_(and_(c.status == "pending", c.next_attempt_at <= now), and_(c.status == "sending", c.lease_until <= now))
    # The lane's unsent rows by the lane index (its columns and the status): one search per kind of due row. With
    # the OR of ``due`` the planner read every row of the workspace, sent ones included, on every claim.
    pending = select(c.id).where(*lane_is, c.status == "pending", c.next_attempt_at <= now)
    stale = select(c.id).where(*lane_is, c.status == "sending", c.lease_until <= now)
    due_ids = union_all(pending, stale).subquery()
    head = select(due_ids.c.id).order_by(due_ids.c.id).limit(bindparam("max_rows", type_=Integer()))
    held = select(lanes.holder).where(*lane_held, lanes.lease_until > now).exists()
    claim = (
        update(OUTBOX)
        # ``due`` again as a check of each row found by its id (a row may have changed since the subquery read it):
        # written with ``coalesce`` so that no planner takes it for an index search over every due row.
        .where(c.id.in_(head.scalar_subquery()), _checked(due), held)
        .values(
            status="sending",
            lease_until=bindparam("until", type_=UTCDateTime()),
            attempts=c.attempts + 1,
            last_error=case((c.status == "sending", RESEND), else_=None),
        )
        .returning(*c)
    )
    release = update(LANES).where(*lane_held).values(holder=None, lease_until=None).returning(lanes.holder)
    return claim, release


_CLAIM, _RELEASE_EMPTY = _claim_statements()
CLAIM_STATEMENT = _CLAIM  # for the query-plan test


async def claim_lane_rows(
    session: AsyncSession,
    *,
    lane: Lane,
    holder: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    release_when_empty: bool = True,
) -> list[Claimed] | None:
    """Lease the lane's next due rows (attempts + 1), oldest first, if the lane is still ours.

    Returns None if the lane is no longer ours (our lease ran out and someone took it). When nothing
    is due the lane is released in the same transaction and the list is empty (unless
    ``release_when_empty`` is false: the caller still has rows of the lane to send). The caller keeps the
    lane's own lease fresh with :func:`renew_lane`.
    """
    key = {f"p_{name}": getattr(lane, name) for name in _LANE_COLS}
    params = {**key, "p_holder": holder, "now": now, "until": now + lease, "max_rows": limit}
    rows = (await session.execute(_CLAIM, params)).all()
    if rows:
        claimed = [Claimed(QueuedRow(**r._mapping), r.last_error == RESEND) for r in rows]
        return sorted(claimed, key=lambda item: item.row.id)
    if not release_when_empty:
        return []
    released = await session.execute(_RELEASE_EMPTY, {**key, "p_holder": holder})
    return [] if released.first() is not None else None


def _lane_tuple(lanes: Sequence[Lane]) -> ColumnElement[bool]:
    return tuple_(*(OUTBOX.c[n] for n in _LANE_COLS)).in_(
        [tuple(getattr(lane, n) for n in _LANE_COLS) for lane in lanes]
    )


async def claim_rows_of_lanes(
    session: AsyncSession, *, lanes: Sequence[Lane], now: datetime, lease: timedelta, limit: int
) -> dict[Lane, list[Claimed]]:
    """Lease the next due rows (at most ``limit`` per lane) of lanes just acquired, in one statement."""
    if not lanes:
        return {}
    c = OUTBOX.c
    lane_cols = [c[n] for n in _LANE_COLS]
    on_lanes = _lane_tuple(lanes)
    due = union_all(  # by the lane index, as in ``_claim_statements``
        select(c.id, *lane_cols).where(on_lanes, c.status == "pending", c.next_attempt_at <= now),
        select(c.id, *lane_cols).where(on_lanes, c.status == "sending", c.lease_until <= now),
    ).subquery()
    ranked = select(
        due.c.id,
        func.row_number().over(partition_by=[due.c[n] for n in _LANE_COLS], order_by=due.c.id).label("rn"),
    ).subquery()
    ids = list((await session.execute(select(ranked.c.id).where(ranked.c.rn <= limit))).scalars())
    if not ids:
        return {lane: [] for lane in lanes}
    rows = (
        await session.execute(
            update(OUTBOX)
            .where(c.id.in_(ids), _checked(_due(now)))
            .values(
                status="sending",
                lease_until=now + lease,
                attempts=c.attempts + 1,
                last_error=case((c.status == "sending", RESEND), else_=None),
            )
            .returning(*OUTBOX.c)
        )
    ).all()
    out: dict[Lane, list[Claimed]] = {lane: [] for lane in lanes}
    for r in sorted(rows, key=lambda r: r.id):
        row = QueuedRow(**r._mapping)
        out.setdefault(Lane.of(row), []).append(Claimed(row, r.last_error == RESEND))
    return out


async def release_idle_lanes(session: AsyncSession, *, lanes: Sequence[Lane], holder: str, now: datetime) -> set[Lane]:
    """Give back the lanes that have nothing due any more, in one statement; returns those released."""
    if not lanes:
        return set()
    keys = [tuple(getattr(lane, n) for n in _LANE_COLS) for lane in lanes]
    rows = await session.execute(_RELEASE_IDLE, {"p_holder": holder, "p_lanes": keys, "now": now})
    return {Lane(r[0], r[1], r[2], r[3]) for r in rows.all()}


def _release_idle_statement() -> Any:
    """Built once (a sending worker gives back its finished conversations many times a second)."""
    now = bindparam("now", type_=UTCDateTime())
    pending = select(OUTBOX.c.id).where(*(OUTBOX.c[n] == LANES.c[n] for n in _LANE_COLS), _due(now)).exists()
    keys = [LANES.c[n] for n in _LANE_COLS]
    return (
        update(LANES)
        .where(
            LANES.c.holder == bindparam("p_holder"),
            tuple_(*keys).in_(bindparam("p_lanes", expanding=True)),
            ~pending,
        )
        .values(holder=None, lease_until=None)
        .returning(*keys)
    )


_RELEASE_IDLE = _release_idle_statement()


async def renew_lane(
    session: AsyncSession, *, lane: Lane, holder: str, row_ids: Sequence[int], now: datetime, lease: timedelta
) -> bool:
    """Extend the lease of the lane and of the rows still to be sent; False if the lane was lost."""
    until = now + lease
    if not await _renew(session, lane, holder, until):
        return False
    if row_ids:
        await session.execute(
            update(OUTBOX).where(OUTBOX.c.id.in_(list(row_ids)), OUTBOX.c.status == "sending").values(lease_until=until)
        )
    return True


async def release_lane(
    session: AsyncSession,
    *,
    lane: Lane,
    holder: str,
    unsent: Sequence[int] = (),
    paused_until: datetime | None = None,
) -> None:
    """Give the lane back; rows leased but not tried go back to pending without counting an attempt."""
    await session.execute(
        update(LANES).where(_held_by(lane, holder)).values(holder=None, lease_until=None, paused_until=paused_until)
    )
    if unsent:
        await session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(list(unsent)), OUTBOX.c.status == "sending")
            .values(status="pending", lease_until=None, attempts=OUTBOX.c.attempts - 1)
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
    """Store what happened to one send: ``sent``, ``pending`` (retry at ``next_attempt_at``) or ``dead``.

    ``sending`` keeps the row leased (an in-place retry after ``Retry-After``); renew its lease with
    :func:`renew_lane` in the same transaction.
    """
    values: dict[str, Any] = {"status": status, "last_error": error, "lease_until": None}
    if status == "sent":
        values.update(sent_at=now, platform_message_id=platform_message_id, last_error=None)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if extra_attempt:
        values["attempts"] = OUTBOX.c.attempts + 1
    await session.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(**values))


async def record_sent(session: AsyncSession, *, acks: Sequence[tuple[int, str | None, datetime]]) -> None:
    """Mark many rows sent at once: (row id, platform message id, sent at); one executemany."""
    if not acks:
        return
    stmt = (
        update(OUTBOX)
        .where(OUTBOX.c.id == bindparam("row_id"))
        .values(
            status="sent",
            lease_until=None,
            last_error=None,
            sent_at=bindparam("acked_at"),
            platform_message_id=bindparam("message_id"),
        )
        .execution_options(synchronize_session=False)
    )
    params = [{"row_id": rid, "message_id": mid, "acked_at": at} for rid, mid, at in acks]
    conn = await session.connection()
    await conn.execute(stmt, params)


# --- operations (CLI, metrics) ------------------------------------------------------------------------


async def status_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """(platform, status) → number of messages, for every status but ``sent``."""
    stmt = (
        select(OUTBOX.c.platform, OUTBOX.c.status, func.count())
        .where(OUTBOX.c.status != "sent")
        .group_by(OUTBOX.c.platform, OUTBOX.c.status)
    )
    return {(p, s): int(n) for p, s, n in (await session.execute(stmt)).all()}


async def list_messages(session: AsyncSession, *, statuses: Sequence[str], limit: int = 50) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OUTBOX.c.status.in_(list(statuses))).order_by(OUTBOX.c.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def retry_dead(session: AsyncSession, *, now: datetime, ids: Sequence[int] | None = None) -> list[int]:
    """Put dead letters back in the queue with a fresh attempt count; None retries every dead letter."""
    stmt = update(OUTBOX).where(OUTBOX.c.status == "dead")
    if ids is not None:
        stmt = stmt.where(OUTBOX.c.id.in_(list(ids)))
    stmt = stmt.values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
    return sorted((await session.execute(stmt.returning(OUTBOX.c.id))).scalars())
