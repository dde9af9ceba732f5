"""Daily prompts: channel subscriptions, posted prompts, answers, highlights, the workspace's own
prompts (including drafts), imported customer feedback and queued drafting work.

Anonymous answers are stored with no author at all. Participation is only ever counted per channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Column, Index, UniqueConstraint, delete, func, or_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import insert_ignore, new_row_id
from storage.models import OutboxMessage, Workspace, opt_ts_column, ts_column

WEEKDAYS = [0, 1, 2, 3, 4]


class PromptSubscription(SQLModel, table=True):
    """A channel that gets a prompt on its days at its local time."""

    __tablename__ = "prompt_subscription"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    channel_id: str = Field(max_length=255)
    hour: int = 9
    minute: int = 30
    days: list[int] = Field(default_factory=lambda: list(WEEKDAYS), sa_column=Column(JSON, nullable=False))
    timezone: str = Field(default="Europe/Berlin", max_length=64)
    language: str = Field(default="de", max_length=10)
    holiday_region: str | None = Field(default=None, max_length=40)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # empty: all
    paused: bool = False
    active_since: datetime = ts_column()
    created_by: str = Field(default="", max_length=120)
    created_at: datetime = ts_column()
    updated_at: datetime = ts_column()


class PromptPost(SQLModel, table=True):
    """One prompt posted to one channel on one local day (at most one per day)."""

    __tablename__ = "prompt_post"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel_id", "day"),
        Index("ix_prompt_post_cycle", "workspace_id", "channel_id", "cycle"),
        Index("ix_prompt_post_ws_posted", "workspace_id", "posted_at"),
        Index("ix_prompt_post_message", "workspace_id", "platform_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    channel_id: str = Field(max_length=255)
    day: date
    prompt_key: str = Field(max_length=80)  # library id, "custom-<id>" or "quote-<feedback id>"
    category: str = Field(max_length=40)
    cycle: int = 0
    language: str = Field(default="de", max_length=10)
    text: str = Field(max_length=2000)
    feedback_id: int | None = None
    dedupe_key: str = Field(max_length=255)
    platform_message_id: str | None = Field(default=None, max_length=255)
    source: str = Field(default="schedule", max_length=20)  # schedule | now
    posted_at: datetime = ts_column()


class PromptAnswer(SQLModel, table=True):
    """An answer to a prompt: a thread reply or a form answer. ``author_id`` is None when anonymous."""

    __tablename__ = "prompt_answer"
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_id"),
        Index("ix_prompt_answer_ws_created", "workspace_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    post_id: int = Field(foreign_key="prompt_post.id", index=True)
    channel_id: str = Field(max_length=255)
    author_id: str | None = Field(default=None, max_length=120)
    text: str = Field(max_length=4000)
    source: str = Field(default="thread", max_length=20)  # thread | form | command
    message_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = ts_column()

    @property
    def anonymous(self) -> bool:
        return self.author_id is None


class PromptHighlight(SQLModel, table=True):
    """A team member marked an answer as worth showing in the digest (once per person and answer)."""

    __tablename__ = "prompt_highlight"

    answer_id: int = Field(foreign_key="prompt_answer.id", primary_key=True)
    user_id: str = Field(primary_key=True, max_length=120)
    workspace_id: str = Field(max_length=120, index=True)
    created_at: datetime = ts_column()


class CustomPrompt(SQLModel, table=True):
    """A workspace's own prompt: added by an admin, imported from a file, or drafted by a model."""

    __tablename__ = "custom_prompt"
    __table_args__ = (Index("ix_custom_prompt_ws_status", "workspace_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    category: str = Field(max_length=40)
    text_de: str = Field(max_length=1000)
    text_en: str = Field(max_length=1000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=20)  # active | draft | removed
    source: str = Field(default="chat", max_length=20)  # chat | file | model
    created_by: str | None = Field(default=None, max_length=120)
    created_at: datetime = ts_column()
    reviewed_at: datetime | None = opt_ts_column()


class CustomerFeedback(SQLModel, table=True):
    """A real customer quote, scrubbed of personal data before it was stored."""

    __tablename__ = "customer_feedback"
    __table_args__ = (UniqueConstraint("workspace_id", "source", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120, index=True)
    text: str = Field(max_length=2000)
    kind: str | None = Field(default=None, max_length=20)  # praise | complaint | survey | cancellation
    source: str = Field(default="csv", max_length=20)  # csv | webhook | chat
    external_id: str | None = Field(default=None, max_length=255)
    redactions: int = 0
    created_at: datetime = ts_column()


class PromptDraftRequest(SQLModel, table=True):
    """Queued language-model work: an admin asked for fresh prompt drafts."""

    __tablename__ = "prompt_draft_request"
    __table_args__ = (Index("ix_prompt_draft_request_due", "status", "lease_until"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    requested_by: str = Field(max_length=120)
    language: str = Field(default="de", max_length=10)
    count: int = 5
    status: str = Field(default="pending", max_length=20)  # pending | running | done | failed
    attempts: int = 0
    lease_until: datetime | None = opt_ts_column()
    drafted: int = 0
    created_at: datetime = ts_column()
    finished_at: datetime | None = opt_ts_column()


# --- subscriptions -------------------------------------------------------------------------------------


async def get_subscription(session: AsyncSession, *, workspace_id: str, channel_id: str) -> PromptSubscription | None:
    stmt = select(PromptSubscription).where(
        col(PromptSubscription.workspace_id) == workspace_id, col(PromptSubscription.channel_id) == channel_id
    )
    return (await session.execute(stmt)).scalars().first()


async def save_subscription(session: AsyncSession, *, sub: PromptSubscription, now: datetime) -> PromptSubscription:
    sub.updated_at = now
    session.add(sub)
    await session.flush()
    return sub


async def delete_subscription(session: AsyncSession, *, workspace_id: str, channel_id: str) -> bool:
    result = await session.execute(
        delete(PromptSubscription).where(
            col(PromptSubscription.workspace_id) == workspace_id, col(PromptSubscription.channel_id) == channel_id
        )
    )
    return bool(cast(CursorResult[Any], result).rowcount)


async def active_subscriptions(session: AsyncSession) -> list[tuple[PromptSubscription, Workspace]]:
    """Every subscription that is not paused, with its workspace."""
    stmt = (
        select(PromptSubscription, Workspace)
        .join(Workspace, col(Workspace.id) == col(PromptSubscription.workspace_id))
        .where(col(PromptSubscription.paused) == False)  # noqa: E712
        .order_by(col(PromptSubscription.id))
    )
    return [(s, w) for s, w in (await session.execute(stmt)).all()]


async def list_subscriptions(session: AsyncSession, *, workspace_id: str) -> list[PromptSubscription]:
    stmt = (
        select(PromptSubscription)
        .where(col(PromptSubscription.workspace_id) == workspace_id)
        .order_by(col(PromptSubscription.channel_id))
    )
    return list((await session.execute(stmt)).scalars().all())


# --- posts and rotation ----------------------------------------------------------------------------------


async def post_for_day(session: AsyncSession, *, workspace_id: str, channel_id: str, day: date) -> PromptPost | None:
    stmt = select(PromptPost).where(
        col(PromptPost.workspace_id) == workspace_id,
        col(PromptPost.channel_id) == channel_id,
        col(PromptPost.day) == day,
    )
    return (await session.execute(stmt)).scalars().first()


async def get_post(session: AsyncSession, *, workspace_id: str, post_id: int) -> PromptPost | None:
    post = await session.get(PromptPost, post_id)
    return post if post is not None and post.workspace_id == workspace_id else None


async def latest_post(session: AsyncSession, *, workspace_id: str, channel_id: str) -> PromptPost | None:
    stmt = (
        select(PromptPost)
        .where(col(PromptPost.workspace_id) == workspace_id, col(PromptPost.channel_id) == channel_id)
        .order_by(col(PromptPost.day).desc(), col(PromptPost.id).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def current_cycle(session: AsyncSession, *, workspace_id: str, channel_id: str) -> int:
    stmt = select(func.max(col(PromptPost.cycle))).where(
        col(PromptPost.workspace_id) == workspace_id, col(PromptPost.channel_id) == channel_id
    )
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)


async def used_in_cycle(session: AsyncSession, *, workspace_id: str, channel_id: str, cycle: int) -> set[str]:
    stmt = select(col(PromptPost.prompt_key)).where(
        col(PromptPost.workspace_id) == workspace_id,
        col(PromptPost.channel_id) == channel_id,
        col(PromptPost.cycle) == cycle,
    )
    return set((await session.execute(stmt)).scalars().all())


async def posts_since_quote(session: AsyncSession, *, workspace_id: str, channel_id: str) -> int:
    """How many prompts the channel got since its last customer-quote prompt (all, if none yet)."""
    last_quote = select(func.max(col(PromptPost.id))).where(
        col(PromptPost.workspace_id) == workspace_id,
        col(PromptPost.channel_id) == channel_id,
        col(PromptPost.feedback_id) != None,  # noqa: E711
    )
    last = (await session.execute(last_quote)).scalar_one_or_none() or 0
    stmt = (
        select(func.count())
        .select_from(PromptPost)
        .where(
            col(PromptPost.workspace_id) == workspace_id,
            col(PromptPost.channel_id) == channel_id,
            col(PromptPost.id) > last,
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def add_post(session: AsyncSession, *, post: PromptPost) -> PromptPost:
    session.add(post)
    await session.flush()
    return post


async def post_for_thread(
    session: AsyncSession, *, workspace_id: str, thread_id: str, channel_id: str | None = None
) -> PromptPost | None:
    """The prompt whose delivered message is ``thread_id``.

    The outbox worker records the platform's message id on the outbox row once it is delivered;
    the first lookup copies it onto the prompt post (matched by its outbox dedupe key).
    """
    stmt = select(PromptPost).where(
        col(PromptPost.workspace_id) == workspace_id, col(PromptPost.platform_message_id) == thread_id
    )
    found = (await session.execute(stmt)).scalars().first()
    if found is not None:
        return found
    joined = (
        select(PromptPost, col(OutboxMessage.platform_message_id))
        .join(OutboxMessage, col(OutboxMessage.dedupe_key) == col(PromptPost.dedupe_key))
        .where(
            col(PromptPost.workspace_id) == workspace_id,
            col(PromptPost.platform_message_id) == None,  # noqa: E711
            col(OutboxMessage.platform_message_id) == thread_id,
        )
    )
    if channel_id is not None:
        joined = joined.where(col(PromptPost.channel_id) == channel_id)
    row = (await session.execute(joined)).first()
    if row is None:
        return None
    post, message_id = row
    post.platform_message_id = message_id
    session.add(post)
    await session.flush()
    return post


async def delivered_message_id(session: AsyncSession, *, post: PromptPost) -> str | None:
    """The platform's message id of a delivered prompt post (None until it was sent)."""
    if post.platform_message_id:
        return post.platform_message_id
    stmt = select(col(OutboxMessage.platform_message_id)).where(col(OutboxMessage.dedupe_key) == post.dedupe_key)
    message_id = (await session.execute(stmt)).scalar_one_or_none()
    if message_id:
        post.platform_message_id = message_id
        session.add(post)
        await session.flush()
    return message_id


# --- answers -----------------------------------------------------------------------------------------------


async def add_answer(session: AsyncSession, *, answer: PromptAnswer) -> PromptAnswer | None:
    """Store an answer; None if this platform message was already stored. An anonymous answer gets a
    random id (see ``storage.core.new_row_id``)."""
    answer.id = await new_row_id(session, PromptAnswer, anonymous=answer.author_id is None)
    if answer.message_id:
        values = answer.model_dump(exclude=set() if answer.id else {"id"})
        if not await insert_ignore(session, PromptAnswer, values, ["workspace_id", "message_id"]):
            return None
        stmt = select(PromptAnswer).where(
            col(PromptAnswer.workspace_id) == answer.workspace_id, col(PromptAnswer.message_id) == answer.message_id
        )
        return (await session.execute(stmt)).scalars().one()
    session.add(answer)
    await session.flush()
    return answer


async def get_answer(session: AsyncSession, *, workspace_id: str, answer_id: int) -> PromptAnswer | None:
    answer = await session.get(PromptAnswer, answer_id)
    return answer if answer is not None and answer.workspace_id == workspace_id else None


@dataclass
class AnswerView:
    answer: PromptAnswer
    highlights: int


async def answers_for_post(session: AsyncSession, *, workspace_id: str, post_id: int) -> list[AnswerView]:
    counts = (
        select(col(PromptHighlight.answer_id), func.count().label("n"))
        .where(col(PromptHighlight.workspace_id) == workspace_id)
        .group_by(col(PromptHighlight.answer_id))
        .subquery()
    )
    stmt = (
        select(PromptAnswer, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.answer_id == col(PromptAnswer.id))
        .where(col(PromptAnswer.workspace_id) == workspace_id, col(PromptAnswer.post_id) == post_id)
        .order_by(col(PromptAnswer.created_at), col(PromptAnswer.id))
    )
    return [AnswerView(a, int(n)) for a, n in (await session.execute(stmt)).all()]


async def toggle_highlight(
    session: AsyncSession, *, workspace_id: str, answer_id: int, user_id: str, now: datetime
) -> bool:
    """Mark (or unmark) an answer for this person; True if it is now marked."""
    added = await insert_ignore(
        session,
        PromptHighlight,
        {"answer_id": answer_id, "user_id": user_id, "workspace_id": workspace_id, "created_at": now},
        ["answer_id", "user_id"],
    )
    if added:
        return True
    await session.execute(
        delete(PromptHighlight).where(
            col(PromptHighlight.answer_id) == answer_id, col(PromptHighlight.user_id) == user_id
        )
    )
    return False


async def answers_between(session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime) -> list[str]:
    """The text of every answer in a period (for a summary), oldest first, without authors."""
    stmt = (
        select(col(PromptAnswer.text))
        .where(
            col(PromptAnswer.workspace_id) == workspace_id,
            col(PromptAnswer.created_at) >= since,
            col(PromptAnswer.created_at) < until,
        )
        .order_by(col(PromptAnswer.created_at), col(PromptAnswer.id))
    )
    return list((await session.execute(stmt)).scalars().all())


@dataclass
class ChannelParticipation:
    """Counts for one channel in a period: never who answered."""

    channel_id: str
    prompts: int
    answers: int
    anonymous_answers: int
    people: int  # distinct named authors


async def participation(
    session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime
) -> list[ChannelParticipation]:
    """Per channel: prompts posted and answers received in ``[since, until)``; busiest channel first."""
    posts = (
        select(col(PromptPost.channel_id), func.count())
        .where(
            col(PromptPost.workspace_id) == workspace_id,
            col(PromptPost.posted_at) >= since,
            col(PromptPost.posted_at) < until,
        )
        .group_by(col(PromptPost.channel_id))
    )
    answers = (
        select(
            col(PromptAnswer.channel_id),
            func.count(),
            func.count(col(PromptAnswer.author_id)),
            func.count(func.distinct(col(PromptAnswer.author_id))),
        )
        .where(
            col(PromptAnswer.workspace_id) == workspace_id,
            col(PromptAnswer.created_at) >= since,
            col(PromptAnswer.created_at) < until,
        )
        .group_by(col(PromptAnswer.channel_id))
    )
    rows: dict[str, ChannelParticipation] = {}
    for channel, n in (await session.execute(posts)).all():
        rows[channel] = ChannelParticipation(channel, int(n), 0, 0, 0)
    for channel, total, named, people in (await session.execute(answers)).all():
        row = rows.setdefault(channel, ChannelParticipation(channel, 0, 0, 0, 0))
        row.answers, row.anonymous_answers, row.people = int(total), int(total) - int(named), int(people)
    return sorted(rows.values(), key=lambda r: (-r.answers, -r.prompts, r.channel_id))


@dataclass
class HighlightedAnswer:
    answer_id: int
    channel_id: str
    prompt: str
    text: str
    author_id: str | None  # None: anonymous
    highlights: int


async def highlighted_answers(
    session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime, limit: int = 3
) -> list[HighlightedAnswer]:
    """The answers the team marked most in a period (only marked ones), most marks first."""
    n = func.count(col(PromptHighlight.user_id)).label("n")
    stmt = (
        select(PromptAnswer, col(PromptPost.text), n)
        .join(PromptHighlight, col(PromptHighlight.answer_id) == col(PromptAnswer.id))
        .join(PromptPost, col(PromptPost.id) == col(PromptAnswer.post_id))
        .where(
            col(PromptAnswer.workspace_id) == workspace_id,
            col(PromptAnswer.created_at) >= since,
            col(PromptAnswer.created_at) < until,
        )
        .group_by(col(PromptAnswer.id), col(PromptPost.text))
        .order_by(n.desc(), col(PromptAnswer.created_at), col(PromptAnswer.id))
        .limit(limit)
    )
    return [
        HighlightedAnswer(a.id or 0, a.channel_id, prompt, a.text, a.author_id, int(count))
        for a, prompt, count in (await session.execute(stmt)).all()
    ]


async def answers_by(session: AsyncSession, *, workspace_id: str, user_id: str) -> list[PromptAnswer]:
    """A person's own named answers (for a data export)."""
    stmt = (
        select(PromptAnswer)
        .where(col(PromptAnswer.workspace_id) == workspace_id, col(PromptAnswer.author_id) == user_id)
        .order_by(col(PromptAnswer.created_at))
    )
    return list((await session.execute(stmt)).scalars().all())


async def erase_person(session: AsyncSession, *, workspace_id: str, user_id: str) -> int:
    """Delete a person's named answers and marks; returns how many answers were deleted."""
    await session.execute(
        delete(PromptHighlight).where(
            col(PromptHighlight.workspace_id) == workspace_id, col(PromptHighlight.user_id) == user_id
        )
    )
    mine = select(col(PromptAnswer.id)).where(
        col(PromptAnswer.workspace_id) == workspace_id, col(PromptAnswer.author_id) == user_id
    )
    await session.execute(delete(PromptHighlight).where(col(PromptHighlight.answer_id).in_(mine)))
    result = await session.execute(
        delete(PromptAnswer).where(
            col(PromptAnswer.workspace_id) == workspace_id, col(PromptAnswer.author_id) == user_id
        )
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


# --- the workspace's own prompts ------------------------------------------------------------------------------


async def add_custom_prompt(session: AsyncSession, *, prompt: CustomPrompt) -> CustomPrompt:
    session.add(prompt)
    await session.flush()
    return prompt


async def get_custom_prompt(session: AsyncSession, *, workspace_id: str, prompt_id: int) -> CustomPrompt | None:
    found = await session.get(CustomPrompt, prompt_id)
    return found if found is not None and found.workspace_id == workspace_id else None


async def custom_prompts(
    session: AsyncSession, *, workspace_id: str, statuses: Sequence[str] = ("active",)
) -> list[CustomPrompt]:
    stmt = (
        select(CustomPrompt)
        .where(col(CustomPrompt.workspace_id) == workspace_id, col(CustomPrompt.status).in_(list(statuses)))
        .order_by(col(CustomPrompt.id))
    )
    return list((await session.execute(stmt)).scalars().all())


# --- customer feedback ---------------------------------------------------------------------------------------


async def add_feedback(session: AsyncSession, *, feedback: CustomerFeedback) -> bool:
    """Store a (scrubbed) quote; False if the same external id from the same source is already stored."""
    if feedback.external_id:
        values = feedback.model_dump(exclude={"id"})
        return await insert_ignore(session, CustomerFeedback, values, ["workspace_id", "source", "external_id"])
    session.add(feedback)
    await session.flush()
    return True


async def next_unused_feedback(session: AsyncSession, *, workspace_id: str, channel_id: str) -> CustomerFeedback | None:
    """The oldest quote this channel has not had a prompt about yet."""
    used = select(col(PromptPost.feedback_id)).where(
        col(PromptPost.workspace_id) == workspace_id,
        col(PromptPost.channel_id) == channel_id,
        col(PromptPost.feedback_id) != None,  # noqa: E711
    )
    stmt = (
        select(CustomerFeedback)
        .where(col(CustomerFeedback.workspace_id) == workspace_id, col(CustomerFeedback.id).not_in(used))
        .order_by(col(CustomerFeedback.id))
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def recent_feedback(session: AsyncSession, *, workspace_id: str, limit: int = 5) -> list[CustomerFeedback]:
    stmt = (
        select(CustomerFeedback)
        .where(col(CustomerFeedback.workspace_id) == workspace_id)
        .order_by(col(CustomerFeedback.id).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def count_feedback(session: AsyncSession, *, workspace_id: str) -> int:
    stmt = select(func.count()).select_from(CustomerFeedback).where(col(CustomerFeedback.workspace_id) == workspace_id)
    return int((await session.execute(stmt)).scalar_one())


# --- drafting work queue -------------------------------------------------------------------------------------


async def add_draft_request(session: AsyncSession, *, request: PromptDraftRequest) -> PromptDraftRequest:
    session.add(request)
    await session.flush()
    return request


async def open_draft_request(session: AsyncSession, *, workspace_id: str) -> PromptDraftRequest | None:
    stmt = select(PromptDraftRequest).where(
        col(PromptDraftRequest.workspace_id) == workspace_id,
        col(PromptDraftRequest.status).in_(["pending", "running"]),
    )
    return (await session.execute(stmt)).scalars().first()


async def lease_draft_requests(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int = 5
) -> list[PromptDraftRequest]:
    """Take pending requests (or ones whose lease ran out) for this worker."""
    due = or_(
        col(PromptDraftRequest.status) == "pending",
        (col(PromptDraftRequest.status) == "running") & (col(PromptDraftRequest.lease_until) <= now),
    )
    ids = list(
        (
            await session.execute(
                select(col(PromptDraftRequest.id)).where(due).order_by(col(PromptDraftRequest.id)).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    taken: list[PromptDraftRequest] = []
    for rid in ids:
        result = await session.execute(
            update(PromptDraftRequest)
            .where(col(PromptDraftRequest.id) == rid, due)
            .values(status="running", lease_until=now + lease, attempts=col(PromptDraftRequest.attempts) + 1)
        )
        if cast(CursorResult[Any], result).rowcount:
            row = await session.get(PromptDraftRequest, rid, populate_existing=True)
            if row is not None:
                taken.append(row)
    return taken


async def finish_draft_request(
    session: AsyncSession, *, request_id: int, status: str, drafted: int, now: datetime
) -> None:
    values: dict[str, Any] = {"status": status, "drafted": drafted, "finished_at": now, "lease_until": None}
    await session.execute(update(PromptDraftRequest).where(col(PromptDraftRequest.id) == request_id).values(**values))


async def retry_draft_request(session: AsyncSession, *, request_id: int, at: datetime) -> None:
    """Try again after ``at`` (the lease simply runs until then)."""
    await session.execute(
        update(PromptDraftRequest)
        .where(col(PromptDraftRequest.id) == request_id)
        .values(status="running", lease_until=at)
    )
