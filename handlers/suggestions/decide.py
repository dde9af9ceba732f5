"""Deciding: approve, decline, ask for details, mark duplicate, start, done; the audit trail and notifications."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.messages import Actions, Block, Button, Form, Input, Message, Note, Section, mention, user_text
from bot.core.router import Context, UserError
from handlers.suggestions.cards import review_card, thank_blocks
from handlers.suggestions.common import load, parse_id, require_decider, status_label, translator
from storage import core
from storage import suggestions as q
from storage.privacy import record_audit
from storage.suggestions import UNDECIDED, Suggestion, SuggestionEvent

MAX_NOTE = 2000


@dataclass(frozen=True)
class Verb:
    to_status: str
    allowed_from: tuple[str, ...]
    decision: bool = False
    form: bool = False  # needs a reason (a form after the click)


VERBS: dict[str, Verb] = {
    "approve": Verb("approved", UNDECIDED, decision=True),
    "decline": Verb("declined", UNDECIDED, decision=True, form=True),
    "duplicate": Verb("duplicate", UNDECIDED, decision=True, form=True),
    "ask": Verb("in_review", UNDECIDED, form=True),
    "review": Verb("in_review", ("submitted",)),
    "start": Verb("in_progress", ("approved",)),
    "done": Verb("done", ("approved", "in_progress")),
}


def reason_form(ctx: Context, verb: str, s: Suggestion) -> Form:
    inputs = []
    if verb == "duplicate":
        inputs.append(Input(id="original", label=ctx.t("suggestions.form.original"), max_length=12))
    key = "question" if verb == "ask" else "reason"
    inputs.append(Input(id=key, label=ctx.t(f"suggestions.form.{key}"), type="multiline", max_length=MAX_NOTE))
    return Form(
        title=ctx.t(f"suggestions.form.{verb}_heading"),
        action_id=f"suggest:{verb}:{s.id}",
        submit_label=ctx.t(f"suggestions.form.{verb}_submit"),
        inputs=inputs,
        private_metadata=str(s.id),
    )


def reply_form(ctx: Context, s: Suggestion) -> Form:
    return Form(
        title=ctx.t("suggestions.form.reply_heading"),
        action_id=f"suggest:reply:{s.id}",
        submit_label=ctx.t("suggestions.form.reply_submit"),
        inputs=[Input(id="answer", label=ctx.t("suggestions.form.answer"), type="multiline", max_length=MAX_NOTE)],
        private_metadata=str(s.id),
    )


async def card_for(ctx: Context, s: Suggestion) -> Message:
    settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    votes = await q.vote_count(ctx.session, suggestion_id=s.id or 0)
    return review_card(ctx.t, ctx.workspace, settings, s, votes)


async def already(ctx: Context, s: Suggestion, *, on_card: bool) -> None:
    """A click on a card that is already past this step: show the card as it is now, change nothing."""
    if on_card:
        ctx.update(await card_for(ctx, s))
    if s.decided_by:
        ctx.ephemeral(
            ctx.t(
                "suggestions.already_decided",
                id=s.id,
                status=status_label(ctx.t, s.status),
                actor=mention(s.decided_by),
            )
        )
    else:
        ctx.ephemeral(ctx.t("suggestions.already_status", id=s.id, status=status_label(ctx.t, s.status)))


async def on_click(ctx: Context, verb: str, raw_id: str) -> None:
    """A decision button on a review card."""
    spec = VERBS[verb]
    s = await load(ctx, raw_id, lock=True)
    await require_decider(ctx, s)
    if s.status not in spec.allowed_from:
        await already(ctx, s, on_card=True)
        return
    if spec.form:
        ctx.modal(reason_form(ctx, verb, s))
        return
    await decide(ctx, s, verb, note=None, on_card=True)


async def on_form(ctx: Context, verb: str, raw_id: str, form: dict[str, str]) -> None:
    """The reason form after a Decline / Mark duplicate / Ask for details click."""
    s = await load(ctx, raw_id, lock=True)
    await require_decider(ctx, s)
    if s.status not in VERBS[verb].allowed_from:
        await already(ctx, s, on_card=False)
        return
    note = (form.get("question" if verb == "ask" else "reason") or "").strip()
    await decide(ctx, s, verb, note=note, original_raw=form.get("original", ""), on_card=False)


async def on_command(ctx: Context, verb: str, args: list[str]) -> None:
    """``suggest approve 12``, ``suggest decline 12 <reason>``, ``suggest duplicate 12 3 <reason>`` …"""
    if not args:
        raise UserError("suggestions.err.need_id", usage=ctx.t(f"suggestions.usage.{verb}"))
    s = await load(ctx, args[0], lock=True)
    await require_decider(ctx, s)
    if s.status not in VERBS[verb].allowed_from:
        await already(ctx, s, on_card=False)
        return
    rest = args[1:]
    original = ""
    if verb == "duplicate":
        original, rest = (rest[0], rest[1:]) if rest else ("", [])
    note = " ".join(rest).strip() or None
    await decide(ctx, s, verb, note=note, original_raw=original, on_card=False)


async def decide(
    ctx: Context, s: Suggestion, verb: str, *, note: str | None, original_raw: str = "", on_card: bool
) -> None:
    spec = VERBS[verb]
    assert s.id is not None
    if spec.form and not note:
        raise UserError("suggestions.err.question_required" if verb == "ask" else "suggestions.err.reason_required")
    if note and len(note) > MAX_NOTE:
        field = ctx.t("suggestions.form.question" if verb == "ask" else "suggestions.form.reason")
        raise UserError("suggestions.err.too_long", field=field, max=MAX_NOTE)
    original: Suggestion | None = None
    if verb == "duplicate":
        original = await resolve_original(ctx, s, original_raw)
    audience = await q.audience(ctx.session, suggestion=s)
    if verb == "ask" and s.status != "submitted":
        ev: SuggestionEvent | None = await q.add_event(
            ctx.session, suggestion_id=s.id, at=ctx.now, kind="question", actor_id=ctx.actor.user_id, note=note
        )
    else:
        ev = await q.transition(
            ctx.session,
            suggestion=s,
            allowed_from=spec.allowed_from,
            to_status=spec.to_status,
            actor_id=ctx.actor.user_id,
            at=ctx.now,
            note=note,
            decision=spec.decision,
            duplicate_of=original.id if original else None,
            kind="question" if verb == "ask" else "status",
        )
    if ev is None:  # someone else was faster
        await already(ctx, s, on_card=on_card)
        return
    await record_audit(ctx.session, ctx.workspace.id, ctx.actor.user_id, f"suggestions.{verb}", None, {"id": s.id})
    if verb == "ask":
        await ask_submitter(ctx, s, ev, note or "")
    else:
        if original is not None and original.id is not None:
            await q.move_support(ctx.session, from_id=s.id, to_id=original.id, at=ctx.now)
            if s.author_id:
                await q.add_follower(ctx.session, suggestion_id=original.id, user_id=s.author_id, at=ctx.now)
        await notify(ctx, s, ev, audience)
    card = await card_for(ctx, s)
    if on_card:
        ctx.update(card)
    else:
        key = (
            "suggestions.confirm.ask_anonymous"
            if verb == "ask" and s.author_id is None
            else f"suggestions.confirm.{verb}"
        )
        ctx.ephemeral(ctx.t(key, id=s.id, original=original.id if original else ""))
        settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
        if settings.review_channel_id and verb != "ask":
            ctx.post(settings.review_channel_id, card, dedupe_key=f"suggest:decided:{ev.id}")


async def resolve_original(ctx: Context, s: Suggestion, raw: str) -> Suggestion:
    oid = parse_id(raw or "")
    if oid is None:
        raise UserError("suggestions.err.original_missing")
    if oid == s.id:
        raise UserError("suggestions.err.original_self")
    original = await load(ctx, oid)
    if original.status == "duplicate":
        raise UserError("suggestions.err.original_is_duplicate", id=oid, original=original.duplicate_of_id)
    return original


async def notify(ctx: Context, s: Suggestion, ev: SuggestionEvent, audience: list[str]) -> None:
    """Tell the known submitter, voters and followers of a status change, each in their own language."""
    for uid in audience:
        if uid == ctx.actor.user_id:
            continue
        member = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=uid)
        t = translator(ctx.workspace, member)
        text = t(
            "suggestions.notify.text",
            id=s.id,
            title=user_text(s.title),
            status=status_label(t, ev.to_status or s.status),
            actor=mention(ev.actor_id or ctx.actor.user_id),
        )
        blocks: list[Block] = [Section(text=text)]
        if ev.note:
            blocks.append(Section(text=t("suggestions.notify.note") + "\n> " + user_text(ev.note)))
        if s.status == "duplicate" and s.duplicate_of_id:
            blocks.append(Note(text=t("suggestions.notify.moved", original=s.duplicate_of_id)))
        if uid == s.author_id:
            blocks.append(Note(text=t("suggestions.notify.yours")))
        elif s.status == "done":
            blocks += thank_blocks(t, s)
        ctx.dm(uid, Message(blocks=blocks, text=text), dedupe_key=f"suggest:n:{ev.id}:{uid}")


async def ask_submitter(ctx: Context, s: Suggestion, ev: SuggestionEvent, question: str) -> None:
    """A question reaches a known submitter by DM; an anonymous one reads it with the receipt code."""
    if s.author_id is None:
        return
    member = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=s.author_id)
    t = translator(ctx.workspace, member)
    sid = str(s.id)
    text = t("suggestions.ask.dm", id=s.id, title=user_text(s.title), actor=mention(ctx.actor.user_id))
    ctx.dm(
        s.author_id,
        Message(
            blocks=[
                Section(text=text + "\n> " + user_text(question)),
                Actions(
                    buttons=[Button(label=t("suggestions.btn.reply"), action_id=f"suggest:reply:{sid}", value=sid)]
                ),
            ],
            text=text,
        ),
        dedupe_key=f"suggest:ask:{ev.id}",
    )


async def reply(ctx: Context, s: Suggestion, answer: str) -> None:
    """The submitter's answer to the latest question goes to the approver who asked it."""
    answer = answer.strip()
    if not answer:
        raise UserError("suggestions.err.answer_required")
    if len(answer) > MAX_NOTE:
        raise UserError("suggestions.err.too_long", field=ctx.t("suggestions.form.answer"), max=MAX_NOTE)
    assert s.id is not None
    questions = [e for e in await q.events(ctx.session, suggestion_id=s.id) if e.kind == "question"]
    if not questions:
        raise UserError("suggestions.err.no_question", id=s.id)
    asker = questions[-1].actor_id
    if s.anonymous:
        ctx.act_anonymously()  # the hour only, a random id, and the approver's message with the hour's batch
    ev = await q.add_event(
        ctx.session,
        suggestion_id=s.id,
        # Anonymous: the hour, but never before the question it answers (the trail stays in order).
        at=max(ctx.now, questions[-1].at),
        kind="answer",
        actor_id=s.author_id,
        note=answer,
        anonymous=s.anonymous,
    )
    if asker:
        member = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=asker)
        t = translator(ctx.workspace, member)
        if s.author_id:
            text = t("suggestions.ask.answered", id=s.id, title=user_text(s.title), who=mention(s.author_id))
        else:
            text = t("suggestions.ask.answered_anonymously", id=s.id, title=user_text(s.title))
        settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
        votes = await q.vote_count(ctx.session, suggestion_id=s.id)
        card = review_card(t, ctx.workspace, settings, s, votes)
        ctx.dm(
            asker,
            Message(blocks=[Section(text=text + "\n> " + user_text(answer)), *card.blocks], text=text),
            dedupe_key=f"suggest:answer:{ev.id}",
        )
    ctx.ephemeral(ctx.t("suggestions.confirm.reply", id=s.id))
