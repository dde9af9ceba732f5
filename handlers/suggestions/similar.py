"""Similar suggestions, shown while submitting ("vote for one of these instead?").

Without a language model: TF-IDF over character 4-grams of the words (robust to German compounds:
"Urlaubsantrag" meets "Urlaubsanträge") averaged with rapidfuzz's token-set ratio. With a language
model configured and allowed (through the one gate, ``Services.model``, which checks the switch and the
privacy profile and removes names, phone numbers, e-mail addresses and IBANs first): cosine similarity of embeddings, stored on each suggestion once computed; any
failure of the model falls back to the local method.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import structlog
from rapidfuzz import fuzz, utils

from storage.suggestions import Suggestion

#: Texts → vectors through the language-model gate (``Services.model.embed``), None when it gave none.
Embed = Callable[[Sequence[str]], Awaitable[list[list[float]] | None]]

log = structlog.get_logger("starling.suggestions")

LOCAL_THRESHOLD = 0.45
EMBEDDING_THRESHOLD = 0.6
STOPWORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einer",
        "eines",
        "einem",
        "und",
        "oder",
        "aber",
        "für",
        "mit",
        "auf",
        "ist",
        "sind",
        "im",
        "in",
        "zu",
        "zum",
        "zur",
        "wir",
        "ich",
        "es",
        "sie",
        "er",
        "auch",
        "bei",
        "nicht",
        "aus",
        "von",
        "an",
        "als",
        "wie",
        "dass",
        "wenn",
        "noch",
        "nur",
        "so",
        "sehr",
        "man",
        "mal",
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "is",
        "are",
        "be",
        "it",
        "we",
        "our",
        "with",
        "that",
        "this",
    ]
)
_WORD = re.compile(r"\w+")


def text_of(title: str, problem: str, proposal: str = "") -> str:
    return " ".join(p for p in (title, problem, proposal) if p)


def _grams(text: str, n: int = 4) -> Counter[str]:
    out: Counter[str] = Counter()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        padded = f" {word} "
        for i in range(max(1, len(padded) - n + 1)):
            out[padded[i : i + n]] += 1
    return out


def local_scores(new: str, others: Sequence[str]) -> list[float]:
    """Similarity of ``new`` to each of ``others``, 0..1, without any service."""
    docs = [_grams(new), *(_grams(o) for o in others)]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    idf = {g: math.log((1 + n) / (1 + c)) + 1 for g, c in df.items()}

    def vec(d: Counter[str]) -> dict[str, float]:
        return {g: tf * idf[g] for g, tf in d.items()}

    vectors = [vec(d) for d in docs]
    first = vectors[0]
    scores = []
    for other, raw in zip(vectors[1:], others, strict=True):
        fuzzy = fuzz.token_set_ratio(new, raw, processor=utils.default_process) / 100
        scores.append((cosine_dict(first, other) + fuzzy) / 2)
    return scores


def cosine_dict(a: dict[str, float], b: dict[str, float]) -> float:
    num = sum(v * b[k] for k, v in a.items() if k in b)
    den = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return num / den if den else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        return 0.0
    num = sum(x * y for x, y in zip(a, b, strict=True))
    den = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return num / den if den else 0.0


async def embedding_scores(
    embed: Embed, new: str, candidates: Sequence[Suggestion]
) -> tuple[list[float], list[float]] | None:
    """(new text's vector, score per candidate); candidates without a usable vector get one stored.

    None when the model gives no embeddings (then the caller uses the local method)."""
    try:
        have = [c.embedding for c in candidates]
        missing = [i for i, v in enumerate(have) if not v]
        texts = [new] + [text_of(candidates[i].title, candidates[i].problem, candidates[i].proposal) for i in missing]
        vectors = await embed(texts)
        if not vectors or len(vectors) != len(texts):
            return None
        mine = [float(x) for x in vectors[0]]
        for i, vector in zip(missing, vectors[1:], strict=True):
            candidates[i].embedding = [float(x) for x in vector]
        stale = [i for i, c in enumerate(candidates) if c.embedding and len(c.embedding) != len(mine)]
        if stale:
            again = await embed(
                [text_of(candidates[i].title, candidates[i].problem, candidates[i].proposal) for i in stale]
            )
            if not again or len(again) != len(stale):
                return None
            for i, vector in zip(stale, again, strict=True):
                candidates[i].embedding = [float(x) for x in vector]
        return mine, [cosine(mine, c.embedding or []) for c in candidates]
    except Exception as err:  # a model outage must never block a submission
        log.warning("suggestion_embeddings_failed", error=type(err).__name__)
        return None


async def similar(
    embed: Embed | None, new: str, candidates: Sequence[Suggestion], *, limit: int = 3
) -> tuple[list[tuple[Suggestion, float]], list[float] | None]:
    """The most similar candidates above the threshold, best first, and the new text's embedding if any.

    ``embed`` is the language model's embedding call (None without a model)."""
    if not candidates:
        return [], None
    vector: list[float] | None = None
    result = await embedding_scores(embed, new, candidates) if embed is not None else None
    if result is not None:
        vector, scores = result
        threshold = EMBEDDING_THRESHOLD
    else:
        scores = local_scores(new, [text_of(c.title, c.problem, c.proposal) for c in candidates])
        threshold = LOCAL_THRESHOLD
    ranked = sorted(
        ((c, s) for c, s in zip(candidates, scores, strict=True) if s >= threshold), key=lambda p: p[1], reverse=True
    )
    return ranked[:limit], vector
