"""Goodwill cases: logged in one line or a form, settled by rule at once within the limits, otherwise
decided by the team's approvers on the shared decision card; corrections are reversal entries."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from bot.core.events import MENTION_RE, ActionEvent, CommandEvent
from bot.core.i18n import Translator
from bot.core.messages import (
    Actions,
    Block,
    Button,
    Fields,
    Form,
    Header,
    Input,
    Message,
    Note,
    Section,
    channel_link,
    mention,
    user_text,
)
from bot.core.router import Context, UserError
from handlers import decisions
from handlers.goodwill import money
from handlers.goodwill.common import (
    CHANNEL_RE,
    channel_here,
    department_of,
    is_member,
    load_case,
    names_allowed,
    period_key,
    period_label,
    team_label,
    team_token,
    teams_of,
)
from handlers.prompts.scrub import scrub
from storage import core
from storage import goodwill as q
from storage import suggestions as approvals
from storage.goodwill import GoodwillBudget, GoodwillCase
from storage.models import Workspace

MAX_STORY = 500
MIN_STORY = 3
WARN_PERCENT = 80
TAG_RE = re.compile(r"(?<![\w&])#([^\W_][\w\-]{0,39})", re.UNICODE)
REF_RE = re.compile(r"(?i)(?<!\w)(?:ref|ticket|case|fall|referenz|vorgang):(\S{1,60})")
REF_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.#]{0,39}$")
# A title and a capitalised name after it: "Herr Müller", "Frau Dr. Schmidt-Lange", "Mr. Smith".
SALUTATION_RE = re.compile(
    r"(?<!\w)(?:Herrn?|Frau|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.|Prof\.)"
    r"(?:\s+(?:Dr\.|Prof\.))?\s+[A-ZÄÖÜ][\w\-äöüß]+(?:\s+[A-ZÄÖÜ][\w\-äöüß]+)?"
)
NAME_MASK = "[name]"


@dataclass
class Draft:
    """A case as typed, before any check against the budget."""

    number: str | None
    currency_word: str | None
    story: str
    category: str | None
    reference: str | None
    team_word: str | None
    removed: dict[str, int] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


# --- reading what was typed -------------------------------------------------------------------------------


def parse_line(text: str) -> Draft:
    """``80 CHF Versandkosten erstattet #kundenfokus ref:T-4711 #service``: amount, currency, story, tags."""
    words = text.split()
    number, cur, used = money.split_amount(words)
    rest = " ".join(words[used:])
    ref = None
    m = REF_RE.search(rest)
    if m:
        ref = m.group(1).rstrip(".,;")
        rest = rest[: m.start()] + rest[m.end() :]
    team_word = None
    channel = re.search(r"<#[^>]+>", rest)
    if channel:
        team_word = channel.group(0)
        rest = rest.replace(team_word, " ")
    tags = [t.lower() for t in TAG_RE.findall(rest)]
    rest = TAG_RE.sub(" ", rest)
    story = " ".join(rest.split()).strip(" ,.:;-–")
    return Draft(number, cur, story, tags[0] if tags else None, ref, team_word, {}, tags)


async def scrub_story(ctx: Context, story: str) -> tuple[str, dict[str, int]]:
    """The story without names, e-mail, phone, IBAN, card numbers or links; the counts of what went."""
    removed: dict[str, int] = {}
    mentions = len(MENTION_RE.findall(story))
    text = MENTION_RE.sub(NAME_MASK, story)
    text, n = SALUTATION_RE.subn(NAME_MASK, text)
    mentions += n
    for member in await _people(ctx):
        for name in {member.display_name, member.handle}:
            if name and len(name) >= 3 and " " in name.strip():
                text, n = re.subn(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MASK, text, flags=re.IGNORECASE)
                mentions += n
    if mentions:
        removed["name"] = mentions
    cleaned = scrub(text)
    for kind, n in cleaned.found.items():
        removed[kind] = removed.get(kind, 0) + n
    return cleaned.text, removed


async def _people(ctx: Context) -> list:  # type: ignore[type-arg]
    from sqlmodel import select

    from storage.models import Member

    stmt = select(Member).where(Member.workspace_id == ctx.workspace.id)
    return list((await ctx.session.execute(stmt)).scalars().all())


