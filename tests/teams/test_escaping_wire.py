"""Over the real endpoint: a hostile name from the team's roster (the Teams directory) and in the mention
entity comes back inert in the public leaderboard reply that reaches the Bot Connector, on both databases:
no mention, tag, HTML, link or emphasis from it in the card's markdown, nor in its plain-text ``summary`` and
``fallbackText``."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.teams.conftest import ANNA, MAX, PERSONAL_ID, TEAM_ID, THREAD_ID, TeamsClient

HOSTILE = "<!channel> <@U0BEN> *Eve* [x](javascript:alert(1)) <at>x</at> <b>b</b> _y_"
EVE = "29:1eVeFakeHostileUserBase64IdStringForTeamsPlatformAbcDeFgHiJkLmNoPqRsTuV012345"
EVE_AAD = "00000000-eeee-2222-3333-444444444444"


def strings(node: Any, key: str = "") -> list[tuple[str, str, str]]:
    """(property, element type, text) of every string in an activity or card."""
    out: list[tuple[str, str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str):
                out.append((k, str(node.get("type", "")), v))
            else:
                out += strings(v, k)
    elif isinstance(node, list):
        for item in node:
            out += strings(item, key)
    return out


async def test_a_hostile_roster_name_is_inert_in_the_public_leaderboard_reply(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    teams.connector.add_member(TEAM_ID, EVE, HOSTILE, EVE_AAD)
    activity = teams.channel_message("kudos <at>Eve</at> danke für die Hilfe beim Kunden #kundenfokus", {"Eve": EVE})
    for entity in activity["entities"]:
        if entity.get("mentioned", {}).get("id") == EVE:
            entity["mentioned"]["name"] = HOSTILE  # the name Teams sends with the mention, as hostile as the roster
    assert (await teams.post(activity))[0] in (200, 201)  # the thanks names Eve (it waits in the outbox)
    assert (await teams.post(teams.channel_message("leaderboard month")))[0] in (200, 201)
    boards = [a for a in teams.connector.activities(THREAD_ID) if a.get("attachments")]
    assert len(boards) == 1, teams.connector.activities(THREAD_ID)  # the board answers at once, in the thread
    board = boards[0]["attachments"][0]["content"]
    await teams.app.outbox.drain()  # the thanks in the thread and the DMs
    replies = [a for a in teams.connector.activities() if a.get("attachments")]
    assert any("Eve" in text for _, kind, text in strings(board) if kind == "TextBlock")  # the name is shown ...
    found = strings(replies)
    assert any("Eve" in text for prop, _, text in found if prop == "summary")  # (the thanks' notification)
    for prop, _, text in found:  # ... and is inert everywhere
        if prop == "name":
            continue  # an account's or a mentioned person's name: data fields Teams never renders as text
        assert "<at>x" not in text and "<b>" not in text and "<!channel>" not in text, (prop, text)
        assert not re.search(r"(?<!\\)\]\(", text), (prop, text)  # no live markdown link
        bare = text.replace("\\*", "").replace("\\_", "")
        assert "*Eve*" not in bare and "_y_" not in bare, (prop, text)
    entities = [e for r in replies for e in r["attachments"][0]["content"].get("msteams", {}).get("entities", [])]
    assert {e["mentioned"]["id"] for e in entities} <= {EVE, MAX}  # only the people the bot means to mention
    assert "<at>x" not in json.dumps([e["text"] for e in entities])


async def test_a_typed_department_is_inert_in_the_refusal(teams_any_db: TeamsClient) -> None:
    """Finding 4 on Teams: a department typed into the suggestion form (Action.Execute from the 1:1 chat) that
    Starling does not know comes back in the answer to the click as typed, never as markdown, a link, HTML or
    a mention, and nothing else Starling sends carries it live."""
    from tests.teams.test_anonymous_wire import FORM, button, in_personal_chat

    teams = teams_any_db
    await teams.post(teams.channel_message("help", locale="de-DE"))
    await teams.post(teams.personal_message("suggest", locale="de-DE"))
    data = button(teams.connector.cards(PERSONAL_ID)[-1], "suggest:new")
    typed = {"f.title": HOSTILE, "f.problem": HOSTILE, "f.department": HOSTILE, "f.anonymous": ""}
    status, body = await teams.post(in_personal_chat(teams.invoke({**data, **FORM, **typed}, verb="suggest:new")))
    assert status == 200, body
    await teams.app.outbox.drain()
    sent = [body] + [a for a in teams.connector.activities() if a.get("attachments")]
    found = strings(sent)
    assert "Eve" in body["value"] and "kenne ich nicht" in body["value"], body  # the refusal shows it ...
    for prop, _, text in found:  # ... inert
        if prop == "name":
            continue
        assert "<at>x" not in text and "<b>" not in text and "<!channel>" not in text, (prop, text)
        assert not re.search(r"(?<!\\)\]\(", text), (prop, text)
        bare = text.replace("\\*", "").replace("\\_", "")
        assert "*Eve*" not in bare and "_y_" not in bare, (prop, text)
    entities = [e for a in sent[1:] for e in a["attachments"][0]["content"].get("msteams", {}).get("entities", [])]
    assert all(e["mentioned"]["id"] in (MAX, ANNA) for e in entities), entities
