"""Keyword-only queries for the core tables (workspaces, members, dedupe keys, outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from storage.models import CompanyValue, Member, OutboxMessage, ProcessedEvent, Workspace
from storage.types import utcnow

DEFAULT_VALUES: list[dict[str, Any]] = [
    {"tag": "kundenfokus", "label_de": "Kundenfokus", "label_en": "Customer focus", "aliases": ["customerfocus"]},
    {"tag": "teamwork", "label_de": "Teamwork", "label_en": "Teamwork", "aliases": ["zusammenarbeit"]},
    {"tag": "verantwortung", "label_de": "Verantwortung", "label_en": "Ownership", "aliases": ["ownership"]},
    {"tag": "einfachmachen", "label_de": "Einfach machen", "label_en": "Keep it simple", "aliases": ["keepitsimple"]},
    {
        "tag": "internerservice",
        "label_de": "Interner Service",
        "label_en": "Internal service",
        "aliases": ["internalservice"],
    },
]


def _insert(session: AsyncSession, model: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any], keys: Sequence[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if a row was written."""
    # RETURNING, not rowcount: psycopg reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING.
    columns = [model.__table__.c[k] for k in keys]
    stmt = (
        _insert(session, model).values(**values).on_conflict_do_nothing(index_elements=list(keys)).returning(*columns)
    )
    result = await session.execute(stmt)
    return result.first() is not None


async def ensure_workspace(
    session: AsyncSession, *, workspace_id: str, platform: str, locale: str, timezone: str, name: str = ""
) -> Workspace:
    created = await insert_ignore(
        session,
        Workspace,
        {
            "id": workspace_id,
            "platform": platform,
            "name": name,
            "locale": locale,
            "timezone": timezone,
            "created_at": utcnow(),
        },
        ["id"],
    )
    if created:
        for pos, value in enumerate(DEFAULT_VALUES):
            session.add(CompanyValue(workspace_id=workspace_id, position=pos, **value))
        await session.flush()
    ws = await session.get(Workspace, workspace_id)
    assert ws is not None
    return ws


async def upsert_member(session: AsyncSession, *, workspace_id: str, user_id: str, **info: Any) -> Member:
    """Create the member or refresh the facts a platform told us (only the ones given)."""
    known = {k: v for k, v in info.items() if v is not None}
    now = utcnow()
    stmt = (
        _insert(session, Member)
        .values(workspace_id=workspace_id, user_id=user_id, created_at=now, updated_at=now, **known)
        .on_conflict_do_update(
            index_elements=["workspace_id", "user_id"],
            set_={**known, "updated_at": now} if known else {"updated_at": now},
        )
    )
    await session.execute(stmt)
    member = await get_member(session, workspace_id=workspace_id, user_id=user_id, refresh=True)
    assert member is not None
    return member


async def get_member(session: AsyncSession, *, workspace_id: str, user_id: str, refresh: bool = False) -> Member | None:
    stmt = select(Member).where(Member.workspace_id == workspace_id, Member.user_id == user_id)
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalars().first()


async def find_member_by_name(session: AsyncSession, *, workspace_id: str, name: str) -> Member | None:
    """Console-only convenience: a handle or display name to a member."""
    low = name.lower().lstrip("@")
    stmt = select(Member).where(
        Member.workspace_id == workspace_id,
        or_(
            func.lower(Member.handle) == low, func.lower(Member.user_id) == low, func.lower(Member.display_name) == low
        ),
    )
    return (await session.execute(stmt)).scalars().first()


async def list_values(session: AsyncSession, *, workspace_id: str) -> list[CompanyValue]:
    stmt = select(CompanyValue).where(CompanyValue.workspace_id == workspace_id).order_by(CompanyValue.position)
    return list((await session.execute(stmt)).scalars().all())


async def replace_values(session: AsyncSession, *, workspace_id: str, values: list[dict[str, Any]]) -> None:
    await session.execute(delete(CompanyValue).where(CompanyValue.workspace_id == workspace_id))
    for pos, value in enumerate(values):
        session.add(CompanyValue(workspace_id=workspace_id, position=pos, **value))
    await session.flush()


async def claim_event(session: AsyncSession, *, key: str) -> bool:
    """Record a platform event id; False if it was already processed (a retry or a double click).

    One INSERT … ON CONFLICT DO NOTHING: no savepoint round trips on every event.
    """
    return await insert_ignore(session, ProcessedEvent, {"key": key[:255], "created_at": utcnow()}, ["key"])


async def enqueue(session: AsyncSession, message: OutboxMessage) -> bool:
    """Add a proactive message in the caller's transaction; a repeated dedupe key is ignored."""
    if message.dedupe_key:
        values = message.model_dump(exclude={"id"})
        return await insert_ignore(session, OutboxMessage, values, ["dedupe_key"])
    session.add(message)
    await session.flush()
    return True


async def claim_due_outbox(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta, platforms: Sequence[str]
) -> list[OutboxMessage]:
    """Lease due messages for this worker; another worker skips them until the lease runs out."""
    stmt = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.platform.in_(platforms),  # type: ignore[attr-defined]
            or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.lease_until <= now),  # type: ignore[operator]
            ),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    ids = list((await session.execute(stmt)).scalars().all())
    claimed: list[OutboxMessage] = []
    for oid in ids:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == oid,
                or_(
                    OutboxMessage.status == "pending",
                    (OutboxMessage.status == "sending") & (OutboxMessage.lease_until <= now),  # type: ignore[operator]
                ),
            )
            .values(status="sending", lease_until=now + lease, attempts=OutboxMessage.attempts + 1)
        )
        if result.rowcount:
            row = await session.get(OutboxMessage, oid, populate_existing=True)
            if row is not None:
                claimed.append(row)
    return claimed
