"""Concurrent gives by one person never overspend the budget or the per-pair cap (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.console.demo import COLLEAGUES
from bot.core.messages import Message
from bot.core.services import PersonInfo
from tests.handlers.kudos_helpers import budget_spent, command, kudos_rows, team_harness
from tests.kit import BotHarness, Clock

REASON = "danke für die Hilfe beim Kundentermin"
OTHERS = ["anna", "ben", "clara", "deniz", "emma", "felix", "greta"]


@pytest.fixture
async def team(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    bot = await team_harness(any_db_url, clock)
    yield bot
    await bot.close()


def outcome(messages: list[Message]) -> str:
    """What the giver was told: sent, budget, pair (cap) or error (anything else)."""
    assert len(messages) == 1 and messages[0].target.kind == "ephemeral", messages
    text = messages[0].fallback()
    if "verschickt" in text:
        return "sent"
    if "Tagesbudget von 5 Punkten ist für heute aufgebraucht" in text:
        return "budget"
    if "kannst du höchstens 3 Punkte am Tag geben" in text:
        return "pair"
    return f"error: {text}"


async def give_concurrently(bot: BotHarness, recipients: list[str]) -> Counter[str]:
    events = [command("max", f"<@{who}> {REASON}") for who in recipients]
    results = await asyncio.gather(*(bot.app.dispatch(ev) for ev in events))
    return Counter(outcome(r) for r in results)


async def test_twenty_concurrent_gives_to_one_person_make_exactly_five(team: BotHarness) -> None:
    await team.say("starling set pair-cap 100", as_="max")
    told = await give_concurrently(team, ["anna"] * 20)
    assert told == Counter({"sent": 5, "budget": 15})
    assert len(await kudos_rows(team, giver_id="max")) == 5
    assert await budget_spent(team, "max") == {"2026-11-18": 5}


async def test_twenty_concurrent_gives_to_different_people_make_exactly_five(team: BotHarness) -> None:
    await team.say("starling set pair-cap 100", as_="max")
    told = await give_concurrently(team, [OTHERS[i % len(OTHERS)] for i in range(20)])
    assert told == Counter({"sent": 5, "budget": 15})
    assert sum(r.points for r in await kudos_rows(team, giver_id="max")) == 5
    assert await budget_spent(team, "max") == {"2026-11-18": 5}


async def test_concurrent_gives_respect_the_pair_cap(team: BotHarness) -> None:
    told = await give_concurrently(team, ["anna"] * 20)
    assert told == Counter({"sent": 3, "pair": 17})
    assert len(await kudos_rows(team, giver_id="max", receiver_id="anna")) == 3
    assert await budget_spent(team, "max") == {"2026-11-18": 3}


async def test_one_event_delivered_concurrently_counts_once(team: BotHarness) -> None:
    event = command("max", f"<@anna> {REASON}", event_id="Ev0DUPLICATE")
    results = await asyncio.gather(*(team.app.dispatch(event) for _ in range(5)))
    assert sorted(outcome(r) if r else "ignored" for r in results) == ["ignored"] * 4 + ["sent"]
    assert len(await kudos_rows(team)) == 1
    assert await budget_spent(team, "max") == {"2026-11-18": 1}


class Directory:
    """The platform's user directory (as Slack's users.info would answer)."""

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None:
        for uid, name, dept, admin in COLLEAGUES:
            if uid == user_id:
                return PersonInfo(user_id=uid, display_name=name, department=dept, is_admin=admin)
        return None


async def test_two_people_thanking_each_other_at_once(team: BotHarness) -> None:
    """Each give refreshes the other person from the directory: opposite lock orders must not fail anyone."""
    team.app.services.directories["console"] = Directory()
    team.clock.set(datetime.now(UTC) + timedelta(days=1))  # every directory entry is stale
    events = []
    for _ in range(10):
        events.append(command("max", f"<@anna> {REASON}"))
        events.append(command("anna", f"<@max> {REASON}"))
    results = await asyncio.gather(*(team.app.dispatch(ev) for ev in events))
    assert Counter(outcome(r) for r in results) == Counter({"sent": 6, "pair": 14})
    assert len(await kudos_rows(team, giver_id="max")) == 3
    assert len(await kudos_rows(team, giver_id="anna")) == 3