def removed_text(t: Translator, removed: dict[str, int]) -> str:
    parts = [t.plural(f"goodwill.removed.{kind}", n) for kind, n in removed.items() if n]
    return t("goodwill.removed.note", items=t.join(parts)) if parts else ""


# --- the form ---------------------------------------------------------------------------------------------


def case_form(ctx: Context, budget: GoodwillBudget | None) -> Form:
    return Form(
        title=ctx.t("goodwill.form.title"),
        action_id="goodwill:new",
        submit_label=ctx.t("goodwill.form.submit"),
        inputs=[
            Input(id="amount", label=ctx.t("goodwill.form.amount"), max_length=20, placeholder="80"),
            Input(id="story", label=ctx.t("goodwill.form.story"), type="multiline", max_length=MAX_STORY),
            Input(id="category", label=ctx.t("goodwill.form.category"), required=False, max_length=40),
            Input(id="reference", label=ctx.t("goodwill.form.reference"), required=False, max_length=40),
        ],
        # One token per opened form: a double-clicked submit counts once.
        private_metadata=f"{budget.id if budget else ''}|{uuid.uuid4().hex}",
    )


async def open_form(ctx: Context) -> None:
    mine = await teams_of(ctx)
    ctx.modal(case_form(ctx, mine[0] if len(mine) == 1 else None))


def draft_from_form(form: dict[str, str]) -> Draft:
    words = (form.get("amount") or "").split()
    number, cur, used = money.split_amount(words)
    if words and used < len(words):
        number = None  # more than an amount in the amount field
    ref = (form.get("reference") or "").strip() or None
    category = (form.get("category") or "").strip().lstrip("#").lower() or None
    return Draft(number, cur, (form.get("story") or "").strip(), category, ref, None, {})


# --- logging a case ----------------------------------------------------------------------------------------


async def _team_for(ctx: Context, draft: Draft, budget_id: str = "") -> GoodwillBudget:
    """The team a case is for: named in the line, the form's team, the channel it was typed in, else the
    one team the person belongs to."""
    ws = ctx.workspace.id
    if draft.team_word:
        team = team_token(ctx, draft.team_word)
        found = await q.budget_for(ctx.session, workspace_id=ws, team=team) if team else None
        if found is None:
            raise UserError("goodwill.err.no_budget_for", team=draft.team_word)
        return found
    for tag in draft.tags:  # ``#service`` typed in the console names a channel team, not a category
        found = await q.budget_for(ctx.session, workspace_id=ws, team=tag)
        if found is not None and department_of(found) is None:
            draft.category = next((t for t in draft.tags if t != tag), None)
            return found
    if budget_id.isdigit():
        found = await q.get_budget(ctx.session, workspace_id=ws, budget_id=int(budget_id))
        if found is not None:
            return found
    here = channel_here(ctx)
    if here is not None:
        found = await q.budget_for(ctx.session, workspace_id=ws, team=here)
        if found is not None:
            return found
    mine = await teams_of(ctx)
    if len(mine) == 1:
        return mine[0]
    every = await q.budgets(ctx.session, workspace_id=ws)
    if not every:
        raise UserError("goodwill.err.no_budget")
    if len(every) == 1:
        return every[0]  # the one team there is (the membership check follows)
    raise UserError("goodwill.err.which_team")


