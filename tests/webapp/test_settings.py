"""Admins change settings on the web through the chat's own commands: the same validation messages, the same
audit log, CSRF-protected. Digests, leaderboard posts and daily prompts are planned, changed, paused and
turned off here; language, values, kudos and goodwill budgets, approvers and the privacy profile are changed here."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select

from storage import core, goodwill, privacy, scheduling
from storage import prompts as prompt_store
from storage import suggestions as sq
from storage.models import Workspace
from tests.webapp.conftest import WORKSPACE, WebBed


async def save(web: WebBed, token: str, **data: str | list[str]) -> str:
    """Submit one settings form; the answer lines the page shows (the chat's replies)."""
    status, body, _ = await web.post("/app/settings", token, {"csrf": await web.csrf(token, "/app/settings"), **data})
    assert status == 200, body[:400]
    found = re.search(r'<section class="flash" role="status"[^>]*>(.*?)</section>', body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


async def audit_actions(web: WebBed) -> list[tuple[str, dict[str, Any]]]:
    async with web.bed.starling.sessions() as session:
        entries = await privacy.audit_entries(session, workspace_id=WORKSPACE, limit=100)
    return [(e.action, e.details) for e in reversed(entries)]


async def test_digests_leaderboards_and_prompts_are_planned_changed_and_turned_off_with_the_chat_rules(
    web: WebBed,
) -> None:
    token = await web.sign_in("max")
    assert token

    # a new digest: the chat's confirmation, the row, the audit entry
    out = await save(
        web,
        token,
        section="schedule",
        kind="digest",
        action="save",
        channel="C0DIGEST",
        days="mon",
        at="08:30",
        timezone="Europe/Vienna",
    )
    assert "#C0DIGEST" in out and "08:30" in out, out
    async with web.bed.starling.sessions() as session:
        row = await scheduling.get_schedule(session, workspace_id=WORKSPACE, channel_id="C0DIGEST", kind="digest")
    assert row is not None and (row.days, row.at, row.timezone, row.enabled) == ("mon", "08:30", "Europe/Vienna", True)

    # the page lists it as a form of its own; a wrong time gets the chat's own explanation and changes nothing
    _, page, _ = await web.get("/app/settings", token)
    assert 'value="C0DIGEST"' in page and 'value="08:30"' in page
    out = await save(
        web, token, section="schedule", kind="digest", action="save", channel="C0DIGEST", days="mon", at="25:99"
    )
    assert "25:99" in out and "#C0DIGEST" not in out, out
    out = await save(
        web, token, section="schedule", kind="digest", action="save", channel="C0DIGEST", days="montags-ish", at="09:00"
    )
    assert "montags-ish" in out, out
    async with web.bed.starling.sessions() as session:
        row = await scheduling.get_schedule(session, workspace_id=WORKSPACE, channel_id="C0DIGEST", kind="digest")
    assert row is not None and (row.days, row.at) == ("mon", "08:30")

    # changed, then turned off
    out = await save(
        web,
        token,
        section="schedule",
        kind="digest",
        action="save",
        channel="C0DIGEST",
        days="mon-fri",
        at="07:45",
        timezone="Europe/Vienna",
    )
    assert "07:45" in out
    out = await save(web, token, section="schedule", kind="digest", action="off", channel="C0DIGEST")
    assert "#C0DIGEST" in out
    async with web.bed.starling.sessions() as session:
        row = await scheduling.get_schedule(session, workspace_id=WORKSPACE, channel_id="C0DIGEST", kind="digest")
    assert row is not None and (row.days, row.at, row.enabled) == ("mon-fri", "07:45", False)

    # a monthly leaderboard post
    out = await save(
        web,
        token,
        section="schedule",
        kind="leaderboard",
        action="save",
        channel="C0BOARD",
        period="quarter",
        at="10:00",
    )
    async with web.bed.starling.sessions() as session:
        board = await scheduling.get_schedule(session, workspace_id=WORKSPACE, channel_id="C0BOARD", kind="leaderboard")
    assert board is not None and board.settings["period"] == "quarter" and board.at == "10:00", out

    # the daily prompt, as typed in its channel: planned, a wrong day refused, paused, resumed, turned off
    out = await save(
        web,
        token,
        section="schedule",
        kind="prompt",
        action="save",
        channel="C0PROMPT",
        at="09:15",
        days="mon,wed,fri",
        timezone="Europe/Zurich",
    )
    assert "#C0PROMPT" in out, out
    out = await save(
        web, token, section="schedule", kind="prompt", action="save", channel="C0PROMPT", at="09:15", days="someday"
    )
    assert "someday" in out, out
    async with web.bed.starling.sessions() as session:
        sub = await prompt_store.get_subscription(session, workspace_id=WORKSPACE, channel_id="C0PROMPT")
    assert sub is not None and (sub.hour, sub.minute, sub.days, sub.timezone) == (9, 15, [0, 2, 4], "Europe/Zurich")
    _, page, _ = await web.get("/app/settings", token)
    assert 'value="mon,wed,fri"' in page and 'value="09:15"' in page
    await save(web, token, section="schedule", kind="prompt", action="pause", channel="C0PROMPT")
    async with web.bed.starling.sessions() as session:
        sub = await prompt_store.get_subscription(session, workspace_id=WORKSPACE, channel_id="C0PROMPT")
    assert sub is not None and sub.paused
    await save(web, token, section="schedule", kind="prompt", action="resume", channel="C0PROMPT")
    await save(web, token, section="schedule", kind="prompt", action="off", channel="C0PROMPT")
    async with web.bed.starling.sessions() as session:
        assert await prompt_store.get_subscription(session, workspace_id=WORKSPACE, channel_id="C0PROMPT") is None

    # something that is not a channel id is refused before any command, and never echoed as markup
    out = await save(web, token, section="schedule", kind="digest", action="save", channel="<script>", at="09:00")
    assert "keine Kanal-ID" in out and "<script>" not in out

    # every change is in the audit log, by the admin, as from chat
    actions = [a for a, _ in await audit_actions(web)]
    for expected in (
        "digests.subscribe",
        "digests.off_digest",
        "digests.leaderboard",
        "prompts.subscribe",
        "prompts.pause",
        "prompts.resume",
        "prompts.unsubscribe",
    ):
        assert expected in actions, (expected, actions)
    assert actions.count("digests.subscribe") == 2  # the refused ones left no trace


async def test_a_member_cannot_plan_and_a_forged_token_changes_nothing(web: WebBed) -> None:
    member = await web.sign_in("anna")
    admin = await web.sign_in("max")
    assert member and admin
    form = {"section": "schedule", "kind": "digest", "action": "save", "channel": "C0X", "days": "mon", "at": "09:00"}
    status, _, _ = await web.post("/app/settings", member, {"csrf": await web.csrf(member), **form})
    assert status == 403
    status, _, _ = await web.post("/app/settings", admin, {"csrf": "forged", **form})
    assert status == 403
    async with web.bed.starling.sessions() as session:
        assert await scheduling.get_schedule(session, workspace_id=WORKSPACE, channel_id="C0X", kind="digest") is None


async def test_values_budgets_approvers_and_the_privacy_profile_change_through_the_chat_commands(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token

    # kudos numbers: a valid budget is saved, a wrong one explained as in chat and not saved
    out = await save(
        web, token, section="kudos", budget="7", **{"min-reason": "12", "max-recipients": "5", "pair-cap": "3"}
    )
    async with web.bed.starling.sessions() as session:
        ws = await session.get(Workspace, WORKSPACE)
    assert ws is not None and (ws.daily_budget, ws.min_reason_length, ws.pair_daily_cap) == (7, 12, 3), out
    out = await save(
        web, token, section="kudos", budget="viel", **{"min-reason": "12", "max-recipients": "5", "pair-cap": "3"}
    )
    assert "budget muss eine ganze Zahl von 1 bis 100 sein" in out, out
    async with web.bed.starling.sessions() as session:
        ws = await session.get(Workspace, WORKSPACE)
    assert ws is not None and ws.daily_budget == 7

    # language, form of address and time zone; a zone that does not exist is explained and not saved
    out = await save(web, token, section="workspace", language="de", tone="du", timezone="Mars/Olympus")
    assert "Mars/Olympus" in out, out
    await save(web, token, section="workspace", language="de", tone="sie", timezone="Europe/Vienna")
    async with web.bed.starling.sessions() as session:
        ws = await session.get(Workspace, WORKSPACE)
    assert ws is not None and (ws.tone, ws.timezone) == ("sie", "Europe/Vienna")
    _, page, _ = await web.get("/app/settings", token)
    assert "Hier planen Sie genau wie im Chat" in page and 'value="Europe/Vienna"' in page  # Sie from now on
    assert '<option value="sie" selected>Sie</option>' in page and "web.settings" not in page  # named, not keys

    # goodwill budgets: the demo's IT budget changed, a new team's budget, a wrong amount explained as in chat
    _, page, _ = await web.get("/app/settings", token)
    assert 'value="dept:IT"' in page and 'value="1000.00"' in page
    await save(
        web, token, section="goodwill", team="dept:IT", amount="500", currency="EUR", period="month", case_limit="50"
    )
    await save(
        web,
        token,
        section="goodwill",
        team="dept:Buchhaltung",
        amount="200",
        currency="EUR",
        period="quarter",
        rule_cases="3",
        stories="1",
    )
    out = await save(web, token, section="goodwill", team="dept:Vertrieb", amount="viel", currency="EUR", period="year")
    assert "goodwill budget" in out, out
    out = await save(web, token, section="goodwill", team="<b>IT</b>", amount="100", currency="EUR", period="year")
    assert "kein Team" in out and "<b>" not in out
    async with web.bed.starling.sessions() as session:
        found = {b.team: b for b in await goodwill.budgets(session, workspace_id=WORKSPACE)}
    it, books = found["dept:IT"], found["dept:Buchhaltung"]
    assert (it.amount, it.period, it.case_limit) == (50000, "month", 5000)
    assert (books.amount, books.period, books.rule_cases, books.stories) == (20000, "quarter", 3, True)
    assert "dept:Vertrieb" not in found

    # a value added and removed
    await save(web, token, section="value_add", tag="mut", label_de="Mut", label_en="Courage")
    async with web.bed.starling.sessions() as session:
        tags = [v.tag for v in await core.list_values(session, workspace_id=WORKSPACE)]
    assert "mut" in tags
    await save(web, token, section="value_remove", tag="mut")
    async with web.bed.starling.sessions() as session:
        tags = [v.tag for v in await core.list_values(session, workspace_id=WORKSPACE)]
    assert "mut" not in tags

    # approvers for one department
    await save(web, token, section="approvers", department="IT", people=["clara", "deniz"])
    async with web.bed.starling.sessions() as session:
        approvers = await sq.list_approvers(session, workspace_id=WORKSPACE)
    assert sorted(approvers.get("IT", [])) == ["clara", "deniz"]

    # the privacy profile and the minimum group; a minimum of 0 is explained and refused
    async with web.bed.starling.sessions() as session:
        states = await privacy.feature_states(session, workspace_id=WORKSPACE)
    on = [f for f, enabled in states.items() if enabled]
    out = await save(web, token, section="privacy", profile="standard", min_group="0", retention="24", feature=on)
    assert "1" in out and "50" in out, out
    await save(web, token, section="privacy", profile="works-council", min_group="6", retention="12", feature=on)
    async with web.bed.starling.sessions() as session:
        ws = await session.get(Workspace, WORKSPACE)
        cfg = await privacy.get_settings(session, workspace_id=WORKSPACE)
    assert ws is not None and ws.privacy_profile == "works-council" and cfg.min_group_size == 6

    actions = [a for a, _ in await audit_actions(web)]
    for expected in (
        "admin.set",
        "admin.value_add",
        "admin.value_remove",
        "goodwill.budget",
        "privacy.profile",
        "privacy.min-group",
    ):
        assert expected in actions, (expected, actions)
    async with web.bed.starling.sessions() as session:
        rows = (
            (await session.execute(select(privacy.AuditEntry).where(privacy.AuditEntry.actor_id == "max")))
            .scalars()
            .all()
        )
    assert rows
