"""Races on SQLite and PostgreSQL: one vote per person, one decision per suggestion, one card per batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.core.events import ActionEvent, Actor, CommandEvent, Conversation, Platform
from bot.core.messages import Message, plain
from bot.scheduler import run_tick
from tests.handlers.suggestion_kit import one, suggestions, supporters, trail
from tests.kit import BotHarness, Clock


@pytest.fixture
async def multi_bot(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(any_db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


def actor(bot: BotHarness, user: str, *, admin: bool = False) -> Actor:
    return Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id=user, is_admin=admin)


def text_of(messages: list[Message]) -> str:
    return " ".join(plain(m.model_dump_json()) for m in messages)


async def test_concurrent_votes_count_each_person_once(multi_bot: BotHarness) -> None:
    bot = multi_bot
    await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="anna")

    def vote(user: str, n: int) -> ActionEvent:
        return ActionEvent(
            actor=actor(bot, user),
            conversation=Conversation(id="general"),
            action_id="suggest:vote:1",
            value="1",
            event_id=f"click-{user}-{n}",
        )

    events = [vote("ben", n) for n in range(6)] + [vote(u, 0) for u in ("clara", "deniz", "emma")]
    results = await asyncio.gather(*(bot.app.dispatch(e) for e in events))
    texts = [text_of(r) for r in results]
    assert sum("zählt" in t for t in texts[:6]) == 1
    assert sum("Du hast schon für #1 gestimmt" in t for t in texts[:6]) == 5
    assert all("zählt" in t for t in texts[6:])
    votes, _ = await supporters(bot, 1)
    assert votes == {"ben", "clara", "deniz", "emma"}


async def test_two_approvers_deciding_at_once_make_one_decision(multi_bot: BotHarness) -> None:
    bot = multi_bot
    await bot.say("suggest approvers @clara @greta", as_="max")
    await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="anna")
    approve = ActionEvent(
        actor=actor(bot, "clara"), conversation=Conversation(id="general"), action_id="suggest:approve:1", value="1"
    )
    decline = CommandEvent(
        actor=actor(bot, "greta"), conversation=Conversation(id="general"), name="suggest", text="decline 1 Zu teuer."
    )
    results = await asyncio.gather(bot.app.dispatch(approve), bot.app.dispatch(decline))
    texts = [text_of(r) for r in results]
    decisions = [row for row in await trail(bot, 1) if row[3] in ("approved", "declined")]
    assert len(decisions) == 1
    s = await one(bot, 1)
    assert s.status == decisions[0][3] and s.decided_by == decisions[0][1]
    assert sum("bereits" in t for t in texts) == 1


async def test_racing_schedulers_post_an_anonymous_card_once(multi_bot: BotHarness) -> None:
    bot = multi_bot
    form = {
        "title": "Reisekosten",
        "problem": "Drei Unterschriften für 20 Euro.",
        "proposal": "Eine reicht.",
        "category": "approval",
        "anonymous": "true",
    }
    await bot.app.dispatch(
        ActionEvent(
            actor=actor(bot, "anna"),
            conversation=Conversation(id="general"),
            action_id="suggest:new",
            form=form,
            is_form=True,
        )
    )
    bot.clock.advance(hours=1)
    queued = await asyncio.gather(
        *(run_tick(bot.app.router, bot.app.services, bot.clock.now, worker=f"scheduler-{i}") for i in range(3))
    )
    assert sum(queued) == 1  # one review card (to the only admin, max)
    (anon,) = await suggestions(bot)
    assert anon.anonymous and anon.announced_at is not None


async def test_votes_racing_a_duplicate_mark_are_moved_or_refused_never_lost(multi_bot: BotHarness) -> None:
    bot = multi_bot
    await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="anna")
    await bot.say("suggest Die Kaffeemaschine im zweiten Stock ist ständig kaputt", as_="ben")
    mark = CommandEvent(
        actor=actor(bot, "max", admin=True),
        conversation=Conversation(id="general"),
        name="suggest",
        text="duplicate 2 1 gleiches Thema",
    )
    voters = ["clara", "deniz", "emma", "felix", "greta"]
    votes = [
        ActionEvent(actor=actor(bot, u), conversation=Conversation(id="general"), action_id="suggest:vote:2", value="2")
        for u in voters
    ]
    results = await asyncio.gather(bot.app.dispatch(mark), *(bot.app.dispatch(v) for v in votes))
    refused = {u for u, r in zip(voters, results[1:], strict=True) if "Duplikat" in text_of(r)}
    on_original, _ = await supporters(bot, 1)
    assert (await one(bot, 2)).status == "duplicate"
    assert on_original | refused == set(voters) and not (on_original & refused)
    assert await supporters(bot, 2) == (set(), set())
