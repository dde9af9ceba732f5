"""What the goodwill commands share: teams, periods, who belongs to a team, and the reader's language."""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.events import Platform
from bot.core.i18n import Translator
from bot.core.jobs import zone
from bot.core.messages import channel_link
from bot.core.router import Context, UserError
from storage import goodwill as q
from storage.goodwill import GoodwillBudget, GoodwillCase
from storage.models import Member, Workspace

CHANNEL_RE = re.compile(r"^<#([A-Za-z0-9_.:@;\-]+)(?:\|([^>]*))?>$")
PLAIN_CHANNEL_RE = re.compile(r"^#([\w.\-]{1,80})$")
DEPT_PREFIXES = ("dept:", "team:", "abteilung:")
HERE = ("here", "hier")
ID_RE = re.compile(r"^#?(\d{1,9})$")


def period_key(period: str, when: datetime, tz: str | None) -> str:
    """``2026``, ``2026-Q4`` or ``2026-11`` in the workspace's time zone."""
    local = when.astimezone(zone(tz))
    if period == "month":
        return f"{local.year}-{local.month:02d}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return str(local.year)


def period_label(t: Translator, period: str, key: str) -> str:
    if period == "month":
        year, month = key.split("-")
        return t("goodwill.period_month", month=t(f"goodwill.months.m{int(month)}"), year=year)
    if period == "quarter":
        year, quarter = key.split("-Q")
        return t("goodwill.period_quarter", quarter=quarter, year=year)
    return key


def channel_here(ctx: Context) -> str | None:
    """The channel the event came from; a Teams thread's conversation id carries ``;messageid=…`` after it."""
    conv = ctx.event.conversation
    if conv is None or conv.kind == "dm":
        return None
    return conv.id.split(";messageid=", 1)[0]


def team_token(ctx: Context, word: str) -> str | None:
    """A team as typed: ``<#C123|service>`` (Slack, Teams), ``#service`` (console), ``here``, ``dept:IT``."""
    m = CHANNEL_RE.match(word)
    if m:
        return m.group(1)
    if word.lower() in HERE:
        return channel_here(ctx)
    if ctx.actor.platform == Platform.CONSOLE:
        plain = PLAIN_CHANNEL_RE.match(word)
        if plain:
            return plain.group(1)
    return None


def team_label(team: str) -> str:
    """How a team is shown: a channel link, or the department's name."""
    if team.lower().startswith(DEPT_PREFIXES):
        return team.split(":", 1)[1]
    return channel_link(team)


def department_of(budget: GoodwillBudget) -> str | None:
    """A department team's name (its approvers decide); None for a channel team (workspace approvers)."""
    return budget.team.split(":", 1)[1] if budget.team.lower().startswith(DEPT_PREFIXES) else None


async def is_member(ctx: Context, budget: GoodwillBudget, person: Member) -> bool:
    """A department team is its department's people; a channel team its named members, else everyone."""
    dept = department_of(budget)
    if dept is not None:
        return bool(person.department and person.department.lower() == dept.lower())
    assert budget.id is not None
    named = await q.members(ctx.session, budget_id=budget.id)
    return not named or person.user_id in named


async def teams_of(ctx: Context) -> list[GoodwillBudget]:
    """The budgets the actor belongs to."""
    return [
        b for b in await q.budgets(ctx.session, workspace_id=ctx.workspace.id) if await is_member(ctx, b, ctx.member)
    ]


async def load_case(ctx: Context, raw: str | int, *, lock: bool = False) -> GoodwillCase:
    m = ID_RE.match(str(raw).strip())
    found = None
    if m:
        found = await q.get_case(ctx.session, workspace_id=ctx.workspace.id, case_id=int(m.group(1)), lock=lock)
    if found is None:
        raise UserError("goodwill.err.unknown_case", id=str(raw).lstrip("#") or "?")
    return found


def names_allowed(ws: Workspace) -> bool:
    """Under the works-council profile a case shows no person at all (§ 87 (1) Nr. 6 BetrVG)."""
    return ws.privacy_profile != "works-council"
