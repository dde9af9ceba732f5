"""The inbox: platform events acknowledged but not yet handled, kept in the database until they are.

The Slack adapter writes a verified payload here before it answers 200, so an acknowledged event survives a
shutdown, a crash (``kill -9``) and a database outage of the handling (a row is only acknowledged once it is
stored). The inbox worker (``bot.inbox``) claims rows with a lease, handles them and deletes each one in the
transaction of its effect; a row whose holder died is claimed again once its lease has run out. A handled row is
deleted, never kept: the payloads carry people's ids and what they typed.

The queries use table-level (Core) statements; the claim takes ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several replicas drain the inbox side by side without waiting for each other (SQLite: every transaction holds
the database's one write lock, which serializes claims anyway).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Connection, Index, Table, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Field, SQLModel

from storage.models import opt_ts_column
from storage.privacy import Retention
from storage.types import UTCDateTime

#: A row is kept at most this long (unhandled: a handler that fails every time); the retention job deletes it.
INBOX_MAX_DAYS = 1


class InboxEvent(SQLModel, table=True):
    """One acknowledged platform event waiting to be handled (deleted once it is)."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_lease", "lease_until"),
        {
            "sqlite_autoincrement": True,  # ids are never used twice (a handled row's id must not name a new one)
            "info": {
                "retention": Retention(
                    "delete",
                    "received_at",
                    max_days=INBOX_MAX_DAYS,
                    reason="acknowledged events waiting to be handled; deleted as soon as they are",
                )
            },
        },
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    workspace_id: str = Field(max_length=120)
    kind: str = Field(max_length=20)  # command | event | action | view
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))  # to the hour
    lease_until: datetime | None = opt_ts_column()
    holder: str | None = Field(default=None, max_length=120)
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """A claimed row as a worker holds it: plain values (building the table's model for every claimed row cost
    more than the claim's statements)."""

    id: int
    platform: str
    workspace_id: str
    kind: str
    body: Any
    context: dict[str, Any]
    received_at: datetime
    lease_until: datetime | None
    holder: str | None
    attempts: int


INBOX: Table = InboxEvent.__table__  # type: ignore[attr-defined]
_INSERT = INBOX.insert()
_COUNT = select(func.count()).select_from(INBOX)

# The inbox's statements run on a synchronous ``Connection`` (``bot.inbox``: SQLite's inbox file from the event
# loop's thread, PostgreSQL's claims inside ``run_sync``); only :func:`done` runs in an event's (asynchronous)
# transaction, and the acknowledgements' rows on PostgreSQL are written by ``bot.inbox`` directly.


def create(conn: Connection) -> None:
    """The table, where no migration made it (SQLite keeps the inbox in a file of its own)."""
    conn.execute(CreateTable(INBOX, if_not_exists=True))
    for index in INBOX.indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


