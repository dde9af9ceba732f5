"""Replies in a prompt's thread over the real Slack wire: every reply is an answer, whatever it holds
(a mention and a colon, the kudos emoji, both, a word that names a command); only an explicit ``kudos …``
in the thread gives kudos. Free-text kudos outside prompt threads work as before."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import Kudos, OutboxMessage
from storage.prompts import PromptAnswer, PromptPost
from tests.slack.wire import CHANNEL, SlackWire, Testbed, message

REPLIES = [
    "Wie <@UANNA> sagte: der Kunde will nur eine Antwort",  # mention + colon (the reply that was lost)
    "Ehrlich gesagt :star: zählt für den Kunden nur, dass jemand zurückruft",  # the kudos emoji
    "Wie <@UANNA> sagte: :star: eine Antwort am selben Tag wäre schon viel",  # both
    "Hilfe bekommt der Kunde erst, wenn er dreimal anruft",  # starts with a command word
]


async def prompt_in_thread(bed: Testbed) -> str:
    """Subscribe #general, post the prompt now, and return the delivered message's ts (the thread)."""
    assert (await bed.command("subscribe 09:30 mo-fr Europe/Berlin", command="/prompt"))[0] == 200
    await bed.settle()
    assert (await bed.command("now", command="/prompt"))[0] == 200
    await bed.settle()
    await bed.delivered(1)
    async with bed.starling.sessions() as s:
        post = (await s.execute(select(PromptPost))).scalars().one()
        row = (await s.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == post.dedupe_key))).scalars()
        ts = row.one().platform_message_id
    assert ts
    return ts


async def answer_texts(bed: Testbed) -> list[str]:
    async with bed.starling.sessions() as s:
        rows = (await s.execute(select(PromptAnswer).order_by(PromptAnswer.id))).scalars().all()
        return [r.text for r in rows]


async def kudos_rows(bed: Testbed) -> list[Kudos]:
    return await bed.kudos_rows()


async def test_every_reply_in_a_prompt_thread_is_an_answer(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    ts = await prompt_in_thread(bed)
    for i, text in enumerate(REPLIES):
        status, _ = await bed.event(message(text, user="UBEN", ts=f"{ts[:-3]}9{i:02d}", thread_ts=ts))
        assert status == 200
    # addressed to the bot in the thread (an app_mention): still an answer, not a command
    addressed = f"<@{fake.bot_user_id}> Danke <@UANNA>: genau so sehe ich das auch"
    await bed.event({**message(addressed, user="UCLARA", ts=f"{ts[:-3]}950", thread_ts=ts), "type": "app_mention"})
    await bed.settle()

    # events are handled concurrently, so the order of the rows is not the order sent
    assert sorted(await answer_texts(bed)) == sorted([*REPLIES, "Danke <@UANNA>: genau so sehe ich das auch"])
    assert await kudos_rows(bed) == []
    # nobody was told "unknown command" or refused
    said = " ".join(json.dumps(fake.payload(r)) for r in fake.ok_calls("chat.postEphemeral"))
    assert "kenne ich nicht" not in said and "Kudos" not in said


async def test_explicit_kudos_in_a_prompt_thread_gives_kudos(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    ts = await prompt_in_thread(bed)
    text = "kudos <@UANNA> :star: danke für den Hinweis, wie der Kunde das erlebt"
    assert (await bed.event(message(text, user="UBEN", ts=f"{ts[:-3]}901", thread_ts=ts)))[0] == 200
    await bed.settle()

    rows = await kudos_rows(bed)
    assert [(r.giver_id, r.receiver_id, r.points) for r in rows] == [("UBEN", "UANNA", 1)]
    assert rows[0].reason == "danke für den Hinweis, wie der Kunde das erlebt"
    assert await answer_texts(bed) == []
    await bed.delivered(2)  # the prompt and Anna's DM; written openly, so no second public post
    assert len(fake.dms("UANNA")) == 1


async def test_emoji_kudos_outside_prompt_threads_still_work(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    await prompt_in_thread(bed)
    # in another thread, and in the channel itself
    texts = ["<@UANNA> :star: danke für die Hilfe bei der Kundenmail", "<@UBEN> :star: super Rückruf beim Kunden"]
    await bed.event(message(texts[0], user="UCLARA", thread_ts="1699999999.000001"))
    await bed.event(message(texts[1], user="UCLARA"))
    # a mention and a colon without the emoji, outside a prompt thread: nobody's answer, no kudos
    await bed.event(message("Wie <@UANNA> sagte: später mehr", user="UCLARA", thread_ts="1699999999.000001"))
    await bed.settle()

    assert sorted(r.receiver_id for r in await kudos_rows(bed)) == ["UANNA", "UBEN"]
    assert await answer_texts(bed) == []
    assert CHANNEL
