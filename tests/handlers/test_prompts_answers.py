"""Answers: thread replies to the delivered prompt, the Answer form (anonymous or not), the command,
and what can be done with an answer afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.console.adapter import WORKSPACE
from bot.core.events import ActionEvent, Actor, Conversation, MessageEvent, Platform
from bot.scheduler import run_tick
from storage.models import OutboxMessage
from storage.prompts import PromptAnswer, PromptPost, highlighted_answers, participation
from tests.kit import BotHarness, Clock

NAMES = {"anna": "Anna Schmidt", "ben": "Ben Müller", "clara": "Clara Fischer"}


def actor(user: str) -> Actor:
    return Actor(platform=Platform.CONSOLE, workspace_id=WORKSPACE, user_id=user, display_name=NAMES.get(user, user))


@pytest.fixture
async def posted(any_db_url: str) -> AsyncIterator[tuple[BotHarness, PromptPost, str]]:
    """A bot whose #team channel got today's prompt from the scheduler, delivered by the outbox."""
    bot = BotHarness(any_db_url, Clock(datetime(2026, 11, 18, 7, 0, tzinfo=UTC)))
    await bot.start()
    await bot.say("/channel team")
    await bot.say("prompt subscribe 09:30 mo-fr Europe/Berlin DE-BY")
    bot.clock.advance(hours=1, minutes=30)  # 09:30 in Berlin
    assert await run_tick(bot.app.router, bot.app.services, bot.clock()) == 1
    await bot.app.outbox.drain()
    async with bot.app.sessions() as s:
        post = (await s.execute(select(PromptPost))).scalars().one()
        row = (
            (await s.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == post.dedupe_key))).scalars().one()
        )
    assert row.platform_message_id
    yield bot, post, row.platform_message_id
    await bot.close()


async def answers(bot: BotHarness) -> list[PromptAnswer]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(PromptAnswer).order_by(PromptAnswer.id))).scalars().all())


async def test_thread_replies_and_form_answers_are_stored_with_the_prompt(
    posted: tuple[BotHarness, PromptPost, str],
) -> None:
    bot, post, message_id = posted
    # a reply in the prompt's thread is an answer with its author
    reply = MessageEvent(
        actor=actor("anna"),
        conversation=Conversation(id="team", thread_id=message_id),
        text="Ich würde mir wünschen, dass jemand zurückruft, statt mich warten zu lassen.",
        message_id="msg-1",
        thread_id=message_id,
        event_id="ev-1",
    )
    await bot.console.send_event(reply)
    await bot.console.send_event(reply.model_copy(update={"event_id": "ev-1-retry"}))  # a platform retry
    # a reply in another thread is not an answer
    other = reply.model_copy(update={"thread_id": "console-999", "message_id": "msg-2", "event_id": "ev-2"})
    await bot.console.send_event(other)

    # the Answer button opens the form; anonymous answers keep no author
    await bot.console.send_event(
        ActionEvent(
            actor=actor("ben"), conversation=Conversation(id="team"), action_id="prompt:answer", value=str(post.id)
        )
    )
    assert "Deine Antwort" in bot.output[-2] and post.text[:40] in bot.output[-1]
    await bot.say("Die Rechnung versteht man nur mit Handbuch.", as_="ben")
    out = await bot.say("y", as_="ben")
    assert "ohne deinen Namen gespeichert" in out and "→ #team:" not in out
    # the thread post waits for the next full hour, with a time that says only that hour
    async with bot.app.sessions() as s:
        pending = (await s.execute(select(OutboxMessage))).scalars().all()
    anon = [m for m in pending if "Anonyme Antwort" in repr(m.payload)]
    assert [(m.created_at.minute, m.created_at.second, m.created_at.microsecond) for m in anon] == [(0, 0, 0)]
    bot.clock.advance(hours=1)
    await bot.app.outbox.drain()
    shown = "\n".join(bot.output[-3:])
    assert "→ #team:" in shown and "Anonyme Antwort" in shown and "Ben" not in shown

    # a named form answer
    await bot.console.send_event(
        ActionEvent(
            actor=actor("clara"), conversation=Conversation(id="team"), action_id="prompt:answer", value=str(post.id)
        )
    )
    await bot.say("Mehr Rückrufe, weniger Warteschleife.", as_="clara")
    out = await bot.say("n", as_="clara")
    assert "Danke für deine Antwort" in out and "Clara Fischer hat geantwortet" in out

    stored = await answers(bot)
    # (an anonymous answer's place in the order says nothing: its time is the hour, its id random)
    assert sorted((a.author_id or "", a.source, a.post_id) for a in stored) == [
        ("", "form", post.id),
        ("anna", "thread", post.id),
        ("clara", "form", post.id),
    ]
    # the bot's own copies of form answers in the thread are not counted again
    async with bot.app.sessions() as s:
        thread_posts = (
            (await s.execute(select(OutboxMessage).where(OutboxMessage.thread_id == message_id))).scalars().all()
        )
    assert len(thread_posts) == 2
    for row in thread_posts:
        await bot.console.send_event(
            MessageEvent(
                actor=actor("starling").model_copy(update={"is_bot": True}),
                conversation=Conversation(id="team", thread_id=message_id),
                text="_Anonyme Antwort:_ …",
                message_id=row.platform_message_id,
                thread_id=message_id,
            )
        )
    assert len(await answers(bot)) == 3

    since = bot.clock() - timedelta(days=1)
    async with bot.app.sessions() as s:
        (row,) = await participation(s, workspace_id=WORKSPACE, since=since, until=bot.clock() + timedelta(days=1))
    assert (row.channel_id, row.prompts, row.answers, row.anonymous_answers, row.people) == ("team", 1, 3, 1, 2)


