"""Kudos over the real wire: signed Slack requests in, Web API calls out, rows in the database."""

from __future__ import annotations

import json
import time

from tests.fakes import slack_form_body
from tests.slack.wire import CHANNEL, TEAM, SlackWire, Testbed, event_body, message

KUDOS_TEXT = "<@UANNA|anna> <@UBEN|ben> danke für die schnelle Hilfe beim Kundenticket #kundenfokus"


def command_body(fake: SlackWire, text: str, *, user: str = "UMAX", trigger_id: str = "1700000000.42.abcdef") -> bytes:
    return slack_form_body(
        {
            "token": "verification-token",
            "team_id": TEAM,
            "team_domain": "starling-test",
            "channel_id": CHANNEL,
            "channel_name": "general",
            "user_id": user,
            "user_name": "max",
            "command": "/kudos",
            "text": text,
            "api_app_id": "AAPP1",
            "is_enterprise_install": "false",
            "response_url": fake.hook_url(),
            "trigger_id": trigger_id,
        }
    )


async def test_kudos_command_for_two_posts_once_dms_twice_and_retries_count_once(
    testbed_any_db: Testbed, fake: SlackWire
) -> None:
    bed = testbed_any_db
    body = command_body(fake, KUDOS_TEXT)
    form = "application/x-www-form-urlencoded"
    assert await bed.post(body, content_type=form) == (200, "")
    for retry, reason in ((1, "http_timeout"), (2, "http_error")):
        status, _ = await bed.post(
            body, content_type=form, headers={"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason}
        )
        assert status == 200
    await bed.settle()
    rows_out = await bed.delivered(3)

    rows = await bed.kudos_rows()
    assert sorted(r.receiver_id for r in rows) == ["UANNA", "UBEN"]
    assert {(r.giver_id, r.value_tag, r.workspace_id) for r in rows} == {("UMAX", "kundenfokus", "slack:T1")}
    assert rows[0].reason == "danke für die schnelle Hilfe beim Kundenticket"

    public = fake.posts(CHANNEL)
    assert len(public) == 1
    assert "<@UMAX>" in public[0]["text"] or "<@UMAX>" in json.dumps(public[0]["blocks"])
    assert "<@UANNA>" in json.dumps(public[0]["blocks"]) and "<@UBEN>" in json.dumps(public[0]["blocks"])
    assert len(fake.dms("UANNA")) == 1 and len(fake.dms("UBEN")) == 1
    assert {fake.payload(r)["users"] for r in fake.ok_calls("conversations.open")} == {"UANNA", "UBEN"}
    confirmations = fake.ephemerals(channel=CHANNEL, user="UMAX")
    assert len(confirmations) == 1
    assert "UANNA" in json.dumps(confirmations[0]["blocks"])
    # Exactly three proactive messages, all delivered.
    assert [r.status for r in rows_out] == ["sent", "sent", "sent"]
    assert all(r.platform_message_id for r in rows_out)


async def test_emoji_message_retried_three_times_counts_once(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    ev = message("<@UANNA> <@UBEN> :star: danke für die Hilfe bei der Kundenmail", user="UCLARA")
    body = json.dumps(event_body(ev, event_id="Ev0KUDOS1")).encode()
    for retry in (None, "1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        assert (await bed.post(body, content_type="application/json", headers=headers))[0] == 200
    await bed.settle()
    await fake.wait_for("chat.postMessage", count=2)

    rows = await bed.kudos_rows()
    assert sorted(r.receiver_id for r in rows) == ["UANNA", "UBEN"]
    assert {r.source for r in rows} == {"message"}
    assert {r.message_id for r in rows} == {f"{CHANNEL}:{ev['ts']}"}
    assert len(fake.dms("UANNA")) == 1 and len(fake.dms("UBEN")) == 1
    assert fake.posts(CHANNEL) == []  # the message itself is the public part
    assert len(fake.ephemerals(channel=CHANNEL, user="UCLARA")) == 1


async def test_rich_text_mentions_and_two_emojis_give_two_points(testbed: Testbed, fake: SlackWire) -> None:
    ev = message(
        "<@UANNA> :star: :star: super Übergabe an die Spätschicht",
        user="UBEN",
        blocks=[
            {
                "type": "rich_text",
                "block_id": "x1",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "user", "user_id": "UANNA"},
                            {"type": "text", "text": " "},
                            {"type": "emoji", "name": "star"},
                            {"type": "emoji", "name": "star"},
                            {"type": "text", "text": " super Übergabe an die Spätschicht"},
                        ],
                    }
                ],
            }
        ],
    )
    assert (await testbed.event(ev))[0] == 200
    await testbed.settle()
    rows = await testbed.kudos_rows()
    assert [(r.receiver_id, r.points) for r in rows] == [("UANNA", 2)]


