"""Admins set a team's budget; everyone sees what their teams spent and what is left, as bars (an admin
looking at a team that is not theirs, in a profile without per-person figures, only when enough people
logged its cases)."""

from __future__ import annotations

import re

from bot.core.events import mention_ids
from bot.core.messages import Bar, BarList, Block, Header, Markup, Message, Note, Section, mention, user_text
from bot.core.router import Context, UserError, require_admin
from handlers.goodwill import money
from handlers.goodwill.common import (
    DEPT_PREFIXES,
    is_member,
    period_key,
    period_label,
    team_label,
    team_token,
    teams_of,
)
from handlers.privacy_rules import min_group_ok, min_group_size, person_figures_visible
from storage import goodwill as q
from storage.goodwill import GoodwillBudget
from storage.privacy import record_audit

PERIOD_WORDS = {
    "year": "year",
    "jahr": "year",
    "yearly": "year",
    "annually": "year",
    "jährlich": "year",
    "quarter": "quarter",
    "quartal": "quarter",
    "quarterly": "quarter",
    "vierteljährlich": "quarter",
    "month": "month",
    "monat": "month",
    "monthly": "month",
    "monatlich": "month",
}
PER = ("per", "pro", "je", "a", "im", "each")
CASE_WORDS = ("case", "fall")
CASES_WORDS = ("cases", "fälle", "faelle", "case", "fall")
STORIES_ON = ("stories", "geschichten", "story")
STORIES_OFF = ("no-stories", "keine-geschichten", "nostories")


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,;]+", text.strip()) if w]


async def budget_command(ctx: Context, args: list[str]) -> None:
    """``goodwill budget #service 10000 CHF per year, per case 200`` (admins)."""
    if not (ctx.member.is_admin or ctx.actor.is_admin):
        raise UserError("goodwill.err.admin_only")
    words = _words(" ".join(args))
    if not words:
        raise UserError("goodwill.err.budget_usage")
    team = _team(ctx, words.pop(0))
    number, cur_word, used = money.split_amount(words)
    if number is None:
        raise UserError("goodwill.err.budget_usage")
    words = words[used:]
    code = await _currency(ctx, cur_word, team=team)
    amount = money.parse_number(number, code)
    period, case_limit, rule_cases, stories = "year", None, None, None
    i = 0
    while i < len(words):
        w = words[i].lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        if w in PERIOD_WORDS:
            period, i = PERIOD_WORDS[w], i + 1
        elif w in PER and nxt in PERIOD_WORDS:
            period, i = PERIOD_WORDS[nxt], i + 2
        elif w in PER and nxt in CASE_WORDS and i + 2 < len(words):
            number, cur_word, used = money.split_amount(words[i + 2 :])
            if number is None:
                raise UserError("goodwill.err.budget_usage")
            if cur_word is not None and money.currency_code(cur_word) != code:
                raise UserError("goodwill.err.other_currency", currency=user_text(cur_word), booked=code)
            case_limit, i = money.parse_number(number, code), i + 2 + used
        elif w.isdigit() and nxt in CASES_WORDS:
            rule_cases, i = int(w), i + 2
        elif w in STORIES_ON:
            stories, i = True, i + 1
        elif w in STORIES_OFF or (w in ("no", "keine", "ohne") and nxt in STORIES_ON):
            stories, i = False, i + (1 if w in STORIES_OFF else 2)
        else:
            raise UserError("goodwill.err.budget_word", word=user_text(words[i]))
    if case_limit is not None and case_limit > amount:
        raise UserError("goodwill.err.case_above_budget")
    values: dict[str, object] = {"amount": amount, "period": period, "case_limit": case_limit, "rule_cases": rule_cases}
    if stories is not None:
        values["stories"] = stories
    await q.set_currency(ctx.session, workspace_id=ctx.workspace.id, code=code)
    budget = await q.save_budget(ctx.session, workspace_id=ctx.workspace.id, team=team, **values)
    await record_audit(
        ctx.session,
        ctx.workspace.id,
        ctx.actor.user_id,
        "goodwill.budget",
        None,
        {"team": team, "amount": amount, "currency": code, "period": period, "case_limit": case_limit},
        at=ctx.now,
    )
    ctx.ephemeral(
        Message(
            blocks=[
                Section(text=ctx.t("goodwill.budget.saved", team=team_label(team), rule=rule_text(ctx, budget, code))),
                Note(text=ctx.t("goodwill.budget.saved_note")),
            ],
            text=ctx.t("goodwill.budget.saved", team=team_label(team), rule=rule_text(ctx, budget, code)),
        )
    )


def _team(ctx: Context, word: str) -> str:
    if word.lower().startswith(DEPT_PREFIXES):
        name = word.split(":", 1)[1].strip()
        if not name:
            raise UserError("goodwill.err.budget_usage")
        return f"dept:{name}"
    team = team_token(ctx, word)
    if team is None:
        raise UserError("goodwill.err.budget_usage")
    return team


