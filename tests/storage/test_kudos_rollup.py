"""The overview's roll-up equals the grouped statements over the kudos themselves, after every kind of write:
kudos given in chat, an undo, a department move, erasure (forget-me) and retention; on SQLite and PostgreSQL.
And the rows the triggers keep are exactly what a rebuild from scratch makes."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.console.demo import COLLEAGUES
from bot.core.events import ActionEvent, Actor, Conversation, Platform
from handlers import dashboard
from storage import core, kudos_rollup
from storage import dashboard as q
from storage import privacy as store
from storage.db import transaction
from storage.models import Workspace
from tests.handlers.kudos_helpers import command, team_harness
from tests.kit import BotHarness, Clock

DEPARTMENTS = (None, "Kundenservice", "IT", "Buchhaltung", "it")


@pytest.fixture
async def anybot(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(any_db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


async def raw_figures(bot: BotHarness, period: str, department: str | None) -> dict[str, Any]:
    async with bot.app.sessions() as s:
        ws = await s.get(Workspace, bot.workspace_id)
        assert ws is not None
        today = bot.clock.now.astimezone(dashboard.ZoneInfo(ws.timezone or "UTC")).date()
        first, end = dashboard.period_bounds(period, today)
        p = q.Period(
            ws.id,
            dashboard.day_start(first, ws.timezone),
            dashboard.day_start(end, ws.timezone),
            first,
            end,
            department,
        )
        weeks: dict[date, list[int]] = {}
        for day, n, pts, cross in await q.kudos_by_day(s, p):
            w = weeks.setdefault(dashboard.monday(day), [0, 0, 0])
            w[0], w[1], w[2] = w[0] + n, w[1] + pts, w[2] + cross
        raw = {
            "weeks": sorted((w, *v) for w, v in weeks.items()),
            "values": sorted(await q.value_mix(s, p), key=repr),
            "edges": sorted(await q.department_edges(s, p)),
            "team": await q.team_people(s, p) if department else None,
        }
        scope = kudos_rollup.Scope(ws.id, first, department)
        rolled = {
            "weeks": sorted(await kudos_rollup.kudos_by_week(s, scope)),
            "values": sorted(await kudos_rollup.value_mix(s, scope), key=repr),
            "edges": sorted(await kudos_rollup.department_edges(s, scope)),
            "team": await kudos_rollup.team_people(s, scope) if department else None,
        }
    return {"raw": raw, "rolled": rolled}


async def assert_rollup_is_exact(bot: BotHarness) -> None:
    for period in ("4w", "52w"):
        for department in DEPARTMENTS:
            both = await raw_figures(bot, period, department)
            assert both["rolled"] == both["raw"], (period, department)
    # the rows the triggers kept are those a rebuild from the kudos makes
    kept = await rollup_rows(bot)
    async with transaction(bot.app.sessions) as s:
        for stmt in kudos_rollup.rebuild(s.bind.dialect.name):
            await s.execute(text(stmt))
    assert await rollup_rows(bot) == kept


async def rollup_rows(bot: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with bot.app.sessions() as s:
        for table in ("kudos_week", "kudos_person"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).mappings().all()
            out[table] = sorted(tuple(str(v) for k, v in sorted(r.items()) if k != "id") for r in rows)
    return out


async def test_the_rollup_equals_the_raw_aggregates_after_gives_undo_moves_erasure_and_retention(
    anybot: BotHarness,
) -> None:
    bot = anybot
    assert kudos_rollup.TOMBSTONE_LIKE == store.TOMBSTONE_PREFIX + "%"  # the triggers know erased people
    await assert_rollup_is_exact(bot)  # the demo history, loaded before the triggers' first test
    assert (await rollup_rows(bot))["kudos_week"]

    # gives in chat, one to three people at once
    await bot.say("kudos @clara @deniz danke für die schnelle Rechnungsklärung #teamwork", as_="felix")
    await bot.say("kudos @ben danke für die Übergabe an die Spätschicht #kundenfokus", as_="anna")
    await bot.say("kudos @emma danke für die Hilfe beim Kunden #teamwork", as_="greta")
    await assert_rollup_is_exact(bot)

    # an undo takes the last kudos back out (the givers' and receivers' other kudos keep them counted)
    out = await bot.say("kudos undo", as_="felix")
    assert "rückgängig" in out.lower() or "zurück" in out.lower(), out
    await assert_rollup_is_exact(bot)

    # a move: anna's past kudos stay with the service desk, the new ones count for IT
    async with transaction(bot.app.sessions) as s:
        await core.upsert_member(s, workspace_id=bot.workspace_id, user_id="anna", department="IT")
    bot.clock.advance(days=8)
    await bot.say("kudos @greta danke fürs Einrichten des Laptops #internerservice", as_="anna")
    await bot.say("kudos @anna danke fürs Dranbleiben beim Kundenticket #verantwortung", as_="max")
    await assert_rollup_is_exact(bot)

    # forget-me: felix's kudos stay for the others, with per-row tombstones that count nobody
    actor = Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="felix")
    await bot.app.dispatch(
        ActionEvent(actor=actor, conversation=Conversation(id="general"), action_id="privacy.forget", value="felix")
    )
    rows = await rollup_rows(bot)
    assert not [r for r in rows["kudos_person"] if "felix" in r or any(v.startswith("former-") for v in r)]
    await assert_rollup_is_exact(bot)

    # retention: kudos older than three weeks go, and with them their share of the roll-up
    async with transaction(bot.app.sessions) as s:
        cutoff = bot.clock.now - timedelta(days=21)
        deleted = await store.apply_retention(s, workspace_id=bot.workspace_id, cutoff=cutoff, cutoff_day=cutoff.date())
    assert deleted.get("kudos")
    await assert_rollup_is_exact(bot)


async def test_concurrent_gives_by_everyone_at_once_keep_the_rollup_exact(any_db_url: str, clock: Clock) -> None:
    """Five people giving to each other at the same moment (several writers on PostgreSQL, queued on SQLite):
    the week and person rows every kudos touches are shared, and none is counted twice or lost."""
    bot = await team_harness(any_db_url, clock)
    try:
        people = [c[0] for c in COLLEAGUES][:5]
        events = [
            command(giver, f"<@{receiver}> danke für die schnelle Hilfe beim Kunden #teamwork")
            for giver in people
            for receiver in people
            if giver != receiver
        ]
        answers = await asyncio.gather(*(bot.app.dispatch(ev) for ev in events))
        assert sum("verschickt" in m.fallback() for msgs in answers for m in msgs) == len(events)
        await assert_rollup_is_exact(bot)
    finally:
        await bot.close()


def test_the_triggers_are_the_ones_the_migration_installed() -> None:
    """A changed trigger or fill in ``storage.kudos_rollup`` needs a new migration that replaces them in existing
    databases (0011 installed these); then pin the new digest there."""
    migration = importlib.import_module("storage.migrations.versions.0011_kudos_rollup")
    latest = {d: kudos_rollup.ddl_digest(d) for d in ("sqlite", "postgresql")}
    assert latest == migration.DDL_SHA256