async def test_kudos_without_reason_gets_a_friendly_ephemeral_and_nothing_is_written(
    testbed: Testbed, fake: SlackWire
) -> None:
    assert (await testbed.command("<@UANNA|anna>"))[0] == 200
    await testbed.settle()
    (err,) = fake.ephemerals(channel=CHANNEL, user="UMAX")
    assert "mindestens 10 Zeichen" in err["text"]  # German workspace default
    assert await testbed.kudos_rows() == []
    assert await testbed.outbox_count() == 0
    assert fake.posts() == []


async def test_errors_speak_the_persons_slack_language(testbed: Testbed, fake: SlackWire) -> None:
    assert (await testbed.command("<@UANNA|anna>", user="UENGLISH"))[0] == 200
    await testbed.settle()
    (err,) = fake.ephemerals(user="UENGLISH")
    assert "reason of at least" in err["text"]


async def test_kudos_to_a_bot_or_unknown_person_is_refused(testbed: Testbed, fake: SlackWire) -> None:
    await testbed.command("<@UOTHERBOT|deploybot> danke fürs Deployment heute Nacht")
    await testbed.command("<@UGHOST|ghost> danke für die schnelle Hilfe heute")
    await testbed.settle()
    texts = [e["text"] for e in fake.ephemerals(user="UMAX")]
    assert any("Bot" in t or "bot" in t for t in texts)
    assert any("UGHOST" in t for t in texts)
    assert await testbed.kudos_rows() == []


async def test_literal_mention_text_is_not_a_recipient(testbed: Testbed, fake: SlackWire) -> None:
    # The person typed "<@UANNA>" as characters: Slack delivers it escaped, so it is no mention.
    await testbed.command("&lt;@UANNA&gt; danke für die schnelle Hilfe heute")
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    (err,) = fake.ephemerals(user="UMAX")
    assert "Wem möchtest du danken" in err["text"]


async def test_reaction_gives_a_point_and_removing_it_takes_it_back(testbed: Testbed, fake: SlackWire) -> None:
    item = {"type": "message", "channel": CHANNEL, "ts": "1700000100.000200"}
    added = {"type": "reaction_added", "user": "UBEN", "item": item, "reaction": "star", "item_user": "UANNA"}
    assert (await testbed.event({**added, "event_ts": "1700000200.000100"}))[0] == 200
    await testbed.settle()
    rows = await testbed.kudos_rows()
    assert [(r.giver_id, r.receiver_id, r.source, r.points) for r in rows] == [("UBEN", "UANNA", "reaction", 1)]
    await fake.wait_for(lambda r: r.op == "chat.postMessage" and r.accepted)
    assert len(fake.dms("UANNA")) == 1

    # Other emojis are ignored.
    await testbed.event({**added, "reaction": "heart_eyes", "event_ts": "1700000210.000100"})
    removed = {**added, "type": "reaction_removed", "event_ts": "1700000300.000100"}
    assert (await testbed.event(removed))[0] == 200
    await testbed.settle()
    assert await testbed.kudos_rows() == []


async def test_reaction_on_own_message_is_refused_ephemerally(testbed: Testbed, fake: SlackWire) -> None:
    item = {"type": "message", "channel": CHANNEL, "ts": "1700000100.000200"}
    await testbed.event(
        {"type": "reaction_added", "user": "UANNA", "item": item, "reaction": "star", "item_user": "UANNA"}
    )
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    (err,) = fake.ephemerals(channel=CHANNEL, user="UANNA")
    assert "zählen nicht" in err["text"] or "don't count" in err["text"]


