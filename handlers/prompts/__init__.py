"""The daily "step into the customer's shoes" prompt: the built-in library, channel schedules, answers,
customer voice and the optional language model.

For the weekly digest: :func:`storage.prompts.participation` (counts per channel, never per person),
:func:`storage.prompts.highlighted_answers`, :func:`storage.prompts.answers_between` and
:func:`summarize_answers` (call it outside a database transaction: it may ask the language model).
"""

from __future__ import annotations

from bot.core.router import Router
from handlers.prompts import commands, jobs
from handlers.prompts.insights import Summary, extractive_summary, summarize_answers
from handlers.prompts.library import library
from storage.prompts import (
    ChannelParticipation,
    HighlightedAnswer,
    answers_between,
    highlighted_answers,
    participation,
)

__all__ = [
    "ChannelParticipation",
    "HighlightedAnswer",
    "Summary",
    "answers_between",
    "extractive_summary",
    "highlighted_answers",
    "library",
    "participation",
    "register",
    "summarize_answers",
]


def register(router: Router) -> None:
    commands.register(router)
    jobs.register(router)