async def log_case(ctx: Context, draft: Draft, *, submission_key: str | None, budget_id: str = "") -> None:
    """Check, scrub and book a case: by rule at once, or on its way to the approvers."""
    booked = await q.currency(ctx.session, workspace_id=ctx.workspace.id)
    if draft.number is None:
        raise UserError("goodwill.err.no_amount")
    code = booked
    if draft.currency_word is not None:
        code = money.currency_code(draft.currency_word)
        if code is None:
            raise UserError("goodwill.err.unknown_currency", currency=user_text(draft.currency_word))
    if code is None:
        raise UserError("goodwill.err.no_budget")
    amount = money.parse_number(draft.number, code)
    if booked is not None and code != booked:
        raise UserError("goodwill.err.other_currency", currency=code, booked=booked)
    if len(draft.story) < MIN_STORY:
        raise UserError("goodwill.err.no_story")
    if len(draft.story) > MAX_STORY:
        raise UserError("goodwill.err.story_long", max=MAX_STORY, length=len(draft.story))
    reference = None
    if draft.reference:
        reference = draft.reference.strip()
        if not REF_OK.match(reference) or scrub(reference).redactions:
            raise UserError("goodwill.err.reference", ref=user_text(reference[:40]))
    budget = await _team_for(ctx, draft, budget_id)
    if not await is_member(ctx, budget, ctx.member):
        raise UserError("goodwill.err.not_member", team=team_label(budget.team))
    if submission_key is not None:
        seen = await q.case_by_key(ctx.session, workspace_id=ctx.workspace.id, key=submission_key)
        if seen is not None:
            ctx.ephemeral(ctx.t("goodwill.already_logged", id=seen.id))
            return
    story, removed = await scrub_story(ctx, draft.story)
    assert budget.id is not None and booked is not None
    key = period_key(budget.period, ctx.now, ctx.workspace.timezone)
    case = GoodwillCase(
        workspace_id=ctx.workspace.id,
        budget_id=budget.id,
        period_key=key,
        author_id=ctx.actor.user_id,
        amount=amount,
        currency=booked,
        story=story,
        category=draft.category,
        reference=reference,
        status="pending",
        submission_key=submission_key,
        created_at=ctx.now,
    )
    over_limit = budget.case_limit is not None and amount > budget.case_limit
    by_rule = not over_limit and await q.spend_by_rule(ctx.session, budget=budget, period_key=key, amount=amount)
    if by_rule:
        case.status, case.by_rule, case.decided_at = "approved", True, ctx.now
    if not await q.add_case(ctx.session, case):  # the same submission raced in at the same moment
        raise UserError("goodwill.err.duplicate")
    note = removed_text(ctx.t, removed)
    if by_rule:
        await q.book(ctx.session, case=case, amount=amount, at=ctx.now)
        await settled_by_rule(ctx, budget, case, note)
    else:
        await to_approvers(ctx, budget, case, note, over_limit=over_limit)


async def settled_by_rule(ctx: Context, budget: GoodwillBudget, case: GoodwillCase, note: str) -> None:
    t = ctx.t
    row = await q.period(ctx.session, budget_id=budget.id or 0, period_key=case.period_key)
    left = max(budget.amount - row.spent, 0)
    blocks: list[Block] = [
        Section(
            text=t(
                "goodwill.confirm.rule",
                id=case.id,
                amount=money.fmt(t, case.amount, case.currency),
                team=team_label(budget.team),
            )
        ),
        Note(
            text=t(
                "goodwill.confirm.left",
                left=money.fmt(t, left, case.currency),
                budget=money.fmt(t, budget.amount, case.currency),
                period=period_label(t, budget.period, case.period_key),
            )
        ),
    ]
    if note:
        blocks.append(Note(text=note))
    ctx.ephemeral(Message(blocks=blocks, text=t("goodwill.confirm.rule", id=case.id, amount="", team="")))
    if budget.stories and department_of(budget) is None:
        wt = ctx.translator_for_member(None)
        ctx.post(budget.team, story_message(wt, ctx.workspace, case), dedupe_key=f"goodwill:story:{case.id}")
    await warn_if_needed(ctx, budget, case.period_key)


def story_message(t: Translator, ws: Workspace, case: GoodwillCase) -> Message:
    """The short story line for the team channel, with Kudos and Highlight buttons."""
    cid = str(case.id)
    who = mention(case.author_id) if names_allowed(ws) and case.author_id else t("goodwill.story.someone")
    text = t("goodwill.story.line", who=who, amount=money.fmt(t, case.amount, case.currency))
    blocks: list[Block] = [Section(text=text + "\n> " + user_text(case.story))]
    if case.category:
        blocks.append(Note(text=f"#{user_text(case.category)}"))
    buttons = [Button(label=t("goodwill.btn.highlight"), action_id=f"goodwill:highlight:{cid}", value=cid)]
    if names_allowed(ws) and case.author_id:
        buttons.insert(0, Button(label=t("goodwill.btn.kudos"), action_id=f"goodwill:kudos:{cid}", value=cid))
    blocks.append(Actions(buttons=buttons))
    return Message(blocks=blocks, text=text)


# --- approvers --------------------------------------------------------------------------------------------


