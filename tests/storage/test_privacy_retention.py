from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from bot.scheduler import run_tick
from storage import core, teams
from storage import privacy as store
from storage.db import transaction
from storage.models import BudgetDay, Kudos, OutboxMessage, ProcessedEvent, ScheduledClaim
from tests.kit import BotHarness, Clock

OTHER = "console:other"


@pytest.fixture
async def anybot(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(any_db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


def kudos(ws: str, at: datetime, reason: str) -> Kudos:
    return Kudos(
        workspace_id=ws,
        batch_id=uuid.uuid4().hex,
        giver_id="anna",
        receiver_id="ben",
        reason=reason,
        giver_day=at.date(),
        created_at=at,
    )


def outbox(ws: str, at: datetime, status: str, key: str) -> OutboxMessage:
    return OutboxMessage(
        workspace_id=ws,
        platform="console",
        target_kind="dm",
        target_id="anna",
        payload={},
        status=status,
        dedupe_key=key,
        next_attempt_at=at,
        created_at=at,
    )


async def reasons(bot: BotHarness) -> set[str]:
    async with bot.app.sessions() as s:
        return set((await s.execute(select(Kudos.reason).where(Kudos.reason.like("ret-%")))).scalars().all())  # type: ignore[attr-defined]


async def test_retention_deletes_exactly_what_is_older_than_the_period(anybot: BotHarness, clock: Clock) -> None:
    bot = anybot
    await bot.say("privacy profile works-council", as_="max")  # 12 months
    now = clock.now  # 2026-11-18 09:30 UTC
    cutoff = datetime(2025, 11, 18, 9, 30, tzinfo=UTC)
    just_before = cutoff - timedelta(seconds=1)
    ws = bot.workspace_id
    async with transaction(bot.app.sessions) as s:
        await core.ensure_workspace(s, workspace_id=OTHER, platform="console", locale="de", timezone="Europe/Berlin")
        s.add_all(
            [
                kudos(ws, cutoff, "ret-at-cutoff"),
                kudos(ws, just_before, "ret-before"),
                kudos(ws, now, "ret-now"),
                kudos(OTHER, just_before - timedelta(days=200), "ret-other-workspace"),  # 24 months there
                ProcessedEvent(key=f"{ws}:old", created_at=just_before),
                ProcessedEvent(key=f"{ws}:kept", created_at=cutoff),
                ProcessedEvent(key=f"{OTHER}:old", created_at=just_before),
                outbox(ws, just_before, "sent", "old-sent"),
                outbox(ws, just_before, "dead", "old-dead"),
                outbox(ws, just_before, "pending", "old-pending"),
                outbox(ws, cutoff, "sent", "kept-sent"),
                BudgetDay(workspace_id=ws, user_id="anna", day=date(2025, 11, 17), spent=1),
                BudgetDay(workspace_id=ws, user_id="anna", day=date(2025, 11, 18), spent=1),
                ScheduledClaim(workspace_id=ws, channel_id="c", kind="digest", period="old", claimed_at=just_before),
            ]
        )
        await store.record_audit(s, ws, "max", "old.action", at=just_before)  # kept: the audit floor
        await store.record_audit(s, ws, "max", "kept.action", at=cutoff)
        floor = datetime(2024, 11, 18, 9, 30, tzinfo=UTC)  # 24 months, whatever the retention period
        await store.record_audit(s, ws, "max", "ancient.action", at=floor - timedelta(seconds=1))

    with capture_logs() as logs:
        await run_tick(bot.app.router, bot.app.services, now)
    done = [e for e in logs if e["event"] == "retention_done" and e["workspace"] == ws]
    assert len(done) == 1
    assert {k: done[0].get(k) for k in ("kudos", "processed_event", "outbox", "budget_day", "audit_log")} == {
        "kudos": 1,
        "processed_event": 2,  # dedupe keys live two days, whatever the period
        "outbox": 3,  # sent or dead before the cutoff, and a message pending for more than a week
        "budget_day": 1,
        "audit_log": 1,  # only what is older than the floor of 24 months
    }

    assert await reasons(bot) == {"ret-at-cutoff", "ret-now", "ret-other-workspace"}
    async with bot.app.sessions() as s:
        keys = set((await s.execute(select(ProcessedEvent.key))).scalars().all())
        assert keys == set()  # (the other workspace's too: the daily job drops every key older than the window)
        boxes = set((await s.execute(select(OutboxMessage.dedupe_key))).scalars().all())
        assert "kept-sent" in boxes and not {"old-sent", "old-dead", "old-pending"} & boxes
        days = set((await s.execute(select(BudgetDay.day).where(BudgetDay.workspace_id == ws))).scalars().all())
        assert date(2025, 11, 18) in days and date(2025, 11, 17) not in days
        periods = set((await s.execute(select(ScheduledClaim.period))).scalars().all())
        assert "old" not in periods
        actions = {e.action for e in await store.audit_entries(s, workspace_id=ws, limit=100)}
        assert {"kept.action", "old.action"} <= actions and "ancient.action" not in actions
        # The demo history (the last five weeks) is untouched.
        recent = select(func.count()).select_from(Kudos).where(Kudos.workspace_id == ws, Kudos.created_at > cutoff)
        assert (await s.execute(recent)).scalar_one() > 10

    # Once a day: a second tick the same day deletes nothing, the next day's does.
    async with transaction(bot.app.sessions) as s:
        s.add(kudos(ws, just_before, "ret-late"))
    await run_tick(bot.app.router, bot.app.services, now + timedelta(hours=2))
    assert "ret-late" in await reasons(bot)
    await run_tick(bot.app.router, bot.app.services, now + timedelta(days=1))
    assert "ret-late" not in await reasons(bot)


async def test_retention_follows_the_configured_period(bot: BotHarness, clock: Clock) -> None:
    assert "Gespeichert" in await bot.say("privacy retention 1", as_="max")
    await run_tick(bot.app.router, bot.app.services, clock.now)
    async with bot.app.sessions() as s:
        oldest = (await s.execute(select(func.min(Kudos.created_at)))).scalar_one()
    assert oldest >= datetime(2026, 10, 18, 9, 30, tzinfo=UTC)


def test_months_before_clamps_to_month_end() -> None:
    assert store.months_before(datetime(2026, 3, 31, 8, tzinfo=UTC), 1) == datetime(2026, 2, 28, 8, tzinfo=UTC)
    assert store.months_before(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    assert store.months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)


def test_every_table_with_personal_or_workspace_data_has_a_retention_policy() -> None:
    missing = []
    for table in store.all_tables():
        personal = bool(store.person_columns(table)) or "workspace_id" in table.c
        if personal and store.retention_policy(table) is None:
            missing.append(table.name)
    assert missing == [], f"add a retention policy (storage/privacy.py RETENTION or table info) for {missing}"
    for table in store.all_tables():
        policy = store.retention_policy(table)
        if policy is not None and policy.action != "keep":
            assert policy.timestamp in table.c, (table.name, policy.timestamp)
            assert (
                "workspace_id" in table.c
                or table.name in ("processed_event", "dedupe_secret")  # dropped globally by the daily job
                or any(fk.column.table.c.get("workspace_id") is not None for fk in table.foreign_keys)
            ), f"{table.name}: retention needs a workspace scope"


async def test_file_offers_are_deleted_once_expired_whatever_the_period(bot: BotHarness, clock: Clock) -> None:
    now = clock.now
    async with transaction(bot.app.sessions) as s:
        for name, offered in (("expired", now - timedelta(hours=24, seconds=1)), ("fresh", now - timedelta(hours=23))):
            await teams.offer_file(
                s,
                workspace_id=bot.workspace_id,
                user_id="anna",
                outbox_id=None,
                position=0,
                filename=f"{name}.json",
                mime="application/json",
                content=b"{}",
                now=offered,
            )
    with capture_logs() as logs:
        await run_tick(bot.app.router, bot.app.services, now)
    (done,) = [e for e in logs if e["event"] == "retention_done" and e["workspace"] == bot.workspace_id]
    assert done.get("teams_pending_file") == 1
    async with bot.app.sessions() as s:
        left = (await s.execute(select(teams.TeamsPendingFile.filename))).scalars().all()
    assert left == ["fresh.json"]
