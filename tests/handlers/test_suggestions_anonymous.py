"""Anonymous suggestions: no trace of the author anywhere, receipt codes, and identity-free rate limits."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import select, text
from structlog.testing import capture_logs

from bot.core.events import ActionEvent, Actor, Conversation, Platform
from bot.core.messages import Form, Message, plain
from storage.models import Member
from storage.tables import metadata
from tests.handlers.suggestion_kit import LEAVE, TRAVEL, click, fill_form, one, press, tick, trail
from tests.kit import BotHarness

AUTHOR_TRACES = ("anna", "schmidt")  # user id / handle "anna", display name "Anna Schmidt"
CODE_RE = re.compile(r"Belegcode: ([A-Z2-9]{5}-[A-Z2-9]{5})")
ID_RE = re.compile(r"anonymer Vorschlag #(\d+)")


def anon_id(receipt: str) -> int:
    """The anonymous suggestion's number from its receipt: random, far above the named ones."""
    found = ID_RE.search(receipt)
    assert found, receipt
    return int(found.group(1))


Snapshot = dict[str, dict[str, str]]


async def snapshot(bot: BotHarness) -> Snapshot:
    """Every row of every table, as text, keyed by table and primary key."""
    out: Snapshot = {}
    async with bot.app.sessions() as s:
        for table in metadata.sorted_tables:
            rows = (await s.execute(select(table))).mappings().all()
            pk = [c.name for c in table.primary_key.columns]
            out[table.name] = {repr(tuple(r[c] for c in pk)): repr(dict(r)) for r in rows}
    return out


