"""Core queries on SQLite and PostgreSQL: idempotent inserts, workspaces, members, event claims, outbox leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
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


async def test_outbox_lease_goes_to_one_worker(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as s:
        for i in range(6):
            await core.enqueue(
                s,
                OutboxMessage(
                    workspace_id=WS,
                    platform="slack",
                    target_kind="channel",
                    target_id="C1",
                    payload={"n": i},
                    next_attempt_at=NOW,
                    created_at=NOW,
                ),
            )

    async def worker() -> list[int]:
        async with transaction(sessions) as s:
            rows = await core.claim_due_outbox(s, now=NOW, limit=10, lease=timedelta(seconds=60), platforms=["slack"])
            return [r.payload["n"] for r in rows]

    first, second = await asyncio.gather(worker(), worker())
    assert sorted(first + second) == list(range(6))  # every message leased, none twice
    assert await worker() == []  # all leased until the lease runs out


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


async def test_workers_claiming_batches_at_once_on_postgresql_never_get_the_same_row(pg_url: str) -> None:
    engine = create_engine_for(pg_url)
    factory = session_factory(engine)
    try:
        async with transaction(factory) as s:
            await core.ensure_workspace(s, workspace_id=WS, platform="slack", locale="de", timezone="Europe/Berlin")
            for i in range(300):
                await core.queue_message(
                    s,
                    workspace_id=WS,
                    platform="slack",
                    target_kind="channel",
                    target_id=f"C{i % 30}",
                    payload={"n": i},
                    cause="test",
                    now=NOW,
                )

        async def pending() -> int:
            async with factory() as s:
                stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")  # type: ignore[arg-type]
                return int((await s.execute(stmt)).scalar_one())

        async def worker() -> list[int]:
            # a batch may come back short or empty while another worker commits its own: go on until none is left
            mine: list[int] = []
            while await pending():
                async with transaction(factory) as s:
                    rows = await core.claim_due_outbox(
                        s, now=NOW, limit=7, lease=timedelta(seconds=60), platforms=["slack"]
                    )
                    mine += [r.payload["n"] for r in rows]
                    assert all(r.status == "sending" and r.attempts == 1 for r in rows)
            return mine

        batches = await asyncio.gather(*(worker() for _ in range(4)))
        claimed = [n for batch in batches for n in batch]
        assert sorted(claimed) == list(range(300))  # every message leased once, by exactly one worker
        assert sum(1 for batch in batches if batch) >= 2  # the workers really ran side by side
    finally:
        await engine.dispose()
