"""The language model is reached only through one gate: switch, privacy profile and scrubbing.

The auditor's test: a real API key and a fake OpenAI-compatible server; with the model switched off
(explicitly, or by the works-council profile's default) not one request reaches the server, whatever
the people do (suggestions, anonymous ones included, prompt drafts, the weekly jobs). With it on, no
name, phone number, e-mail address or IBAN is in what the server received.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.scrub import name_parts, scrub_for_model
from bot.scheduler import run_tick
from tests.fakes import FakeOpenAI
from tests.handlers.suggestion_kit import LEAVE, TRAVEL, fill_form
from tests.kit import BotHarness, Clock

ROOT = Path(__file__).resolve().parents[2]
SECRET_TEXT = (
    "Herr Huber (Tel. 0171 2345678, huber@example.com) wartet auf die Erstattung, "
    "IBAN DE89 3704 0044 0532 0130 00; Anna Schmidts Team kann nichts tun."
)
LEAKS = ("Huber", "0171", "2345678", "huber@example.com", "DE89", "Schmidt", "Anna")


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


async def keyed_bot(url: str, clock: Clock, oai: FakeOpenAI) -> BotHarness:
    bot = BotHarness(url, clock, openai_api_key="sk-test", openai_base_url=oai.base_url, openai_timeout_seconds=2)
    return await bot.start()


async def everything_that_could_call_the_model(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    await fill_form(bot, "ben", **{**LEAVE, "problem": SECRET_TEXT})
    await fill_form(bot, "clara", **{**TRAVEL, "problem": SECRET_TEXT}, anonymous=True)
    await bot.say(f"suggest {SECRET_TEXT}", as_="emma")
    await bot.say(f"prompt zitat {SECRET_TEXT}", as_="max")
    await bot.say("prompt draft 3", as_="max")
    for _ in range(3):
        bot.clock.advance(hours=1)
        await run_tick(bot.app.router, bot.app.services, bot.clock())
        await bot.app.outbox.drain()


@pytest.mark.parametrize("how", ["works-council profile", "switch off"])
async def test_api_key_set_and_model_switched_off_sends_nothing(
    any_db_url: str, clock: Clock, oai: FakeOpenAI, how: str
) -> None:
    bot = await keyed_bot(any_db_url, clock, oai)
    try:
        if how == "works-council profile":
            await bot.say("privacy profile works-council", as_="max")  # the model is off by default there
        else:
            await bot.say("privacy feature llm off", as_="max")
        await everything_that_could_call_the_model(bot)
    finally:
        await bot.close()
    assert oai.requests == []


async def test_model_switched_on_receives_no_names_phones_mails_or_ibans(
    db_url: str, clock: Clock, oai: FakeOpenAI
) -> None:
    bot = await keyed_bot(db_url, clock, oai)
    try:
        await everything_that_could_call_the_model(bot)
    finally:
        await bot.close()
    sent = [*oai.embedding_inputs(), *[m["content"] for p in oai.prompts() for m in p]]
    assert oai.embedding_inputs(), "the suggestions were embedded"
    assert any("Erstattung" in s for s in sent)
    assert [s for s in sent if any(leak in s for leak in LEAKS)] == []


def test_scrubber_masks_titled_and_known_names_in_any_form() -> None:
    names = name_parts(["Anna Schmidt", "Jonas Berger"])
    out = scrub_for_model("Frau Dr. Kowalski und Hr. Meier, Bergers Mail an <@U123>: jonas@x.de", names)
    assert "Kowalski" not in out and "Meier" not in out and "Berger" not in out and "U123" not in out
    assert "jonas@x.de" not in out and "Mail an" in out


def test_no_feature_reaches_the_model_provider_but_through_the_gate() -> None:
    """``Services.llm`` (the provider) is read only by the gate and the composition root."""
    allowed = {"bot/core/model.py", "bot/core/services.py", "bot/app.py"}
    offenders = []
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("bot/**/*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "llm":
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