async def test_deleting_a_kudos_message_reverses_it(testbed: Testbed, fake: SlackWire) -> None:
    ev = message("<@UANNA> :star: danke für die Hilfe bei der Kundenmail", user="UBEN", ts="1700000400.000100")
    await testbed.event(ev)
    await testbed.settle()
    assert len(await testbed.kudos_rows()) == 1
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "ts": "1700000500.000100",
        "deleted_ts": ev["ts"],
        "previous_message": {"type": "message", "user": "UBEN", "text": ev["text"], "ts": ev["ts"]},
    }
    assert (await testbed.event(deleted))[0] == 200
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    # The budget came back: Ben can spend all five points again today.
    await testbed.command(
        "<@UANNA|anna> :star: danke für die großartige Vertretung heute", user="UBEN", trigger_id="t-after-delete"
    )
    await testbed.settle()
    assert "5" in fake.ephemerals(user="UBEN")[-1]["blocks"][0]["text"]["text"]


async def test_mention_of_the_bot_is_a_command_and_the_plain_message_event_is_skipped(
    testbed: Testbed, fake: SlackWire
) -> None:
    text = "<@UBOT1> kudos <@UANNA> danke für die schnelle Hilfe beim Kunden"
    ts = f"{int(time.time())}.000777"
    await testbed.event(message(text, user="UMAX", ts=ts))  # message.channels copy of the same message
    await testbed.event({**message(text, user="UMAX", ts=ts), "type": "app_mention"})
    await testbed.settle()
    rows = await testbed.kudos_rows()
    assert [r.receiver_id for r in rows] == ["UANNA"]


async def test_direct_message_to_the_bot_is_addressed(testbed: Testbed, fake: SlackWire) -> None:
    dm = message("stats", user="UANNA", channel="DUANNA01", channel_type="im")
    await testbed.event(dm)
    await testbed.settle()
    (stats,) = fake.ephemerals(channel="DUANNA01", user="UANNA")
    assert "Kudos" in stats["text"]


async def test_messages_from_other_bots_are_ignored(testbed: Testbed, fake: SlackWire) -> None:
    ev = message("<@UANNA> :star: danke für die Hilfe bei der Kundenmail", user="UOTHERBOT", bot_id="B0OTHER")
    await testbed.event(ev)
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    assert fake.ok_calls("chat.postEphemeral") == []


async def test_guests_neither_give_nor_receive_kudos(testbed: Testbed, fake: SlackWire) -> None:
    fake.add_user("UGUEST", "gabi", real_name="Gabi Gast", display_name="Gabi Gast", team_id="T1")["is_restricted"] = (
        True
    )
    fake.add_user("USINGLE", "sven", real_name="Sven Single", display_name="Sven Single", team_id="T1")[
        "is_ultra_restricted"
    ] = True
    await testbed.command("<@UGUEST|gabi> danke für die schnelle Hilfe heute")
    await testbed.command("<@USINGLE|sven> danke für die schnelle Hilfe heute")
    await testbed.command("<@UANNA|anna> danke für die schnelle Hilfe heute", user="UGUEST")
    item = {"type": "message", "channel": CHANNEL, "ts": "1700000100.000900"}
    reaction = {"type": "reaction_added", "user": "UBEN", "item": item, "reaction": "star", "item_user": "UGUEST"}
    await testbed.event({**reaction, "event_ts": "1700000200.000900"})
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    to_guests = [e["text"] for e in fake.ephemerals(user="UMAX")]
    assert any("Gabi Gast ist als Gast in diesem Workspace und kann keine Kudos bekommen" in t for t in to_guests)
    assert any("Sven Single ist als Gast" in t for t in to_guests)
    (from_guest,) = fake.ephemerals(user="UGUEST")
    assert "Als Gast in diesem Workspace kannst du keine Kudos geben" in from_guest["text"]
    assert any("als Gast" in e["text"] for e in fake.ephemerals(user="UBEN"))
    assert fake.posts() == []
