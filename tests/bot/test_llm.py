"""The language model service against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.llm import OpenAIModel, build_llm
from bot.settings import Settings
from tests.fakes import FakeOpenAI


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def model(oai: FakeOpenAI) -> AsyncIterator[OpenAIModel]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        openai_api_key="sk-test",
        openai_base_url=oai.base_url,
        openai_model="gpt-4o-mini",
        openai_timeout_seconds=0.5,
    )
    llm = build_llm(settings)
    assert llm is not None
    yield llm
    await llm.close()


async def test_complete_sends_system_and_user_message(oai: FakeOpenAI, model: OpenAIModel) -> None:
    oai.queue_reply("  Drei Einsichten.  ")
    assert await model.complete("Du bist hilfreich.", "Fasse zusammen.", max_tokens=50) == "Drei Einsichten."
    (body,) = oai.chat_requests()
    assert body["model"] == "gpt-4o-mini" and body["max_tokens"] == 50
    assert body["messages"] == [
        {"role": "system", "content": "Du bist hilfreich."},
        {"role": "user", "content": "Fasse zusammen."},
    ]


async def test_slow_model_times_out_and_returns_none(oai: FakeOpenAI, model: OpenAIModel) -> None:
    oai.delay_next(10.0, "chat.completions", times=3)
    assert await model.complete("s", "slow") is None
    assert await model.embed(["a"]) is not None  # the embeddings route was not delayed


async def test_errors_return_none(oai: FakeOpenAI, model: OpenAIModel) -> None:
    oai.fail_next("chat.completions", status=500, times=2)
    assert await model.complete("s", "p") is None
    wrong = OpenAIModel(api_key="sk-wrong", model="gpt-4o-mini", base_url=oai.base_url, timeout=2)
    try:
        assert await wrong.complete("s", "p") is None
        assert await wrong.embed(["x"]) is None
    finally:
        await wrong.close()


async def test_embeddings_keep_the_order(oai: FakeOpenAI, model: OpenAIModel) -> None:
    vectors = await model.embed(["Rechnung unklar", "Warteschleife zu lang", "Rechnung unklar"])
    assert vectors is not None and len(vectors) == 3
    assert vectors[0] == vectors[2] != vectors[1]
    assert oai.embedding_inputs() == ["Rechnung unklar", "Warteschleife zu lang", "Rechnung unklar"]


def test_no_key_no_model() -> None:
    assert build_llm(Settings(_env_file=None, openai_api_key=None)) is None  # type: ignore[call-arg]