def decision_card(
    t: Translator, ws: Workspace, budget: GoodwillBudget, case: GoodwillCase, *, spent: int, deadline_days: int
) -> Message:
    """The goodwill case on the shared decision card: facts, why it needs a decision, deadline, buttons."""
    code = case.currency
    items = [
        (t("goodwill.card.amount"), money.fmt(t, case.amount, code)),
        (t("goodwill.card.team"), team_label(budget.team)),
        (t("goodwill.card.category"), f"#{user_text(case.category)}" if case.category else "—"),
        (t("goodwill.card.reference"), user_text(case.reference) if case.reference else "—"),
        (t("goodwill.card.left"), money.fmt(t, max(budget.amount - spent, 0), code)),
        (t("goodwill.card.status"), t(f"goodwill.status.{case.status}")),
    ]
    if names_allowed(ws) and case.author_id:
        items.insert(0, (t("goodwill.card.by"), mention(case.author_id)))
    blocks: list[Block] = [
        Header(text=t("goodwill.card.header", id=case.id)),
        Section(text=user_text(case.story)),
        Fields(items=items),
    ]
    if case.status == "pending":
        blocks.append(Section(text=t("goodwill.card.why") + " " + reason_text(t, budget, case, spent)))
        blocks.append(decisions.deadline_note(t, ws, case.created_at, deadline_days))
        blocks.append(decisions.decision_actions(t, "goodwill", case.id or 0, ("approve", "decline")))
    elif case.decided_by and case.decided_at:
        blocks.append(
            decisions.decided_section(
                t,
                ws,
                decision=t(f"goodwill.status.{case.status}"),
                actor_id=case.decided_by,
                at=case.decided_at,
                note=case.decision_note,
            )
        )
    return Message(blocks=blocks, text=t("goodwill.card.header", id=case.id))


def reason_text(t: Translator, budget: GoodwillBudget, case: GoodwillCase, spent: int) -> str:
    code = case.currency
    if budget.case_limit is not None and case.amount > budget.case_limit:
        return t("goodwill.reason.limit", limit=money.fmt(t, budget.case_limit, code))
    left = max(budget.amount - spent, 0)
    if case.amount > left:
        return t("goodwill.reason.budget", left=money.fmt(t, left, code))
    return t.plural("goodwill.reason.cases", budget.rule_cases or 0)


async def to_approvers(
    ctx: Context, budget: GoodwillBudget, case: GoodwillCase, note: str, *, over_limit: bool
) -> None:
    ws = ctx.workspace
    rules = await decisions.rules(ctx.session, workspace_id=ws.id)
    row = await q.period(ctx.session, budget_id=budget.id or 0, period_key=case.period_key)
    found = await decisions.deliveries(
        ctx.session,
        ws,
        department=department_of(budget),
        card=lambda t: decision_card(t, ws, budget, case, spent=row.spent, deadline_days=rules.deadline_days),
    )
    decisions.send(ctx, found, dedupe=f"goodwill:review:{case.id}")
    people = await decisions.deciders(ctx.session, workspace_id=ws.id, department=department_of(budget))
    t = ctx.t
    who = (
        t("goodwill.review_channel", channel=channel_link(rules.review_channel_id))
        if rules.review_channel_id
        else t.join(mention(u) for u in people) or t("goodwill.admins")
    )
    blocks: list[Block] = [
        Section(
            text=t(
                "goodwill.confirm.pending",
                id=case.id,
                amount=money.fmt(t, case.amount, case.currency),
                who=who,
                date=decisions.fmt_date(t, decisions.deadline(case.created_at, rules.deadline_days), ws.timezone),
            )
        ),
        Note(text=t("goodwill.card.why") + " " + reason_text(t, budget, case, row.spent)),
    ]
    if note:
        blocks.append(Note(text=note))
    ctx.ephemeral(Message(blocks=blocks, text=t("goodwill.confirm.pending", id=case.id, amount="", who="", date="")))


async def _decider_check(ctx: Context, case: GoodwillCase) -> GoodwillBudget:
    budget = await q.get_budget(ctx.session, workspace_id=ctx.workspace.id, budget_id=case.budget_id)
    assert budget is not None
    if not await decisions.may_decide(ctx, department_of(budget)):
        raise UserError("goodwill.err.not_approver", id=case.id)
    return budget