def changes(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """Rows that are new or different in ``after``."""
    found: dict[str, list[str]] = {}
    for table, rows in after.items():
        for key, row in rows.items():
            if before.get(table, {}).get(key) != row:
                found.setdefault(table, []).append(row)
    return found


def traces(texts: list[str]) -> list[str]:
    return [t for t in texts if any(word in t.lower() for word in AUTHOR_TRACES)]


async def submit_anonymously(bot: BotHarness) -> tuple[str, str]:
    """Anna submits anonymously; returns (what she saw, her receipt code)."""
    out = await fill_form(bot, "anna", **TRAVEL, department="Buchhaltung", anonymous=True)
    code = CODE_RE.search(out)
    assert code, out
    return out, code.group(1)


async def test_anonymous_submission_leaves_no_trace_of_the_author(bot: BotHarness, caplog: Any) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await bot.say("suggest review-channel #verbesserungen", as_="max")
    await bot.say("kudos stats", as_="anna")  # anna is known: her member row exists before
    before = await snapshot(bot)
    caplog.set_level(logging.INFO)  # Starling's log level (at DEBUG the SQLite driver logs query parameters)
    with capture_logs() as logs:
        out, code = await submit_anonymously(bot)
        sid = anon_id(out)
        bot.clock.advance(hours=1)
        announced = await tick(bot)  # the hour's batch: the review card goes out
        await bot.say(f"suggest vote {sid}", as_="ben")
        await press(bot, f"suggest:ask:{sid}", as_="clara")
        await bot.say("Für welche Beträge genau?", as_="clara")
        status = await bot.say(f"suggest status {code}", as_="anna")
        bot.clock.advance(minutes=5)
        await bot.say(f"suggest reply {code} Alles unter 100 Euro.", as_="anna")
        bot.clock.advance(minutes=5)
        await bot.say(f"suggest approve {sid}", as_="clara")
    after = await snapshot(bot)

    # What anna saw: a receipt with her code, shown only to her.
    # (in the submitted form itself: the console shows it in place, not as a message "only you" keep)
    assert "Danke! Dein anonymer Vorschlag #" in out and "→" not in out and sid >= 100_000_000
    assert "→ #verbesserungen:" in announced
    submitter = next(line for line in announced.splitlines() if line.startswith("Eingereicht von"))
    assert submitter.split()[-1] == "anonym" and "Anna" not in announced
    assert "Für welche Beträge genau?" in status and f"suggest reply {code.upper()}" in status

    # The database: no new or changed row names her; her own member row is unchanged, or (when the
    # platform told the router new facts about her) changed only its refresh time.
    changed = changes(before, after)
    member_changes = changed.pop("member", [])
    assert traces([row for rows in changed.values() for row in rows]) == [], changed
    async with bot.app.sessions() as s:
        anna = (await s.execute(select(Member).where(Member.user_id == "anna"))).scalar_one()
    old_anna = next(r for r in before["member"].values() if "'user_id': 'anna'" in r)
    new_anna = next((r for r in member_changes if "'user_id': 'anna'" in r), old_anna)
    assert re.sub(r"'updated_at': [^)]*\)", "", old_anna) == re.sub(r"'updated_at': [^)]*\)", "", new_anna)
    assert anna.display_name == "Anna Schmidt"

    # The suggestion row and its trail: no author, no hash of one, only the hour.
    s1 = await one(bot, sid)
    assert s1.author_id is None and s1.anonymous and s1.receipt_hash and code not in repr(s1.model_dump())
    assert (s1.created_at.minute, s1.created_at.second) == (0, 0)
    assert [(k, actor) for k, actor, *_ in await trail(bot, sid)] == [
        ("status", None),
        ("question", "clara"),
        ("answer", None),
        ("status", "clara"),
    ]
    # The outbox: nothing addressed to her; the approver got her answer without her name.
    async with bot.app.sessions() as s:
        targets = (await s.execute(text("select target_id from outbox"))).scalars().all()
    assert "anna" not in targets and "clara" in targets

    # The logs: structlog events and standard logging alike.
    log_texts = [repr(e) for e in logs] + [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    assert traces(log_texts) == [], traces(log_texts)


async def test_anonymous_flow_for_the_submitter(bot: BotHarness) -> None:
    out, code = await submit_anonymously(bot)
    sid = anon_id(out)
    assert "Er geht mit der Sammelrunde zur nächsten vollen Stunde" in out
    assert "Tipp: Wenn du für deinen eigenen Vorschlag stimmst" in out
    # Not public before the hour's batch, not even by number; the code works at once.
    assert f"Einen Vorschlag #{sid} gibt es hier nicht" in await bot.say(f"suggest show {sid}", as_="ben")
    assert "Hier ist noch nichts" in await bot.say("suggest list", as_="ben")
    pending = await bot.say(f"suggest status {code.lower().replace('-', '')}", as_="anna")
    assert "Noch nicht bei den Entscheidenden" in pending and "eingereicht" in pending
    assert "→" not in await tick(bot)  # same hour: nothing goes out yet
    bot.clock.advance(hours=1)
    out = await tick(bot)
    assert "→ DM an @max:" in out and "anonym" in out
    assert "→" not in await tick(bot)  # exactly once
    assert "Reisekosten" in await bot.say("suggest list", as_="ben")
    mine = await bot.say("suggest list mine", as_="anna")
    assert "Reisekosten" not in mine and "Belegcode" in mine

    # No name to answer to: the reply needs the code; no question yet.
    assert "Dieser Vorschlag ist anonym: Antworte mit deinem Belegcode" in await bot.say(
        f"suggest reply {sid} hallo", as_="anna"
    )
    assert f"Zu #{sid} gibt es keine Rückfrage" in await bot.say(f"suggest reply {code} hallo", as_="anna")
    asked = await bot.say(f"suggest ask {sid} Welche Abteilung genau?", as_="max")
    assert "Die anonyme Person sieht sie mit ihrem Belegcode" in asked and "→ DM" not in asked
    assert "suggest reply" in await bot.say(f"suggest status {code}", as_="anna")
    answered = await bot.say(f"suggest reply {code} Die Buchhaltung.", as_="anna")
    assert "→ DM" not in answered  # the approver gets it with the hour's batch, not at the moment it came
    bot.clock.advance(hours=1)
    answered = await tick(bot)
    assert f"Die anonyme Person hat deine Rückfrage zu #{sid}" in answered and "→ DM an @max" in answered

    # Decisions reach voters and followers, never the (unknown) submitter; thanks are impossible.
    await bot.say(f"suggest vote {sid}", as_="ben")
    await bot.say(f"suggest approve {sid}", as_="max")
    out = await bot.say(f"suggest done {sid}", as_="max")
    assert "→ DM an @ben" in out and "→ DM an @anna" not in out
    done = await bot.say(f"suggest show {sid}", as_="ben")
    assert "Danke sagen" not in done and "wurde anonym eingereicht, deshalb kann ein Dankeschön" in done
    assert "wurde anonym eingereicht" in await press(bot, f"suggest:thank:{sid}", as_="ben")
    assert "umgesetzt" in await bot.say(f"suggest status {code}", as_="anna")


async def test_anonymous_rate_limits_store_no_identity(bot: BotHarness) -> None:
    for i in range(3):
        out = await fill_form(
            bot,
            "anna",
            title=f"Idee {i}",
            problem=f"Problem Nummer {i} mit Formular {i * 7}",
            proposal="p",
            category="other",
            anonymous=True,
        )
        assert "Belegcode" in out
    refused = await fill_form(bot, "anna", **LEAVE, anonymous=True)
    assert "Du hast heute schon 3 anonyme Vorschläge eingereicht" in refused
    assert "Belegcode" in await fill_form(bot, "ben", **LEAVE, anonymous=True)  # others are not affected
    # The workspace's hourly limit counts only numbers.
    await bot.say("suggest anon-limit 4", as_="max")
    refused = await fill_form(
        bot,
        "clara",
        title="Kantine",
        problem="Die Kantine schließt zu früh.",
        proposal="Länger.",
        category="rule",
        anonymous=True,
    )
    assert "In dieser Stunde kamen mehr anonyme Vorschläge an" in refused
    async with bot.app.sessions() as s:
        buckets = (await s.execute(text("select * from suggestion_anon_bucket"))).all()
    assert [tuple(b) for b in buckets] == [("console:local", "2026-11-18T09", 4)]
    # A new day: anna may submit again (the day's salt and counts are gone).
    bot.clock.advance(days=1)
    assert "Belegcode" in await fill_form(bot, "anna", **LEAVE, anonymous=True)


async def test_receipt_code_is_shown_once_and_only_to_the_submitter(bot: BotHarness) -> None:
    actor = Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="anna", display_name="Anna")
    form = {**TRAVEL, "anonymous": "true"}
    msgs: list[Message] = await bot.app.dispatch(
        ActionEvent(
            actor=actor, conversation=Conversation(id="general"), action_id="suggest:new", form=form, is_form=True
        )
    )
    assert [m.target.kind for m in msgs] == ["update"]  # in the submitted form itself, never a message
    shown = " ".join(plain(m.model_dump_json()) for m in msgs)
    code = re.search(r"[A-Z2-9]{5}-[A-Z2-9]{5}", shown)
    assert code is not None
    assert not any(isinstance(b, Form) for m in msgs for b in m.blocks)


async def test_similar_anonymous_suggestion_is_created_at_once_and_can_be_withdrawn_by_code(bot: BotHarness) -> None:
    await fill_form(bot, "ben", **TRAVEL)
    secret = "Meine Teamleitung gibt Reisekosten mit drei Unterschriften erst nach Wochen frei"
    receipt = await fill_form(bot, "anna", **{**TRAVEL, "problem": secret}, anonymous=True)
    # No held-back draft and no "submit anyway" click on record: the receipt carries the hint.
    assert "Danke! Dein anonymer Vorschlag #" in receipt and anon_id(receipt) >= 100_000_000
    code = CODE_RE.search(receipt)
    assert code
    assert f"zieh deinen mit `suggest withdraw {code.group(1)}` zurück (geht bis zur Sammelrunde um 11:00)" in receipt
    assert "#1 Reisekosten: drei Unterschriften" in receipt and re.search(r"\[\d+\] Für #1 stimmen", receipt)
    assert "Deine Stimme für #1 zählt" in await click(bot, "Für #1 stimmen", as_="anna")
    assert "Diesen Belegcode kenne ich nicht" in await bot.say("suggest withdraw ABCDE-FGHJK", as_="anna")
    assert "ist zurückgezogen" in await bot.say(f"suggest withdraw {code.group(1)}", as_="anna")
    assert secret not in repr(await snapshot(bot))
    bot.clock.advance(hours=1)
    assert "→" not in await tick(bot)  # nothing left to announce

    # Once its batch went out it stays (approvers may already be reading it).
    receipt = await fill_form(bot, "anna", **LEAVE, anonymous=True)
    late = CODE_RE.search(receipt)
    assert late
    bot.clock.advance(hours=1)
    assert "→ DM an @max" in await tick(bot)
    assert "kann nicht mehr zurückgezogen werden" in await bot.say(f"suggest withdraw {late.group(1)}", as_="anna")
