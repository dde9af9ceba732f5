"""The similar-suggestion hint with embeddings from an OpenAI-compatible server, and its fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from handlers.suggestions.similar import local_scores
from storage.suggestions import Suggestion
from tests.fakes import FakeOpenAI
from tests.handlers.suggestion_kit import LEAVE, TRAVEL, fill_form, suggestions
from tests.kit import BotHarness


class OpenAIEmbeddings:
    """The neutral LanguageModel protocol over the openai client (only embeddings are used here)."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None:
        return None

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        result = await self.client.embeddings.create(model="text-embedding-3-small", input=list(texts))
        return [list(d.embedding) for d in result.data]


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def llm_bot(bot: BotHarness, oai: FakeOpenAI) -> AsyncIterator[BotHarness]:
    client = openai.AsyncOpenAI(base_url=oai.base_url, api_key="sk-test", max_retries=0)
    bot.app.services.llm = OpenAIEmbeddings(client)
    yield bot
    await client.close()


async def test_embeddings_find_similar_suggestions_and_are_stored(llm_bot: BotHarness, oai: FakeOpenAI) -> None:
    bot = llm_bot
    await fill_form(bot, "anna", **TRAVEL)
    await fill_form(bot, "emma", **LEAVE)
    assert len(oai.embedding_inputs()) == 2  # the second submission embedded itself and the first
    new = "Urlaubsantrag digital im HR-System beantragen statt ausgedruckt"
    before = len(oai.embedding_inputs())
    out = await bot.say(f"suggest {new}", as_="ben")
    assert "Es gibt schon ähnliche Vorschläge" in out and "#2 Urlaubsantrag auf Papier" in out and "#1" not in out
    assert oai.embedding_inputs()[before:] == [new]  # stored vectors are reused: only the new text is embedded
    stored: Any = [s.embedding for s in await suggestions(bot)]
    assert all(v and len(v) == oai.embedding_dim for v in stored)


async def test_a_failing_model_falls_back_to_the_local_method(llm_bot: BotHarness, oai: FakeOpenAI) -> None:
    bot = llm_bot
    await fill_form(bot, "anna", **TRAVEL)
    oai.fail_next("embeddings", status=500, times=3)
    with capture_logs() as logs:
        out = await bot.say("suggest Drei Unterschriften für Reisekosten abschaffen, das dauert Wochen", as_="ben")
    assert "#1 Reisekosten: drei Unterschriften" in out
    assert any(e["event"] == "suggestion_embeddings_failed" for e in logs)
    async with bot.app.sessions() as s:
        assert (await s.execute(select(Suggestion.embedding))).scalars().all() == [None]  # type: ignore[call-overload]


def test_local_similarity_handles_german_compounds() -> None:
    existing = [
        "Urlaubsantrag auf Papier. Der Urlaubsantrag muss ausgedruckt und unterschrieben werden.",
        "Kundendaten doppelt erfassen. Wir tippen Kundendaten aus dem CRM ins ERP ab.",
        "Kaffeemaschine im zweiten Stock. Die Kaffeemaschine ist oft kaputt.",
    ]
    scores = local_scores("Urlaub digital beantragen. Urlaubsanträge auf Papier kosten Zeit.", existing)
    assert scores[0] >= 0.45 > max(scores[1:])