async def decide(ctx: Context, raw_id: str, verb: str, *, note: str | None, on_card: bool) -> None:
    """Approve or decline a pending case (the button, the reason form, or ``goodwill approve 12``)."""
    case = await load_case(ctx, raw_id, lock=True)
    budget = await _decider_check(ctx, case)
    if case.status != "pending":
        await _already(ctx, budget, case, on_card=on_card)
        return
    if verb == "decline" and not note:
        if on_card:
            ctx.modal(
                decisions.reason_form(
                    title=ctx.t("goodwill.form.decline_title", id=case.id),
                    action_id=f"goodwill:decline:{case.id}",
                    submit_label=ctx.t("decisions.btn.decline"),
                    label=ctx.t("goodwill.form.reason"),
                    item_id=case.id or 0,
                )
            )
            return
        raise UserError("goodwill.err.reason_required")
    if note and len(note) > decisions.MAX_NOTE:
        raise UserError("goodwill.err.note_long", max=decisions.MAX_NOTE)
    to_status = "approved" if verb == "approve" else "declined"
    if not await q.decide(
        ctx.session, case=case, to_status=to_status, actor_id=ctx.actor.user_id, at=ctx.now, note=note
    ):
        await _already(ctx, budget, case, on_card=on_card)
        return
    if to_status == "approved":
        await q.add_spent(ctx.session, budget_id=case.budget_id, period_key=case.period_key, amount=case.amount)
        await q.book(ctx.session, case=case, amount=case.amount, at=ctx.now)
    await decisions.audit(ctx, f"goodwill.{verb}", case.id, amount=case.amount, currency=case.currency)
    await _tell_author(ctx, case)
    card = await card_now(ctx, budget, case)
    if on_card:
        ctx.update(card)
    ctx.ephemeral(ctx.t(f"goodwill.confirm.{to_status}", id=case.id))
    if to_status == "approved":
        await warn_if_needed(ctx, budget, case.period_key)


async def card_now(ctx: Context, budget: GoodwillBudget, case: GoodwillCase) -> Message:
    rules = await decisions.rules(ctx.session, workspace_id=ctx.workspace.id)
    row = await q.period(ctx.session, budget_id=budget.id or 0, period_key=case.period_key)
    return decision_card(ctx.t, ctx.workspace, budget, case, spent=row.spent, deadline_days=rules.deadline_days)


async def _already(ctx: Context, budget: GoodwillBudget, case: GoodwillCase, *, on_card: bool) -> None:
    if on_card:
        ctx.update(await card_now(ctx, budget, case))
    status = ctx.t(f"goodwill.status.{case.status}")
    if case.decided_by:
        ctx.ephemeral(ctx.t("goodwill.already_decided", id=case.id, status=status, actor=mention(case.decided_by)))
    else:
        ctx.ephemeral(ctx.t("goodwill.already_status", id=case.id, status=status))


async def _tell_author(ctx: Context, case: GoodwillCase) -> None:
    if not case.author_id or case.author_id == ctx.actor.user_id:
        return
    member = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=case.author_id)
    t = decisions.translator(ctx.workspace, member)
    text = t(
        f"goodwill.notify.{case.status}",
        id=case.id,
        amount=money.fmt(t, case.amount, case.currency),
        actor=mention(ctx.actor.user_id),
    )
    blocks: list[Block] = [Section(text=text)]
    if case.decision_note:
        blocks.append(Section(text="> " + user_text(case.decision_note)))
    ctx.dm(case.author_id, Message(blocks=blocks, text=text), dedupe_key=f"goodwill:decided:{case.id}")


async def warn_if_needed(ctx: Context, budget: GoodwillBudget, key: str) -> None:
    """At 80 % of the period's budget the admins hear of it, once per team and period."""
    assert budget.id is not None
    row = await q.period(ctx.session, budget_id=budget.id, period_key=key)
    if row.warned or row.spent * 100 < budget.amount * WARN_PERCENT:
        return
    if not await q.claim_warning(ctx.session, budget_id=budget.id, period_key=key):
        return
    code = await q.currency(ctx.session, workspace_id=ctx.workspace.id) or ""
    for uid in await approvals.admins(ctx.session, workspace_id=ctx.workspace.id):
        member = await core.get_member(ctx.session, workspace_id=ctx.workspace.id, user_id=uid)
        t = decisions.translator(ctx.workspace, member)
        text = t(
            "goodwill.warning",
            team=team_label(budget.team),
            percent=round(100 * row.spent / budget.amount),
            spent=money.fmt(t, row.spent, code),
            budget=money.fmt(t, budget.amount, code),
            period=period_label(t, budget.period, key),
        )
        ctx.dm(uid, text, dedupe_key=f"goodwill:warn:{budget.id}:{key}:{uid}")


