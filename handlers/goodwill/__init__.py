"""The goodwill budget (Kulanzbudget): room to settle small customer cases on the spot.

Admins give a team a budget (``goodwill budget #service 10000 CHF per year, per case 200``); anyone in
the team logs a case in one line (``goodwill 80 CHF Versandkosten erstattet #kundenfokus ref:T-4711``)
or a form. Within the per-case limit and what is left it is approved by rule at once; otherwise the
team's approvers decide on the shared decision card (:mod:`handlers.decisions`). The ledger is
append-only (``goodwill reverse 12 <reason>``), ``goodwill export 2026`` gives finance a CSV, and the
digest shows spend against budget and the kudos that went to customer moments. Spend is never shown
per person.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.events import CommandEvent
from bot.core.jobs import JobContext
from bot.core.messages import Block, Section
from bot.core.router import Arg, Context, Router, UserError
from handlers.digests.sections import register_section
from handlers.goodwill import budget, cases, jobs, report
from handlers.goodwill.money import split_amount
from handlers.privacy_rules import declare_sheet_lines
from storage import goodwill as q


async def goodwill_intro(ctx: Context) -> list[Block]:
    """What the budget is for, above the generated list of ``goodwill`` subcommands."""
    return [Section(text=ctx.t("goodwill.help.intro"))]


async def log_line(ctx: Context) -> None:
    """``goodwill 80 CHF Versandkosten erstattet #kundenfokus ref:T-4711``: words that are no subcommand."""
    assert isinstance(ctx.event, CommandEvent)
    if split_amount(ctx.event.text.split())[0] is None:
        raise UserError("goodwill.err.no_amount")
    await cases.log_case(ctx, cases.parse_line(ctx.event.text), submission_key=cases.submission_key(ctx))


async def ledger_job(job: JobContext) -> None:
    """Ledger lines older than the bookkeeping period (and their cases) are deleted. A year's lines run out
    together at the turn of a year, so the job looks once a day in January and touches nothing otherwise."""
    if job.now.month != 1:
        return
    day = job.now.date().isoformat()
    if not await job.claim(workspace_id="*", channel_id="*", kind="goodwill_ledger", period=day):
        return
    # The period runs from the end of the calendar year of the booking (HGB § 257 (5), AO § 147 (4)).
    await q.purge_ledger(job.session, before=datetime(job.now.year - q.LEDGER_YEARS, 1, 1, tzinfo=UTC))


def register(router: Router) -> None:
    goodwill = router.command(
        "goodwill",
        aliases=("kulanz", "kulanzbudget"),
        help_key="goodwill.help.short",
        feature="goodwill",
        intro=goodwill_intro,
        default="show",
    )
    goodwill.fallback(help_key="goodwill.help.sub.log", usage_key="goodwill.help.log_usage")(log_line)
    rest = (Arg.text(optional=True),)
    decision = (Arg.number("id"), Arg.text("note", optional=True))

    @goodwill.sub("show", de="anzeigen", help_key="goodwill.help.sub.show")
    async def _show(ctx: Context) -> None:
        await budget.show_command(ctx)

    @goodwill.sub("form", de="formular", aliases=("neu", "new"), help_key="goodwill.help.sub.form")
    async def _form(ctx: Context) -> None:
        await cases.open_form(ctx)

    @goodwill.sub("budget", args=rest, help_key="goodwill.help.sub.budget")
    async def _budget(ctx: Context) -> None:
        await budget.budget_command(ctx, ctx.args)

    @goodwill.sub("team", de="mitglieder", aliases=("members",), args=rest, help_key="goodwill.help.sub.team")
    async def _team(ctx: Context) -> None:
        await budget.members_command(ctx, ctx.args)

    @goodwill.sub("export", args=rest, help_key="goodwill.help.sub.export")
    async def _export(ctx: Context) -> None:
        await report.export_command(ctx, ctx.args)

    for verb, de in (("approve", "genehmigen"), ("decline", "ablehnen")):

        async def _decide(ctx: Context, verb: str = verb) -> None:
            note = str(ctx.params.get("note") or "").strip() or None
            await cases.decide(ctx, str(ctx.params["id"]), verb, note=note, on_card=False)

        goodwill.sub(
            verb, de=de, args=decision, error_key="goodwill.err.need_id", help_key=f"goodwill.help.sub.{verb}"
        )(_decide)

    @goodwill.sub("reverse", de="storno", aliases=("stornieren",), args=rest, help_key="goodwill.help.sub.reverse")
    async def _reverse(ctx: Context) -> None:
        await cases.reverse(ctx, ctx.args)

    router.action("goodwill", feature="goodwill")(cases.on_action)
    # Deleting ledger lines whose bookkeeping period is over is retention: it runs whatever the switch says.
    router.schedule("goodwill_ledger", feature="privacy")(ledger_job)
    router.schedule("goodwill_reminders", feature="goodwill")(jobs.remind_approvers)
    register_section("goodwill", report.goodwill_section, order=55)
    register_section("customer-moments", report.moments_section, order=35)
    declare_sheet_lines(
        "goodwill", "goodwill.sheet.ledger", "goodwill.sheet.persons", "goodwill.sheet.forget", "goodwill.sheet.ranking"
    )
