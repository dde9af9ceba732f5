"""Erasure deletes; export is the same set of rows; a colleague's own data is never rewritten."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.core.events import ActionEvent, Actor, Conversation, Platform
from storage import core
from storage.db import transaction
from storage.models import Member, OutboxMessage
from storage.tables import metadata
from tests.kit import BotHarness

ATTACHMENT_RE = re.compile(r"📎 (\S+): (\S+)")
FELIX = re.compile(r"(?<!\w)felix", re.I)


async def snapshot(bot: BotHarness) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    async with bot.app.sessions() as s:
        for table in metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            rows = (await s.execute(select(table))).mappings().all()
            out[table.name] = {json.dumps([str(r[c]) for c in pk]): dict(r) for r in rows}
    return out


def cells(snap: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    return [
        (t, k, json.dumps(v, default=str, ensure_ascii=False) if not isinstance(v, bytes) else v.decode("latin-1"))
        for t, rows in snap.items()
        for r in rows.values()
        for k, v in r.items()
    ]


async def test_forget_me_deletes_unlinks_per_row_and_leaves_a_namesake_alone(anybot: BotHarness) -> None:
    bot = anybot
    async with transaction(bot.app.sessions) as s:  # a colleague with the same surname
        await core.upsert_member(s, workspace_id=bot.workspace_id, user_id="lea", display_name="Lea Brunner")
    await bot.say("kudos @clara danke für die schnelle Rechnungsklärung #teamwork", as_="felix")
    await bot.say("kudos @ben danke für die Übergabe an die Spätschicht #teamwork", as_="felix")
    await bot.say("kudos @felix danke, Felix, für die Hilfe beim Kunden #kundenfokus", as_="ben")
    await bot.say("kudos @ben danke, das war Felix Brunners Idee, super umgesetzt #teamwork", as_="max")
    await bot.say("kudos @lea danke Lea Brunner für die Rechnung an den Kunden #kundenfokus", as_="clara")
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    await bot.say("prompt now", as_="max")
    await bot.say("prompt antwort Felix hat den Kunden zurückgerufen, das hat geholfen.", as_="felix")
    await bot.say("prompt antwort anonym Ohne Felix wäre der Anruf schiefgegangen.", as_="emma")
    async with transaction(bot.app.sessions) as s:  # an admin's export of felix, still waiting in the queue
        s.add(
            OutboxMessage(
                workspace_id=bot.workspace_id,
                platform="console",
                target_kind="dm",
                target_id="max",
                payload={
                    "blocks": [],
                    "attachments": [{"name": "starling-data-felix-2026-11-18.json", "data": "e30="}],
                },
                cause="CommandEvent",
                next_attempt_at=bot.clock.now + timedelta(days=1),  # still waiting when he is erased
                created_at=bot.clock.now,
            )
        )
    out = await bot.say("privacy export", as_="felix")
    (path,) = [p for n, p in ATTACHMENT_RE.findall(out) if "starling-data-felix" in n]
    with open(path, encoding="utf-8") as fh:
        exported = json.loads(fh.read())["tables"]
    assert "Ohne Felix" not in json.dumps(exported, ensure_ascii=False)  # someone else's anonymous answer
    before = await snapshot(bot)

    actor = Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="felix")
    msgs = await bot.app.dispatch(
        ActionEvent(actor=actor, conversation=Conversation(id="general"), action_id="privacy.forget", value="felix")
    )
    answer = " ".join(m.fallback() for m in msgs)
    after = await snapshot(bot)

    # Honest: what went, what stays unlinked and why; no claim to have "deleted you" outright.
    assert re.search(r"Gelöscht: [1-9]\d* Datensätze", answer) and "ohne Bezug zu dir" in answer
    assert "Anonyme Beiträge" in answer

    # Nothing names him any more, in any table and column; his colleague's own name is untouched.
    assert [c for c in cells(after) if FELIX.search(c[2])] == []
    assert [c for c in cells(after) if re.search(r"Brunners?\b", c[2]) and "Lea Brunner" not in c[2]] == []
    async with bot.app.sessions() as s:
        lea = (await s.execute(select(Member).where(Member.user_id == "lea"))).scalar_one()
    assert lea.display_name == "Lea Brunner"
    assert any("danke Lea Brunner für die Rechnung" in c[2] for c in cells(after))

    # Each of his rows that stays carries its own tombstone: no pseudonym links them.
    tombstones = [c[2] for c in cells(after) if c[2].strip('"').startswith("former-")]
    assert len(tombstones) >= 3 and len(set(tombstones)) == len(tombstones)

    # The waiting export of him is gone.
    assert not any("starling-data-felix" in c[2] for c in cells(after))

    # The export was exactly what erasure touched, less someone else's anonymous answer that named him.
    touched = {
        (t, k)
        for t, rows in before.items()
        for k, r in rows.items()
        if after.get(t, {}).get(k) != r and t not in ("audit_log", "processed_event", "dedupe_secret")
    }
    exported_keys = set()
    for t, rows in exported.items():
        pk = [c.name for c in metadata.tables[t].primary_key.columns]
        exported_keys |= {(t, json.dumps([str(r[c]) for c in pk])) for r in rows}
    assert exported_keys <= touched | {k for k in exported_keys if k[0] == "outbox"}
    leftover = touched - exported_keys
    assert all(
        (t == "prompt_answer" and before[t][k]["author_id"] is None)
        or (t == "outbox" and "attachments" in repr(before[t][k]))
        for t, k in leftover
    ), leftover
