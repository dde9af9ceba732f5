"""The goodwill budget over Teams activities: channel messages and card actions in, the fake Bot Connector out."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from storage.goodwill import GoodwillCase
from tests.fakes.bot_connector import FILE_CONSENT_CARD
from tests.teams.conftest import ANNA, BOT_ID, MAX, PERSONAL_ID, THREAD_ID, TeamsClient
from tests.teams.test_wire import texts_of


def as_anna(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"] = {"id": ANNA, "name": "Anna Schmidt", "aadObjectId": "00000000-aaaa-2222-3333-444444444444"}
    return activity


def private_texts(teams: TeamsClient, who: str) -> str:
    """Everything sent to ``who`` privately: the 1:1 chat Starling opened, and for Max the personal chat his
    card clicks come from (Starling keeps using the chat it last heard him in)."""
    chats = [teams.connector.conversation_for(who)] + ([PERSONAL_ID] if who == MAX else [])
    assert chats[0] is not None, teams.connector.summary()
    return "\n".join(texts_of(card) for chat in chats for card in teams.connector.cards(chat))


async def test_budget_rule_approver_bars_export_and_a_kudos_for_the_case(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    install = teams._base("conversation_update_bot_added_to_team.recorded.json")
    install["membersAdded"] = [{"id": BOT_ID}]
    assert (await teams.post(install))[0] == 201  # the installer (Max) administers Starling

    assert (await teams.post(teams.channel_message("starling language en")))[0] == 201  # Max's own language
    assert (await teams.post(teams.channel_message("starling set language en")))[0] == 201  # the workspace's
    assert (await teams.post(teams.channel_message("goodwill budget here 1000 EUR per year, per case 100")))[0] == 201
    assert "Goodwill budget for" in private_texts(teams, MAX)

    line = "goodwill 80 EUR replacement part came 3 weeks late, shipping refunded #kundenfokus ref:T-4711"
    activity = as_anna(teams.channel_message(line))
    assert (await teams.post(activity))[0] == 201
    assert (await teams.post(activity))[0] == 201  # Teams redelivers: it counts once
    await teams.app.outbox.drain()
    assert "approved by rule" in private_texts(teams, ANNA) and "920 EUR" in private_texts(teams, ANNA)

    await teams.post(as_anna(teams.channel_message("goodwill 150 EUR new device instead of a repair #kundenfokus")))
    await teams.app.outbox.drain()
    assert "Max Mustermann, who decide by" in private_texts(teams, ANNA)
    assert "Goodwill case #2" in private_texts(teams, MAX)

    status, body = await teams.post(
        teams.invoke({"action_id": "goodwill:approve:2", "value": "2"}, verb="goodwill:approve:2")
    )
    assert status == 200 and "approved" in texts_of(body["value"])
    await teams.app.outbox.drain()
    assert "is approved by" in private_texts(teams, ANNA)

    await teams.post(as_anna(teams.channel_message("goodwill")))
    assert "230 of 1,000 EUR spent" in private_texts(teams, ANNA)

    await teams.post(teams.channel_message("goodwill export 2026"))
    await teams.app.outbox.drain()
    (offer,) = teams.connector.attachments(FILE_CONSENT_CARD)
    assert offer["name"] == "starling-goodwill-2026.csv"

    kudos = teams.channel_message(
        "kudos <at>Anna Schmidt</at> thanks for the generous fix goodwill:1 #kundenfokus", {"Anna Schmidt": ANNA}
    )
    await teams.post(kudos)
    await teams.app.outbox.drain()
    celebrations = [c for c in teams.connector.cards(THREAD_ID) if "Kudos!" in texts_of(c)]
    assert len(celebrations) == 1 and "For goodwill case #1 (80 EUR)" in texts_of(celebrations[0])

    # A daily digest at midnight: its preview covers today, whatever the real clock says (the default weekly one
    # on a Monday morning in Berlin would cover last week, without the kudos just given).
    await teams.post(teams.channel_message("digest subscribe daily 00:00"))
    await teams.post(teams.channel_message("digest preview"))
    assert "Goodwill case #1" in private_texts(teams, MAX) and "Kudos for customer moments" in private_texts(teams, MAX)

    async with teams.app.sessions() as session:
        cases = list((await session.execute(select(GoodwillCase).order_by(GoodwillCase.id))).scalars())  # type: ignore[arg-type]
    assert [(c.amount, c.by_rule, c.status, c.decided_by) for c in cases] == [
        (8000, True, "approved", None),
        (15000, False, "approved", MAX),
    ]
