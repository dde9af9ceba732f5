"""A demo workspace: eight colleagues in three departments with a few weeks of kudos history."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from storage import core
from storage.models import Kudos, Member, Workspace

COLLEAGUES = [
    ("max", "Max Weber", "Kundenservice", True),
    ("anna", "Anna Schmidt", "Kundenservice", False),
    ("ben", "Ben Müller", "Kundenservice", False),
    ("clara", "Clara Fischer", "IT", False),
    ("deniz", "Deniz Yilmaz", "IT", False),
    ("emma", "Emma Hofer", "Buchhaltung", False),
    ("felix", "Felix Brunner", "Buchhaltung", False),
    ("greta", "Greta Keller", "IT", False),
]
REASONS = [
    ("danke für die schnelle Lösung beim Kundenticket", "kundenfokus"),
    ("danke, dass du die Rechnungsfrage für den Kunden sofort geklärt hast", "internerservice"),
    ("super Übergabe an die Spätschicht, nichts ist liegen geblieben", "teamwork"),
    ("du hast das Formular auf eine Seite gekürzt", "einfachmachen"),
    ("danke fürs Dranbleiben bis das Problem wirklich gelöst war", "verantwortung"),
    ("der neue Laptop war in einer Stunde eingerichtet", "internerservice"),
]


async def seed_demo(session: AsyncSession, *, workspace_id: str, now: datetime, seed: int = 7) -> bool:
    """Create the demo colleagues and history once; False if the workspace already has kudos."""
    has = (
        await session.execute(select(func.count()).select_from(Kudos).where(Kudos.workspace_id == workspace_id))
    ).scalar_one()
    for uid, name, dept, admin in COLLEAGUES:
        await core.upsert_member(
            session,
            workspace_id=workspace_id,
            user_id=uid,
            display_name=name,
            handle=uid,
            department=dept,
            is_admin=admin,
        )
    if has:
        return False
    ws = await session.get(Workspace, workspace_id)
    zone = ZoneInfo(ws.timezone if ws else "UTC")
    rng = random.Random(seed)
    ids = [c[0] for c in COLLEAGUES]
    depts = {c[0]: c[2] for c in COLLEAGUES}
    for days_ago in range(35, 0, -1):
        for _ in range(rng.randint(1, 3)):
            giver, receiver = rng.sample(ids, 2)
            reason, tag = rng.choice(REASONS)
            at = now - timedelta(days=days_ago, hours=rng.randint(0, 8))
            session.add(
                Kudos(
                    workspace_id=workspace_id,
                    batch_id=uuid.uuid4().hex,
                    giver_id=giver,
                    receiver_id=receiver,
                    points=1,
                    value_tag=tag,
                    reason=reason,
                    cross_team=depts[giver] != depts[receiver],
                    giver_department=depts[giver],
                    receiver_department=depts[receiver],
                    source="command",
                    conversation_id="general",
                    giver_day=at.astimezone(zone).date(),  # the giver's local day, as budgets count
                    created_at=at,
                )
            )
    await session.flush()
    return True


async def member_count(session: AsyncSession, *, workspace_id: str) -> int:
    stmt = select(func.count()).select_from(Member).where(Member.workspace_id == workspace_id)
    return int((await session.execute(stmt)).scalar_one())
