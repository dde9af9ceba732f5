"""The service-goal pulse over Teams activities: the question in each person's 1:1 chat as an Adaptive Card,
the answer form on a card, the close, and the goal in the digest preview (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from storage.pulse import PulseAnswer
from tests.teams.conftest import BOT_ID, MAX, MAX_AAD, PERSONAL_ID, TEAM_ID, THREAD_ID, TeamsClient
from tests.teams.test_wire import texts_of

PEOPLE = {
    f"29:1PulsePerson{i}FakeTeamsUserId": (f"Person {i}", f"00000000-0000-0000-0000-00000000000{i}")
    for i in range(1, 7)
}
ANSWERS = [
    "Das Problem des Kunden beim ersten Kontakt lösen.",
    "Probleme der Kunden direkt beim Erstkontakt lösen",
    "Kundenprobleme beim ersten Anruf lösen.",
    "Zufriedene Kunden.",
    "Dass unsere Kunden glücklich und zufrieden sind.",
    "Mehr Umsatz machen.",
]


def as_person(activity: dict[str, Any], uid: str) -> dict[str, Any]:
    name, aad = PEOPLE.get(uid, ("Max Mustermann", MAX_AAD))
    activity["from"] = {"id": uid, "name": name, "aadObjectId": aad}
    return activity


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("Action.Execute", "Action.Submit"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def test_pulse_over_teams(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    install = teams._base("conversation_update_bot_added_to_team.recorded.json")
    install["membersAdded"] = [{"id": BOT_ID}]
    install["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
    assert (await teams.post(install))[0] == 201  # the installer administers Starling
    for uid, (name, aad) in PEOPLE.items():
        teams.connector.add_member(TEAM_ID, uid, name, aad)
        await teams.post(as_person(teams.channel_message("pulse status", locale="de-DE"), uid))
    await teams.post(teams.channel_message("pulse start", locale="de-DE"))
    await teams.app.outbox.drain()
    for i, (uid, text) in enumerate(zip(PEOPLE, ANSWERS, strict=True)):
        chat = teams.connector.conversation_for(uid)
        assert chat is not None
        card = teams.connector.cards(chat)[-1]
        assert "Was ist in einem Satz das Ziel unseres Kundenservice?" in texts_of(card)
        button = next(
            a for a in actions(card) if str((a.get("data") or {}).get("action_id", "")).startswith("pulse:form")
        )
        data = (
            button["data"]
            if button["type"] == "Action.Submit"
            else button.get("fallback", {}).get("data", button["data"])
        )
        await teams.post(as_person(teams.card_submit(data, reply_to=f"17000000000{i}"), uid))
        form_card = teams.connector.cards(chat)[-1]
        submit = next(a for a in actions(form_card) if (a.get("data") or {}).get("action_id") == "pulse:answer")
        filled = {**submit["data"], "f.answer": text}
        assert (await teams.post(as_person(teams.card_submit(filled), uid)))[0] == 201
    first = next(iter(PEOPLE))
    chat = teams.connector.conversation_for(first)
    await teams.post(as_person(teams.card_submit({**filled, "f.answer": "x" * 5000}), first))
    assert "5000 Zeichen" in texts_of(teams.connector.cards(chat)[-1])
    # The starter answers with a plain reply in the 1:1 chat.
    await teams.post(teams.personal_message("Kunden langfristig an uns binden", locale="de-DE"))
    async with teams.app.sessions() as s:
        rows = (await s.execute(select(PulseAnswer))).scalars().all()
    assert len(rows) == 7 and all(r.author_id is None and r.owner_key for r in rows)

    await teams.post(teams.channel_message("pulse close", locale="de-DE"))
    await teams.app.outbox.drain()
    posted = [texts_of(c) for c in teams.connector.cards(THREAD_ID) + teams.connector.cards(TEAM_ID)]
    result = next(p for p in posted if "Zielbild-Puls: das Ergebnis" in p)
    assert "Spatzen ▕" in result and "Das Problem des Kunden beim ersten Kontakt lösen." in result
    assert "eigene Antwort" not in result
    mine = [c for chat in {teams.connector.conversation_for(MAX), PERSONAL_ID} for c in teams.connector.cards(chat)]
    assert any("Deine eigene Antwort" in texts_of(c) for c in mine)

    await teams.post(teams.channel_message("goal set Kundenprobleme beim ersten Kontakt lösen.", locale="de-DE"))
    await teams.post(teams.channel_message("digest preview", locale="de-DE"))
    shown = [
        texts_of(c)
        for chat in {teams.connector.conversation_for(MAX), PERSONAL_ID}
        for c in teams.connector.cards(chat)
    ]
    assert any("Fixstern" in t and "Kundenprobleme beim ersten Kontakt lösen." in t for t in shown)
