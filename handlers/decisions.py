"""Decisions by approvers, shared by every feature that asks someone to decide (the suggestion box, the
goodwill budget): who decides, where the decision card goes, its deadline line, its Approve/Decline
buttons, the reason form after a Decline, the "decided by … on …" line and the audit entry.

Admins configure it once for all of them: approvers per department (``suggest approvers``), the review
channel (``suggest review-channel``) and the decision deadline (``suggest deadline``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator, translator_for
from bot.core.jobs import zone
from bot.core.messages import Actions, Button, Form, Input, Message, Note, Section, mention, user_text
from bot.core.router import Context
from storage import core
from storage import suggestions as approvals
from storage.models import Member, Workspace
from storage.privacy import record_audit

MAX_NOTE = 2000


@dataclass(frozen=True)
class Rules:
    """The workspace's decision settings: how many days approvers have, and the review channel if any."""

    deadline_days: int
    review_channel_id: str | None


async def rules(session: AsyncSession, *, workspace_id: str) -> Rules:
    settings = await approvals.get_settings(session, workspace_id=workspace_id)
    return Rules(settings.deadline_days, settings.review_channel_id)


async def deciders(session: AsyncSession, *, workspace_id: str, department: str | None) -> list[str]:
    """Who is asked to decide: the approvers for the department and workspace, else the admins."""
    ids = await approvals.deciders(session, workspace_id=workspace_id, department=department)
    return ids or await approvals.admins(session, workspace_id=workspace_id)


async def may_decide(ctx: Context, department: str | None) -> bool:
    ids = await approvals.deciders(ctx.session, workspace_id=ctx.workspace.id, department=department)
    if ids:
        return ctx.actor.user_id in ids
    return bool(ctx.member.is_admin or ctx.actor.is_admin)


def fmt_date(t: Translator, when: datetime, tz: str | None) -> str:
    local = when.astimezone(zone(tz))
    return local.strftime("%d.%m.%Y") if t.lang == "de" else local.strftime("%d %b %Y")


def deadline(created_at: datetime, days: int) -> datetime:
    return created_at + timedelta(days=days)


def deadline_note(t: Translator, ws: Workspace, created_at: datetime, days: int) -> Note:
    return Note(text=t("decisions.deadline", date=fmt_date(t, deadline(created_at, days), ws.timezone)))


def decided_section(
    t: Translator, ws: Workspace, *, decision: str, actor_id: str, at: datetime, note: str | None
) -> Section:
    text = t("decisions.decided", decision=decision, actor=mention(actor_id), date=fmt_date(t, at, ws.timezone))
    if note:
        text += "\n> " + user_text(note)
    return Section(text=text)


SHARED_VERBS = {"approve": "primary", "decline": "danger"}


def decision_actions(
    t: Translator, prefix: str, item_id: int | str, verbs: Sequence[str], *, labels: str = "decisions"
) -> Actions:
    """The card's decision buttons (``<prefix>:<verb>:<id>``): Approve and Decline carry the shared labels,
    a feature's further verbs (ask, duplicate …) the labels under ``<labels>.btn``."""
    sid = str(item_id)
    buttons = []
    for verb in verbs:
        style = SHARED_VERBS.get(verb)
        label = t(f"decisions.btn.{verb}") if verb in SHARED_VERBS else t(f"{labels}.btn.{verb}")
        buttons.append(Button(label=label, action_id=f"{prefix}:{verb}:{sid}", value=sid, style=style))  # type: ignore[arg-type]
    return Actions(buttons=buttons)


def reason_form(
    *, title: str, action_id: str, submit_label: str, label: str, item_id: int | str, extra: Sequence[Input] = ()
) -> Form:
    """The form after a click that needs a reason (Decline, Ask for details …)."""
    inputs = [*extra, Input(id="reason", label=label, type="multiline", max_length=MAX_NOTE)]
    return Form(
        title=title, action_id=action_id, submit_label=submit_label, inputs=inputs, private_metadata=str(item_id)
    )


def translator(workspace: Workspace, member: Member | None) -> Translator:
    """The person's language (their own locale wins), in the workspace's form of address."""
    return translator_for(member.locale if member else None, workspace.locale, tone=workspace.tone)


@dataclass
class Delivery:
    """A decision card on its way: to the review channel, or to one decider by DM."""

    kind: str  # "channel" | "dm"
    target: str
    message: Message


async def deliveries(
    session: AsyncSession, ws: Workspace, *, department: str | None, card: Callable[[Translator], Message]
) -> list[Delivery]:
    """The decision card: in the review channel (workspace language), else by DM to each decider in theirs."""
    settings = await rules(session, workspace_id=ws.id)
    if settings.review_channel_id:
        return [Delivery("channel", settings.review_channel_id, card(translator(ws, None)))]
    out = []
    for uid in await deciders(session, workspace_id=ws.id, department=department):
        member = await core.get_member(session, workspace_id=ws.id, user_id=uid)
        out.append(Delivery("dm", uid, card(translator(ws, member))))
    return out


def send(ctx: Context, found: list[Delivery], *, dedupe: str) -> None:
    """Queue decision cards from a request (each delivery once, whatever retries follow)."""
    for d in found:
        key = f"{dedupe}:{d.target}"
        if d.kind == "channel":
            ctx.post(d.target, d.message, dedupe_key=key)
        else:
            ctx.dm(d.target, d.message, dedupe_key=key)


async def audit(ctx: Context, action: str, item_id: int | None, **details: object) -> None:
    """Every decision enters the audit log in the decision's own transaction."""
    await record_audit(
        ctx.session, ctx.workspace.id, ctx.actor.user_id, action, None, {"id": item_id, **details}, at=ctx.now
    )


__all__ = [
    "Delivery",
    "Rules",
    "audit",
    "decided_section",
    "deadline",
    "deadline_note",
    "deciders",
    "decision_actions",
    "deliveries",
    "fmt_date",
    "may_decide",
    "reason_form",
    "rules",
    "send",
    "translator",
]
