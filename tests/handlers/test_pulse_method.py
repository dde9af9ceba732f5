"""The pulse's method measured: clustering the hand-written fixture, the score's monotonicity, and the
embeddings path wired to the fake OpenAI server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import openai
import pytest
from sqlalchemy import select

from handlers.pulse.method import adjusted_rand_index, analyse
from storage.pulse import Pulse
from tests.fakes import FakeOpenAI
from tests.handlers.pulse_fixture import ANSWERS
from tests.handlers.suggestion_kit import tick
from tests.kit import BotHarness

ARI_FLOOR = 0.6
# The fake server's embeddings are hashed bags of words: answers with the same words meet.
WORDS_ALIKE = {
    "anna": "Zufriedene Kunden",
    "ben": "zufriedene Kunden!",
    "clara": "Zufriedene Kunden sind es",
    "deniz": "Probleme beim ersten Kontakt lösen",
    "emma": "probleme beim ersten kontakt lösen",
    "felix": "Probleme beim ersten Kontakt gleich lösen",
}


def ari(lexicon: bool = True) -> float:
    texts = [t for _, t in ANSWERS]
    truth = [g for g, _ in ANSWERS]
    found = analyse(texts, lexicon=lexicon)
    return adjusted_rand_index(truth, [found.assignment[i] for i in range(len(texts))])


def test_the_fixture_is_big_enough_and_mixed() -> None:
    assert len(ANSWERS) >= 60
    assert len({g for g, _ in ANSWERS}) >= 5
    assert any(" Sie " in f" {t} " or "Ihre" in t for _, t in ANSWERS) and any(" du " in f" {t} " for _, t in ANSWERS)


def test_clustering_recovers_the_intended_groups_without_a_model() -> None:
    figure = ari()
    print(f"adjusted Rand index on {len(ANSWERS)} answers: {figure:.3f}")
    assert figure >= ARI_FLOOR


def test_adjusted_rand_index_is_right_on_known_cases() -> None:
    assert adjusted_rand_index([1, 1, 2, 2], ["a", "a", "b", "b"]) == 1.0
    assert adjusted_rand_index([1, 1, 2, 2], [1, 2, 1, 2]) < 0
    assert abs(adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) - 0.242) < 0.01  # sklearn's figure


def test_the_score_is_monotonic_on_synthetic_cases() -> None:
    same = ["Zufriedene Kunden."] * 5
    unrelated = [
        "Zufriedene Kunden.",
        "Mehr Umsatz machen.",
        "Kosten senken.",
        "Freundlich sein.",
        "Probleme beim ersten Anruf lösen.",
    ]
    scores = []
    for k in range(6):  # k answers replaced by unrelated ones: the score never rises
        texts = same[: 5 - k] + unrelated[1 : 1 + k] if k else same
        scores.append(analyse(texts).score)
    assert scores[0] == 100
    assert analyse(unrelated).score <= 10
    assert all(a >= b for a, b in zip(scores, scores[1:], strict=False)), scores
    paraphrases = ["Zufriedene Kunden.", "Dass unsere Kunden zufrieden sind.", "Happy customers.", "Kunden begeistern!"]
    assert analyse(paraphrases + ["Mehr Umsatz."]).score > analyse(unrelated).score


def test_goal_closeness_is_higher_for_answers_that_say_the_goal() -> None:
    goal = "Das Problem des Kunden beim ersten Kontakt lösen."
    near = analyse(
        ["Probleme beim Erstkontakt lösen", "Solve the problem on first contact", "Beim ersten Anruf lösen"], goal=goal
    )
    far = analyse(["Mehr Umsatz", "Kosten senken", "Freundlich sein"], goal=goal)
    assert (near.goal_closeness or 0) > (far.goal_closeness or 0)
    assert (near.goal_near or 0) > (far.goal_near or 0)


class OpenAIModel:
    """The neutral LanguageModel protocol over the openai client."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None:
        reply = await self.client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            max_tokens=max_tokens,
        )
        return reply.choices[0].message.content

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        result = await self.client.embeddings.create(model="text-embedding-3-small", input=list(texts))
        return [list(d.embedding) for d in result.data]


@pytest.fixture
async def llm_bot(bot: BotHarness) -> AsyncIterator[tuple[BotHarness, FakeOpenAI]]:
    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        bot.app.services.llm = OpenAIModel(client)
        yield bot, fake
        await client.close()


async def test_with_a_model_the_close_uses_embeddings_and_model_labels_outside_the_request(
    llm_bot: tuple[BotHarness, FakeOpenAI],
) -> None:
    bot, oai = llm_bot
    await bot.say("pulse start #general", as_="max")
    await bot.say("pulse answer Probleme beim ersten Kontakt lösen. Mail: max@example.com", as_="max")
    for who, text in WORDS_ALIKE.items():
        await bot.say(f"pulse answer {text}", as_=who)
    out = await bot.say("pulse close", as_="max")
    assert "in einer Minute" in out and oai.embedding_inputs() == []  # no model call on the request path
    oai.queue_reply("1. Erstlösung\n2. Zufriedenheit")
    out = await tick(bot)
    assert out.count("Zielbild-Puls: das Ergebnis") == 2
    inputs = oai.embedding_inputs()
    assert len(inputs) == 7 and "Zufriedene Kunden" in inputs
    assert "max@example.com" not in " ".join(str(p) for p in oai.prompts())  # examples are scrubbed for the model
    async with bot.app.sessions() as s:
        pulse = (await s.execute(select(Pulse))).scalars().one()
    assert pulse.result is not None and pulse.result["method"] == "embeddings"
    labels = [g["label"] for g in pulse.result["groups"]]
    assert set(labels) <= {"Erstlösung", "Zufriedenheit"} and labels
    assert "max@example.com" not in out
