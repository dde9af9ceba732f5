"""The prompt commands in the console, in German and English, with their refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.scheduler import run_tick
from handlers.prompts.library import library
from storage.prompts import CustomPrompt, PromptPost, PromptSubscription
from tests.kit import BotHarness


async def subscription(bot: BotHarness, channel: str = "general") -> PromptSubscription | None:
    async with bot.app.sessions() as s:
        return (
            (await s.execute(select(PromptSubscription).where(PromptSubscription.channel_id == channel)))
            .scalars()
            .first()
        )


async def posts(bot: BotHarness) -> list[PromptPost]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(PromptPost).order_by(PromptPost.id))).scalars().all())


async def test_subscribe_status_and_help_in_german(bot: BotHarness) -> None:
    out = await bot.say("prompt")
    assert "bekommt noch keinen täglichen Impuls" in out
    out = await bot.say("prompt subscribe 09:30 mo-fr Europe/Berlin DE-BY")
    assert "täglich um 09:30" in out and "Mo–Fr" in out and "nicht an Feiertagen in DE-BY" in out
    assert "Der nächste: Do 19.11. 09:30" in out  # the clock says Wednesday 10:30 in Berlin
    out = await bot.say("prompt")
    assert "aktiv" in out and "Europe/Berlin" in out and "alle Kategorien" in out
    out = await bot.say("prompt hilfe")
    assert "im Thread des Impulses" in out and "prompt abonnieren 09:30" in out
    sub = await subscription(bot)
    assert sub is not None and (sub.hour, sub.minute, sub.days, sub.holiday_region) == (9, 30, [0, 1, 2, 3, 4], "DE-BY")
    # changing the time keeps the rest
    await bot.say("prompt subscribe 8:15")
    sub = await subscription(bot)
    assert sub is not None and (sub.hour, sub.minute, sub.holiday_region, sub.timezone) == (
        8,
        15,
        "DE-BY",
        "Europe/Berlin",
    )


async def test_english_speaker_gets_english(bot: BotHarness) -> None:
    await bot.say("starling language en", as_="anna")
    out = await bot.say("prompt help", as_="anna")
    assert "The daily prompt" in out and "reply in the prompt's thread" in out
    out = await bot.say("prompt subscribe 09:30", as_="anna")
    assert out == "(only you) Only workspace admins can change this."
    assert await subscription(bot) is None


async def test_bad_input_gets_a_friendly_private_answer_and_changes_nothing(bot: BotHarness) -> None:
    cases = {
        "prompt subscribe": "Wann soll der Impuls kommen",
        "prompt subscribe 25:99": "„25:99“ ist keine Uhrzeit",
        "prompt subscribe 09:30 Mars/Olympus": "Zeitzone „Mars/Olympus“",
        "prompt subscribe 09:30 DE-XY": "Feiertagsregion „DE-XY“",
        "prompt subscribe 09:30 irgendwann": "„irgendwann“ verstehe ich hier nicht",
        "prompt pause": "noch keine täglichen Impulse",
        "prompt frobnicate": "`prompt frobnicate` kenne ich nicht",
        "prompt add": "Schreib den Impuls hinter `prompt add`",
        "prompt add #nonsense Wie geht es der IT?": "„#nonsense“ ist keine Impuls-Kategorie",
        "prompt add kurz": "10 bis 600 Zeichen",
        "prompt approve": "Nummer des Impulses",
        "prompt approve 77": "Impuls #77 gibt es",
        "prompt antworten": "noch keinen Impuls",
    }
    for line, expected in cases.items():
        out = await bot.say(line)
        assert out.startswith("(only you)") and expected in out, (line, out)
    assert await subscription(bot) is None
    async with bot.app.sessions() as s:
        assert (await s.execute(select(CustomPrompt))).scalars().first() is None


async def test_pause_resume_and_categories(bot: BotHarness) -> None:
    await bot.say("prompt subscribe 09:30")
    assert "pausiert" in await bot.say("prompt pause")
    assert "schon pausiert" in await bot.say("prompt pause")
    assert "laufen wieder" in await bot.say("prompt resume")
    out = await bot.say("prompt kategorien internal, Service-Ziele")
    assert "Interne Kunden, Service-Ziele" in out
    sub = await subscription(bot)
    assert sub is not None and sub.categories == ["internal", "goals"]
    out = await bot.say("prompt kategorien")
    assert "✓ `internal`" in out and "· `perspective`" in out
    assert "„quatsch“ ist keine" in await bot.say("prompt kategorien quatsch")
    # posts now come only from the chosen categories
    for day in range(4):
        bot.clock.set(datetime(2026, 11, 23 + day, 8, 30, tzinfo=UTC))
        await run_tick(bot.app.router, bot.app.services, bot.clock())
    assert {p.category for p in await posts(bot)} == {"internal", "goals"}
    await bot.say("prompt kategorien alle")
    sub = await subscription(bot)
    assert sub is not None and sub.categories == []


async def test_prompt_now_posts_once_a_day_and_the_schedule_does_not_repeat_it(bot: BotHarness) -> None:
    await bot.say("prompt subscribe 11:00 mo-fr Europe/Berlin")
    out = await bot.say("prompt jetzt")
    assert "Der heutige Impuls ist gepostet" in out and "→ #general:" in out and "Impuls des Tages" in out
    out = await bot.say("prompt jetzt")
    assert "schon gepostet" in out and "→ #general" not in out
    bot.clock.advance(minutes=40)  # 11:10 in Berlin: the scheduled time has come
    assert await run_tick(bot.app.router, bot.app.services, bot.clock()) == 0
    assert len(await posts(bot)) == 1
    assert await bot.say("prompt now", as_="ben") == "(only you) Das können nur Workspace-Admins ändern."


async def test_own_prompts_join_the_rotation_and_can_be_removed(bot: BotHarness) -> None:
    out = await bot.say(
        "prompt add #internal Was braucht die Buchhaltung heute von dir? | What does accounting need from you today?"
    )
    assert "Als Impuls #1 gespeichert (Interne Kunden)" in out
    await bot.say("prompt add Ein Kunde ruft zum dritten Mal an. Was sagst du als Erstes?")
    out = await bot.say("prompt liste")
    assert f"{len(library().prompts)} Impulse" in out and "#1 [Interne Kunden] Was braucht die Buchhaltung" in out
    assert "#2 [Perspektivwechsel]" in out
    async with bot.app.sessions() as s:
        second = await s.get(CustomPrompt, 2)
    assert second is not None and second.text_en == second.text_de  # one language given: used for both
    # a channel choosing only "internal" gets the own prompt within one rotation of that category
    await bot.say("prompt subscribe 09:30 täglich Europe/Berlin en")
    await bot.say("prompt kategorien internal")
    internal = sum(1 for p in library().prompts if p.category == "internal") + 1
    start = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    for day in range(internal):
        await run_tick(bot.app.router, bot.app.services, start + timedelta(days=day))
    keys = [p.prompt_key for p in await posts(bot)]
    assert len(keys) == internal == len(set(keys)) and "custom-1" in keys
    assert "What does accounting need from you today?" in [p.text for p in await posts(bot)]
    assert "aus der Rotation entfernt" in await bot.say("prompt entfernen 1")
    assert "gibt es in diesem Workspace nicht" in await bot.say("prompt entfernen 1")


async def test_channel_commands_are_refused_in_a_direct_message(bot: BotHarness) -> None:
    from bot.console.adapter import WORKSPACE
    from bot.core.events import Actor, Conversation, MessageEvent, Platform

    await bot.console.send_event(
        MessageEvent(
            actor=Actor(platform=Platform.CONSOLE, workspace_id=WORKSPACE, user_id="max", is_admin=True),
            conversation=Conversation(id="D-max", kind="dm"),
            text="prompt subscribe 09:30",
            addressed=True,
        )
    )
    assert "nicht in einer Direktnachricht" in bot.output[-1]
    assert await subscription(bot, "D-max") is None
