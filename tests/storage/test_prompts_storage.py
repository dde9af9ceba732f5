"""Prompt queries on SQLite and PostgreSQL: participation counts per channel, highlights, erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import core
from storage import prompts as store
from storage.db import create_engine_for, session_factory, transaction

WS = "slack:T1"
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(any_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(any_db_url)
    factory = session_factory(engine)
    async with transaction(factory) as s:
        await core.ensure_workspace(s, workspace_id=WS, platform="slack", locale="de", timezone="Europe/Berlin")
    yield factory
    await engine.dispose()


async def add_post(s: AsyncSession, channel: str, day: int) -> store.PromptPost:
    when = MONDAY + timedelta(days=day)
    return await store.add_post(
        s,
        post=store.PromptPost(
            workspace_id=WS,
            channel_id=channel,
            day=date(2026, 11, 16) + timedelta(days=day),
            prompt_key=f"p-{channel}-{day}",
            category="perspective",
            text=f"Frage {day}",
            dedupe_key=f"prompt:{WS}:{channel}:{day}",
            posted_at=when,
        ),
    )


async def add_answer(s: AsyncSession, post: store.PromptPost, author: str | None, text: str) -> int:
    answer = await store.add_answer(
        s,
        answer=store.PromptAnswer(
            workspace_id=WS,
            post_id=post.id or 0,
            channel_id=post.channel_id,
            author_id=author,
            text=text,
            created_at=post.posted_at + timedelta(hours=1),
        ),
    )
    assert answer is not None and answer.id is not None
    return answer.id


async def test_participation_is_counted_per_channel_within_the_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as s:
        support = [await add_post(s, "support", d) for d in range(3)]
        it = await add_post(s, "it", 0)
        await add_post(s, "it", 8)  # next week: outside the period
        await add_answer(s, support[0], "anna", "a")
        await add_answer(s, support[0], "anna", "b")
        await add_answer(s, support[1], None, "c")
        await add_answer(s, support[2], "ben", "d")
        await add_answer(s, it, "greta", "e")
    async with sessions() as s:
        rows = await store.participation(s, workspace_id=WS, since=MONDAY, until=MONDAY + timedelta(days=7))
        texts = await store.answers_between(s, workspace_id=WS, since=MONDAY, until=MONDAY + timedelta(days=7))
    assert [(r.channel_id, r.prompts, r.answers, r.anonymous_answers, r.people) for r in rows] == [
        ("support", 3, 4, 1, 2),
        ("it", 1, 1, 0, 1),
    ]
    assert sorted(texts) == ["a", "b", "c", "d", "e"]


async def test_erasure_removes_a_persons_answers_and_marks_but_not_anonymous_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as s:
        post = await add_post(s, "support", 0)
        mine = await add_answer(s, post, "anna", "meine Antwort")
        anon = await add_answer(s, post, None, "anonym")
        other = await add_answer(s, post, "ben", "Bens Antwort")
        for answer, who in ((mine, "ben"), (anon, "anna"), (other, "anna"), (other, "clara")):
            assert await store.toggle_highlight(s, workspace_id=WS, answer_id=answer, user_id=who, now=MONDAY)
    async with transaction(sessions) as s:
        assert [a.text for a in await store.answers_by(s, workspace_id=WS, user_id="anna")] == ["meine Antwort"]
        assert await store.erase_person(s, workspace_id=WS, user_id="anna") == 1
    async with sessions() as s:
        views = await store.answers_for_post(s, workspace_id=WS, post_id=post.id or 0)
        top = await store.highlighted_answers(s, workspace_id=WS, since=MONDAY, until=MONDAY + timedelta(days=1))
    # (an anonymous answer's random id says nothing about its place among the others)
    assert sorted((v.answer.text, v.highlights) for v in views) == [("Bens Antwort", 1), ("anonym", 0)]
    assert [(h.text, h.highlights) for h in top] == [("Bens Antwort", 1)]


async def test_a_thread_reply_is_stored_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as s:
        post = await add_post(s, "support", 0)
        answer = store.PromptAnswer(
            workspace_id=WS, post_id=post.id or 0, channel_id="support", author_id="anna", text="x", message_id="1700.1"
        )
        assert await store.add_answer(s, answer=answer) is not None
        assert await store.add_answer(s, answer=answer.model_copy()) is None
