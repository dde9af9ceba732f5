"""The service-goal pulse in the console: start, answer, close, goal; errors; anonymity; the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from storage.pulse import Pulse, PulseAnswer, PulseRecipient
from tests.handlers.suggestion_kit import dm_blocks, tick
from tests.kit import BotHarness

ANSWERS = {
    "anna": "Das Problem des Kunden beim ersten Kontakt lösen.",
    "ben": "Probleme der Kunden direkt beim Erstkontakt lösen",
    "clara": "Kundenprobleme beim ersten Anruf lösen, ohne Rückruf.",
    "deniz": "Zufriedene Kunden.",
    "emma": "Dass unsere Kunden glücklich und zufrieden sind.",
    "felix": "Mehr Umsatz machen.",
}


async def run_pulse(
    bot: BotHarness, *, starter_answer: str | None = "Kundenprobleme beim ersten Kontakt lösen."
) -> str:
    out = await bot.say("pulse start #general", as_="max")
    assert "für <#general> gestartet: 8 Personen gefragt" in out
    if starter_answer:
        await bot.say(f"pulse answer {starter_answer}", as_="max")
    for who, text in ANSWERS.items():
        reply = await bot.say(f"pulse answer {text}", as_=who)
        assert "Danke, deine Antwort ist angekommen" in reply
    return await bot.say("pulse close", as_="max")


async def test_start_answer_close_shows_score_clusters_examples_and_the_starters_comparison(bot: BotHarness) -> None:
    out = await bot.say("pulse start #general", as_="max")
    assert "Bitte antworte zuerst selbst" in dm_blocks(out, "max")
    assert "Was ist in einem Satz das Ziel unseres Kundenservice?" in dm_blocks(out, "anna")
    assert "→ #general" in out and "Zielbild-Puls gestartet" in out
    assert "[Antworten]" in dm_blocks(out, "greta")
    await bot.say("pulse answer Kundenprobleme beim ersten Kontakt lösen.", as_="max")
    for who, text in ANSWERS.items():
        await bot.say(f"pulse answer {text}", as_=who)
    changed = await bot.say("pulse answer Mehr Umsatz pro Kunde machen.", as_="felix")
    assert "Deine Antwort wurde ersetzt" in changed
    out = await bot.say("pulse close", as_="max")
    channel = out.split("→ #general:")[1].split("→ DM")[0]
    assert "Zielbild-Puls: das Ergebnis" in channel
    assert "/100" in channel and "Spatzen" in channel and "Stare" in channel
    assert "7 von 8 Personen haben geantwortet" in channel
    assert "*1." in channel or "1." in channel
    assert "Das Problem des Kunden beim ersten Kontakt lösen." in channel  # a verbatim (scrubbed) example
    assert "Deine eigene Antwort" not in channel  # the comparison goes to the starter only
    starter = dm_blocks(out, "max")
    assert "Deine eigene Antwort liegt in Gruppe 1 (4 Antworten)" in starter
    assert "Nur du siehst das" in starter
    assert "Der Puls ist geschlossen" in out
    async with bot.app.sessions() as s:
        pulse = (await s.execute(select(Pulse))).scalars().one()
        assert pulse.status == "closed" and pulse.salt is None and pulse.score is not None
        answers = (await s.execute(select(PulseAnswer))).scalars().all()
        assert len(answers) == 7 and all(a.owner_key is None and a.author_id is None for a in answers)
        assert (await s.execute(select(PulseRecipient))).scalars().all() == []


async def test_goal_set_shows_in_digest_preview_and_later_pulses_measure_it(bot: BotHarness) -> None:
    await run_pulse(bot)
    out = await bot.say("goal set #general Das Problem des Kunden beim ersten Kontakt lösen.", as_="max")
    assert "Der Fixstern von <#general> ist jetzt" in out
    preview = await bot.say("digest preview #general", as_="max")
    assert "Fixstern" in preview and "Das Problem des Kunden beim ersten Kontakt lösen." in preview
    assert "Zielbild-Puls" in preview and "Der erste Puls des Teams." in preview
    bot.clock.advance(days=7)
    out = await run_pulse(bot, starter_answer=None)
    channel = out.split("→ #general:")[1]
    assert "Fixstern: _Das Problem des Kunden beim ersten Kontakt lösen._ · Nähe" in channel
    assert "seit dem letzten Puls (" in channel
    assert "Du hast selbst nicht geantwortet" in dm_blocks(out, "max")


async def test_friendly_private_errors(bot: BotHarness) -> None:
    assert "Für dich ist gerade kein Puls offen" in await bot.say("pulse answer Zufriedene Kunden", as_="anna")
    await bot.say("pulse start #general", as_="max")
    empty = await bot.say("pulse answer   ", as_="anna")
    assert "(only you)" in empty and "Die Antwort ist leer" in empty
    long = await bot.say("pulse answer " + "x" * 5000, as_="anna")
    assert "(only you)" in long and "5000 Zeichen" in long
    again = await bot.say("pulse start #general", as_="max")
    assert "(only you)" in again and "In <#general> ist schon ein Puls offen" in again
    early = await bot.say("pulse close", as_="max")
    assert "(only you)" in early and "Noch hat niemand geantwortet" in early
    await bot.say("pulse answer Zufriedene Kunden", as_="anna")
    short = await bot.say("pulse close", as_="max")
    assert "1 Antwort(en) bisher: Ein Ergebnis gibt es erst ab 5 Antworten" in short
    assert "[1] Um 3 Werktage verlängern" in short
    small = await bot.say("pulse start #it team IT", as_="max")
    assert "(only you)" in small and "nur 4 Personen gefragt, weniger als die Mindestgruppe von 5" in small
    async with bot.app.sessions() as s:
        assert len((await s.execute(select(Pulse))).scalars().all()) == 1


async def test_english_and_sie(bot: BotHarness) -> None:
    await bot.say("starling set language en", as_="max")
    out = await bot.say("pulse start #general", as_="max")
    assert "In one sentence: what is the goal of our customer service?" in out
    await bot.say("starling set language de", as_="max")
    await bot.say("starling set tone sie", as_="max")
    reply = await bot.say("pulse answer Zufriedene Kunden", as_="anna")
    assert "Danke, Ihre Antwort ist angekommen. Sie können sie" in reply


async def test_the_deadline_closes_the_pulse_once_through_the_scheduler(bot: BotHarness) -> None:
    await bot.say("pulse start #general", as_="max")  # Wed 18 Nov 10:30 Berlin: open for 3 working days
    for who, text in ANSWERS.items():
        await bot.say(f"pulse answer {text}", as_=who)
    bot.clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Mon 10:00 Berlin: still open
    assert "Ergebnis" not in await tick(bot)
    bot.clock.set(datetime(2026, 11, 23, 9, 31, tzinfo=UTC))
    out = await tick(bot)
    assert out.count("Zielbild-Puls: das Ergebnis") == 2  # the channel and the starter
    assert "Zielbild-Puls: das Ergebnis" not in await tick(bot)


async def test_holidays_move_the_deadline(bot: BotHarness) -> None:
    await bot.say("prompt subscribe 09:00 mon-fri DE-BY", as_="max")  # the channel's holiday region
    bot.clock.set(datetime(2026, 12, 23, 9, 30, tzinfo=UTC))  # Wed 23 Dec; 24 Dec is a working day, 25/26 holidays
    out = await bot.say("pulse start #general", as_="max")
    assert "offen bis 29.12.2026" in out


async def test_recurring_pulses_start_once_on_their_day_and_a_thin_pulse_offers_to_extend(bot: BotHarness) -> None:
    out = await bot.say("pulse repeat #general month:1 10:00", as_="max")
    assert "In <#general> startet ein Puls an month:1 um 10:00" in out
    bot.clock.set(datetime(2026, 12, 1, 8, 59, tzinfo=UTC))  # Tue 1 Dec, 09:59 Berlin
    assert "Zielbild-Puls gestartet" not in await tick(bot)
    bot.clock.set(datetime(2026, 12, 1, 9, 1, tzinfo=UTC))
    out = await tick(bot)
    assert out.count("→ #general:") == 1 and "Zielbild-Puls gestartet" in out
    assert "Bitte antworte zuerst selbst" in dm_blocks(out, "max") and "[Antworten]" in dm_blocks(out, "anna")
    assert "Zielbild-Puls gestartet" not in await tick(bot)  # claimed once
    await bot.say("pulse answer Zufriedene Kunden", as_="anna")
    bot.clock.set(datetime(2026, 12, 4, 9, 2, tzinfo=UTC))  # three working days later
    out = await tick(bot)
    assert "bisher zu wenige Antworten" in dm_blocks(out, "max") and "→ #general" not in out
    assert "bisher zu wenige Antworten" not in await tick(bot)
    assert "Der Puls bleibt offen bis 09.12.2026" in await bot.say("pulse extend", as_="max")


async def test_the_goal_shows_in_the_app_home_and_above_the_daily_prompt(bot: BotHarness) -> None:
    from bot.core.events import AppOpenedEvent

    await bot.say("goal set #general Jedes Kundenproblem beim ersten Kontakt lösen.", as_="max")
    await bot.say("goal prompt on #general", as_="max")
    await bot.say("prompt subscribe 09:00", as_="max")
    bot.clock.set(datetime(2026, 11, 19, 8, 0, 30, tzinfo=UTC))  # Thu 09:00 Berlin
    out = await tick(bot)
    prompt = out.split("→ #general:")[1]
    assert "Unser Fixstern: _Jedes Kundenproblem beim ersten Kontakt lösen._" in prompt
    actor = await bot.console._actor()
    start = len(bot.output)
    await bot.console.send_event(AppOpenedEvent(actor=actor))
    home = "\n".join(bot.output[start:])
    assert "Fixstern" in home and "Jedes Kundenproblem beim ersten Kontakt lösen." in home


async def test_export_has_named_answers_only_and_forget_me_erases_them(bot: BotHarness) -> None:
    from storage import privacy as store

    await bot.say("pulse start #general", as_="max")
    await bot.say("pulse answer --named Zufriedene Kunden, die wiederkommen", as_="anna")
    await bot.say("pulse answer Kunden begeistern", as_="ben")
    async with bot.app.sessions() as s:
        anna = await store.export_person(s, workspace_id=bot.workspace_id, user_id="anna")
        ben = await store.export_person(s, workspace_id=bot.workspace_id, user_id="ben")
    assert [r["text"] for r in anna["pulse_answer"]] == ["Zufriedene Kunden, die wiederkommen"]
    assert "pulse_answer" not in ben  # an anonymous answer belongs to nobody's export
    async with bot.app.sessions() as s:
        await store.erase_person(s, workspace_id=bot.workspace_id, user_id="anna", label="ehemalige Kollegin")
        await s.commit()
        rows = (await s.execute(select(PulseAnswer))).scalars().all()
    assert len(rows) == 2 and "anna" not in {r.author_id for r in rows}
