"""Choosing a channel's next prompt (reproducible rotation, customer quotes now and then) and building its post."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.messages import Actions, Button, Header, Message, Note, Section, user_text
from handlers.prompts.library import QuoteTemplate, library
from storage import prompts as store
from storage import pulse as pulse_store
from storage.models import Workspace

VOICE = "voice"  # prompts built around a real customer quote
QUOTE_EVERY = 3  # every third prompt is a customer quote while unused quotes exist (every one: voice only)
QUOTE_MAX = 300
TEMPLATE_KINDS = {"quote-005": "praise", "quote-011": "survey", "quote-012": "cancellation"}


@dataclass(frozen=True)
class Candidate:
    key: str
    category: str
    de: str
    en: str
    ours: bool  # built-in text (our own markup) or typed by someone (escaped when shown)

    def text(self, lang: str) -> str:
        return self.de if lang == "de" else self.en


def all_categories() -> list[str]:
    return [*library().categories, VOICE]


def category_label(key: str, t: Translator) -> str:
    if key == VOICE:
        return t("prompts.category_voice")
    return library().category_label(key, t.lang)


def candidate_pool(custom: list[store.CustomPrompt], categories: list[str]) -> list[Candidate]:
    """The built-in prompts and the workspace's active ones in the selected categories (all when none)."""
    wanted = set(categories) if categories else set(library().categories)
    pool = [Candidate(p.id, p.category, p.de, p.en, True) for p in library().prompts if p.category in wanted]
    pool += [
        Candidate(f"custom-{c.id}", c.category, c.text_de, c.text_en, False) for c in custom if c.category in wanted
    ]
    return pool


def rotation_order(channel_id: str, cycle: int, pool: list[Candidate]) -> list[Candidate]:
    """The order of one cycle: the same for the same channel, cycle and pool."""
    order = sorted(pool, key=lambda c: c.key)
    random.Random(f"{channel_id}:{cycle}").shuffle(order)
    return order


def next_from_rotation(channel_id: str, cycle: int, used: set[str], pool: list[Candidate]) -> tuple[Candidate, int]:
    """The next unused prompt of the current cycle; a new cycle starts once all are used."""
    for candidate in rotation_order(channel_id, cycle, pool):
        if candidate.key not in used:
            return candidate, cycle
    return rotation_order(channel_id, cycle + 1, pool)[0], cycle + 1


def template_for(feedback: store.CustomerFeedback, channel_id: str) -> QuoteTemplate:
    templates = list(library().quote_templates)
    fitting = [t for t in templates if TEMPLATE_KINDS.get(t.id) == feedback.kind] if feedback.kind else []
    if not fitting:
        fitting = [t for t in templates if t.id not in TEMPLATE_KINDS]
    return random.Random(f"{channel_id}:quote:{feedback.id}").choice(fitting)


def short_quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_MAX else text[: QUOTE_MAX - 1].rstrip() + "…"


def dedupe_key(workspace_id: str, channel_id: str, day: date) -> str:
    return f"prompt:{workspace_id}:{channel_id}:{day.isoformat()}"


async def compose(
    session: AsyncSession,
    *,
    workspace: Workspace,
    channel_id: str,
    day: date,
    language: str,
    categories: list[str],
    t: Translator,
    now: datetime,
    source: str = "schedule",
) -> tuple[store.PromptPost, Message]:
    """Choose the channel's prompt for ``day``, record it and build the post (the caller queues it)."""
    ws = workspace.id
    shown: str
    post: store.PromptPost
    feedback = None
    if not categories or VOICE in categories:
        since_quote = await store.posts_since_quote(session, workspace_id=ws, channel_id=channel_id)
        if since_quote >= QUOTE_EVERY - 1 or categories == [VOICE]:
            feedback = await store.next_unused_feedback(session, workspace_id=ws, channel_id=channel_id)
    cycle = await store.current_cycle(session, workspace_id=ws, channel_id=channel_id)
    if feedback is not None:
        template = template_for(feedback, channel_id)
        quote = short_quote(feedback.text)
        post = store.PromptPost(
            workspace_id=ws,
            channel_id=channel_id,
            day=day,
            prompt_key=f"quote:{template.id}",
            category=VOICE,
            cycle=cycle,
            language=language,
            text=template.render(language, quote),
            feedback_id=feedback.id,
            dedupe_key=dedupe_key(ws, channel_id, day),
            source=source,
            posted_at=now,
        )
        shown = template.render(language, user_text(quote))
    else:
        custom = await store.custom_prompts(session, workspace_id=ws)
        pool = candidate_pool(custom, [c for c in categories if c != VOICE])
        if not pool:
            pool = candidate_pool(custom, [])
        used = await store.used_in_cycle(session, workspace_id=ws, channel_id=channel_id, cycle=cycle)
        chosen, cycle = next_from_rotation(channel_id, cycle, used, pool)
        text = chosen.text(language)
        post = store.PromptPost(
            workspace_id=ws,
            channel_id=channel_id,
            day=day,
            prompt_key=chosen.key,
            category=chosen.category,
            cycle=cycle,
            language=language,
            text=text,
            dedupe_key=dedupe_key(ws, channel_id, day),
            source=source,
            posted_at=now,
        )
        shown = text if chosen.ours else user_text(text)
    await store.add_post(session, post=post)
    message = prompt_message(post, shown, t)
    goal = await pulse_store.get_goal(session, workspace_id=ws, channel_id=channel_id)
    if goal is not None and goal.above_prompt:  # the team's fixed star, when it chose to show it here
        message.blocks.insert(1, Note(text=t("pulse.goal.above_prompt", goal=user_text(goal.text))))
    return post, message


def prompt_message(post: store.PromptPost, shown: str, t: Translator) -> Message:
    assert post.id is not None
    return Message(
        blocks=[
            Header(text=t("prompts.post.header")),
            Section(text=shown),
            Note(text=t("prompts.post.context", category=category_label(post.category, t))),
            Actions(
                buttons=[
                    Button(
                        label=t("prompts.post.answer"), action_id="prompt:answer", value=str(post.id), style="primary"
                    ),
                    Button(label=t("prompts.post.answers"), action_id="prompt:answers", value=str(post.id)),
                ]
            ),
        ],
        text=t("prompts.post.header") + ": " + shown,
        dedupe_key=post.dedupe_key,
    )
