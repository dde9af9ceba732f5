"""Helpers shared by the suggestion box: ids, dates, names, who decides, and where reviews go."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator, translator_for
from bot.core.jobs import zone
from bot.core.router import Context, UserError
from storage import suggestions as q
from storage.models import Member, Workspace
from storage.suggestions import Suggestion

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


def fmt_date(t: Translator, when: datetime, tz: str | None) -> str:
    local = when.astimezone(zone(tz))
    return local.strftime("%d.%m.%Y") if t.lang == "de" else local.strftime("%d %b %Y")


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


def deadline(s: Suggestion, days: int) -> datetime:
    return s.created_at + timedelta(days=days)


async def may_decide(ctx: Context, s: Suggestion) -> bool:
    ids = await q.deciders(ctx.session, workspace_id=ctx.workspace.id, department=s.department)
    if ids:
        return ctx.actor.user_id in ids
    return bool(ctx.member.is_admin or ctx.actor.is_admin)


async def require_decider(ctx: Context, s: Suggestion) -> None:
    if not await may_decide(ctx, s):
        raise UserError("suggestions.err.not_approver", id=s.id)


async def reviewers(session: AsyncSession, *, workspace_id: str, department: str | None) -> list[str]:
    """Who is asked to decide: the approvers for the department and workspace, else the admins."""
    ids = await q.deciders(session, workspace_id=workspace_id, department=department)
    return ids or await q.admins(session, workspace_id=workspace_id)


def translator(workspace: Workspace, member: Member | None) -> Translator:
    """The person's language (their own locale wins), in the workspace's form of address."""
    return translator_for(member.locale if member else None, workspace.locale, tone=workspace.tone)
