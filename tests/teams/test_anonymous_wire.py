"""Anonymous suggestions and prompt answers over Teams activities, with the fake Bot Connector, on SQLite and
PostgreSQL: the receipt is shown in the card that was submitted (the invoke response, or the card updated in
place), never posted as a message anyone could read back from the chat; and what Teams tells us about the
sender (``teams_user``, ``teams_conversation``) keeps only the day it was last seen, so no last-seen time sits
next to the anonymous row.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.scheduler import run_tick
from storage.prompts import PromptAnswer
from storage.suggestions import Suggestion, SuggestionEvent
from storage.tables import metadata
from storage.teams import TeamsConversation, TeamsUser
from storage.types import utcnow
from tests.teams.conftest import BOT_ID, MAX, MAX_AAD, PERSONAL_ID, TENANT, TeamsClient
from tests.teams.test_pulse_wire import actions
from tests.teams.test_wire import texts_of

CODE = re.compile(r"[A-Z2-9]{5}-[A-Z2-9]{5}")
FORM = {
    "f.title": "Reisekosten: drei Unterschriften",
    "f.problem": "Für jede Reisekostenabrechnung braucht es drei Unterschriften, auch bei 20 Euro.",
    "f.proposal": "Bis 100 Euro reicht eine Unterschrift.",
    "f.category": "approval",
    "f.anonymous": "true",
}


def in_personal_chat(activity: dict[str, Any], chat: str = PERSONAL_ID) -> dict[str, Any]:
    activity["conversation"] = {"conversationType": "personal", "tenantId": TENANT, "id": chat}
    activity["channelData"] = {"tenant": {"id": TENANT}}
    return activity


def button(card: dict[str, Any], action_id: str) -> dict[str, Any]:
    found = next(a for a in actions(card) if str((a.get("data") or {}).get("action_id", "")).startswith(action_id))
    return dict(found["data"])


def posted(teams: TeamsClient, chat: str) -> list[tuple[str, dict[str, Any]]]:
    """(activity id the connector gave it, the activity) for each message the bot posted to ``chat``."""
    return [
        (str((rec.response or {}).get("id")), rec.json)
        for rec in teams.connector.requests
        if rec.op in ("send_to_conversation", "reply_to_activity")
        and rec.accepted
        and isinstance(rec.json, dict)
        and rec.path_params.get("conversation_id") == chat
    ]


def last_form(teams: TeamsClient, chat: str) -> tuple[str, dict[str, Any]]:
    """The id and card of the last form (a card with inputs) posted to ``chat``."""
    for activity_id, activity in reversed(posted(teams, chat)):
        for att in activity.get("attachments") or []:
            if "Input." in json.dumps(att):
                return activity_id, att["content"]
    raise AssertionError(f"no form in {chat}")


def everything_posted(teams: TeamsClient) -> str:
    """Every message the bot posted to any conversation (what a chat's history would keep)."""
    return json.dumps(teams.connector.activities(), ensure_ascii=False)


async def day_only(teams: TeamsClient) -> list[tuple[str, str, datetime]]:
    """Times of Teams users and conversations finer than the day (there must be none)."""
    finer = []
    async with teams.app.sessions() as s:
        for model in (TeamsUser, TeamsConversation):
            for row in (await s.execute(select(model))).scalars():
                for name in ("created_at", "updated_at"):
                    at = getattr(row, name, None)
                    if at is not None and (at.hour, at.minute, at.second, at.microsecond) != (0, 0, 0, 0):
                        finer.append((model.__name__, name, at))
    return finer


async def all_rows(teams: TeamsClient) -> dict[str, list[dict[str, Any]]]:
    async with teams.app.sessions() as s:
        return {
            t.name: [dict(r) for r in (await s.execute(select(t))).mappings().all()] for t in metadata.sorted_tables
        }


async def test_anonymous_suggestion_receipt_is_the_submitted_card(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    # Max knows Starling from a kudos in the channel; then he opens the form in his 1:1 chat.
    await teams.post(teams.channel_message("help", locale="de-DE"))
    await teams.post(teams.personal_message("suggest", locale="de-DE"))
    form = teams.connector.cards(PERSONAL_ID)[-1]
    data = button(form, "suggest:new")
    people_before = {
        t: rows for t, rows in (await all_rows(teams)).items() if t in ("member", "teams_user", "teams_conversation")
    }

    # Action.Execute: the receipt comes back in the invoke response, the card the person just submitted.
    status, body = await teams.post(in_personal_chat(teams.invoke({**data, **FORM}, verb="suggest:new")))
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
    receipt = texts_of(body["value"])
    code = CODE.search(receipt)
    number = re.search(r"anonymer Vorschlag #(\d+)", receipt)
    assert code and number, receipt
    await teams.app.outbox.drain()
    # Nothing posted to any chat, and nothing waiting in the outbox, carries the code or the number's receipt.
    assert code.group(0) not in everything_posted(teams)
    async with teams.app.sessions() as s:
        stored = json.dumps(await all_rows(teams), default=str, ensure_ascii=False)
        anon = (await s.execute(select(Suggestion).where(Suggestion.id == int(number.group(1))))).scalar_one()
    assert code.group(0) not in stored and anon.author_id is None
    # What Teams told us about Max is kept to the day and was not rewritten by the anonymous submission.
    assert await day_only(teams) == []
    people_after = {
        t: rows for t, rows in (await all_rows(teams)).items() if t in ("member", "teams_user", "teams_conversation")
    }
    assert people_after == people_before

    # Action.Submit (older clients): the submitted card is updated in place with the receipt.
    await teams.post(teams.personal_message("suggest", locale="de-DE"))
    form_id, _ = last_form(teams, PERSONAL_ID)
    submit = in_personal_chat(teams.card_submit({**data, **FORM, "f.title": "Urlaubsantrag auf einer Seite"}))
    submit["replyToId"] = form_id
    posted_before = len(teams.connector.activities())
    assert (await teams.post(submit))[0] == 201
    await teams.app.outbox.drain()
    (update,) = [u for u in teams.connector.updates(PERSONAL_ID) if u.get("id") == form_id]
    shown = json.dumps(update, ensure_ascii=False)
    second = CODE.search(shown)
    assert second and "anonymer Vorschlag #" in shown, shown
    assert len(teams.connector.activities()) == posted_before  # no message: the card itself became the receipt
    assert second.group(0) not in everything_posted(teams)
    assert await day_only(teams) == []


async def test_anonymous_answer_receipt_is_the_submitted_card(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    install = teams._base("conversation_update_bot_added_to_team.recorded.json")
    install["membersAdded"] = [{"id": BOT_ID}]
    install["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
    assert (await teams.post(install))[0] == 201  # the installer administers Starling
    await teams.post(teams.personal_message("help", locale="de-DE"))
    await teams.post(teams.channel_message("prompt subscribe 09:30 mon-fri Europe/Berlin", locale="de-DE"))
    await teams.post(teams.channel_message("prompt now", locale="de-DE"))
    await teams.app.outbox.drain()
    post = next(c for c in reversed(teams.connector.cards()) if "Impuls des Tages" in texts_of(c))
    answer = button(post, "prompt:answer")
    # "Answer" on the channel's prompt: the form comes to Max privately, in his 1:1 chat.
    status, _ = await teams.post(teams.card_submit(answer))
    assert status == 201
    await teams.app.outbox.drain()
    form_id, form = last_form(teams, PERSONAL_ID)
    fields = {
        i["id"]: i for i in json.loads(json.dumps(form))["body"][0]["items"] if str(i.get("id", "")).startswith("f.")
    }
    submit_data = next(a for a in actions(form) if a["type"] == "Action.Submit")["data"]
    values = {k: "" for k in fields}
    values.update({next(k for k in fields if "anonym" in k): "true"})
    text_field = next(k for k, f in fields.items() if f.get("type") == "Input.Text")
    values[text_field] = "Niemand ruft zurück, wenn das Ticket geschlossen ist."
    posted_before = len(teams.connector.activities())
    submit = in_personal_chat(teams.card_submit({**submit_data, **values}))
    submit["replyToId"] = form_id
    assert (await teams.post(submit))[0] == 201
    await teams.app.outbox.drain()

    updates = [u for u in teams.connector.updates(PERSONAL_ID) if u.get("id") == form_id]
    assert updates, teams.connector.activities(PERSONAL_ID)[-1]
    shown = json.dumps(updates[-1], ensure_ascii=False)
    assert "ohne deinen Namen" in shown, shown
    # The receipt was not posted to his chat; the answer itself goes to the thread at the next full hour
    # (or at once under no name) and says nothing of him.
    new_posts = teams.connector.activities()[posted_before:]
    assert not [a for a in new_posts if a.get("conversation", {}).get("id") == PERSONAL_ID], new_posts
    assert "Max" not in json.dumps(new_posts, ensure_ascii=False)
    async with teams.app.sessions() as s:
        answers = (await s.execute(select(PromptAnswer))).scalars().all()
    assert [a.author_id for a in answers] == [None]
    assert await day_only(teams) == []
    # His own Teams rows say only the day.
    async with teams.app.sessions() as s:
        user = (await s.execute(select(TeamsUser).where(TeamsUser.user_id == MAX))).scalar_one()
    assert (user.updated_at.hour, user.updated_at.minute, user.updated_at.second) == (0, 0, 0)


async def test_the_answer_to_an_anonymous_reply_is_not_kept_for_a_retry(teams_any_db: TeamsClient) -> None:
    """When Teams refuses for now (429) what Starling answers to an anonymous action in the 1:1 chat (here a
    reply by receipt code), it is not queued for a retry: a stored row addressed to the author's chat, written
    right after the anonymous one, would name her."""
    teams = teams_any_db
    install = teams._base("conversation_update_bot_added_to_team.recorded.json")
    install["membersAdded"] = [{"id": BOT_ID}]
    install["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
    assert (await teams.post(install))[0] == 201  # the installer administers Starling and decides
    await teams.post(teams.personal_message("suggest", locale="de-DE"))
    data = button(teams.connector.cards(PERSONAL_ID)[-1], "suggest:new")
    _, body = await teams.post(in_personal_chat(teams.invoke({**data, **FORM}, verb="suggest:new")))
    receipt = texts_of(body["value"])
    code, number = CODE.search(receipt), re.search(r"anonymer Vorschlag #(\d+)", receipt)
    assert code and number, receipt
    # the hour's batch announces it to the deciders (the scheduler's tick at the next full hour)
    await run_tick(teams.app.router, teams.app.services, utcnow() + timedelta(hours=1))
    asked = await teams.post(teams.channel_message(f"suggest ask {number.group(1)} Welche Beträge?", locale="de-DE"))
    assert asked[0] == 201
    await teams.app.outbox.drain()
    before = {r.id for r in await teams.outbox()}

    for op in ("send_to_conversation", "reply_to_activity"):
        teams.connector.fail_next(op, status=429, retry_after=3)
    reply = teams.personal_message(f"suggest reply {code.group(0)} Alles unter 100 Euro.", locale="de-DE")
    assert (await teams.post(reply))[0] == 201
    async with teams.app.sessions() as s:
        kinds = [e.kind for e in (await s.execute(select(SuggestionEvent))).scalars()]
    assert "answer" in kinds  # the reply was stored
    queued = [r for r in await teams.outbox() if r.id not in before]
    assert [r for r in queued if r.target_id == PERSONAL_ID or r.cause == "teams_reply_retry"] == [], queued
    assert all(r.cause == "anonymous" for r in queued), queued  # only the approver's message, with the hour
