"""Teams over the wire: activities POSTed to /api/messages, replies asserted at the fake Bot Connector."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.core.messages import Actions, Button, Header, Message, Section
from bot.core.router import Context, Router, UserError
from storage.models import Member
from storage.teams import TeamsUser
from tests.teams.conftest import (
    ANNA,
    ANNA_AAD,
    BOT_ID,
    CHANNEL_ID,
    MAX,
    PERSONAL_ID,
    TEAM_ID,
    TENANT,
    THREAD_ID,
    WORKSPACE,
    TeamsClient,
    load,
)


def texts_of(card: dict[str, Any]) -> str:
    """Every text on a card, flattened (TextBlocks, facts, action titles)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    out.append(node[key])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body"))
    return "\n".join(out)


async def test_channel_kudos_gives_one_kudos_and_celebrates_in_the_thread(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    activity = teams.channel_message(
        "kudos <at>Anna Schmidt</at> danke für die schnelle Hilfe beim Kunden #kundenfokus", {"Anna Schmidt": ANNA}
    )
    status, _ = await teams.post(activity)
    assert status == 201

    rows = await teams.kudos()
    assert [(k.giver_id, k.receiver_id, k.value_tag) for k in rows] == [(MAX, ANNA, "kundenfokus")]
    assert rows[0].reason == "danke für die schnelle Hilfe beim Kunden"

    await teams.app.outbox.drain()
    cards = teams.connector.cards(THREAD_ID)
    assert len(cards) == 1, teams.connector.summary()
    celebration = cards[0]
    assert celebration["type"] == "AdaptiveCard" and celebration["version"] == "1.5"
    assert "Kudos!" in texts_of(celebration)
    assert "<at>Anna Schmidt</at>" in texts_of(celebration)
    mentioned = {e["mentioned"]["id"] for e in celebration["msteams"]["entities"]}
    assert mentioned == {MAX, ANNA}

    # Anna is told privately, in a 1:1 chat Starling opens with her; Max gets his confirmation privately too.
    created = {c["members"][0]["id"]: c for c in teams.connector.created_conversations()}
    assert set(created) == {ANNA, MAX}
    assert created[ANNA]["channelData"]["tenant"]["id"] == TENANT and created[ANNA]["bot"]["id"] == BOT_ID
    anna_chat = teams.connector.conversation_for(ANNA)
    assert anna_chat and "danke für die schnelle Hilfe beim Kunden" in texts_of(teams.connector.cards(anna_chat)[0])
    max_chat = teams.connector.conversation_for(MAX)
    assert max_chat and "Kudos sent to Anna Schmidt" in texts_of(teams.connector.cards(max_chat)[0])

    # Teams redelivers the same activity: still one kudos, nothing posted again.
    before = len(teams.connector.requests)
    status, _ = await teams.post(activity)
    assert status == 201
    await teams.app.outbox.drain()
    assert len(await teams.kudos()) == 1
    assert len(teams.connector.requests) == before

    # What Starling learnt: the thread's reference, Anna's name from the roster and her AAD object id.
    async with teams.app.sessions() as session:
        anna = (await session.execute(select(Member).where(Member.user_id == ANNA))).scalars().one()
        aad = await session.get(TeamsUser, (WORKSPACE, ANNA))
    assert anna.display_name == "Anna Schmidt"
    assert aad is not None and aad.aad_object_id == ANNA_AAD
    refs = {r.conversation_id: r for r in await teams.references()}
    assert refs[THREAD_ID].team_id == TEAM_ID and refs[THREAD_ID].teams_channel_id == CHANNEL_ID
    assert refs[THREAD_ID].service_url == teams.connector.service_url


async def test_personal_chat_is_addressed_without_a_mention(teams: TeamsClient) -> None:
    status, _ = await teams.post(teams.personal_message("stats"))
    assert status == 201
    cards = teams.connector.cards(PERSONAL_ID)
    assert len(cards) == 1
    assert "Your kudos" in texts_of(cards[0])
    assert teams.connector.created_conversations() == []  # private answers stay in the 1:1 chat
    ref = {r.conversation_id: r for r in await teams.references()}[PERSONAL_ID]
    assert (ref.kind, ref.user_id) == ("personal", MAX)


async def test_german_client_gets_german_answers(teams: TeamsClient) -> None:
    await teams.post(teams.personal_message("blabla", locale="de-DE"))
    assert "Den Befehl **blabla** kenne ich nicht" in texts_of(teams.connector.cards(PERSONAL_ID)[0])


async def test_unknown_command_in_a_channel_is_answered_privately(teams: TeamsClient) -> None:
    status, _ = await teams.post(teams.channel_message("leaderbord"))
    assert status == 201
    assert teams.connector.cards(THREAD_ID) == []
    chat = teams.connector.conversation_for(MAX)
    assert chat is not None
    text = texts_of(teams.connector.cards(chat)[0])
    assert "I don't know the command **leaderbord**" in text and "**leaderboard**" in text


async def test_mention_of_an_unknown_user_gets_a_clear_private_reply(teams: TeamsClient) -> None:
    stranger = "29:1zZzNotInThisTeam"
    activity = teams.channel_message(
        "kudos <at>Nobody</at> danke für die schnelle Hilfe #kundenfokus", {"Nobody": stranger}
    )
    assert (await teams.post(activity))[0] == 201
    assert await teams.kudos() == []
    chat = teams.connector.conversation_for(MAX)
    assert chat is not None
    assert "I can't find that person" in texts_of(teams.connector.cards(chat)[0])
    assert teams.connector.cards(THREAD_ID) == []


async def test_leaderboard_renders_bars_in_the_conversation(teams: TeamsClient) -> None:
    await teams.post(
        teams.channel_message("kudos <at>Anna Schmidt</at> danke für die Hilfe beim Kunden", {"Anna Schmidt": ANNA})
    )
    teams.connector.reset()
    await teams.post(teams.channel_message("leaderboard month"))
    cards = teams.connector.cards(THREAD_ID)
    assert len(cards) == 1
    text = texts_of(cards[0])
    assert "Anna Schmidt" in text and "1 point" in text
    bar_rows = [n for n in cards[0]["body"][1]["items"] if n["type"] == "ColumnSet"]
    assert len(bar_rows) == 1
    bar = bar_rows[0]["columns"][2]["items"][0]["columns"]
    assert bar[0]["width"] == 100 and bar[0]["style"] in ("accent", "good")


async def test_install_into_a_team_stores_the_reference_and_welcomes_once(teams: TeamsClient) -> None:
    update = teams._base("conversation_update_bot_added_to_team.recorded.json")
    update["membersAdded"] = [{"id": BOT_ID}]
    conversation = update["conversation"]["id"]
    status, _ = await teams.post(update)
    assert status == 201

    ref = {r.conversation_id: r for r in await teams.references()}[conversation]
    assert ref.installed and ref.kind == "channel"
    assert (ref.service_url, ref.tenant_id, ref.bot_id) == (teams.connector.service_url, TENANT, BOT_ID)
    assert ref.team_id == update["channelData"]["team"]["id"]

    cards = teams.connector.cards(conversation)
    assert len(cards) == 1
    welcome = texts_of(cards[0])
    assert "Starling" in welcome and "#kundenfokus" in welcome and "kudos @" in welcome

    # The installer administers Starling (Teams tells bots nothing about roles).
    async with teams.app.sessions() as session:
        installer = (
            (await session.execute(select(Member).where(Member.user_id == update["from"]["id"]))).scalars().one()
        )
    assert installer.is_admin

    # Teams also sends installationUpdate for the same install: no second welcome.
    install = teams._base("installation_update_add.json")
    install["conversation"] = update["conversation"]
    install["channelData"] = update["channelData"]
    install["from"] = update["from"]
    assert (await teams.post(install))[0] == 201
    assert len(teams.connector.cards(conversation)) == 1


async def test_personal_install_then_proactive_dm_uses_the_stored_chat(teams: TeamsClient) -> None:
    update = teams._base("conversation_update_bot_added_personal.recorded.json")
    update["membersAdded"] = [{"id": BOT_ID}]
    chat = update["conversation"]["id"]
    assert (await teams.post(update))[0] == 201
    assert len(teams.connector.cards(chat)) == 1  # the welcome, in the 1:1 chat

    # A kudos for this person later reaches them in that stored chat, not a new one.
    receiver = update["from"]["id"]
    teams.connector.add_member(TEAM_ID, receiver, "Rita Receiver", "00000000-1111-2222-3333-555555555555")
    activity = teams.channel_message(
        "kudos <at>Rita Receiver</at> danke für die tolle Kundenbetreuung", {"Rita Receiver": receiver}
    )
    activity["from"] = {"id": ANNA, "name": "Anna Schmidt"}
    await teams.post(activity)
    await teams.app.outbox.drain()
    assert "danke für die tolle Kundenbetreuung" in texts_of(teams.connector.cards(chat)[-1])
    assert receiver not in {c["members"][0]["id"] for c in teams.connector.created_conversations()}


def add_vote_feature(router: Router) -> list[dict[str, Any]]:
    """A small feature with buttons and a form, registered on the real router for these tests."""
    seen: list[dict[str, Any]] = []

    @router.action("vote", feature="test")
    async def vote(ctx: Context) -> None:
        ev = ctx.event
        seen.append({"value": getattr(ev, "value", None), "form": getattr(ev, "form", None)})
        if getattr(ev, "value", "") == "boom":
            raise UserError("core.admin_only")
        ctx.update(Message(blocks=[Header(text="Thanks for voting"), Section(text=f"You chose {ev.value}")]))  # type: ignore[attr-defined]

    @router.command("poll", feature="test")
    async def poll(ctx: Context) -> None:
        ctx.reply(
            Message(
                blocks=[Section(text="Lunch?"), Actions(buttons=[Button(label="Yes", action_id="vote", value="yes")])]
            )
        )

    return seen


async def test_card_submit_updates_the_card_in_place(teams: TeamsClient) -> None:
    seen = add_vote_feature(teams.app.router)
    await teams.post(teams.channel_message("poll"))
    poll_card = teams.connector.cards(THREAD_ID)[0]
    button = poll_card["body"][1]["actions"][0]
    assert button["type"] == "Action.Execute" and button["verb"] == "vote"
    assert button["fallback"]["type"] == "Action.Submit"

    submit = teams.card_submit(button["fallback"]["data"], reply_to="1700000000001")
    assert (await teams.post(submit))[0] == 201
    assert seen == [{"value": "yes", "form": {}}]
    updates = teams.connector.updates(THREAD_ID)
    assert len(updates) == 1
    update_rec = teams.connector.calls("update_activity")[0]
    assert update_rec.path_params["activity_id"] == "1700000000001"
    assert "Thanks for voting" in texts_of(updates[0]["attachments"][0]["content"])


async def test_empty_card_submit_gets_a_clear_private_reply(teams: TeamsClient) -> None:
    assert (await teams.post(teams.card_submit({})))[0] == 201
    chat = teams.connector.conversation_for(MAX)
    assert chat is not None
    assert "can't read this card" in texts_of(teams.connector.cards(chat)[0])
    assert teams.connector.updates() == []


async def test_form_submitted_with_an_empty_required_field_is_refused(teams: TeamsClient) -> None:
    seen = add_vote_feature(teams.app.router)
    data = {"action_id": "vote", "value": "", "form": True, "required": [["title", "Title"]], "f.title": "  "}
    assert (await teams.post(teams.card_submit(data)))[0] == 201
    assert seen == []
    chat = teams.connector.conversation_for(MAX)
    assert chat is not None and "Please fill in: Title" in texts_of(teams.connector.cards(chat)[0])

    data["f.title"] = "Weniger Formulare"
    assert (await teams.post(teams.card_submit(data)))[0] == 201
    assert seen == [{"value": "", "form": {"title": "Weniger Formulare"}}]


async def test_invoke_action_answers_with_the_updated_card(teams: TeamsClient) -> None:
    seen = add_vote_feature(teams.app.router)
    status, body = await teams.post(teams.invoke({"action_id": "vote", "value": "yes"}, verb="vote"))
    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard" and "Thanks for voting" in texts_of(body["value"])
    assert seen == [{"value": "yes", "form": {}}]


async def test_invoke_refusal_is_a_message_for_the_clicker_only(teams: TeamsClient) -> None:
    add_vote_feature(teams.app.router)
    status, body = await teams.post(teams.invoke({"action_id": "vote", "value": "boom"}, verb="vote"))
    assert status == 200
    assert body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Only workspace admins can change this.",
    }
    assert teams.connector.activities() == []


async def test_unreadable_invoke_gets_the_expected_response_shape(teams: TeamsClient) -> None:
    activity = teams._base("invoke_adaptive_card_action.json")  # the published one: no verb, no action id
    status, body = await teams.post(activity)
    expected = load("invoke_adaptive_card_action.expected_response.json")
    assert status == expected["http_status"]
    assert set(body) == set(expected["body"]) and body["type"] == expected["body"]["type"]
    assert body["statusCode"] == 200 and "can't read this card" in body["value"]
