"""Read-only queries behind digests and leaderboard posts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Kudos, Member


@dataclass(frozen=True)
class KudosFact:
    giver_id: str
    receiver_id: str
    points: int
    value_tag: str | None
    cross_team: bool


async def kudos_between(session: AsyncSession, *, workspace_id: str, start: datetime, end: datetime) -> list[KudosFact]:
    """Every kudos given in ``[start, end)``: who, to whom, how many points, which value."""
    stmt = sa_select(
        col(Kudos.giver_id), col(Kudos.receiver_id), col(Kudos.points), col(Kudos.value_tag), col(Kudos.cross_team)
    ).where(col(Kudos.workspace_id) == workspace_id, col(Kudos.created_at) >= start, col(Kudos.created_at) < end)
    return [KudosFact(g, r, int(p), v, bool(c)) for g, r, p, v, c in (await session.execute(stmt)).all()]


async def leaderboard_hidden(session: AsyncSession, *, workspace_id: str) -> set[str]:
    """People who opted out of leaderboards."""
    stmt = select(col(Member.user_id)).where(
        col(Member.workspace_id) == workspace_id, col(Member.leaderboard_opt_out).is_(True)
    )
    return set((await session.execute(stmt)).scalars().all())


async def display_names(session: AsyncSession, *, workspace_id: str, user_ids: Iterable[str]) -> dict[str, str]:
    ids = list(set(user_ids))
    if not ids:
        return {}
    stmt = select(Member).where(col(Member.workspace_id) == workspace_id, col(Member.user_id).in_(ids))
    return {m.user_id: (m.display_name or m.handle or m.user_id) for m in (await session.execute(stmt)).scalars()}
