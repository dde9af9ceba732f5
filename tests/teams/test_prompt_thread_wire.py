"""Replies in a prompt's thread over Teams activities (the bot is @mentioned, as Teams requires in
channels): every reply is an answer, whatever it holds; only an explicit ``kudos …`` gives kudos."""

from __future__ import annotations

from sqlmodel import select

from storage.models import OutboxMessage
from storage.prompts import PromptAnswer, PromptPost
from tests.teams.conftest import ANNA, BOT_ID, CHANNEL_ID, MAX, TeamsClient, next_id

REPLIES = [
    "Wie <at>Anna Schmidt</at> sagte: der Kunde will nur eine Antwort",  # mention + colon
    "Ehrlich gesagt :star: zählt für den Kunden nur, dass jemand zurückruft",  # the kudos emoji
    "Wie <at>Anna Schmidt</at> sagte: :star: eine Antwort am selben Tag wäre schon viel",  # both
    "Hilfe bekommt der Kunde erst, wenn er dreimal anruft",  # starts with a command word
]


async def install_as_max(teams: TeamsClient) -> str:
    """Starling added to the team by Max (its first admin); returns the channel's conversation id."""
    update = teams._base("conversation_update_bot_added_to_team.recorded.json")
    update["membersAdded"] = [{"id": BOT_ID}]
    update["from"] = {"id": MAX, "name": "Max Mustermann"}
    assert (await teams.post(update))[0] == 201
    return str(update["conversation"]["id"])


async def prompt_thread(teams: TeamsClient) -> str:
    """Subscribe the channel, post the prompt now; returns the conversation id of the prompt's thread."""
    channel = await install_as_max(teams)
    for command in ("prompt subscribe 09:30 mo-fr Europe/Berlin", "prompt now"):
        activity = teams.channel_message(command, locale="de-DE")
        activity["conversation"]["id"] = channel
        assert (await teams.post(activity))[0] == 201
    await teams.app.outbox.drain()
    async with teams.app.sessions() as s:
        post = (await s.execute(select(PromptPost))).scalars().one()
        row = (await s.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == post.dedupe_key))).scalars()
        posted = row.one().platform_message_id
    assert post.channel_id == channel and posted, teams.connector.summary()
    return f"{channel};messageid={posted}"


def reply(teams: TeamsClient, thread: str, text: str, sender: str = MAX) -> dict:
    activity = teams.channel_message(text, {"Anna Schmidt": ANNA}, locale="de-DE", sender=sender)
    activity["conversation"]["id"] = thread
    activity["id"] = next_id()
    return activity


async def answer_texts(teams: TeamsClient) -> list[str]:
    async with teams.app.sessions() as s:
        return [a.text for a in (await s.execute(select(PromptAnswer).order_by(PromptAnswer.id))).scalars().all()]


async def test_every_reply_in_a_prompt_thread_is_an_answer(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    thread = await prompt_thread(teams)
    for text in REPLIES:
        assert (await teams.post(reply(teams, thread, text)))[0] == 201
    answers = await answer_texts(teams)
    assert len(answers) == len(REPLIES), answers
    assert answers[0] == f"Wie <@{ANNA}> sagte: der Kunde will nur eine Antwort"
    assert await teams.kudos() == []


async def test_explicit_kudos_in_a_prompt_thread_gives_kudos(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    thread = await prompt_thread(teams)
    text = "kudos <at>Anna Schmidt</at> :star: danke für den Hinweis, wie der Kunde das erlebt"
    assert (await teams.post(reply(teams, thread, text)))[0] == 201
    rows = await teams.kudos()
    assert [(k.giver_id, k.receiver_id) for k in rows] == [(MAX, ANNA)]
    assert await answer_texts(teams) == []
    assert CHANNEL_ID
