"""Submitting: the form, the quick path, the similar-suggestion hint, and the receipt."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog

from bot.core.jobs import zone
from bot.core.messages import Actions, Block, Button, Form, Input, Message, Note, Option, Section, user_text
from bot.core.router import Context, UserError
from handlers.suggestions.anonymity import limiter_for, new_receipt_code
from handlers.suggestions.cards import review_deliveries
from handlers.suggestions.common import category_label, floor_hour, status_label
from handlers.suggestions.similar import Embed, similar, text_of
from storage import core
from storage import suggestions as q
from storage.suggestions import CATEGORIES, Suggestion, SuggestionDraft

log = structlog.get_logger("starling.suggestions")

MAX_TITLE = 120
MAX_TEXT = 2000
MIN_QUICK = 10


async def open_form(ctx: Context, *, problem: str = "", title: str = "") -> None:
    settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    departments = await q.departments(ctx.session, workspace_id=ctx.workspace.id)
    notice = ctx.t("suggestions.form.not_whistleblowing")
    if settings.reporting_text:
        notice += " " + ctx.t("suggestions.form.reporting", pointer=settings.reporting_text)
    inputs = [
        Input(id="title", label=ctx.t("suggestions.form.title"), max_length=MAX_TITLE, initial=title or None),
        Input(
            id="problem",
            label=ctx.t("suggestions.form.problem"),
            type="multiline",
            max_length=MAX_TEXT,
            initial=problem or None,
        ),
        Input(id="proposal", label=ctx.t("suggestions.form.proposal"), type="multiline", max_length=MAX_TEXT),
        Input(
            id="category",
            label=ctx.t("suggestions.form.category"),
            type="select",
            options=[Option(value=c, label=category_label(ctx.t, c)) for c in CATEGORIES],
        ),
    ]
    if departments:
        inputs.append(
            Input(
                id="department",
                label=ctx.t("suggestions.form.department"),
                type="select",
                required=False,
                options=[Option(value=d, label=d) for d in departments[:99]],
            )
        )
    inputs += [
        Input(id="customers", label=ctx.t("suggestions.form.customers"), type="checkbox", required=False),
        Input(
            id="anonymous",
            label=ctx.t("suggestions.form.anonymous") + " " + notice,
            type="checkbox",
            required=False,
        ),
    ]
    ctx.modal(
        Form(
            title=ctx.t("suggestions.form.heading"),
            action_id="suggest:new",
            submit_label=ctx.t("suggestions.form.submit"),
            inputs=inputs,
        )
    )


def _checked(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "ja", "on", "y", "j")


async def payload_from_form(ctx: Context, form: dict[str, str]) -> dict[str, Any]:
    """Validate a submitted form; every empty or bad field gets its own friendly refusal."""
    values = {k: (form.get(k) or "").strip() for k in ("title", "problem", "proposal", "category", "department")}
    for key in ("title", "problem", "proposal"):
        if not values[key]:
            raise UserError("suggestions.err.empty_field", field=ctx.t(f"suggestions.form.{key}"))
    if len(values["title"]) > MAX_TITLE:
        raise UserError("suggestions.err.too_long", field=ctx.t("suggestions.form.title"), max=MAX_TITLE)
    for key in ("problem", "proposal"):
        if len(values[key]) > MAX_TEXT:
            raise UserError("suggestions.err.too_long", field=ctx.t(f"suggestions.form.{key}"), max=MAX_TEXT)
    category = values["category"].lower()
    if category not in CATEGORIES:
        raise UserError(
            "suggestions.err.category", choices=", ".join(f"{c} ({category_label(ctx.t, c)})" for c in CATEGORIES)
        )
    department = values["department"] or None
    if department is not None:
        known = await q.departments(ctx.session, workspace_id=ctx.workspace.id)
        match = next((d for d in known if d.lower() == department.lower()), None)
        if match is None:
            raise UserError(
                "suggestions.err.department",
                department=user_text(department),
                known=", ".join(user_text(k) for k in known) or "—",
            )
        department = match
    return {
        "title": values["title"],
        "problem": values["problem"],
        "proposal": values["proposal"],
        "category": category,
        "department": department,
        "affects_customers": _checked(form.get("customers")),
        "anonymous": _checked(form.get("anonymous")),
    }


def payload_from_text(ctx: Context, text: str) -> dict[str, Any]:
    text = text.strip()
    if len(text) < MIN_QUICK:
        raise UserError("suggestions.err.quick_short", min=MIN_QUICK)
    if len(text) > MAX_TEXT:
        raise UserError("suggestions.err.too_long", field=ctx.t("suggestions.form.problem"), max=MAX_TEXT)
    first = text.splitlines()[0]
    title = first if len(first) <= 80 else first[:80].rsplit(" ", 1)[0] + " …"
    return {
        "title": title,
        "problem": text,
        "proposal": "",
        "category": "other",
        "department": None,
        "affects_customers": False,
        "anonymous": False,
    }


async def submit(ctx: Context, payload: dict[str, Any], *, check_similar: bool = True) -> None:
    """Show similar suggestions first (held as a draft), or create the suggestion.

    An anonymous submission is created at once, with the similar ones in its receipt: a "submit
    anyway" button would put the submitter's click on record (platforms' action ids name the person),
    while withdrawing by receipt code (``suggest withdraw CODE``) before the hour's batch does not.
    """
    vector: list[float] | None = None
    found: list[tuple[Suggestion, float]] = []
    if check_similar:
        candidates = await q.candidates(ctx.session, workspace_id=ctx.workspace.id)
        quick = payload["problem"].startswith(payload["title"].removesuffix(" …"))
        text = payload["problem"] if quick else text_of(payload["title"], payload["problem"], payload["proposal"])
        found, vector = await similar(embedder(ctx), text, candidates)
        if found and not payload.get("anonymous"):
            await hold_draft(ctx, payload, found)
            return
    await create(ctx, payload, embedding=vector, similar_found=found)


def embedder(ctx: Context) -> Embed | None:
    """The model's embeddings, asked before the event's transaction (a model call never holds the database)."""
    model, ws = ctx.services.model, ctx.workspace.id  # the one gate: switch, profile, scrubbing
    if not model.configured:
        return None

    async def embed(texts: Sequence[str]) -> list[list[float]] | None:
        batch = tuple(texts)
        return await ctx.before_transaction(("embed", batch), lambda: model.embed(ws, batch))

    return embed


async def similar_lines(ctx: Context, found: list[tuple[Suggestion, float]]) -> list[str]:
    lines = []
    for s, _score in found:
        votes = await q.vote_count(ctx.session, suggestion_id=s.id or 0)
        lines.append(
            ctx.t(
                "suggestions.similar.line",
                id=s.id,
                title=user_text(s.title),
                status=status_label(ctx.t, s.status),
                votes=ctx.t.plural("suggestions.votes", votes),
            )
        )
    return lines


async def hold_draft(ctx: Context, payload: dict[str, Any], found: list[tuple[Suggestion, float]]) -> None:
    token = secrets.token_urlsafe(18)
    ctx.session.add(SuggestionDraft(token=token, workspace_id=ctx.workspace.id, payload=payload, created_at=ctx.now))
    await ctx.session.flush()
    buttons = [
        Button(
            label=ctx.t("suggestions.btn.vote_for", id=s.id),
            action_id=f"suggest:vote:{s.id}",
            value=f"{s.id}|{token}",  # voting instead discards the draft
        )
        for s, _score in found
    ]
    buttons += [
        Button(label=ctx.t("suggestions.btn.submit_anyway"), action_id="suggest:submit", value=token, style="primary"),
        Button(label=ctx.t("suggestions.btn.discard"), action_id="suggest:discard", value=token),
    ]
    blocks: list[Block] = [
        Section(text=ctx.t("suggestions.similar.intro")),
        Section(text="\n".join(await similar_lines(ctx, found))),
        Actions(buttons=buttons),
    ]
    ctx.ephemeral(Message(blocks=blocks, text=ctx.t("suggestions.similar.intro")))


async def from_draft(ctx: Context, token: str, *, discard: bool = False) -> None:
    payload = await q.take_draft(ctx.session, workspace_id=ctx.workspace.id, token=token)
    if payload is None:
        raise UserError("suggestions.err.draft_gone")
    if discard:
        ctx.ephemeral(ctx.t("suggestions.similar.discarded"))
        return
    await create(ctx, payload, embedding=None)


async def create(
    ctx: Context,
    payload: dict[str, Any],
    *,
    embedding: list[float] | None,
    similar_found: list[tuple[Suggestion, float]] | None = None,
) -> None:
    """Store the suggestion and its first event; the author (if named) gets a receipt, reviewers the card."""
    ws = ctx.workspace
    anonymous = bool(payload.get("anonymous"))
    code = await _anonymous_slot(ctx) if anonymous else None
    s = Suggestion(
        id=await core.new_row_id(ctx.session, Suggestion, anonymous=anonymous),  # random when anonymous
        workspace_id=ws.id,
        title=payload["title"],
        problem=payload["problem"],
        proposal=payload.get("proposal") or "",
        category=payload.get("category") or "other",
        department=payload.get("department"),
        affects_customers=bool(payload.get("affects_customers")),
        anonymous=anonymous,
        author_id=None if anonymous else ctx.actor.user_id,
        receipt_hash=q.receipt_hash(code) if code else None,
        embedding=embedding,
        # Anonymous: only the hour is kept, and the card goes out with the hour's batch (see jobs.py).
        created_at=floor_hour(ctx.now) if anonymous else ctx.now,
        announced_at=None if anonymous else ctx.now,
    )
    ctx.session.add(s)
    await ctx.session.flush()
    assert s.id is not None
    await q.add_event(
        ctx.session,
        suggestion_id=s.id,
        at=s.created_at,
        actor_id=s.author_id,
        to_status="submitted",
        anonymous=anonymous,
    )
    if code is not None:
        limiter_for(ctx.services).record(ws.id, ctx.actor.user_id, ctx.now.date())
        await _anonymous_receipt(ctx, s, code, similar_found)
    else:
        await _named_receipt(ctx, s)
    # Anonymous submissions are not logged at all: a log line's time next to a platform's request log
    # could point to the person.


async def _anonymous_slot(ctx: Context) -> str:
    """A receipt code, if the rate limits (which store no identity, see anonymity.py) allow one more."""
    # From here on nothing this event writes carries more than the hour (see Context.anonymous).
    ctx.act_anonymously()
    ws = ctx.workspace
    limiter = limiter_for(ctx.services)
    if not limiter.allowed(ws.id, ctx.actor.user_id, ctx.now.date()):
        raise UserError("suggestions.err.anon_daily", max=limiter.per_day)
    settings = await q.get_settings(ctx.session, workspace_id=ws.id)
    hour = ctx.now.strftime("%Y-%m-%dT%H")
    if not await q.take_anon_slot(ctx.session, workspace_id=ws.id, hour=hour, limit=settings.anon_hourly_limit):
        raise UserError("suggestions.err.anon_busy")
    return new_receipt_code()


async def _anonymous_receipt(
    ctx: Context, s: Suggestion, code: str, similar_found: list[tuple[Suggestion, float]] | None
) -> None:
    """The receipt code (and similar suggestions to vote for instead), shown only to the author."""
    ws = ctx.workspace
    blocks: list[Block] = [
        Section(text=ctx.t("suggestions.receipt.anonymous", id=s.id)),
        Section(text=ctx.t("suggestions.receipt.code", code=code)),
    ]
    if similar_found:
        batch = (floor_hour(ctx.now) + timedelta(hours=1)).astimezone(zone(ws.timezone)).strftime("%H:%M")
        blocks += [
            Section(text=ctx.t("suggestions.similar.anonymous", code=code, time=batch)),
            Section(text="\n".join(await similar_lines(ctx, similar_found))),
            Actions(
                buttons=[
                    Button(
                        label=ctx.t("suggestions.btn.vote_for", id=o.id),
                        action_id=f"suggest:vote:{o.id}",
                        value=str(o.id),
                    )
                    for o, _score in similar_found
                ]
            ),
        ]
    blocks.append(Note(text=ctx.t("suggestions.receipt.anonymous_note")))
    # In the submitted form itself (Slack: the modal's view; Teams: the card), never a stored message.
    ctx.in_place(Message(blocks=blocks, text=ctx.t("suggestions.receipt.anonymous", id=s.id)))


async def _named_receipt(ctx: Context, s: Suggestion) -> None:
    """A named suggestion goes to its reviewers at once; the author gets a receipt."""
    ws = ctx.workspace
    deliveries = await review_deliveries(ctx.session, ws, s)
    for d in deliveries:
        if d.kind == "channel":
            ctx.post(d.target, d.message, dedupe_key=f"suggest:review:{s.id}:{d.target}")
        else:
            ctx.dm(d.target, d.message, dedupe_key=f"suggest:review:{s.id}:{d.target}")
    ctx.ephemeral(
        Message(
            blocks=[
                Section(text=ctx.t("suggestions.receipt.named", id=s.id, title=user_text(s.title))),
                Note(text=ctx.t("suggestions.receipt.named_note", id=s.id)),
            ],
            text=ctx.t("suggestions.receipt.named", id=s.id, title=user_text(s.title)),
        )
    )
    log.info("suggestion_submitted", workspace=ws.id, suggestion=s.id)


async def withdraw(ctx: Context, code: str) -> None:
    """``suggest withdraw CODE``: an anonymous suggestion can be taken back until its hour's batch goes out."""
    s = await q.by_receipt(ctx.session, workspace_id=ctx.workspace.id, code=code)
    if s is None:
        raise UserError("suggestions.err.unknown_code")
    if s.announced_at is not None:
        raise UserError("suggestions.err.withdraw_late", id=s.id)
    await ctx.session.delete(s)  # its audit rows go with it (ON DELETE CASCADE)
    await ctx.session.flush()
    ctx.ephemeral(ctx.t("suggestions.withdrawn", id=s.id))
