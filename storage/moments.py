"""Kudos tied to customer moments: what a kudos points at (a goodwill case, a prompt answer, an imported
customer quote, a done suggestion), and the figures about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.goodwill import GoodwillCase
from storage.models import Kudos
from storage.prompts import CustomerFeedback, PromptAnswer
from storage.suggestions import Suggestion

KINDS = ("goodwill", "answer", "quote", "suggestion")


@dataclass
class Moment:
    """A customer moment as a kudos shows it: its kind, id, a short text, and who stands behind it."""

    kind: str
    id: int
    text: str
    person: str | None = None  # the author, when the moment has a known one
    amount: int | None = None  # a goodwill case's amount (minor units)
    currency: str | None = None
    status: str | None = None


async def find(session: AsyncSession, *, workspace_id: str, kind: str, moment_id: int) -> Moment | None:
    """The moment of this workspace, or None."""
    if kind == "goodwill":
        case = await session.get(GoodwillCase, moment_id)
        if case is None or case.workspace_id != workspace_id:
            return None
        return Moment(kind, moment_id, case.story, case.author_id, case.amount, case.currency, case.status)
    if kind == "answer":
        answer = await session.get(PromptAnswer, moment_id)
        if answer is None or answer.workspace_id != workspace_id:
            return None
        return Moment(kind, moment_id, answer.text, answer.author_id)
    if kind == "quote":
        quote = await session.get(CustomerFeedback, moment_id)
        if quote is None or quote.workspace_id != workspace_id:
            return None
        return Moment(kind, moment_id, quote.text)
    if kind == "suggestion":
        s = await session.get(Suggestion, moment_id)
        if s is None or s.workspace_id != workspace_id or s.announced_at is None:
            return None
        return Moment(kind, moment_id, s.title, s.author_id, status=s.status)
    return None


async def counts(session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime) -> dict[str, int]:
    """Kudos (one per batch, however many receivers) per kind of moment in ``[since, until)``."""
    stmt = (
        select(Kudos.moment_kind, func.count(func.distinct(Kudos.batch_id)))
        .where(
            col(Kudos.workspace_id) == workspace_id,
            col(Kudos.moment_kind).is_not(None),
            col(Kudos.created_at) >= since,
            col(Kudos.created_at) < until,
        )
        .group_by(col(Kudos.moment_kind))
    )
    found = {str(k): int(n) for k, n in (await session.execute(stmt)).all()}
    return {k: found[k] for k in KINDS if k in found}


async def latest(
    session: AsyncSession, *, workspace_id: str, since: datetime, until: datetime, limit: int = 3
) -> list[tuple[str, int, str]]:
    """The latest moments kudos pointed at: (kind, id, the kudos' reason), one per moment."""
    stmt = (
        select(Kudos.moment_kind, Kudos.moment_id, Kudos.reason)
        .where(
            col(Kudos.workspace_id) == workspace_id,
            col(Kudos.moment_kind).is_not(None),
            col(Kudos.created_at) >= since,
            col(Kudos.created_at) < until,
        )
        .order_by(col(Kudos.created_at).desc(), col(Kudos.id).desc())
    )
    out: list[tuple[str, int, str]] = []
    seen: set[tuple[str, int]] = set()
    for kind, mid, reason in (await session.execute(stmt)).all():
        if (kind, mid) in seen:
            continue
        seen.add((kind, mid))
        out.append((str(kind), int(mid or 0), str(reason)))
        if len(out) >= limit:
            break
    return out


async def received_by(session: AsyncSession, *, workspace_id: str, user_id: str) -> dict[str, int]:
    """A person's kudos received for customer moments, per kind (for their own stats)."""
    stmt = (
        select(Kudos.moment_kind, func.count())
        .where(
            col(Kudos.workspace_id) == workspace_id,
            col(Kudos.receiver_id) == user_id,
            col(Kudos.moment_kind).is_not(None),
        )
        .group_by(col(Kudos.moment_kind))
    )
    found = {str(k): int(n) for k, n in (await session.execute(stmt)).all()}
    return {k: found[k] for k in KINDS if k in found}
