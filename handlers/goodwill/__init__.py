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
from bot.core.router import Context, Router, UserError
from handlers.digests.sections import register_section
from handlers.goodwill import budget, cases, report
from handlers.goodwill.money import split_amount
from handlers.privacy_rules import declare_sheet_lines, require_feature
from storage import goodwill as q

APPROVE = ("approve", "genehmigen")
DECLINE = ("decline", "ablehnen")
REVERSE = ("reverse", "storno", "stornieren", "reversal")


async def goodwill_command(ctx: Context) -> None:
    assert isinstance(ctx.event, CommandEvent)
    await require_feature(ctx, "goodwill")
    args = ctx.args
    if not args:
        await budget.show_command(ctx)
        return
    sub, rest = args[0].lower(), args[1:]
    if sub in ("budget",):
        await budget.budget_command(ctx, rest)
    elif sub in ("team", "members", "mitglieder"):
        await budget.members_command(ctx, rest)
    elif sub in ("export",):
        await report.export_command(ctx, rest)
    elif sub in APPROVE + DECLINE:
        if not rest:
            raise UserError("goodwill.err.need_id", usage=f"goodwill {sub} 12")
        verb = "approve" if sub in APPROVE else "decline"
        note = " ".join(rest[1:]).strip() or None
        await cases.decide(ctx, rest[0], verb, note=note, on_card=False)
    elif sub in REVERSE:
        await cases.reverse(ctx, rest)
    elif sub in ("form", "formular", "new", "neu"):
        await cases.open_form(ctx)
    elif sub in ("help", "hilfe", "?"):
        ctx.ephemeral(ctx.t("goodwill.help.long"))
    elif split_amount(args)[0] is not None or sub.startswith(("-", "−")):
        draft = cases.parse_line(ctx.event.text)
        await cases.log_case(ctx, draft, submission_key=cases.submission_key(ctx))
    else:
        raise UserError("goodwill.err.no_amount")


async def goodwill_action(ctx: Context) -> None:
    await require_feature(ctx, "goodwill")
    await cases.on_action(ctx)


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
    router.command("goodwill", aliases=("kulanz", "kulanzbudget"), help_key="goodwill.help.short")(goodwill_command)
    router.action("goodwill")(goodwill_action)
    router.schedule("goodwill_ledger")(ledger_job)
    register_section("goodwill", report.goodwill_section, order=55)
    register_section("customer-moments", report.moments_section, order=35)
    declare_sheet_lines(
        "goodwill", "goodwill.sheet.ledger", "goodwill.sheet.persons", "goodwill.sheet.forget", "goodwill.sheet.ranking"
    )
