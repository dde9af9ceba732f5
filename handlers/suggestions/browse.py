"""Browsing and taking part: list, show, status by receipt code, vote, follow, reply, thank, stats."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.messages import Block, Fields, Header, Message, Note, Section, mention, plain, user_text
from bot.core.router import Context, UserError
from handlers.privacy_rules import group_figure_ok, require_feature
from handlers.suggestions.cards import history_lines, public_card
from handlers.suggestions.common import hours_text, load, may_decide, parse_id, status_label
from handlers.suggestions.decide import reply
from storage import suggestions as q
from storage.suggestions import OPEN, Suggestion

LIST_FILTERS: dict[str, tuple[str, ...] | None] = {
    "open": ("submitted", "in_review"),
    "approved": ("approved", "in_progress"),
    "done": ("done",),
    "declined": ("declined",),
    "all": None,
}
LIST_ALIASES = {
    "offen": "open",
    "genehmigt": "approved",
    "erledigt": "done",
    "umgesetzt": "done",
    "abgelehnt": "declined",
    "alle": "all",
}
MINE = ("mine", "meine", "my")
KUDOS_TITLE_RE = re.compile(r"<[@#!][^>]*>|[#@*_`~<>]")


async def list_command(ctx: Context, args: list[str]) -> None:
    """``suggest list [open|approved|done|declined|all] [mine]``: a status filter, mine, or both."""
    words = [a.lower() for a in args]
    mine = any(w in MINE for w in words)
    statuses = [LIST_ALIASES.get(w, w) for w in words if w not in MINE]
    for raw, status in zip([a for a in args if a.lower() not in MINE], statuses, strict=True):
        if status not in LIST_FILTERS:
            raise UserError("suggestions.err.list_filter", arg=raw)
    if len(statuses) > 1:
        raise UserError("suggestions.err.list_filter", arg=" ".join(args))
    which = "mine" if mine and not statuses else (statuses[0] if statuses else "open")
    rows = await q.list_suggestions(
        ctx.session,
        workspace_id=ctx.workspace.id,
        statuses=LIST_FILTERS[statuses[0]] if statuses else (None if mine else LIST_FILTERS["open"]),
        author_id=ctx.actor.user_id if mine else None,
    )
    title = ctx.t(f"suggestions.list.title.{which}")
    which = "mine" if mine else which
    blocks: list[Block] = [Header(text=title)]
    if rows:
        lines = [
            ctx.t(
                "suggestions.list.line",
                id=s.id,
                title=user_text(s.title),
                status=status_label(ctx.t, s.status),
                votes=ctx.t.plural("suggestions.votes", votes),
            )
            for s, votes in rows
        ]
        blocks.append(Section(text="\n".join(lines)))
    else:
        blocks.append(Section(text=ctx.t("suggestions.list.empty")))
    blocks.append(Note(text=ctx.t("suggestions.list.mine_note" if which in MINE else "suggestions.list.hint")))
    ctx.ephemeral(Message(blocks=blocks, text=title))


async def show_command(ctx: Context, args: list[str]) -> None:
    if not args:
        raise UserError("suggestions.err.need_id", usage="suggest show 12")
    s = await load(ctx, args[0])
    assert s.id is not None
    settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    votes = await q.vote_count(ctx.session, suggestion_id=s.id)
    history = history_lines(ctx.t, ctx.workspace, await q.events(ctx.session, suggestion_id=s.id))
    decider = await may_decide(ctx, s)
    ctx.ephemeral(public_card(ctx.t, ctx.workspace, settings, s, votes, history=history, decider=decider))


async def status_command(ctx: Context, args: list[str]) -> None:
    """``suggest status CODE``: the state of an anonymous suggestion, its questions and answers."""
    if not args:
        raise UserError("suggestions.err.need_code")
    raw = args[0]
    s = await q.by_receipt(ctx.session, workspace_id=ctx.workspace.id, code=raw)
    if s is None:
        if parse_id(raw) is not None:
            await show_command(ctx, args)
            return
        raise UserError("suggestions.err.unknown_code")
    assert s.id is not None
    settings = await q.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    votes = await q.vote_count(ctx.session, suggestion_id=s.id)
    events = await q.events(ctx.session, suggestion_id=s.id)
    blocks: list[Block] = [
        Header(text=ctx.t("suggestions.card.header", id=s.id)),
        Section(text="*" + user_text(s.title) + "*"),
        Fields(
            items=[
                (ctx.t("suggestions.card.status"), status_label(ctx.t, s.status)),
                (ctx.t("suggestions.card.votes"), str(votes)),
            ]
        ),
    ]
    if s.announced_at is None:
        blocks.append(Note(text=ctx.t("suggestions.receipt.pending")))
    if s.decision_note:
        blocks.append(Section(text=ctx.t("suggestions.notify.note") + "\n> " + user_text(s.decision_note)))
    history = history_lines(ctx.t, ctx.workspace, events)
    if history:
        blocks.append(Section(text="\n".join(history)))
    open_question = bool(events) and any(e.kind == "question" for e in events) and events[-1].kind == "question"
    if open_question:
        blocks.append(Note(text=ctx.t("suggestions.receipt.reply_hint", code=raw.upper())))
    blocks.append(Note(text=ctx.t("suggestions.receipt.deadline_days", days=settings.deadline_days)))
    ctx.ephemeral(Message(blocks=blocks, text=ctx.t("suggestions.card.fallback", id=s.id)))


async def reply_command(ctx: Context, args: list[str]) -> None:
    """``suggest reply CODE <answer>`` (anonymous) or ``suggest reply 12 <answer>`` (the named submitter)."""
    if len(args) < 2:
        raise UserError("suggestions.err.reply_usage")
    s = await q.by_receipt(ctx.session, workspace_id=ctx.workspace.id, code=args[0])
    if s is None:
        if parse_id(args[0]) is None:
            raise UserError("suggestions.err.unknown_code")
        s = await load(ctx, args[0])
        require_author(ctx, s)
    await reply(ctx, s, " ".join(args[1:]))


def require_author(ctx: Context, s: Suggestion) -> None:
    if s.author_id is None:
        raise UserError("suggestions.err.use_code")
    if s.author_id != ctx.actor.user_id:
        raise UserError("suggestions.err.not_author", id=s.id)


async def vote(ctx: Context, raw_id: str, *, draft: str | None = None) -> None:
    """One vote per person; from the similar-suggestion hint, the held-back draft is discarded too."""
    await require_feature(ctx, "votes")
    s = await load(ctx, raw_id, lock=True)  # waits for a decision in progress (e.g. moving votes of a duplicate)
    assert s.id is not None
    if s.status not in OPEN:
        if s.status == "duplicate" and s.duplicate_of_id:
            raise UserError("suggestions.err.vote_duplicate", id=s.id, original=s.duplicate_of_id)
        raise UserError("suggestions.err.vote_closed", id=s.id, status=status_label(ctx.t, s.status))
    if not await q.add_vote(ctx.session, suggestion_id=s.id, user_id=ctx.actor.user_id, at=ctx.now):
        raise UserError("suggestions.err.voted_twice", id=s.id)
    votes = await q.vote_count(ctx.session, suggestion_id=s.id)
    text = ctx.t("suggestions.voted", id=s.id, votes=ctx.t.plural("suggestions.votes", votes))
    if draft and await q.take_draft(ctx.session, workspace_id=ctx.workspace.id, token=draft) is not None:
        text += "\n" + ctx.t("suggestions.similar.discarded")
    ctx.ephemeral(text)


async def follow(ctx: Context, raw_id: str) -> None:
    s = await load(ctx, raw_id, lock=True)
    assert s.id is not None
    if s.author_id == ctx.actor.user_id:
        ctx.ephemeral(ctx.t("suggestions.follow_own", id=s.id))
        return
    added = await q.add_follower(ctx.session, suggestion_id=s.id, user_id=ctx.actor.user_id, at=ctx.now)
    ctx.ephemeral(ctx.t("suggestions.followed" if added else "suggestions.already_following", id=s.id))


async def thank(ctx: Context, raw_id: str) -> None:
    """Kudos to the submitter of a done suggestion, through the kudos feature's own give path."""
    from handlers import kudos

    s = await load(ctx, raw_id)
    if s.status != "done":
        raise UserError("suggestions.err.thank_not_done", id=s.id)
    if s.author_id is None:
        raise UserError("suggestions.thank.anonymous")
    title = " ".join(KUDOS_TITLE_RE.sub(" ", s.title).split())[:80]
    reason = plain(ctx.t("suggestions.thank.reason", id=s.id, title=title))  # kudos text to parse, not a message
    await kudos.give(ctx, f"{mention(s.author_id)} {reason}", source="suggestion", moment=("suggestion", s.id or 0))


async def stats_command(ctx: Context) -> None:
    """Figures of the last 90 days, the same the digest shows."""
    since = ctx.now - timedelta(days=90)
    summary = await q.digest_summary(ctx.session, ctx.workspace.id, since, ctx.now)
    if not await group_figure_ok(ctx.session, ctx.workspace.id, summary.deciders):
        summary.median_decision_hours = None  # a few approvers' response time is a per-person figure
    median = hours_text(ctx.t, summary.median_decision_hours) if summary.median_decision_hours is not None else "—"
    ctx.ephemeral(
        Message(
            blocks=[
                Header(text=ctx.t("suggestions.stats.title")),
                Fields(
                    items=[
                        (ctx.t("suggestions.stats.submitted"), str(summary.submitted)),
                        (ctx.t("suggestions.stats.decided"), str(summary.decided)),
                        (ctx.t("suggestions.stats.done"), str(len(summary.done))),
                        (ctx.t("suggestions.stats.median"), median),
                    ]
                ),
            ],
            text=ctx.t("suggestions.stats.title"),
        )
    )
