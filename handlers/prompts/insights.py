"""The optional language model: fresh prompt drafts in the company's context, and a week's answers
summarised into three insights. Without a model (or when it fails or times out) drafting is simply
not available and summaries are extractive: the most representative sentences of the answers.

These functions call the model and must never run on the request path or inside a database
transaction: load what they need first, call them, then store the result.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.core.services import LanguageModel
from handlers.prompts.library import LibraryError, PromptRow, library, prompt_row
from handlers.prompts.scrub import scrub

log = structlog.get_logger("starling.prompts.insights")

MAX_ANSWERS = 80
MAX_ANSWER_CHARS = 500
INSIGHT_MAX = 240
WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
STOPWORDS = frozenset(
    """
    aber alle allem allen aller alles als also auch auf aus bei beim bin bis bist das dass dem den der
    des die dies diese diesem diesen dieser dieses doch dort durch ein eine einem einen einer eines
    einfach etwas für gibt hab habe haben hat hatte hier ich ihm ihn ihr ihre immer ist jede jeden
    jeder kann kein keine mal man mehr mein meine mich mir mit muss nach nicht nichts noch nur oder
    ohne schon sehr sein seine sich sie sind so und uns unser unsere von vor war waren was weil wenn
    wer wie wieder wir wird wirklich würde zum zur zu über the and for are but not you your with this
    that have has had was were they them their there what when where which who would could should about
    into from just very really our ours than then also been being can did does doing done its it's let
    more most much must only other some such too use used using
    """.split()  # noqa: SIM905
)


@dataclass
class Summary:
    insights: list[str]
    generated: bool  # True: written by the language model; False: extractive


def _json_array(text: str) -> list[object] | None:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


# --- drafts -------------------------------------------------------------------------------------------------------


DRAFT_SYSTEM = (
    "You write short daily prompts for the employees of a company in Germany, Austria or Switzerland. "
    "Each prompt invites people to step into the customer's shoes (for teams without customer contact: "
    "their internal customers, the colleagues they serve) and can be answered in one or two sentences. "
    "Write natural German (informal 'du') and natural English, not word-for-word translations. "
    "Never include names, e-mail addresses or other personal data. "
    'Answer with a JSON array only: [{"category": "<key>", "de": "...", "en": "..."}].'
)


def draft_request_text(
    *, company: str, values: Sequence[str], quotes: Sequence[str], examples: Sequence[str], count: int
) -> str:
    cats = "; ".join(f"{key} ({labels['en']})" for key, labels in library().categories.items())
    lines = [f"Write {count} new prompts.", f"Categories (use the key): {cats}."]
    if company:
        lines.append(f"Company: {company}.")
    if values:
        lines.append("Company values: " + ", ".join(values) + ".")
    if quotes:
        lines.append("Recent customer feedback (already anonymised):")
        lines += [f"- {scrub(q).text[:300]}" for q in quotes]
    if examples:
        lines.append("Examples of the style we like:")
        lines += [f"- {e}" for e in examples]
    lines.append("Do not repeat the examples.")
    return "\n".join(lines)


def parse_drafts(text: str | None, limit: int) -> list[PromptRow]:
    """The usable prompts in a model's answer; anything malformed is dropped."""
    if not text:
        return []
    items = _json_array(text) or []
    rows: list[PromptRow] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            continue
        try:
            row = prompt_row(item, f"draft #{n}")
        except LibraryError:
            continue
        row.de, row.en = scrub(row.de).text, scrub(row.en).text
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


async def draft_prompts(
    llm: LanguageModel,
    *,
    company: str,
    values: Sequence[str],
    quotes: Sequence[str],
    count: int,
    examples: Sequence[str] = (),
) -> list[PromptRow] | None:
    """Fresh prompts from the model; None when it did not answer (timeout, error), [] when unusable."""
    answer = await llm.complete(
        DRAFT_SYSTEM,
        draft_request_text(company=company, values=values, quotes=quotes, examples=examples, count=count),
        max_tokens=220 * count,
    )
    if answer is None:
        return None
    return parse_drafts(answer, count)


# --- summaries ---------------------------------------------------------------------------------------------------


SUMMARY_SYSTEM = (
    "You read a team's answers to daily 'step into the customer's shoes' prompts and write exactly three "
    "short insights (one sentence each) about how customers experience the company and what the team could "
    "do. No names, no personal data, no quotes longer than a few words. "
    'Answer with a JSON array of three strings only: ["...", "...", "..."].'
)


def _clean(answers: Sequence[str]) -> list[str]:
    out = []
    for a in answers[-MAX_ANSWERS:]:
        text = " ".join(scrub(a).text.split())
        if text:
            out.append(text[:MAX_ANSWER_CHARS])
    return out


def _shorten(text: str) -> str:
    return text if len(text) <= INSIGHT_MAX else text[: INSIGHT_MAX - 1].rstrip() + "…"


def extractive_summary(answers: Sequence[str], count: int = 3) -> list[str]:
    """The ``count`` sentences that best represent the answers: words many answers share, from different answers."""
    texts = _clean(answers)
    doc_freq: Counter[str] = Counter()
    for text in texts:
        doc_freq.update({w.lower() for w in WORD.findall(text)} - STOPWORDS)
    scored: list[tuple[float, int, int, str, set[str]]] = []
    for ai, text in enumerate(texts):
        for si, sentence in enumerate(s.strip() for s in SENTENCE_END.split(text)):
            words = {w.lower() for w in WORD.findall(sentence)} - STOPWORDS
            if not words:
                continue
            score = sum(doc_freq[w] for w in words) / math.sqrt(len(words)) + 0.01 * len(words)
            scored.append((-score, ai, si, sentence, words))
    scored.sort(key=lambda x: (x[0], x[1], x[2]))
    picked: list[tuple[int, str, set[str]]] = []
    for _, ai, _, sentence, words in scored:
        if any(ai == p[0] for p in picked):
            continue
        if any(len(words & p[2]) / len(words | p[2]) > 0.5 for p in picked):
            continue
        picked.append((ai, sentence, words))
        if len(picked) == count:
            break
    return [_shorten(s) for _, s, _ in picked]


async def summarize_answers(
    llm: LanguageModel | None, answers: Sequence[str], *, language: str = "de", count: int = 3
) -> Summary:
    """A week's answers in ``count`` insights for the digest: by the model when there is one and it answers
    in time, otherwise extractive. Personal data is scrubbed before anything is sent to the model."""
    texts = _clean(answers)
    if not texts:
        return Summary([], False)
    if llm is not None and len(texts) >= 2:
        lang = "German (informal 'du')" if language == "de" else "English"
        numbered = "\n".join(f"{i}. {t}" for i, t in enumerate(texts, start=1))
        reply = await llm.complete(
            SUMMARY_SYSTEM, f"Write the insights in {lang}.\nAnswers:\n{numbered}", max_tokens=400
        )
        items = _json_array(reply or "") or []
        insights = [_shorten(scrub(str(i)).text.strip()) for i in items if isinstance(i, str) and i.strip()]
        if insights:
            return Summary(insights[:count], True)
        log.info("summary_fallback", reason="no_model_answer" if reply is None else "unusable_answer")
    return Summary(extractive_summary(texts, count), False)
