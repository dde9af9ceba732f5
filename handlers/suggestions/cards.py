"""The suggestion box's messages: review card, public card, notifications, receipts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.messages import Actions, Block, Button, Fields, Header, Message, Note, Section, mention, user_text
from handlers import decisions
from handlers.decisions import Delivery
from handlers.suggestions.common import category_label, fmt_date, status_label
from storage import suggestions as q
from storage.models import Workspace
from storage.suggestions import Suggestion, SuggestionEvent, SuggestionSettings


def body(t: Translator, s: Suggestion, votes: int) -> list[Block]:
    submitter = mention(s.author_id) if s.author_id else t("suggestions.card.anonymous")
    blocks: list[Block] = [
        Header(text=t("suggestions.card.header", id=s.id)),
        Section(text="*" + user_text(s.title) + "*"),
        Section(text=t("suggestions.card.problem") + "\n" + user_text(s.problem)),
    ]
    if s.proposal:
        blocks.append(Section(text=t("suggestions.card.proposal") + "\n" + user_text(s.proposal)))
    blocks.append(
        Fields(
            items=[
                (t("suggestions.card.category"), category_label(t, s.category)),
                (t("suggestions.card.department"), user_text(s.department) if s.department else "—"),
                (
                    t("suggestions.card.customers"),
                    t("suggestions.bool_yes" if s.affects_customers else "suggestions.bool_no"),
                ),
                (t("suggestions.card.submitter"), submitter),
                (t("suggestions.card.votes"), str(votes)),
                (t("suggestions.card.status"), status_label(t, s.status)),
            ]
        )
    )
    return blocks


def decision_lines(t: Translator, ws: Workspace, s: Suggestion, deadline_days: int) -> list[Block]:
    if s.status in q.UNDECIDED:
        return [decisions.deadline_note(t, ws, s.created_at, deadline_days)]
    if s.decided_by is None or s.decided_at is None:
        return []
    decided = s.status if s.status in ("declined", "duplicate") else "approved"
    if s.status != "duplicate":
        return [
            decisions.decided_section(
                t, ws, decision=status_label(t, decided), actor_id=s.decided_by, at=s.decided_at, note=s.decision_note
            )
        ]
    text = t(
        "suggestions.card.decided_duplicate",
        decision=status_label(t, decided),
        actor=mention(s.decided_by),
        date=fmt_date(t, s.decided_at, ws.timezone),
        original=s.duplicate_of_id,
    )
    if s.decision_note:
        text += "\n> " + user_text(s.decision_note)
    return [Section(text=text)]


def review_buttons(t: Translator, s: Suggestion) -> list[Block]:
    sid = str(s.id)
    if s.status in q.UNDECIDED:
        return [
            decisions.decision_actions(
                t, "suggest", sid, ("approve", "decline", "ask", "duplicate"), labels="suggestions"
            )
        ]
    if s.status == "approved":
        buttons = [
            Button(label=t("suggestions.btn.start"), action_id=f"suggest:start:{sid}", value=sid),
            Button(label=t("suggestions.btn.done"), action_id=f"suggest:done:{sid}", value=sid, style="primary"),
        ]
    elif s.status == "in_progress":
        buttons = [Button(label=t("suggestions.btn.done"), action_id=f"suggest:done:{sid}", value=sid, style="primary")]
    else:
        return []
    return [Actions(buttons=buttons)]


def review_card(t: Translator, ws: Workspace, settings: SuggestionSettings, s: Suggestion, votes: int) -> Message:
    blocks = body(t, s, votes) + decision_lines(t, ws, s, settings.deadline_days) + review_buttons(t, s)
    return Message(blocks=blocks, text=t("suggestions.card.fallback", id=s.id))


def thank_blocks(t: Translator, s: Suggestion) -> list[Block]:
    """A done suggestion: thank its submitter with kudos, or say why an anonymous one cannot be thanked."""
    if s.status != "done":
        return []
    if s.author_id is None:
        return [Note(text=t("suggestions.thank.anonymous"))]
    sid = str(s.id)
    return [Actions(buttons=[Button(label=t("suggestions.btn.thank"), action_id=f"suggest:thank:{sid}", value=sid)])]


def public_card(
    t: Translator,
    ws: Workspace,
    settings: SuggestionSettings,
    s: Suggestion,
    votes: int,
    *,
    history: list[str] | None = None,
    decider: bool = False,
) -> Message:
    """A suggestion as everyone sees it (Vote, Follow, Thank); a decider also gets the decision buttons."""
    blocks = body(t, s, votes) + decision_lines(t, ws, s, settings.deadline_days)
    if history:
        blocks.append(Section(text="\n".join(history)))
    sid = str(s.id)
    if s.status in q.OPEN:
        blocks.append(
            Actions(
                buttons=[
                    Button(
                        label=t("suggestions.btn.vote"), action_id=f"suggest:vote:{sid}", value=sid, style="primary"
                    ),
                    Button(label=t("suggestions.btn.follow"), action_id=f"suggest:follow:{sid}", value=sid),
                ]
            )
        )
    elif s.status == "duplicate" and s.duplicate_of_id:
        blocks.append(Note(text=t("suggestions.card.see_original", original=s.duplicate_of_id)))
    if decider:
        blocks += review_buttons(t, s)
    blocks += thank_blocks(t, s)
    return Message(blocks=blocks, text=t("suggestions.card.fallback", id=s.id))


def history_lines(t: Translator, ws: Workspace, rows: list[SuggestionEvent]) -> list[str]:
    lines = []
    for ev in rows:
        who = mention(ev.actor_id) if ev.actor_id else t("suggestions.card.anonymous")
        when = fmt_date(t, ev.at, ws.timezone)
        if ev.kind == "status":
            line = t("suggestions.history.status", date=when, status=status_label(t, ev.to_status or ""), actor=who)
        else:
            line = t(f"suggestions.history.{ev.kind}", date=when, actor=who)
        if ev.note:
            line += ": " + user_text(ev.note)
        lines.append("• " + line)
    return lines


async def review_deliveries(session: AsyncSession, ws: Workspace, s: Suggestion) -> list[Delivery]:
    """The review card of a new suggestion: in the review channel, else by DM to each reviewer."""
    assert s.id is not None
    settings = await q.get_settings(session, workspace_id=ws.id)
    votes = await q.vote_count(session, suggestion_id=s.id)
    return await decisions.deliveries(
        session, ws, department=s.department, card=lambda t: review_card(t, ws, settings, s, votes)
    )
