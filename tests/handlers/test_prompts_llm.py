"""Drafting prompts and summarising answers with a (fake) language model, and without one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.scheduler import run_tick
from handlers.prompts import extractive_summary, summarize_answers
from storage.prompts import CustomPrompt, PromptDraftRequest
from tests.fakes import FakeOpenAI
from tests.kit import BotHarness, Clock

DRAFTS = json.dumps(
    [
        {
            "category": "internal",
            "de": "Wen hast du heute warten lassen, ohne es zu merken?",
            "en": "Who did you keep waiting today without noticing?",
        },
        {
            "category": "friction",
            "de": "Welches Formular würdest du als Kunde sofort abschaffen? Schreib an a@b.de",
            "en": "Which form would you scrap at once as a customer?",
        },
        {"category": "nonsense", "de": "kaputt", "en": "broken"},
    ],
    ensure_ascii=False,
)


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def llm_bot(db_url: str, clock: Clock, oai: FakeOpenAI) -> AsyncIterator[BotHarness]:
    bot = BotHarness(db_url, clock, openai_api_key="sk-test", openai_base_url=oai.base_url, openai_timeout_seconds=0.5)
    await bot.start()
    yield bot
    await bot.close()


async def drafts(bot: BotHarness) -> list[CustomPrompt]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(CustomPrompt).order_by(CustomPrompt.id))).scalars().all())


async def tick(bot: BotHarness) -> str:
    first = len(bot.output)
    await run_tick(bot.app.router, bot.app.services, bot.clock())
    await bot.app.outbox.drain()
    return "\n".join(bot.output[first:])


async def test_drafts_are_written_after_the_reply_and_wait_for_review(llm_bot: BotHarness, oai: FakeOpenAI) -> None:
    bot = llm_bot
    await bot.say("prompt zitat Seit drei Wochen warte ich auf meine Erstattung, schreiben Sie an kunde@example.org")
    oai.queue_reply(DRAFTS)
    out = await bot.say("prompt draft 3")
    assert "Ich entwerfe 3 neue Impulse" in out
    assert oai.calls("chat.completions") == []  # nothing on the request path
    assert "Die Entwürfe werden gerade geschrieben" in await bot.say("prompt draft")

    out = await tick(bot)
    assert "→ DM an @max:" in out and "2 neue Impuls-Entwürfe" in out and "#1, #2" in out
    (request,) = oai.prompts()
    user_text = request[1]["content"]
    assert "Kundenfokus" in user_text  # the company's values as context
    assert "Seit drei Wochen warte ich" in user_text and "kunde@example.org" not in user_text
    rows = await drafts(bot)
    assert [(d.category, d.status, d.source) for d in rows] == [
        ("internal", "draft", "model"),
        ("friction", "draft", "model"),
    ]
    assert "a@b.de" not in rows[1].text_de  # model output is scrubbed too

    out = await bot.say("prompt liste")
    assert "Entwürfe zur Prüfung (2)" in out and "#1 [Interne Kunden] Wen hast du heute warten lassen" in out
    assert "freigegeben" in await bot.say("prompt approve 1")
    assert "verworfen" in await bot.say("prompt reject 2")
    assert "kein Entwurf" in await bot.say("prompt approve 1")
    assert [d.status for d in await drafts(bot)] == ["active", "removed"]
    assert await tick(bot) == ""  # the request is done: no second model call
    assert len(oai.calls("chat.completions")) == 1


async def test_a_slow_model_is_retried_then_given_up_with_a_message(llm_bot: BotHarness, oai: FakeOpenAI) -> None:
    bot = llm_bot
    oai.delay_next(5.0, "chat.completions", times=6)
    await bot.say("prompt draft 2")
    assert await tick(bot) == ""  # timed out: nothing stored, nobody told yet
    async with bot.app.sessions() as s:
        (req,) = (await s.execute(select(PromptDraftRequest))).scalars().all()
    assert (req.status, req.attempts) == ("running", 1)
    assert await tick(bot) == ""  # not retried before its time
    bot.clock.advance(minutes=6)
    assert await tick(bot) == ""
    bot.clock.advance(minutes=6)
    out = await tick(bot)
    assert "Das Sprachmodell hat nicht geantwortet" in out
    assert await drafts(bot) == []
    async with bot.app.sessions() as s:
        (req,) = (await s.execute(select(PromptDraftRequest))).scalars().all()
    assert (req.status, req.attempts) == ("failed", 3)


async def test_without_a_model_drafting_says_so(bot: BotHarness) -> None:
    out = await bot.say("prompt draft")
    assert "kein Sprachmodell eingerichtet" in out
    async with bot.app.sessions() as s:
        assert (await s.execute(select(PromptDraftRequest))).scalars().first() is None


ANSWERS = [
    "Die Wartezeit am Telefon ist zu lang. Man hängt ewig in der Warteschleife.",
    "Ich würde mir einen Rückruf statt Warteschleife wünschen. Das spart Nerven.",
    "Die Rechnung ist unverständlich, schreib mir an max@example.com wenn du Fragen hast.",
    "Rechnung und Mahnung sehen gleich aus, das verwirrt Kunden.",
    "Die Kollegen aus der IT antworten schnell, das ist gut.",
]


async def test_summary_by_the_model_with_personal_data_removed(oai: FakeOpenAI) -> None:
    from bot.llm import OpenAIModel

    llm = OpenAIModel(api_key="sk-test", model="gpt-4o-mini", base_url=oai.base_url, timeout=2)
    try:
        oai.queue_reply(
            '["Warteschleifen kosten Vertrauen.", "Rechnungen sind schwer verständlich.", "Die IT ist schnell."]'
        )
        summary = await summarize_answers(llm, ANSWERS, language="de")
    finally:
        await llm.close()
    assert (
        summary.generated and summary.insights[0] == "Warteschleifen kosten Vertrauen." and len(summary.insights) == 3
    )
    sent = oai.prompts()[0][1]["content"]
    assert "max@example.com" not in sent and "Rückruf statt Warteschleife" in sent


async def test_summary_falls_back_to_extractive_on_timeout(oai: FakeOpenAI) -> None:
    from bot.llm import OpenAIModel

    llm = OpenAIModel(api_key="sk-test", model="gpt-4o-mini", base_url=oai.base_url, timeout=0.3)
    oai.delay_next(5.0, "chat.completions", times=2)
    try:
        summary = await summarize_answers(llm, ANSWERS)
    finally:
        await llm.close()
    assert not summary.generated
    assert summary.insights == extractive_summary(ANSWERS)


def test_extractive_summary_picks_shared_themes_from_different_answers() -> None:
    insights = extractive_summary(ANSWERS)
    assert len(insights) == 3
    assert any("Warteschleife" in i for i in insights) and any("Rechnung" in i for i in insights)
    assert all("max@example.com" not in i for i in insights)
    assert extractive_summary([]) == [] and extractive_summary(["   "]) == []


async def test_summary_without_a_model_is_extractive() -> None:
    summary = await summarize_answers(None, ANSWERS, language="en")
    assert not summary.generated and summary.insights == extractive_summary(ANSWERS)


async def test_unusable_model_answer_falls_back(oai: FakeOpenAI) -> None:
    from bot.llm import OpenAIModel

    llm = OpenAIModel(api_key="sk-test", model="gpt-4o-mini", base_url=oai.base_url, timeout=2)
    oai.queue_reply("Sorry, I cannot help with that.")
    try:
        summary = await summarize_answers(llm, ANSWERS)
    finally:
        await llm.close()
    assert not summary.generated and len(summary.insights) == 3
