"""Finance's CSV of the ledger, and the goodwill and customer-moment sections of the digest."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from bot.core.jobs import zone
from bot.core.messages import Attachment, Bar, BarList, Block, Message, Note, Section, user_text
from bot.core.router import Context, UserError, require_admin
from handlers.digests.sections import DigestScope
from handlers.goodwill import money
from handlers.goodwill.common import names_allowed, period_key, team_label
from handlers.privacy_rules import feature_enabled
from storage import core
from storage import goodwill as q
from storage import moments as kudos_moments
from storage.privacy import record_audit

QUOTE_LENGTH = 200
CSV_COLUMNS = (
    "date",
    "case",
    "team",
    "entry",
    "amount",
    "currency",
    "category",
    "reference",
    "approved_by",
    "note",
)


def _year_bounds(year: int, tz: str | None) -> tuple[datetime, datetime]:
    z = zone(tz)
    return datetime(year, 1, 1, tzinfo=z), datetime(year + 1, 1, 1, tzinfo=z)


async def export_command(ctx: Context, args: list[str]) -> None:
    """``goodwill export 2026``: the year's ledger as CSV for finance (admins), by direct message."""
    require_admin(ctx)
    local_year = ctx.now.astimezone(zone(ctx.workspace.timezone)).year
    if args and not (args[0].isdigit() and len(args[0]) == 4):
        raise UserError("goodwill.err.export_usage")
    year = int(args[0]) if args else local_year
    since, until = _year_bounds(year, ctx.workspace.timezone)
    lines = await q.ledger(ctx.session, workspace_id=ctx.workspace.id, since=since, until=until)
    with_names = names_allowed(ctx.workspace)
    names: dict[str, str] = {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        e, c = line.entry, line.case
        if c.by_rule:
            approved = "rule"
        elif c.decided_by and with_names and not c.decided_by.startswith("former-"):
            if c.decided_by not in names:
                m = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=c.decided_by)
                names[c.decided_by] = (m.display_name or m.handle or c.decided_by) if m else c.decided_by
            approved = names[c.decided_by]
        else:
            approved = "approver"
        team = line.team.split(":", 1)[1] if line.team.startswith("dept:") else f"#{line.team}"
        writer.writerow(
            [
                e.booked_at.astimezone(zone(ctx.workspace.timezone)).date().isoformat(),
                c.id,
                _cell(team),
                e.kind,
                money.plain(e.amount, e.currency),
                e.currency,
                _cell(c.category or ""),
                _cell(c.reference or ""),
                _cell(approved),
                _cell(e.note or ""),
            ]
        )
    await record_audit(
        ctx.session, ctx.workspace.id, ctx.actor.user_id, "goodwill.export", None, {"year": year}, at=ctx.now
    )
    text = ctx.t.plural("goodwill.export.dm", len(lines), year=year)
    ctx.dm(
        ctx.actor.user_id,
        Message(
            blocks=[Section(text=text)] + ([] if with_names else [Note(text=ctx.t("goodwill.export.no_names"))]),
            text=text,
            attachments=[Attachment.of(f"starling-goodwill-{year}.csv", buf.getvalue().encode("utf-8"), "text/csv")],
        ),
    )
    ctx.ephemeral(ctx.t("goodwill.export.sent", year=year))


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: such text gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def goodwill_section(scope: DigestScope) -> list[Block]:
    """Spend against budget per team, cases settled without asking anyone, the median amount and the
    stories the team highlighted. Never a person: not who spent, not who logged."""
    if not await feature_enabled(scope.session, scope.workspace.id, "goodwill"):
        return []
    t = scope.t
    figures = await q.digest_figures(scope.session, workspace_id=scope.workspace.id, since=scope.start, until=scope.end)
    budgets = await q.budgets(scope.session, workspace_id=scope.workspace.id)
    code = figures.currency
    if not budgets or code is None or not figures.cases:
        return []
    blocks: list[Block] = [Section(text=t("goodwill.digest.title"))]
    if not scope.group_ok(figures.people):  # a few people's spend would be their own spend
        blocks.append(Note(text=t("goodwill.digest.few", min=scope.min_size)))
        return blocks
    rows = []
    hidden = 0
    for b in budgets:
        if not scope.group_ok(figures.people_per_budget.get(b.id or 0, 0)):
            hidden += 1
            continue
        key = period_key(b.period, scope.now, scope.workspace.timezone)
        row = await q.period(scope.session, budget_id=b.id or 0, period_key=key)
        rows.append(
            Bar(
                label=team_label(b.team),
                value=float(row.spent),
                display=t(
                    "goodwill.digest.of", spent=money.fmt(t, row.spent, code), budget=money.fmt(t, b.amount, code)
                ),
            )
        )
    if rows:
        blocks.append(BarList(rows=rows))
    if hidden:
        blocks.append(Note(text=t.plural("goodwill.digest.hidden_teams", hidden, min=scope.min_size)))
    median = money.fmt(t, figures.median, code) if figures.median is not None else "—"
    blocks.append(
        Section(
            text=t.plural("goodwill.digest.cases", figures.cases, by_rule=figures.by_rule, median=median)
            + " "
            + t.plural("goodwill.digest.loops", figures.by_rule)
        )
    )
    for case in figures.highlighted or []:
        blocks.append(Section(text="> " + user_text(_short(case.story, QUOTE_LENGTH))))
        blocks.append(Note(text=t("goodwill.digest.story", amount=money.fmt(t, case.amount, case.currency))))
    return blocks


async def moments_section(scope: DigestScope) -> list[Block]:
    """The week's kudos for customer moments, in numbers: goodwill cases, answers, quotes, fixes."""
    counts = await kudos_moments.counts(
        scope.session, workspace_id=scope.workspace.id, since=scope.start, until=scope.end
    )
    if not counts:
        return []
    t = scope.t
    parts = [t.plural(f"goodwill.moments.{kind}", n) for kind, n in counts.items()]
    lines = [t("goodwill.moments.intro", items=t.join(parts))]
    for kind, moment_id, reason in await kudos_moments.latest(
        scope.session, workspace_id=scope.workspace.id, since=scope.start, until=scope.end, limit=3
    ):
        lines.append("• " + t(f"goodwill.moment.{kind}", id=moment_id) + ": " + user_text(_short(reason, 120)))
    return [Section(text=t("goodwill.moments.title")), Section(text="\n".join(lines))]


__all__ = ["export_command", "goodwill_section", "moments_section"]
