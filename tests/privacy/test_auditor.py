"""The auditor: try to re-identify an anonymous suggestion and an anonymous answer, over the real
endpoints (signed Slack HTTP with the fake Slack API; the console), on SQLite and PostgreSQL, by timing,
ordering, transaction ids (PostgreSQL ``xmin``), dedupe keys, logs and direct messages, and fail.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from structlog.testing import capture_logs

from bot.scheduler import run_tick
from storage.core import ANON_ID_FLOOR
from storage.prompts import PromptAnswer
from storage.suggestions import Suggestion
from storage.tables import metadata
from tests.handlers.suggestion_kit import TRAVEL, fill_form, tick
from tests.kit import BotHarness
from tests.slack.test_prompt_thread_wire import prompt_in_thread
from tests.slack.wire import CHANNEL, TEAM, SlackWire, Testbed, message, payload, visible_text

AUTHOR = ("UANNA", "Anna Schmidt")
Rows = dict[str, dict[str, dict[str, Any]]]


async def rows(sessions: Any) -> Rows:
    """Every row of every table, keyed by table and primary key."""
    out: Rows = {}
    async with sessions() as s:
        for table in metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            out[table.name] = {
                repr(tuple(r[c] for c in pk)): dict(r) for r in (await s.execute(select(table))).mappings().all()
            }
    return out


def written(before: Rows, after: Rows) -> list[tuple[str, dict[str, Any]]]:
    """New rows, and changed rows other than delivery state. The outbox worker meanwhile sends (and folds)
    earlier messages in its own transactions: of the outbox only rows caused by a form submission count."""
    return [
        (t, r)
        for t, rs in after.items()
        for k, r in rs.items()
        if (k not in before.get(t, {}) or before[t][k] != r)
        and t != "outbox_lane"
        and (t != "outbox" or (k not in before.get(t, {}) and r.get("cause") in ("ActionEvent", "anonymous")))
    ]


def finer_than_the_hour(found: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, datetime]]:
    return [
        (t, k, v)
        for t, r in found
        for k, v in r.items()
        if isinstance(v, datetime) and (v.minute, v.second, v.microsecond) != (0, 0, 0)
    ]


def names_author(value: Any) -> bool:
    blob = json.dumps(value, default=str, ensure_ascii=False)
    return any(word.lower() in blob.lower() for word in (*AUTHOR, "anna"))


def form_submission(view: dict[str, Any], user: str, values: dict[str, str], checked: set[str]) -> dict[str, Any]:
    body = payload("view_submission.json")
    body["team"] = {"id": TEAM, "domain": "starling-test"}
    body["user"].update(id=user, team_id=TEAM)
    body.pop("enterprise", None)
    state: dict[str, Any] = {}
    for key, value in values.items():
        kind = "static_select" if key == "category" else "plain_text_input"
        entry = {"type": kind, "selected_option": {"value": value}} if kind == "static_select" else {"type": kind}
        if kind == "plain_text_input":
            entry["value"] = value
        state[key] = {key: entry}
    for key in checked:
        state[key] = {key: {"type": "checkboxes", "selected_options": [{"value": "true"}]}}
    body["view"].update(
        team_id=TEAM,
        app_installed_team_id=TEAM,
        id=view["id"],
        hash=f"{view['id']}-h",
        callback_id=view["callback_id"],
        private_metadata=view.get("private_metadata", ""),
        blocks=view["blocks"],
        state={"values": state},
    )
    return body


def assert_outbox_order_says_nothing(outbox: dict[str, dict[str, Any]]) -> None:
    """Outbox rows queued by an anonymous action have random ids below zero: none sits between two named
    rows (whose ids count up with their precise times), and named rows keep counting as if it were not there."""
    anonymous = [r["id"] for r in outbox.values() if r["cause"] == "anonymous"]
    named = sorted(r["id"] for r in outbox.values() if r["cause"] != "anonymous")
    assert anonymous and len(named) >= 2, outbox
    assert all(i < 0 for i in anonymous) and len(set(anonymous)) == len(anonymous), anonymous
    assert all(0 < i < ANON_ID_FLOOR for i in named), named


FORM = {
    "title": "Reisekosten: drei Unterschriften",
    "problem": "Für jede Reisekostenabrechnung braucht es drei Unterschriften, auch bei 20 Euro.",
    "proposal": "Bis 100 Euro reicht eine Unterschrift.",
    "category": "approval",
}


async def test_anonymous_suggestion_over_slack_cannot_be_traced(
    testbed_any_db: Testbed, fake: SlackWire, caplog: Any
) -> None:
    bed = testbed_any_db
    # Anna is known (she gave kudos before); Ben submits a named suggestion.
    await bed.command("<@UBEN|ben> danke für die Hilfe beim schwierigen Kunden #teamwork", user="UANNA")
    await bed.command("Das Urlaubsformular hat zwölf Seiten, eine würde reichen", command="/suggest", user="UBEN")
    await bed.command("", command="/suggest", user="UANNA", trigger_id="13345224609.738474920.8088930838d88f008e0")
    await bed.settle()
    # The earlier kudos' posts and DMs are delivered first: a delivery recorded in the very next transaction
    # would sit beside hers by xmin without having anything to do with her submission.
    await bed.delivered(await bed.outbox_count(), timeout=30)
    opened = fake.payload(fake.ok_calls("views.open")[-1])
    view = {**opened["view"], "id": fake.ok_calls("views.open")[-1].response["view"]["id"]}
    submission = form_submission(view, "UANNA", FORM, {"anonymous"})

    before = await rows(bed.starling.sessions)
    posts_before = len(fake.ok_calls("chat.postMessage"))
    with capture_logs() as logs:
        for _ in range(2):  # a double submission: the second is recognised, and its log line names nothing
            status, body = await bed.interactive(submission)
            assert status == 200 and json.loads(body)["response_action"] == "update"
        await bed.settle()
    after = await rows(bed.starling.sessions)

    # DMs: the receipt replaced the submitted modal; no message to her, nothing stored that names the code.
    shown = "\n".join(visible_text(fake.payload(r)) for r in fake.ok_calls("views.update"))
    code = re.search(r"[A-Z2-9]{5}-[A-Z2-9]{5}", shown)
    number = re.search(r"anonymer Vorschlag #(\d+)", shown)
    assert code and number, shown
    assert fake.dms("UANNA") == [] and len(fake.ok_calls("chat.postMessage")) == posts_before
    assert not [
        r
        for r in fake.requests
        if code.group(0) in json.dumps(fake.payload(r), ensure_ascii=False)
        and r.path.rsplit("/", 1)[-1] != "views.update"
    ]

    # Timing: nothing the submission wrote carries a time finer than the hour; nothing written names her.
    new = written(before, after)
    assert new and finer_than_the_hour(new) == []
    assert [(t, r) for t, r in new if names_author(r)] == []

    # Ordering: the anonymous row's number is random; Clara's named suggestion continues after Ben's.
    anon_id = int(number.group(1))
    assert anon_id >= ANON_ID_FLOOR
    await bed.command("Die Kantine schließt zu früh, eine Stunde länger wäre gut", command="/suggest", user="UCLARA")
    await bed.settle()
    async with bed.starling.sessions() as s:
        named = (await s.execute(select(Suggestion.id).where(Suggestion.anonymous.is_(False)))).scalars().all()  # type: ignore[attr-defined]
    assert sorted(named) == [min(named), min(named) + 1] and max(named) < ANON_ID_FLOOR

    # Transaction ids (PostgreSQL): no row naming her was written in or next to the anonymous transaction.
    if bed.settings.database_url.startswith("postgresql"):
        async with bed.starling.sessions() as s:
            xid = (
                await s.execute(text("SELECT xmin::text::bigint FROM suggestion WHERE id = :i"), {"i": anon_id})
            ).scalar_one()
            near = []
            for table in metadata.sorted_tables:
                found = await s.execute(
                    text(f'SELECT * FROM "{table.name}" WHERE xmin::text::bigint BETWEEN :a AND :b'),
                    {"a": xid - 2, "b": xid + 2},
                )
                # As in ``written``: the worker's delivery record of a message queued before her submission is
                # the worker's own transaction, not something her submission wrote.
                near += [
                    (table.name, dict(r))
                    for r in found.mappings().all()
                    if not (table.name == "outbox" and repr((r["id"],)) in before["outbox"])
                ]
        assert near and [(t, r) for t, r in near if names_author(r)] == []

    # Dedupe keys: the plain digest of the platform's id is not stored, and the keyed ones and their
    # secret are gone after the dedupe window.
    event_id = f"view:{view['id']}:{view['id']}-h"
    plain = f"slack:{TEAM}:{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"
    assert plain not in after["processed_event"] and repr((plain,)) not in after["processed_event"]
    await run_tick(bed.starling.router, bed.starling.services, bed.clock.now + timedelta(days=3))
    final = await rows(bed.starling.sessions)
    assert final["processed_event"] == {} and final["dedupe_secret"] == {}

    # Logs: no line of the submission names her or carries a platform id.
    lines = [json.dumps(e, default=str, ensure_ascii=False) for e in logs]
    lines += [r.getMessage() for r in caplog.records]
    assert [line for line in lines if names_author(line) or view["id"] in line] == []


async def test_anonymous_answer_on_the_console_cannot_be_traced(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    await bot.say("prompt now", as_="max")
    await bot.say("prompt antwort Die Hotline-Ansage ist viel zu lang.", as_="ben")
    before = await rows(bot.app.sessions)
    with capture_logs() as logs:
        out = await bot.say("prompt antwort anonym Niemand ruft zurück, wenn das Ticket geschlossen ist.", as_="anna")
    after = await rows(bot.app.sessions)
    assert "ohne deinen Namen" in out
    new = written(before, after)
    assert new and finer_than_the_hour(new) == []
    assert [(t, r) for t, r in new if names_author(r)] == []
    async with bot.app.sessions() as s:
        answers = (await s.execute(select(PromptAnswer))).scalars().all()
    anon = [a for a in answers if a.author_id is None]
    assert len(anon) == 1 and anon[0].id is not None and anon[0].id >= ANON_ID_FLOOR
    assert all((a.id or 0) < ANON_ID_FLOOR for a in answers if a.author_id is not None)
    lines = [json.dumps(e, default=str, ensure_ascii=False) for e in logs]
    assert [line for line in lines if names_author(line)] == []
    # The thread post of her answer is queued with an id that is not counted between named messages:
    # Clara's named answer right after continues the count of Ben's.
    await bot.say("prompt antwort Die Warteschleife nennt keine Wartezeit.", as_="clara")
    assert_outbox_order_says_nothing((await rows(bot.app.sessions))["outbox"])


async def test_a_reply_by_receipt_code_cannot_be_traced(anybot: BotHarness) -> None:
    """The anonymous author answers an approver's question with her receipt code: what the reply writes carries
    only the hour and no name, and the message to the approver is queued with an id that counts for nothing."""
    bot = anybot
    out = await fill_form(bot, "anna", **TRAVEL, department="Buchhaltung", anonymous=True)
    code = re.search(r"Belegcode: ([A-Z2-9]{5}-[A-Z2-9]{5})", out)
    number = re.search(r"anonymer Vorschlag #(\d+)", out)
    assert code and number, out
    bot.clock.advance(hours=1, minutes=7, seconds=13)
    assert "→ DM an @max" in await tick(bot)  # announced with the hour's batch
    asked = await bot.say(f"suggest ask {number.group(1)} Welche Abteilung genau?", as_="max")
    assert "Belegcode" in asked
    bot.clock.advance(minutes=3, seconds=41)
    await bot.say("kudos @ben danke für die schnelle Hilfe beim Kundentermin", as_="clara")  # named, timed rows
    before = await rows(bot.app.sessions)
    with capture_logs() as logs:
        answered = await bot.say(f"suggest reply {code.group(1)} Die Buchhaltung in Graz.", as_="anna")
    after = await rows(bot.app.sessions)
    assert "→ DM" not in answered  # the approver hears it with the next hour's batch
    new = written(before, after)
    # The only time finer than the hour is the question's own, which the answer keeps so that the trail stays
    # in order when both fall in one hour: it says no more than the hour does (answered after the question,
    # within its hour).
    (asked_at,) = [r["at"] for r in after["suggestion_event"].values() if r["kind"] == "question"]
    assert new and all((t, k, v) == ("suggestion_event", "at", asked_at) for t, k, v in finer_than_the_hour(new))
    assert [(t, r) for t, r in new if names_author(r)] == []
    assert_outbox_order_says_nothing(after["outbox"])
    lines = [json.dumps(e, default=str, ensure_ascii=False) for e in logs]
    assert [line for line in lines if names_author(line) or code.group(1) in line] == []


async def test_anonymous_answer_over_slack_cannot_be_traced(testbed_any_db: Testbed, fake: SlackWire) -> None:
    """The daily prompt's Answer button, the modal with "anonymous" ticked, over signed Slack HTTP: the same
    auditor's checks as for a suggestion (timing, ordering, transaction ids, dedupe keys, logs, DMs)."""
    bed = testbed_any_db
    await bed.command("<@UBEN|ben> danke für die Hilfe beim schwierigen Kunden #teamwork", user="UANNA")
    ts = await prompt_in_thread(bed)
    await bed.event(
        {**message("Der Kunde will zuerst wissen, wie lange es dauert.", user="UBEN"), "thread_ts": ts}
    )  # a named answer in the thread
    await bed.settle()
    await bed.delivered(await bed.outbox_count(), timeout=30)
    click = payload("block_actions.json")
    click["team"]["id"] = TEAM
    click["user"].update(id="UANNA", team_id=TEAM)
    click["trigger_id"] = "13345224609.738474920.answer1"
    click["container"] = {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False}
    click["channel"] = {"id": CHANNEL, "name": "general"}
    click["response_url"] = fake.hook_url()
    click["actions"] = [{**click["actions"][0], "action_id": "prompt:answer", "value": "1"}]
    assert (await bed.interactive(click))[0] == 200
    await bed.settle()
    opened = fake.ok_calls("views.open")[-1]
    view = {**fake.payload(opened)["view"], "id": opened.response["view"]["id"]}
    text_of_answer = "Niemand ruft zurück, wenn das Ticket geschlossen ist."
    submission = form_submission(view, "UANNA", {"answer": text_of_answer}, {"anonymous"})

    before = await rows(bed.starling.sessions)
    posts_before = len(fake.ok_calls("chat.postMessage"))
    with capture_logs() as logs:
        for _ in range(2):  # a double submission
            status, body = await bed.interactive(submission)
            assert status == 200
        await bed.settle()
    after = await rows(bed.starling.sessions)

    # The receipt is in the modal; nothing is posted to her, and the answer's thread post waits for the hour.
    shown = body + "\n".join(visible_text(fake.payload(r)) for r in fake.ok_calls("views.update"))
    assert "ohne deinen Namen" in shown, shown
    assert fake.dms("UANNA") == [] and len(fake.ok_calls("chat.postMessage")) == posts_before
    new = written(before, after)
    assert new and finer_than_the_hour(new) == []
    assert [(t, r) for t, r in new if names_author(r)] == []
    (answer,) = [r for r in after["prompt_answer"].values() if r["text"] == text_of_answer]
    assert answer["author_id"] is None and answer["id"] >= ANON_ID_FLOOR
    assert_outbox_order_says_nothing(after["outbox"])

    if bed.settings.database_url.startswith("postgresql"):
        async with bed.starling.sessions() as s:
            xid = (
                await s.execute(text("SELECT xmin::text::bigint FROM prompt_answer WHERE id = :i"), {"i": answer["id"]})
            ).scalar_one()
            near = []
            for table in metadata.sorted_tables:
                found = await s.execute(
                    text(f'SELECT * FROM "{table.name}" WHERE xmin::text::bigint BETWEEN :a AND :b'),
                    {"a": xid - 2, "b": xid + 2},
                )
                near += [
                    (table.name, dict(r))
                    for r in found.mappings().all()
                    if not (table.name == "outbox" and repr((r["id"],)) in before["outbox"])
                ]
        assert near and [(t, r) for t, r in near if names_author(r)] == []

    # Dedupe keys: no plain digest of the platform's id, and nothing left after the window.
    event_id = f"view:{view['id']}:{view['id']}-h"
    plain = f"slack:{TEAM}:{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"
    assert repr((plain,)) not in after["processed_event"]
    await run_tick(bed.starling.router, bed.starling.services, bed.clock.now + timedelta(days=3))
    final = await rows(bed.starling.sessions)
    assert final["processed_event"] == {} and final["dedupe_secret"] == {}
    lines = [json.dumps(e, default=str, ensure_ascii=False) for e in logs]
    assert [line for line in lines if names_author(line) or view["id"] in line] == []