async def test_form_refuses_an_empty_answer_and_too_long_thread_replies(
    posted: tuple[BotHarness, PromptPost, str],
) -> None:
    bot, post, message_id = posted
    await bot.console.send_event(
        ActionEvent(
            actor=actor("ben"),
            conversation=Conversation(id="team"),
            action_id="prompt:submit",
            value=str(post.id),
            form={"answer": "   ", "anonymous": ""},
            is_form=True,
        )
    )
    assert "(privat) Deine Antwort ist leer" in bot.output[-1]
    await bot.console.send_event(
        MessageEvent(
            actor=actor("anna"),
            conversation=Conversation(id="team", thread_id=message_id),
            text="x" * 2500,
            message_id="long",
            thread_id=message_id,
        )
    )
    assert "2500 Zeichen" in bot.output[-1]
    await bot.console.send_event(
        ActionEvent(actor=actor("ben"), conversation=Conversation(id="team"), action_id="prompt:answer", value="999")
    )
    assert "Diesen Impuls finde ich nicht mehr" in bot.output[-1]
    assert await answers(bot) == []


async def test_answers_list_highlight_kudos_and_suggestion_hand_off(posted: tuple[BotHarness, PromptPost, str]) -> None:
    bot, _post, _ = posted
    await bot.say("prompt antwort Ich würde eine klare Ansage zur Lieferzeit erwarten.", as_="anna")
    await bot.say("prompt antwort anonym Unser Portal ist für Ältere kaum zu bedienen.", as_="ben")
    base = len(bot.console.buttons)  # buttons are numbered across everything shown so far
    out = await bot.say("prompt antworten", as_="clara")
    assert "Anna Schmidt: Ich würde eine klare Ansage" in out and "anonym: Unser Portal" in out
    buttons = list(bot.console.buttons)[base:]
    assert [b[1] for b in buttons] == ["prompt:highlight", "suggest:from_answer", "prompt:kudos"] * 2
    # The anonymous answer keeps only the hour, so it is listed first within its hour.
    assert out.index("anonym: Unser Portal") < out.index("Anna Schmidt: Ich würde")
    anon_answer, anna_answer = buttons[0][2], buttons[3][2]
    assert buttons[4][2] == anna_answer  # the suggestion hand-off carries the answer id

    out = await bot.say(f"/click {base + 6}", as_="clara")  # kudos for Anna's answer: tells how
    assert "Anna Schmidt" in out and "kudos" in out

    async def answers_then_click(who: str, n: int) -> str:
        """``prompt antworten``, then button ``n`` of what it showed."""
        first = len(bot.console.buttons)
        await bot.say("prompt antworten", as_=who)
        return await bot.say(f"/click {first + n}", as_=who)

    out = await answers_then_click("clara", 3)  # kudos for the anonymous answer: nobody is named
    assert "anonym" in out and "Ben" not in out
    assert "eigene Antwort" in await answers_then_click("anna", 6)

    # highlights: once per person (clicking again takes it back), most-marked first
    for who in ("clara", "deniz", "anna"):
        await answers_then_click(who, 1)
    await answers_then_click("deniz", 4)
    assert "entfernt" in await answers_then_click("anna", 1)
    async with bot.app.sessions() as s:
        top = await highlighted_answers(
            s, workspace_id=WORKSPACE, since=bot.clock() - timedelta(days=1), until=bot.clock() + timedelta(days=1)
        )
    assert [(str(h.answer_id), h.highlights, h.author_id) for h in top] == [
        (anon_answer, 2, None),
        (anna_answer, 1, "anna"),
    ]
