"""Each feature switch off stores nothing of its feature, whichever way in (commands, messages,
reactions, buttons on old posts, thread replies, scheduled jobs, the command line)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.core.events import ActionEvent, Actor, Conversation, MessageEvent, Platform, ReactionEvent
from bot.scheduler import run_tick
from storage.models import Kudos, OutboxMessage
from storage.prompts import CustomerFeedback, PromptAnswer, PromptPost
from storage.suggestions import Suggestion, SuggestionVote
from tests.kit import BotHarness


async def count(bot: BotHarness, model: Any) -> int:
    async with bot.app.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def actor(bot: BotHarness, who: str) -> Actor:
    return Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id=who)


async def latest_post(bot: BotHarness) -> PromptPost:
    async with bot.app.sessions() as s:
        post = (await s.execute(select(PromptPost).order_by(PromptPost.id.desc()))).scalars().first()  # type: ignore[attr-defined]
    assert post is not None
    return post


async def test_kudos_off_stores_no_kudos_by_command_message_or_reaction(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("privacy feature kudos off", as_="max")
    before = await count(bot, Kudos)
    await bot.say("kudos @ben danke für die Hilfe beim Kunden #teamwork", as_="anna")
    reaction = ReactionEvent(
        actor=actor(bot, "anna"),
        conversation=Conversation(id="general", kind="channel"),
        emoji="star",
        added=True,
        message_id="m-1",
        item_author_id="ben",
    )
    await bot.app.dispatch(reaction)  # reaction kudos are part of kudos: off with it
    assert await count(bot, Kudos) == before


async def test_prompts_off_stores_no_answer_from_an_old_post_or_a_thread(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    await bot.say("prompt now", as_="max")
    post = await latest_post(bot)
    await bot.say("privacy feature prompts off", as_="max")
    posts = await count(bot, PromptPost)
    await bot.app.dispatch(  # the Answer button on yesterday's post
        ActionEvent(
            actor=actor(bot, "ben"),
            conversation=Conversation(id=post.channel_id),
            action_id="prompt:answer",
            value=str(post.id),
        )
    )
    await bot.say("prompt antwort Ich würde den Kunden zurückrufen.", as_="ben")
    await bot.say("prompt now", as_="max")
    bot.clock.advance(days=1)
    await run_tick(bot.app.router, bot.app.services, bot.clock())
    assert await count(bot, PromptAnswer) == 0 and await count(bot, PromptPost) == posts


@pytest.mark.parametrize("switch", ["prompt_answers", "prompts"])
async def test_answers_off_stores_no_thread_reply(anybot: BotHarness, switch: str) -> None:
    bot = anybot
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    await bot.say("prompt now", as_="max")
    await bot.app.outbox.drain()
    post = await latest_post(bot)
    async with bot.app.sessions() as s:
        thread = (
            await s.execute(
                select(OutboxMessage.platform_message_id).where(OutboxMessage.dedupe_key == post.dedupe_key)
            )
        ).scalar_one_or_none()
    await bot.say(f"privacy feature {switch} off", as_="max")
    reply = MessageEvent(
        actor=actor(bot, "ben"),
        conversation=Conversation(id=post.channel_id, kind="channel", thread_id=thread or "t-1"),
        event_id="ev-thread-1",
        text="Die Rechnung versteht man nur mit Handbuch.",
        message_id="msg-thread-1",
        thread_id=thread or "t-1",
    )
    await bot.app.dispatch(reply)
    async with bot.app.sessions() as s:
        stored = (await s.execute(select(PromptAnswer))).scalars().all()
    assert stored == []


async def test_suggestions_off_stores_nothing_and_sends_no_announcement(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("suggest Das Reisekostenformular hat zwölf Seiten, eine würde reichen", as_="anna")
    assert await count(bot, Suggestion) == 1
    (sid,) = [s for s in await _ids(bot)]
    await bot.say("privacy feature suggestions off", as_="max")
    outbox = await count(bot, OutboxMessage)
    await bot.say("suggest Urlaubsanträge brauchen drei Unterschriften, eine würde reichen", as_="ben")
    await bot.say(f"suggest vote {sid}", as_="clara")  # votes are part of suggestions
    for _ in range(3):  # announcements and reminders are scheduled work of the feature
        bot.clock.advance(days=7)
        await run_tick(bot.app.router, bot.app.services, bot.clock())
    async with bot.app.sessions() as s:
        sent = (await s.execute(select(OutboxMessage).where(OutboxMessage.id > outbox))).scalars().all()
    assert await count(bot, Suggestion) == 1 and await count(bot, SuggestionVote) == 0
    assert [m for m in sent if "suggest" in (m.dedupe_key or "") or "Vorschlag" in repr(m.payload)] == []


async def _ids(bot: BotHarness) -> list[int]:
    async with bot.app.sessions() as s:
        return [int(i) for i in (await s.execute(select(Suggestion.id))).scalars().all()]


async def test_feedback_import_off_imports_nothing_from_the_command_line(
    bot: BotHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.say("privacy feature feedback_import off", as_="max")
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    csv_file = tmp_path / "tickets.csv"
    csv_file.write_text("ID;Kommentar\nT-1;Ich warte seit drei Wochen auf meine Erstattung.\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="switched off"):
        await asyncio.to_thread(main, ["import-feedback", str(csv_file)])
    assert await count(bot, CustomerFeedback) == 0


async def test_leaderboards_off_no_ranking_by_name_anywhere(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("privacy feature leaderboards off", as_="max")
    await bot.say("digest subscribe #team mo 09:00", as_="max")
    await bot.say("digest leaderboard #kudos woche", as_="max")
    shown = await bot.say("kudos leaderboard", as_="ben")
    for _ in range(8):
        bot.clock.advance(days=1)
        await run_tick(bot.app.router, bot.app.services, bot.clock())
        await bot.app.outbox.drain()
    everything = shown + "\n".join(bot.output)
    # No ranking by name anywhere: the digest's top lists are left out (a digest may still count kudos).
    assert "Digest" in everything
    assert "Am meisten anerkannt" not in everything and "Am großzügigsten" not in everything
