"""Proactive Teams messages (the outbox sender) from references stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.messages import Header, Message, Section, Target
from storage import core
from storage.db import transaction
from storage.models import OutboxMessage
from tests.teams.conftest import ANNA, BOT_ID, MAX, PERSONAL_ID, TENANT, WORKSPACE, TeamsClient
from tests.teams.test_wire import texts_of

NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)


async def install_team(teams: TeamsClient) -> str:
    update = teams._base("conversation_update_bot_added_to_team.recorded.json")
    update["membersAdded"] = [{"id": BOT_ID}]
    assert (await teams.post(update))[0] == 201
    teams.connector.reset()
    return str(update["conversation"]["id"])


async def queue(teams: TeamsClient, kind: str, target: str, text: str) -> int:
    message = Message(blocks=[Header(text="Digest"), Section(text=text)], target=Target(kind=kind))  # type: ignore[arg-type]
    row = OutboxMessage(
        workspace_id=WORKSPACE,
        platform="teams",
        target_kind=kind,
        target_id=target,
        payload=message.model_dump(mode="json"),
        next_attempt_at=NOW,
        created_at=NOW,
    )
    async with transaction(teams.app.sessions) as session:
        await core.enqueue(session, row)
    assert row.id is not None
    return row.id


async def row(teams: TeamsClient, row_id: int) -> OutboxMessage:
    async with teams.app.sessions() as session:
        found = await session.get(OutboxMessage, row_id)
    assert found is not None
    return found


async def test_channel_post_goes_to_the_stored_conversation(teams: TeamsClient) -> None:
    channel = await install_team(teams)
    teams.app.outbox.clock = lambda: NOW
    row_id = await queue(teams, "channel", channel, "Diese Woche: 12 Kudos")
    assert await teams.app.outbox.drain() == 1
    cards = teams.connector.cards(channel)
    assert len(cards) == 1 and "Diese Woche: 12 Kudos" in texts_of(cards[0])
    sent = await row(teams, row_id)
    assert sent.status == "sent"
    assert sent.platform_message_id == teams.connector.calls("send_to_conversation")[0].response["id"]


async def test_dm_opens_a_chat_once_and_remembers_it(teams: TeamsClient) -> None:
    await install_team(teams)
    teams.app.outbox.clock = lambda: NOW
    await queue(teams, "dm", ANNA, "Hallo Anna")
    await queue(teams, "dm", ANNA, "Noch einmal")
    assert await teams.app.outbox.drain() == 2
    created = teams.connector.created_conversations()
    assert len(created) == 1
    assert created[0]["members"] == [{"id": ANNA}] and created[0]["channelData"]["tenant"]["id"] == TENANT
    chat = teams.connector.conversation_for(ANNA)
    assert chat is not None
    assert [texts_of(c).split("\n")[-1] for c in teams.connector.cards(chat)] == ["Hallo Anna", "Noch einmal"]
    refs = {r.conversation_id: r for r in await teams.references()}
    assert (refs[chat].kind, refs[chat].user_id) == ("personal", ANNA)


async def test_dm_to_someone_who_talked_to_starling_uses_their_chat(teams: TeamsClient) -> None:
    assert (await teams.post(teams.personal_message("stats")))[0] == 201
    teams.connector.reset()
    teams.app.outbox.clock = lambda: NOW
    await queue(teams, "dm", MAX, "Dein Wochenrückblick")
    assert await teams.app.outbox.drain() == 1
    assert teams.connector.created_conversations() == []
    assert "Dein Wochenrückblick" in texts_of(teams.connector.cards(PERSONAL_ID)[0])


async def test_rate_limit_is_retried_after_the_retry_after_header(teams: TeamsClient) -> None:
    channel = await install_team(teams)
    now = NOW
    teams.app.outbox.clock = lambda: now
    row_id = await queue(teams, "channel", channel, "Rangliste")
    teams.connector.fail_next("send_to_conversation", status=429, retry_after=7)
    assert await teams.app.outbox.drain() == 0
    waiting = await row(teams, row_id)
    assert (waiting.status, waiting.last_error) == ("pending", "http_429")
    assert waiting.next_attempt_at == NOW + timedelta(seconds=7)
    assert teams.connector.cards(channel) == []

    now = NOW + timedelta(seconds=6)
    assert await teams.app.outbox.drain() == 0  # not due yet
    now = NOW + timedelta(seconds=7)
    assert await teams.app.outbox.drain() == 1
    assert (await row(teams, row_id)).status == "sent"
    assert len(teams.connector.cards(channel)) == 1


async def test_server_errors_back_off_and_client_errors_dead_letter(teams: TeamsClient) -> None:
    channel = await install_team(teams)
    teams.app.outbox.clock = lambda: NOW
    flaky = await queue(teams, "channel", channel, "eins")
    teams.connector.fail_next("send_to_conversation", status=503)
    await teams.app.outbox.drain()
    waiting = await row(teams, flaky)
    assert waiting.status == "pending" and waiting.last_error == "http_503"
    assert waiting.next_attempt_at == NOW + timedelta(seconds=2)  # first attempt: 2 s

    gone = await queue(teams, "channel", channel, "zwei")
    teams.connector.fail_next("send_to_conversation", status=403)
    await teams.app.outbox.drain()
    dead = await row(teams, gone)
    assert dead.status == "dead" and "403" in (dead.last_error or "")


async def test_a_conversation_without_reference_is_dead_lettered(teams: TeamsClient) -> None:
    teams.app.outbox.clock = lambda: NOW
    row_id = await queue(teams, "channel", "19:unknown@thread.tacv2", "hallo")
    await teams.app.outbox.drain()
    dead = await row(teams, row_id)
    assert dead.status == "dead" and "no Teams conversation reference" in (dead.last_error or "")
    assert teams.connector.requests == []


async def test_a_reply_refused_for_now_is_delivered_from_the_outbox(teams: TeamsClient) -> None:
    teams.connector.fail_next("reply_to_activity", status=429, retry_after=0)
    assert (await teams.post(teams.personal_message("stats")))[0] == 201
    assert teams.connector.cards(PERSONAL_ID) == []
    pending = [r for r in await teams.outbox() if r.status == "pending"]
    assert [(r.target_kind, r.target_id) for r in pending] == [("channel", PERSONAL_ID)]
    assert await teams.app.outbox.drain() == 1
    assert "Your kudos" in texts_of(teams.connector.cards(PERSONAL_ID)[0])