def put(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store acknowledged events (plain values: platform, workspace_id, kind, body, context, received_at)."""
    if rows:
        conn.execute(_INSERT, [dict(r, attempts=0) for r in rows])


def sqlite_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """``row`` as the driver's parameters for SQLite (the acknowledgement's hot path skips SQLAlchemy): text JSON
    and the UTC text timestamp, as the column types write them."""
    at = row["received_at"].astimezone(UTC)
    return (
        row["platform"],
        row["workspace_id"],
        row["kind"],
        json.dumps(row["body"], ensure_ascii=False),
        json.dumps(row["context"], ensure_ascii=False),
        at.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )


def _claimable(now: datetime) -> Any:
    return or_(INBOX.c.lease_until.is_(None), INBOX.c.lease_until <= now)


def claim(
    conn: Connection,
    *,
    holder: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: Sequence[str],
    exclude: Sequence[int] = (),
) -> list[HeldEvent]:
    """Lease up to ``limit`` rows nobody holds (or whose holder's lease ran out), oldest first.

    ``platforms``: the platforms this worker can handle. ``exclude``: rows this worker is still handling (their
    lease may have run out during a long outage; they are not taken a second time by the same process)."""
    if limit <= 0 or not platforms:
        return []
    pick = (
        select(INBOX.c.id)
        .where(_claimable(now), INBOX.c.platform.in_(list(platforms)))
        .order_by(INBOX.c.id)
        .limit(limit)
    )
    if exclude:
        pick = pick.where(INBOX.c.id.not_in(list(exclude)))
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = [row[0] for row in conn.execute(pick).all()]
    if not ids:
        return []
    stmt = (
        update(INBOX)
        .where(and_(INBOX.c.id.in_(ids), _claimable(now)))
        .values(holder=holder, lease_until=now + lease, attempts=INBOX.c.attempts + 1)
        .returning(*INBOX.c)
    )
    found = conn.execute(stmt).mappings().all()
    return sorted((HeldEvent(**r) for r in found), key=lambda r: r.id)


COLUMNS = "id, platform, workspace_id, kind, body, context, received_at, lease_until, holder, attempts"  # HeldEvent's
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # what the column type writes on SQLite (UTC text that sorts)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _sqlite_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def sqlite_claim(
    cursor: Any,
    *,
    finished: Sequence[int],
    holder: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: Sequence[str],
    exclude: Sequence[int] = (),
) -> list[HeldEvent]:
    """:func:`finish` and :func:`claim` in the caller's transaction, on a SQLite driver cursor (SQLite's inbox file
    takes a claim per event; its statements built by SQLAlchemy cost several times what SQLite takes for them)."""
    if finished:
        cursor.execute(f"DELETE FROM inbox WHERE holder = ? AND id IN ({_marks(finished)})", (holder, *finished))
    if limit <= 0 or not platforms:
        return []
    at = now.astimezone(UTC).strftime(_SQLITE_TIME)
    until = (now + lease).astimezone(UTC).strftime(_SQLITE_TIME)
    skip = f" AND id NOT IN ({_marks(exclude)})" if exclude else ""
    cursor.execute(
        f"UPDATE inbox SET holder = ?, lease_until = ?, attempts = attempts + 1 WHERE id IN ("
        f"SELECT id FROM inbox WHERE (lease_until IS NULL OR lease_until <= ?) AND platform IN ({_marks(platforms)})"
        f"{skip} ORDER BY id LIMIT ?) RETURNING {COLUMNS}",
        (holder, until, at, *platforms, *exclude, limit),
    )
    rows = [held_event(row, json.loads, _sqlite_time) for row in cursor.fetchall()]
    return sorted(rows, key=lambda r: r.id)


def held_event(row: Sequence[Any], load: Callable[[Any], Any], moment: Callable[[Any], datetime | None]) -> HeldEvent:
    """A row of :data:`COLUMNS` as a :class:`HeldEvent`; ``load`` reads a JSON column, ``moment`` a time column."""
    received_at = moment(row[6])
    assert received_at is not None
    return HeldEvent(
        id=row[0],
        platform=row[1],
        workspace_id=row[2],
        kind=row[3],
        body=load(row[4]),
        context=load(row[5]),
        received_at=received_at,
        lease_until=moment(row[7]),
        holder=row[8],
        attempts=row[9],
    )


def finish(conn: Connection, ids: Sequence[int], *, holder: str) -> None:
    """Delete handled rows while ``holder`` still holds them (a row already deleted is no error)."""
    if ids:
        conn.execute(delete(INBOX).where(INBOX.c.id.in_(list(ids)), INBOX.c.holder == holder))


def renew(conn: Connection, ids: Sequence[int], *, holder: str, until: datetime) -> None:
    if ids:
        conn.execute(update(INBOX).where(INBOX.c.id.in_(list(ids)), INBOX.c.holder == holder).values(lease_until=until))


def release(conn: Connection, ids: Sequence[int], *, holder: str) -> None:
    """Hand rows back unhandled: the next worker may claim them at once."""
    if ids:
        conn.execute(
            update(INBOX)
            .where(INBOX.c.id.in_(list(ids)), INBOX.c.holder == holder)
            .values(lease_until=None, holder=None)
        )


def pending_count(conn: Connection) -> int:
    """Rows waiting or being handled, over all replicas."""
    return int(conn.execute(_COUNT).scalar_one())


async def done(session: AsyncSession, ids: Sequence[int]) -> None:
    """Delete handled rows in the caller's transaction (the one that records the event's effect)."""
    if ids:
        await session.execute(delete(INBOX).where(INBOX.c.id.in_(list(ids))))
