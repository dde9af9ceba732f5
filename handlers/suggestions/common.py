"""Helpers shared by the suggestion box: ids, dates, names, who decides, and where reviews go."""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.i18n import Translator
from bot.core.router import Context, UserError
from handlers import decisions
from handlers.decisions import deciders as reviewers
from handlers.decisions import fmt_date, translator
from storage import suggestions as q
from storage.models import Member
from storage.suggestions import Suggestion

__all__ = ["fmt_date", "reviewers", "translator"]  # shared with other deciding features

ID_RE = re.compile(r"^#?(\d{1,10})$")  # anonymous suggestions have random 9- or 10-digit numbers
MAX_ID = 2**31 - 1


def parse_id(raw: str) -> int | None:
    m = ID_RE.match(raw.strip())
    return int(m.group(1)) if m and int(m.group(1)) <= MAX_ID else None


async def load(ctx: Context, raw: str | int, *, lock: bool = False) -> Suggestion:
    """A suggestion of this workspace by ``#id``; a friendly refusal when there is none."""
    sid = raw if isinstance(raw, int) else parse_id(raw)
    found = None
    if sid is not None:
        found = await q.get(ctx.session, workspace_id=ctx.workspace.id, suggestion_id=sid, lock=lock)
    if found is None or found.announced_at is None:  # not yet public: unknown to everyone
        raise UserError("suggestions.err.unknown_id", id=str(raw).lstrip("#") or "?")
    return found


def floor_hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def hours_text(t: Translator, hours: float) -> str:
    if hours < 48:
        return t.plural("suggestions.hours", round(hours))
    return t.plural("suggestions.days", round(hours / 24))


def name_of(member: Member | None, user_id: str) -> str:
    if member is None:
        return user_id
    return member.display_name or member.handle or user_id


def status_label(t: Translator, status: str) -> str:
    return t(f"suggestions.status.{status}")


def category_label(t: Translator, category: str) -> str:
    return t(f"suggestions.category.{category}")


async def may_decide(ctx: Context, s: Suggestion) -> bool:
    return await decisions.may_decide(ctx, s.department)


async def require_decider(ctx: Context, s: Suggestion) -> None:
    if not await may_decide(ctx, s):
        raise UserError("suggestions.err.not_approver", id=s.id)
