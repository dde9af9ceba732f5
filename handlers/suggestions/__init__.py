"""The suggestion box for cutting internal bureaucracy, with manager approval.

``suggest`` (``vorschlag``) opens the form; ``suggest <text>`` is the quick path. Approvers decide on
review cards (``suggest:approve:<id>`` …); voters and followers hear of every decision in their own
language; anonymous suggestions store no author at all. ``digest_summary`` feeds the digest.
"""

from __future__ import annotations

from bot.core.commands import Arg
from bot.core.events import ActionEvent, CommandEvent
from bot.core.i18n import Translator
from bot.core.jobs import JobContext
from bot.core.messages import Block, Fields, Header, Note, Section, user_text
from bot.core.router import Context, Router, UserError
from handlers.suggestions import browse, config, decide, submit
from handlers.suggestions.common import hours_text, load
from handlers.suggestions.jobs import announce_anonymous, remind_approvers
from storage.suggestions import DigestSummary, digest_summary

__all__ = ["DigestSummary", "digest_blocks", "digest_summary", "register"]

DECISIONS = {  # the deciders' verbs, by their English and German words
    "approve": "genehmigen",
    "decline": "ablehnen",
    "duplicate": "duplikat",
    "ask": "frage",
    "review": "prüfen",
    "start": "starten",
    "done": "erledigt",
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


async def suggestions_intro(ctx: Context) -> list[Block]:
    """What the box is (and is not), above the generated list of ``suggest`` subcommands."""
    return [Section(text=ctx.t("suggestions.help.intro"))]


async def suggest_action(ctx: Context) -> None:
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
    suggest = router.command(
        "suggest",
        aliases=("vorschlag", "vorschläge", "suggestions"),
        help_key="suggestions.help.short",
        feature="suggestions",
        intro=suggestions_intro,
    )

    # Words that do not fit a subcommand's arguments (``suggest list of forms is too long``) are a suggestion.
    @suggest.fallback(help_key="suggestions.help.sub.submit", usage_key="suggestions.help.submit_usage")
    async def _submit(ctx: Context) -> None:
        if not ctx.rest:
            await submit.open_form(ctx)
            return
        assert isinstance(ctx.event, CommandEvent)
        await submit.submit(ctx, submit.payload_from_text(ctx, ctx.event.text))

    one_id = (Arg.word("id", label_key="core.arg.number"),)
    one_code = (Arg.word("code", label_key="suggestions.help.arg.code"),)

    @suggest.sub(
        "list", de="liste", args=(Arg.word("filter", optional=True),), loose=True, help_key="suggestions.help.sub.list"
    )
    async def _list(ctx: Context) -> None:
        await browse.list_command(ctx, ctx.args)

    @suggest.sub(
        "show",
        de="zeige",
        aliases=("zeigen",),
        args=one_id,
        loose=True,
        error_key="suggestions.err.need_id",
        help_key="suggestions.help.sub.show",
    )
    async def _show(ctx: Context) -> None:
        await browse.show_command(ctx, ctx.args)

    @suggest.sub(
        "status",
        args=one_code,
        loose=True,
        error_key="suggestions.err.need_code",
        help_key="suggestions.help.sub.status",
    )
    async def _status(ctx: Context) -> None:
        await browse.status_command(ctx, ctx.args)

    @suggest.sub(
        "reply",
        de="antwort",
        aliases=("antworten",),
        args=(Arg.text("answer"),),
        error_key="suggestions.err.reply_usage",
        help_key="suggestions.help.sub.reply",
    )
    async def _reply(ctx: Context) -> None:
        await browse.reply_command(ctx, ctx.args)

    @suggest.sub(
        "withdraw",
        de="zurückziehen",
        args=one_code,
        loose=True,
        error_key="suggestions.err.need_code",
        help_key="suggestions.help.sub.withdraw",
    )
    async def _withdraw(ctx: Context) -> None:
        await submit.withdraw(ctx, ctx.params["code"])

    @suggest.sub(
        "vote",
        de="abstimmen",
        args=one_id,
        loose=True,
        error_key="suggestions.err.need_id",
        help_key="suggestions.help.sub.vote",
    )
    async def _vote(ctx: Context) -> None:
        await browse.vote(ctx, ctx.params["id"])

    @suggest.sub(
        "follow",
        de="folgen",
        args=one_id,
        loose=True,
        error_key="suggestions.err.need_id",
        help_key="suggestions.help.sub.follow",
    )
    async def _follow(ctx: Context) -> None:
        await browse.follow(ctx, ctx.params["id"])

    @suggest.sub("stats", de="statistik", loose=True, help_key="suggestions.help.sub.stats")
    async def _stats(ctx: Context) -> None:
        await browse.stats_command(ctx)

    decision = (Arg.number("id"), Arg.text("note", optional=True))
    for verb, de in DECISIONS.items():

        async def _decide(ctx: Context, verb: str = verb) -> None:
            await decide.on_command(ctx, verb, ctx.args)

        suggest.sub(verb, de=de, args=decision, loose=True, help_key=f"suggestions.help.sub.{verb}")(_decide)

    rest = (Arg.text(optional=True),)

    @suggest.sub("settings", de="einstellungen", help_key="suggestions.help.sub.settings")
    async def _settings(ctx: Context) -> None:
        await config.show_settings(ctx)

    @suggest.sub("approvers", de="freigeber", args=rest, help_key="suggestions.help.sub.approvers")
    async def _approvers(ctx: Context) -> None:
        await config.approvers_command(ctx, ctx.args)

    @suggest.sub(
        "review-channel", de="prüfkanal", args=rest, admin=True, help_key="suggestions.help.sub.review_channel"
    )
    async def _review_channel(ctx: Context) -> None:
        await config.review_channel_command(ctx, ctx.args)

    @suggest.sub("reporting", de="meldestelle", args=rest, admin=True, help_key="suggestions.help.sub.reporting")
    async def _reporting(ctx: Context) -> None:
        await config.reporting_command(ctx, ctx.args)

    @suggest.sub("deadline", de="frist", args=rest, admin=True, help_key="suggestions.help.sub.deadline")
    async def _deadline(ctx: Context) -> None:
        await config.number_command(ctx, "deadline", ctx.args)

    @suggest.sub("anon-limit", args=rest, admin=True, help_key="suggestions.help.sub.anon_limit")
    async def _anon_limit(ctx: Context) -> None:
        await config.number_command(ctx, "anon-limit", ctx.args)

    router.action("suggest", feature="suggestions")(suggest_action)
    router.schedule("suggestion_announcements", feature="suggestions")(announcements_job)
    router.schedule("suggestion_reminders", feature="suggestions")(reminders_job)