async def _currency(ctx: Context, word: str | None, *, team: str) -> str:
    """The currency typed (or the workspace's). A workspace books in one currency: another one is taken
    only while no other team has a budget."""
    booked = await q.currency(ctx.session, workspace_id=ctx.workspace.id)
    if word is None:
        if booked is None:
            raise UserError("goodwill.err.need_currency")
        return booked
    code = money.currency_code(word)
    if code is None:
        raise UserError("goodwill.err.unknown_currency", currency=user_text(word))
    if booked is not None and code != booked:
        others = [b for b in await q.budgets(ctx.session, workspace_id=ctx.workspace.id) if b.team != team]
        if others:
            raise UserError("goodwill.err.other_currency", currency=code, booked=booked)
    return code


def rule_text(ctx: Context, budget: GoodwillBudget, code: str) -> str:
    t = ctx.t
    parts = [t(f"goodwill.rule.per_{budget.period}", amount=money.fmt(t, budget.amount, code))]
    if budget.case_limit is not None:
        parts.append(t("goodwill.rule.case_limit", amount=money.fmt(t, budget.case_limit, code)))
    if budget.rule_cases is not None:
        parts.append(t.plural("goodwill.rule.cases", budget.rule_cases))
    if budget.case_limit is None and budget.rule_cases is None:
        parts.append(t("goodwill.rule.within_budget"))
    return Markup(", ").join(parts)


async def members_command(ctx: Context, args: list[str]) -> None:
    """``goodwill team #service @anna @ben``: who may log cases for a channel team (``none``: everyone)."""
    require_admin(ctx)
    if not args:
        raise UserError("goodwill.err.team_usage")
    team = _team(ctx, args[0])
    budget = await q.budget_for(ctx.session, workspace_id=ctx.workspace.id, team=team)
    if budget is None or budget.id is None:
        raise UserError("goodwill.err.no_budget_for", team=team_label(team))
    if team.startswith("dept:"):
        raise UserError("goodwill.err.team_is_department")
    ids = mention_ids(" ".join(args[1:]))
    if not ids and not (len(args) > 1 and args[1].lower() in ("none", "alle", "all", "keine")):
        raise UserError("goodwill.err.team_usage")
    await q.set_members(ctx.session, budget_id=budget.id, user_ids=ids)
    if ids:
        ctx.ephemeral(ctx.t("goodwill.team.set", team=team_label(team), people=ctx.t.join(mention(u) for u in ids)))
    else:
        ctx.ephemeral(ctx.t("goodwill.team.everyone", team=team_label(team)))


async def budget_blocks(ctx: Context, budget: GoodwillBudget, code: str) -> list[Block]:
    """One team's spend against its budget, as bars (spent, left), with the rule underneath."""
    assert budget.id is not None
    t = ctx.t
    key = period_key(budget.period, ctx.now, ctx.workspace.timezone)
    row = await q.period(ctx.session, budget_id=budget.id, period_key=key)
    spent, left = row.spent, max(budget.amount - row.spent, 0)
    title = t("goodwill.show.team", team=team_label(budget.team), period=period_label(t, budget.period, key))
    if not await is_member(ctx, budget, ctx.member) and not await person_figures_visible(ctx.session, ctx.workspace.id):
        # An admin looking at another team sees its spend as the digest does: a few people's spend would be
        # their own. The team's own people share the budget and always see where it stands.
        minimum = await min_group_size(ctx.session, ctx.workspace.id)
        if not min_group_ok(await q.period_people(ctx.session, budget_id=budget.id, period_key=key), minimum):
            return [Section(text=f"*{title}*"), Note(text=t("goodwill.digest.few", min=minimum))]
    return [
        Section(text=f"*{title}*"),
        BarList(
            rows=[
                Bar(label=t("goodwill.show.spent"), value=float(spent), display=money.fmt(t, spent, code)),
                Bar(label=t("goodwill.show.left"), value=float(left), display=money.fmt(t, left, code)),
            ]
        ),
        Note(
            text=t(
                "goodwill.show.summary",
                spent=money.fmt(t, spent, code).rsplit(" ", 1)[0],
                budget=money.fmt(t, budget.amount, code),
                percent=round(100 * spent / budget.amount) if budget.amount else 0,
                rule=rule_text(ctx, budget, code),
            )
        ),
    ]


async def show_command(ctx: Context) -> None:
    """``goodwill``: the actor's teams (admins: every team), spend against budget. Never per person."""
    code = await q.currency(ctx.session, workspace_id=ctx.workspace.id)
    everyone = ctx.member.is_admin or ctx.actor.is_admin
    shown = await q.budgets(ctx.session, workspace_id=ctx.workspace.id) if everyone else await teams_of(ctx)
    if not shown or code is None:
        ctx.ephemeral(ctx.t("goodwill.show.none_admin" if everyone else "goodwill.show.none"))
        return
    blocks: list[Block] = [Header(text=ctx.t("goodwill.show.title"))]
    for budget in shown:
        blocks += await budget_blocks(ctx, budget, code)
    blocks.append(Note(text=ctx.t("goodwill.show.howto")))
    ctx.ephemeral(Message(blocks=blocks, text=ctx.t("goodwill.show.title")))