# --- corrections, highlights, thanks ---------------------------------------------------------------------


async def reverse(ctx: Context, args: list[str]) -> None:
    """``goodwill reverse 12 <reason>``: a reversal entry; the case's amount returns to its period."""
    if not args:
        raise UserError("goodwill.err.reverse_usage")
    case = await load_case(ctx, args[0], lock=True)
    budget = await q.get_budget(ctx.session, workspace_id=ctx.workspace.id, budget_id=case.budget_id)
    assert budget is not None
    if not (ctx.member.is_admin or ctx.actor.is_admin or await decisions.may_decide(ctx, department_of(budget))):
        raise UserError("goodwill.err.not_approver", id=case.id)
    reason = " ".join(args[1:]).strip()
    if not reason:
        raise UserError("goodwill.err.reverse_reason")
    if len(reason) > 500:
        raise UserError("goodwill.err.note_long", max=500)
    if not await q.mark_reversed(ctx.session, case=case):
        raise UserError("goodwill.err.not_reversible", id=case.id, status=ctx.t(f"goodwill.status.{case.status}"))
    await q.book(ctx.session, case=case, amount=-case.amount, at=ctx.now, kind="reversal", note=reason)
    await q.add_spent(ctx.session, budget_id=case.budget_id, period_key=case.period_key, amount=-case.amount)
    await decisions.audit(ctx, "goodwill.reverse", case.id, amount=case.amount)
    ctx.ephemeral(ctx.t("goodwill.confirm.reversed", id=case.id, amount=money.fmt(ctx.t, case.amount, case.currency)))


async def highlight(ctx: Context, raw_id: str) -> None:
    case = await load_case(ctx, raw_id)
    await q.highlight(ctx.session, case_id=case.id or 0, user_id=ctx.actor.user_id, at=ctx.now)
    ctx.ephemeral(ctx.t("goodwill.highlighted", id=case.id))


async def thank(ctx: Context, raw_id: str) -> None:
    """Kudos to the person behind a case, linked to the case by id."""
    from handlers import kudos

    case = await load_case(ctx, raw_id)
    if not names_allowed(ctx.workspace) or not case.author_id or case.author_id.startswith("former-"):
        raise UserError("goodwill.err.no_person")
    if case.status not in ("approved", "pending"):
        raise UserError("goodwill.err.thank_status", id=case.id)
    reason = ctx.t("goodwill.thank_reason", id=case.id)
    await kudos.give(ctx, f"{mention(case.author_id)} {reason}", source="goodwill", moment=("goodwill", case.id or 0))


async def on_action(ctx: Context) -> None:
    ev = ctx.event
    assert isinstance(ev, ActionEvent)
    parts = ev.action_id.split(":")
    verb = parts[1] if len(parts) > 1 else ""
    target = parts[2] if len(parts) > 2 else ev.value
    if verb == "new" and ev.is_form:
        budget_id, _, token = ev.value.partition("|")
        await log_case(
            ctx, draft_from_form(ev.form), submission_key=f"form:{token}" if token else None, budget_id=budget_id
        )
    elif verb in ("approve", "decline"):
        note = (ev.form.get("reason") or "").strip() if ev.is_form else None
        if ev.is_form and not note:
            raise UserError("goodwill.err.reason_required")
        await decide(ctx, target, verb, note=note, on_card=not ev.is_form)
    elif verb == "highlight":
        await highlight(ctx, target)
    elif verb == "kudos":
        await thank(ctx, target)
    else:
        raise UserError("goodwill.err.unknown_action")


def submission_key(ctx: Context) -> str | None:
    """A one-line case counts once per platform message (a retry carries the same message id)."""
    ev = ctx.event
    mid = ev.message_id if isinstance(ev, CommandEvent) else None
    return f"msg:{mid}" if mid else None


__all__ = ["CHANNEL_RE", "on_action", "open_form", "parse_line", "reverse", "submission_key"]
