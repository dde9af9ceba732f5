"""The suggestion box for cutting internal bureaucracy, with manager approval.

``suggest`` (``vorschlag``) opens the form; ``suggest <text>`` is the quick path. Approvers decide on
review cards (``suggest:approve:<id>`` …); voters and followers hear of every decision in their own
language; anonymous suggestions store no author at all. ``digest_summary`` feeds the digest.
"""

from __future__ import annotations

from bot.core.events import ActionEvent, CommandEvent
from bot.core.i18n import Translator
from bot.core.jobs import JobContext
from bot.core.messages import Block, Fields, Header, Note, Section, user_text
from bot.core.router import Context, Router, UserError
from handlers.privacy_rules import require_feature
from handlers.suggestions import browse, config, decide, submit
from handlers.suggestions.common import hours_text, load
from handlers.suggestions.jobs import announce_anonymous, remind_approvers
from storage.suggestions import DigestSummary, digest_summary

__all__ = ["DigestSummary", "digest_blocks", "digest_summary", "register"]

ADMIN = {
    "approvers": config.approvers_command,
    "freigeber": config.approvers_command,
    "review-channel": config.review_channel_command,
    "reporting": config.reporting_command,
    "meldestelle": config.reporting_command,
}
NEEDS_ARGUMENT = {  # subcommand → (refusal, usage) when it is given without its argument
    "show": ("suggestions.err.need_id", "suggest show 12"),
    "zeige": ("suggestions.err.need_id", "suggest show 12"),
    "vote": ("suggestions.err.need_id", "suggest vote 12"),
    "follow": ("suggestions.err.need_id", "suggest follow 12"),
    "status": ("suggestions.err.need_code", ""),
    "withdraw": ("suggestions.err.need_code", ""),
    "reply": ("suggestions.err.reply_usage", ""),
}
DECISION_WORDS = {
    "approve": "approve",
    "genehmigen": "approve",
    "decline": "decline",
    "ablehnen": "decline",
    "duplicate": "duplicate",
    "duplikat": "duplicate",
    "ask": "ask",
    "frage": "ask",
    "review": "review",
    "prüfen": "review",
    "start": "start",
    "starten": "start",
    "done": "done",
    "erledigt": "done",
}


def digest_blocks(t: Translator, summary: DigestSummary) -> list[Block]:
    """ "You said, we did": the suggestion part of a digest, in ``t``'s language."""
    median = hours_text(t, summary.median_decision_hours) if summary.median_decision_hours is not None else "—"
    blocks: list[Block] = [
        Header(text=t("suggestions.digest.title")),
        Fields(
            items=[
                (t("suggestions.stats.submitted"), str(summary.submitted)),
                (t("suggestions.stats.decided"), str(summary.decided)),
                (t("suggestions.stats.done"), str(len(summary.done))),
                (t("suggestions.stats.median"), median),
            ]
        ),
    ]
    if summary.done:
        lines = [t("suggestions.digest.done_line", id=sid, title=user_text(title)) for sid, title in summary.done[:10]]
        blocks.append(Section(text=t("suggestions.digest.we_did") + "\n" + "\n".join(lines)))
    else:
        blocks.append(Note(text=t("suggestions.digest.none_done")))
    return blocks


async def suggest_command(ctx: Context) -> None:
    assert isinstance(ctx.event, CommandEvent)
    await require_feature(ctx, "suggestions")
    args = ctx.args
    if not args:
        await submit.open_form(ctx)
        return
    sub, rest = args[0].lower(), args[1:]
    if sub in ADMIN:
        await ADMIN[sub](ctx, rest)
    elif sub in ("deadline", "frist", "anon-limit"):
        await config.number_command(ctx, "deadline" if sub == "frist" else sub, rest)
    elif sub in ("settings", "einstellungen"):
        await config.show_settings(ctx)
    elif sub in ("help", "hilfe", "?"):
        ctx.ephemeral(ctx.t("suggestions.help.long"))
    elif sub in NEEDS_ARGUMENT and not rest:
        key, usage = NEEDS_ARGUMENT[sub]
        raise UserError(key, usage=usage)
    elif sub in ("list", "liste") and len(rest) <= 1:
        await browse.list_command(ctx, rest)
    elif sub in ("show", "zeige", "zeigen") and len(rest) == 1:
        await browse.show_command(ctx, rest)
    elif sub == "status" and len(rest) == 1:
        await browse.status_command(ctx, rest)
    elif sub in ("withdraw", "zurückziehen") and len(rest) == 1:
        await submit.withdraw(ctx, rest[0])
    elif sub in ("reply", "antwort", "antworten"):
        await browse.reply_command(ctx, rest)
    elif sub in ("vote", "abstimmen") and len(rest) == 1:
        await browse.vote(ctx, rest[0])
    elif sub in ("follow", "folgen") and len(rest) == 1:
        await browse.follow(ctx, rest[0])
    elif sub in ("stats", "statistik") and not rest:
        await browse.stats_command(ctx)
    elif sub in DECISION_WORDS and rest and rest[0].lstrip("#").isdigit():
        await decide.on_command(ctx, DECISION_WORDS[sub], rest)
    else:
        await submit.submit(ctx, submit.payload_from_text(ctx, ctx.event.text))


async def suggest_action(ctx: Context) -> None:
    await require_feature(ctx, "suggestions")
    ev = ctx.event
    assert isinstance(ev, ActionEvent)
    parts = ev.action_id.split(":")
    verb = parts[1] if len(parts) > 1 else ""
    target = parts[2] if len(parts) > 2 else ev.value
    if verb == "new" and ev.is_form:
        await submit.submit(ctx, await submit.payload_from_form(ctx, ev.form))
    elif verb == "from_answer":
        await submit.open_form(ctx, problem=prefill_from(ev.value))
    elif verb in ("submit", "discard"):
        await submit.from_draft(ctx, ev.value, discard=verb == "discard")
    elif verb in decide.VERBS:
        if ev.is_form:
            await decide.on_form(ctx, verb, target, ev.form)
        else:
            await decide.on_click(ctx, verb, target)
    elif verb == "vote":
        draft = ev.value.split("|", 1)[1] if "|" in ev.value else None
        await browse.vote(ctx, target, draft=draft)
    elif verb == "follow":
        await browse.follow(ctx, target)
    elif verb == "thank":
        await browse.thank(ctx, target)
    elif verb == "card":
        s = await load(ctx, target)
        ctx.ephemeral(await decide.card_for(ctx, s))
    elif verb == "reply":
        s = await load(ctx, target)
        browse.require_author(ctx, s)
        if ev.is_form:
            await decide.reply(ctx, s, ev.form.get("answer", ""))
        else:
            ctx.modal(decide.reply_form(ctx, s))
    else:
        raise UserError("suggestions.err.unknown_action")


def prefill_from(value: str) -> str:
    """The text a hand-off brings along; a bare id (which only its own feature can resolve) brings none."""
    text = (value or "").strip()
    return "" if text.isdigit() or len(text) > submit.MAX_TEXT else text


async def announcements_job(job: JobContext) -> None:
    await announce_anonymous(job)


async def reminders_job(job: JobContext) -> None:
    await remind_approvers(job)


def register(router: Router) -> None:
    router.command(
        "suggest",
        aliases=("vorschlag", "vorschläge", "suggestions"),
        help_key="suggestions.help.short",
        feature="suggestions",
    )(suggest_command)
    router.action("suggest", feature="suggestions")(suggest_action)
    router.schedule("suggestion_announcements", feature="suggestions")(announcements_job)
    router.schedule("suggestion_reminders", feature="suggestions")(reminders_job)
