"""Core queries on SQLite and PostgreSQL: idempotent inserts, workspaces, members, event claims, outbox leases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import core
from storage import kudos as q
from storage.db import create_engine_for, session_factory, transaction
from storage.models import BudgetDay, CompanyValue, OutboxMessage

WS = "slack:T0001"
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)


@pytest.fixture
async def sessions(any_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(any_db_url)
    factory = session_factory(engine)
    async with transaction(factory) as s:
        await core.ensure_workspace(s, workspace_id=WS, platform="slack", locale="de", timezone="Europe/Berlin")
    yield factory
    await engine.dispose()


async def test_insert_ignore_reports_whether_it_wrote(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = {"workspace_id": WS, "user_id": "U1", "day": date(2026, 11, 18), "spent": 0}
    keys = ["workspace_id", "user_id", "day"]
    async with transaction(sessions) as s:
        assert await core.insert_ignore(s, BudgetDay, row, keys) is True
    async with transaction(sessions) as s:
        assert await core.insert_ignore(s, BudgetDay, {**row, "spent": 3}, keys) is False
        assert await q.spent_on(s, workspace_id=WS, user_id="U1", day=date(2026, 11, 18)) == 0


async def test_ensure_workspace_again_keeps_one_set_of_values(sessions: async_sessionmaker[AsyncSession]) -> None:
    for _ in range(2):
        async with transaction(sessions) as s:
            ws = await core.ensure_workspace(s, workspace_id=WS, platform="slack", locale="en", timezone="UTC")
    assert (ws.locale, ws.timezone) == ("de", "Europe/Berlin")  # an existing workspace keeps its settings
    async with sessions() as s:
        tags = (await s.execute(select(CompanyValue.tag).where(CompanyValue.workspace_id == WS))).scalars().all()
    assert sorted(tags) == sorted(v["tag"] for v in core.DEFAULT_VALUES)


async def test_event_is_claimed_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as s:
        assert await core.claim_event(s, key=f"{WS}:Ev1") is True
        assert await core.claim_event(s, key=f"{WS}:Ev1") is False
    async with transaction(sessions) as s:
        assert await core.claim_event(s, key=f"{WS}:Ev1") is False
        assert await core.claim_event(s, key=f"{WS}:Ev2") is True


async def test_upsert_member_without_touch_writes_only_changes(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as s:
        created = await core.upsert_member(s, workspace_id=WS, user_id="U1", display_name="Anna", locale="de")
    stamp = created.updated_at
    async with transaction(sessions) as s:
        same = await core.upsert_member(s, workspace_id=WS, user_id="U1", touch=False, display_name="Anna")
    assert same.updated_at == stamp
    async with transaction(sessions) as s:
        moved = await core.upsert_member(s, workspace_id=WS, user_id="U1", touch=False, department="IT")
    assert (moved.display_name, moved.locale, moved.department) == ("Anna", "de", "IT")
    assert moved.updated_at >= stamp
    async with transaction(sessions) as s:
        kept = await core.upsert_member(s, workspace_id=WS, user_id="U1", touch=False, locale=None)
    assert kept.locale == "de"  # facts a platform did not tell are kept


async def test_budget_is_never_overspent(sessions: async_sessionmaker[AsyncSession]) -> None:
    day = date(2026, 11, 18)
    async with transaction(sessions) as s:
        assert await q.spend_budget(s, workspace_id=WS, user_id="U1", day=day, points=3, budget=5) == 2
        assert await q.spend_budget(s, workspace_id=WS, user_id="U1", day=day, points=3, budget=5) is None
        assert await q.spend_budget(s, workspace_id=WS, user_id="U1", day=day, points=2, budget=5) == 0
        await q.refund_budget(s, workspace_id=WS, user_id="U1", day=day, points=9)
        assert await q.spent_on(s, workspace_id=WS, user_id="U1", day=day) == 0  # never below zero


async def test_enqueue_with_the_same_dedupe_key_is_ignored(sessions: async_sessionmaker[AsyncSession]) -> None:
    def msg() -> OutboxMessage:
        return OutboxMessage(
            workspace_id=WS,
            platform="slack",
            target_kind="dm",
            target_id="U1",
            dedupe_key="kudos:b1:dm:U1",
            next_attempt_at=NOW,
            created_at=NOW,
        )

    async with transaction(sessions) as s:
        assert await core.enqueue(s, msg()) is True
    async with transaction(sessions) as s:
        assert await core.enqueue(s, msg()) is False


async def test_a_retry_after_midnight_is_recognised_whatever_the_day_before_held(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Yesterday's secret is looked for on every event until it is known; a day without any is remembered
    only once it is over by minutes, so a retry of an event handled just before midnight is still caught."""
    late = datetime(2026, 11, 17, 23, 58, tzinfo=UTC)
    early = datetime(2026, 11, 18, 0, 3, tzinfo=UTC)
    quiet_day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the 19th saw no events at all

    async def claim(event_id: str, at: datetime) -> bool:
        async with transaction(sessions) as s:
            return await core.claim_platform_event(s, workspace_id=WS, event_id=event_id, now=at)

    assert await claim("Ev-quiet", quiet_day) is True  # no secret for the 19th: remembered as none
    assert await claim("Ev-quiet", quiet_day) is False
    assert await claim("Ev-late", late) is True  # the first event of the 17th creates its secret
    assert await claim("Ev-late", early) is False  # its retry four minutes later, the next day
    assert await claim("Ev-late", datetime(2026, 11, 18, 23, 0, tzinfo=UTC)) is False
