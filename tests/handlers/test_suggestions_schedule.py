"""The suggestion box over time: decision-deadline reminders, cycle time and the digest summary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.core.i18n import Translator
from bot.core.messages import Fields, Header, Section
from handlers.suggestions import digest_blocks, digest_summary
from storage.models import ScheduledClaim
from tests.handlers.suggestion_kit import LEAVE, TRAVEL, dm_blocks, fill_form, tick
from tests.kit import BotHarness

WS = "console:local"


async def claims(bot: BotHarness) -> list[tuple[str, str, str]]:
    async with bot.app.sessions() as s:
        rows = (await s.execute(select(ScheduledClaim).where(ScheduledClaim.kind == "suggestion_reminder"))).scalars()
        return sorted((c.channel_id, c.kind, c.period) for c in rows)


async def test_approvers_are_reminded_of_overdue_suggestions_once_a_working_day(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await bot.say("suggest approvers dept:IT @greta", as_="max")
    await fill_form(bot, "anna", **TRAVEL)  # #1, Wed 18 Nov
    await fill_form(bot, "ben", **LEAVE, department="IT")  # #2
    await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="deniz")
    await bot.say("suggest approve 3", as_="clara")  # decided: never reminded

    bot.clock.advance(days=13)  # Tue 1 Dec, 10:30 Berlin: not yet past 14 days
    assert "→" not in await tick(bot)
    bot.clock.advance(days=1)  # Wed 2 Dec, 10:30 Berlin
    out = await tick(bot)
    clara, greta = dm_blocks(out, "clara"), dm_blocks(out, "greta")
    assert "2 Vorschläge sind über der Entscheidungsfrist von 14 Tagen" in clara
    assert "#1 Reisekosten" in clara and "#2 Urlaubsantrag auf Papier (wartet seit 14 Tagen)" in clara
    assert "1 Vorschlag ist über der Entscheidungsfrist" in greta and "#1" not in greta and "#2 Urlaubsantrag" in greta
    assert "#3" not in out and "DM an @max" not in out
    assert "→" not in await tick(bot)  # once a day, however often the scheduler runs
    assert await claims(bot) == [
        ("clara", "suggestion_reminder", "2026-12-02"),
        ("greta", "suggestion_reminder", "2026-12-02"),
    ]

    bot.clock.set(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))  # Saturday
    assert "→" not in await tick(bot)
    bot.clock.set(datetime(2026, 12, 7, 7, 30, tzinfo=UTC))  # Monday 08:30 Berlin: too early
    assert "→" not in await tick(bot)
    bot.clock.set(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))  # 09:00 Berlin
    out = await tick(bot)
    assert "wartet seit 18 Tagen" in dm_blocks(out, "clara")

    await bot.say("suggest decline 1 Die Revision verlangt es.", as_="clara")
    await bot.say("suggest approve 2", as_="greta")
    bot.clock.advance(days=1)
    assert "→" not in await tick(bot)


async def test_reminder_goes_to_the_review_channel_in_the_workspace_language(bot: BotHarness) -> None:
    await bot.say("suggest review-channel #verbesserungen", as_="max")
    await bot.say("starling set language en", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    bot.clock.advance(days=15)
    out = await tick(bot)
    assert out.count("→ #verbesserungen:") == 1 and "1 suggestion is past the 14-day decision deadline" in out
    assert re.search(r"\[\d+\] Open #1", out)
    assert "→" not in await tick(bot)
    await bot.say("suggest deadline 30", as_="max")
    bot.clock.advance(days=1)
    assert "→" not in await tick(bot)  # no longer overdue under the new deadline


async def test_digest_summary_counts_decisions_and_the_median_cycle_time(bot: BotHarness) -> None:
    start = bot.clock.now
    await fill_form(bot, "anna", **TRAVEL)  # 1
    await fill_form(bot, "ben", **LEAVE)  # 2
    await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="deniz")
    bot.clock.advance(hours=24)
    await bot.say("suggest approve 1", as_="max")
    bot.clock.advance(hours=24)
    await bot.say("suggest decline 2 Geht rechtlich nicht.", as_="max")
    bot.clock.advance(hours=24)
    await bot.say("suggest start 1", as_="max")
    await bot.say("suggest done 1", as_="max")

    async with bot.app.sessions() as s:
        week = await digest_summary(s, WS, start - timedelta(days=1), start + timedelta(days=7))
        later = await digest_summary(s, WS, start + timedelta(hours=60), start + timedelta(days=7))
        other = await digest_summary(s, "slack:T0", start - timedelta(days=1), start + timedelta(days=7))
    assert (week.submitted, week.decided, week.approved, week.declined) == (3, 2, 1, 1)
    assert week.done == [(1, TRAVEL["title"])]
    assert week.median_decision_hours == 36.0
    assert (later.submitted, later.decided, later.median_decision_hours) == (0, 0, None)
    assert later.done == [(1, TRAVEL["title"])]
    assert (other.submitted, other.done) == (0, [])

    blocks = digest_blocks(Translator("de"), week)
    assert isinstance(blocks[0], Header) and blocks[0].text == "Ihr habt gesagt, wir haben gemacht"
    assert isinstance(blocks[1], Fields) and ("Median bis zur Entscheidung", "36 Stunden") in blocks[1].items
    assert isinstance(blocks[2], Section) and "#1" in blocks[2].text and "Reisekosten" in blocks[2].text
    english = digest_blocks(Translator("en"), later)
    assert english[0].text == "You said, we did"  # type: ignore[union-attr]
    stats = await bot.say("suggest stats", as_="anna")
    assert "36 Stunden" in stats
