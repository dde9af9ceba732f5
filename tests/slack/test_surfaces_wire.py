"""App Home, welcome DMs, buttons, modals, escaping and Slack's rate limits, over the wire."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from bot.core.events import ActionEvent
from bot.core.messages import Actions, Button, Form, Input, Message, Section, user_text
from bot.core.router import Context, UserError
from bot.slack.render import OPEN_FORM_ACTION
from tests.slack.wire import CHANNEL, TEAM, SlackWire, Testbed, message, payload, visible_text

LIVE_TOKEN = re.compile(r"<[!#]|<@U0FORGED|<https?:")


async def test_app_home_shows_stats_budget_howto_and_settings_for_admins(testbed: Testbed, fake: SlackWire) -> None:
    await testbed.command("<@UANNA|anna> danke für die schnelle Hilfe beim Kundenticket #kundenfokus")
    await testbed.settle()
    home = payload("app_home_opened_home_tab.derived.json")
    for who in ("UMAX", "UANNA"):
        body = copy.deepcopy(home)
        body.update(team_id=TEAM, event_id=f"EvHOME{who}")
        body["event"]["user"] = who
        body["authorizations"][0]["team_id"] = TEAM
        assert (await testbed.raw_event(body))[0] == 200
    await testbed.settle()

    max_home = fake.home_view("UMAX")
    anna_home = fake.home_view("UANNA")
    assert max_home is not None and anna_home is not None
    max_text = visible_text({"view": max_home})
    anna_text = visible_text({"view": anna_home})
    assert "Deine Kudos" in max_text and "4 von 5" in max_text  # budget left today
    assert "So gibst du Kudos" in max_text and "#kundenfokus" in max_text
    assert "Starling-Einstellungen" in max_text  # Max is a Slack admin
    assert "Starling-Einstellungen" not in anna_text
    assert re.search(r"\*Erhalten\*\n1\b", anna_text)


async def test_team_join_sends_one_welcome_dm(testbed: Testbed, fake: SlackWire) -> None:
    fake.add_user("UNEW", "nora", real_name="Nora Neu", team_id=TEAM)
    body = payload("team_join.derived.json")
    body["team_id"] = TEAM
    # The event tells the newcomer's facts as Slack's directory does (the payload's sample says en-US).
    body["event"]["user"].update(id="UNEW", team_id=TEAM, tz="Europe/Vienna", locale="de-DE")
    for _ in range(2):  # a redelivery
        assert (await testbed.raw_event(body))[0] == 200
    # A new event id for the same person still welcomes them only once.
    body["event_id"] = "Ev0SECONDJOIN"
    await testbed.raw_event(body)
    await testbed.settle()
    await testbed.delivered(1)
    (welcome,) = fake.dms("UNEW")
    text = visible_text(welcome)
    assert "willkommen im Team" in text and "<@UNEW>" in text
    assert "Kundenfokus" in text and ":star:" in text


async def test_bots_joining_get_no_welcome(testbed: Testbed, fake: SlackWire) -> None:
    body = payload("team_join.derived.json")
    body["team_id"] = TEAM
    body["event"]["user"].update(id="UOTHERBOT", is_bot=True)
    await testbed.raw_event(body)
    await testbed.settle()
    assert await testbed.outbox_count() == 0


def _register_demo_feature(bed: Testbed, seen: list[ActionEvent]) -> None:
    router = bed.starling.router

    @router.command("feedback", feature="test")
    async def feedback(ctx: Context) -> None:
        ctx.modal(
            Form(
                title="Feedback",
                action_id="fb",
                submit_label="Senden",
                private_metadata="from-command",
                inputs=[Input(id="text", label="Was fällt dir auf?", type="multiline")],
            )
        )

    @router.action("fb", feature="test")
    async def feedback_submitted(ctx: Context) -> None:
        assert isinstance(ctx.event, ActionEvent)
        seen.append(ctx.event)
        if not ctx.event.form.get("text", "").strip():
            raise UserError("kudos.err.no_recipient")
        ctx.ephemeral("Danke: " + user_text(ctx.event.form["text"]))

    @router.command("poll", feature="test")
    async def poll(ctx: Context) -> None:
        ctx.reply(
            Message(
                blocks=[
                    Section(text="Mittagessen?"),
                    Actions(
                        buttons=[
                            Button(label="Ja", action_id="vote", value="ja"),
                            Button(label="Nein", action_id="vote", value="nein"),
                        ]
                    ),
                ]
            )
        )

    @router.action("vote", feature="test")
    async def vote(ctx: Context) -> None:
        assert isinstance(ctx.event, ActionEvent)
        seen.append(ctx.event)
        ctx.update(Message(blocks=[Section(text=f"<@{ctx.actor.user_id}> stimmt {ctx.event.value}")]))


async def test_slash_command_opens_a_modal_and_the_submission_reaches_the_router(
    testbed: Testbed, fake: SlackWire
) -> None:
    seen: list[ActionEvent] = []
    _register_demo_feature(testbed, seen)
    await testbed.command("", command="/feedback", trigger_id="13345224609.738474920.8088930838d88f008e0")
    await testbed.settle()
    (opened,) = fake.ok_calls("views.open")
    args = fake.payload(opened)
    assert args["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"
    view = args["view"]
    assert view["callback_id"] == "fb" and view["private_metadata"] == "from-command"

    submission = payload("view_submission.json")
    submission["team"]["id"] = TEAM
    submission["user"].update(id="UANNA", team_id=TEAM)
    submission["view"].update(callback_id="fb", private_metadata="from-command", blocks=view["blocks"])
    submission["view"]["state"]["values"] = {
        "text": {"text": {"type": "plain_text_input", "value": "<!here> Formulare kürzen"}}
    }
    for _ in range(2):  # a double submission
        status, body = await testbed.interactive(submission)
        # The modal stays open (a waiting view) until its answer replaces it.
        assert status == 200 and json.loads(body)["response_action"] == "update"
    await testbed.settle()
    assert len(seen) == 1
    assert seen[0].is_form and seen[0].form == {"text": "<!here> Formulare kürzen"} and seen[0].value == "from-command"
    # No channel behind a modal: the answer replaces the submitted view; no message is stored anywhere.
    assert fake.dms("UANNA") == [] and fake.ok_calls("chat.postMessage") == []
    shown = [visible_text(fake.payload(r)) for r in fake.ok_calls("views.update")]
    assert any("Formulare kürzen" in v and "<!here>" not in v for v in shown), shown
    assert {fake.payload(r)["view_id"] for r in fake.ok_calls("views.update")} == {submission["view"]["id"]}


async def test_empty_modal_field_gets_a_friendly_error_only_to_that_person(testbed: Testbed, fake: SlackWire) -> None:
    seen: list[ActionEvent] = []
    _register_demo_feature(testbed, seen)
    submission = payload("view_submission.json")
    submission["user"]["id"] = "UBEN"
    submission["view"].update(callback_id="fb")
    submission["view"]["state"]["values"] = {"text": {"text": {"type": "plain_text_input", "value": "  "}}}
    await testbed.interactive(submission)
    await testbed.settle()
    assert fake.dms("UBEN") == []
    (err,) = fake.ok_calls("views.update")  # in the submitted modal itself, only that person sees it
    assert "Wem möchtest du danken" in visible_text(fake.payload(err))


async def test_button_press_updates_the_message_once(testbed: Testbed, fake: SlackWire) -> None:
    seen: list[ActionEvent] = []
    _register_demo_feature(testbed, seen)
    await testbed.command("", command="/poll")
    await testbed.settle()
    (posted,) = fake.ok_calls("chat.postMessage")
    ts = posted.response["ts"]
    buttons = fake.payload(posted)["blocks"][1]["elements"]
    assert len({b["action_id"] for b in buttons}) == 2

    click = payload("block_actions.json")
    click["team"]["id"] = TEAM
    click["user"].update(id="UBEN", team_id=TEAM)
    click["container"] = {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False}
    click["channel"] = {"id": CHANNEL, "name": "general"}
    click["response_url"] = fake.hook_url()
    click["actions"] = [{**click["actions"][0], "action_id": buttons[1]["action_id"], "value": buttons[1]["value"]}]
    for _ in range(2):  # Slack's redelivery of the same click
        assert (await testbed.interactive(click))[0] == 200
    await testbed.settle()
    assert [(e.action_id, e.value, e.message_id) for e in seen] == [("vote", "nein", f"{CHANNEL}:{ts}")]
    (update,) = fake.updates(CHANNEL)
    assert update["ts"] == ts and "<@UBEN> stimmt nein" in visible_text(update)
    # The click is remembered (so the redelivery did nothing), but not who clicked: a vote stays unlinkable.
    async with testbed.starling.sessions() as session:
        keys = list((await session.execute(text("SELECT key FROM processed_event"))).scalars())
    assert keys and all(key.startswith(f"slack:{TEAM}:") for key in keys)
    assert not any("UBEN" in key for key in keys)


async def test_button_on_an_ephemeral_message_is_answered_through_the_response_url(
    testbed: Testbed, fake: SlackWire
) -> None:
    seen: list[ActionEvent] = []
    _register_demo_feature(testbed, seen)
    click = payload("block_actions.json")  # its container is an ephemeral message
    click["team"]["id"] = TEAM
    click["response_url"] = fake.hook_url()
    click["actions"][0]["action_id"] = "vote"
    await testbed.interactive(click)
    await testbed.settle()
    (hook,) = fake.calls("response_url")
    assert hook.json["replace_original"] is True and "stimmt click_me_123" in visible_text(hook.json)
    assert fake.updates() == []


async def test_form_without_trigger_offers_a_button_that_opens_it(testbed: Testbed, fake: SlackWire) -> None:
    seen: list[ActionEvent] = []
    _register_demo_feature(testbed, seen)
    await testbed.event(message("<@UBOT1> feedback", user="UANNA") | {"type": "app_mention"})
    await testbed.settle()
    (offer,) = fake.ephemerals(channel=CHANNEL, user="UANNA")
    button = offer["blocks"][0]["elements"][0]
    assert button["action_id"] == OPEN_FORM_ACTION
    click = payload("block_actions.json")
    click["team"]["id"] = TEAM
    click["user"]["id"] = "UANNA"
    click["trigger_id"] = "fresh.trigger.1"
    click["actions"] = [{**click["actions"][0], "action_id": OPEN_FORM_ACTION, "value": button["value"]}]
    await testbed.interactive(click)
    await testbed.settle()
    (opened,) = fake.ok_calls("views.open")
    assert fake.payload(opened)["trigger_id"] == "fresh.trigger.1"
    assert fake.payload(opened)["view"]["callback_id"] == "fb"
    assert seen == []


async def test_what_people_type_is_echoed_without_pings_or_links(testbed: Testbed, fake: SlackWire) -> None:
    # Slack sends real tokens for what the client turned into mentions and links, escaped text otherwise.
    reason = (
        "danke <!channel> <!here> <!everyone> @here &lt;@U0FORGED&gt; &lt;!channel&gt; "
        "<https://evil.example/login|hier klicken> für alles #kundenfokus"
    )
    await testbed.command(f"<@UANNA|anna> {reason}")
    await testbed.settle()
    await testbed.delivered(2)
    outputs = [*fake.posts(CHANNEL), *fake.dms("UANNA")]
    assert len(outputs) == 2
    for out in outputs:
        shown = visible_text(out)
        assert "<@UANNA>" in shown or "<@UMAX>" in shown  # our own mentions still work
        assert not LIVE_TOKEN.search(shown), shown
        assert not re.search(r"@(here|channel|everyone)\b", shown), shown
        assert "hier klicken (https://evil.example/login)" in shown


async def test_a_rate_limited_reply_is_retried_after_retry_after(testbed: Testbed, fake: SlackWire) -> None:
    fake.fail_next("chat.postEphemeral", status=429, retry_after=0)
    await testbed.command("<@UANNA|anna>")  # no reason: an ephemeral error
    await testbed.settle()
    attempts = fake.calls("chat.postEphemeral")
    assert [r.status for r in attempts] == [429, 200]


async def test_server_errors_are_retried(testbed: Testbed, fake: SlackWire) -> None:
    fake.fail_next("users.info", status=503, times=1)
    fake.fail_next("chat.postEphemeral", status=500, times=2)
    await testbed.command("<@UANNA|anna>")
    await testbed.settle()
    assert [r.status for r in fake.calls("chat.postEphemeral")] == [500, 500, 200]


async def test_a_failed_reply_is_logged_and_the_server_keeps_working(testbed: Testbed, fake: SlackWire) -> None:
    fake.fail_next("chat.postEphemeral", status=500, times=3)
    with capture_logs() as logs:
        assert (await testbed.command("<@UANNA|anna>"))[0] == 200
        await testbed.settle()
    assert [r.status for r in fake.calls("chat.postEphemeral")] == [500, 500, 500]
    (failure,) = [entry for entry in logs if entry["event"] == "slack_response_failed"]
    assert failure["error"] == "internal_error" and failure["target"] == "ephemeral"
    assert "user" not in failure and "UMAX" not in repr(failure)  # no person id in a log line
    assert (await testbed.command("<@UANNA|anna>", user="UBEN"))[0] == 200
    await testbed.settle()
    assert len(fake.ephemerals(user="UBEN")) == 1


async def test_rate_limited_outbox_message_waits_for_retry_after_then_is_sent(
    testbed: Testbed, fake: SlackWire
) -> None:
    fake.fail_next(
        lambda r: r.op == "chat.postMessage" and r.params.get("channel") == CHANNEL, status=429, retry_after=30
    )
    await testbed.command("<@UANNA|anna> danke für die schnelle Hilfe beim Kundenticket")
    await testbed.settle()
    await fake.wait_for(lambda r: r.op == "chat.postMessage" and r.status == 429)
    rows = await _wait_outbox(
        testbed, lambda rows: any(r.last_error == "ratelimited" and r.status == "pending" for r in rows)
    )
    pending = next(r for r in rows if r.status == "pending")
    assert pending.target_id == CHANNEL
    assert (pending.next_attempt_at - testbed.clock()).total_seconds() == pytest.approx(30)
    testbed.clock.advance(seconds=31)
    testbed.starling.outbox.wake()
    rows = await testbed.delivered(2)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert len(fake.posts(CHANNEL)) == 1


async def test_outbox_dead_letters_a_channel_that_does_not_exist(testbed: Testbed, fake: SlackWire) -> None:
    fake.fail_next(
        lambda r: r.op == "chat.postMessage" and r.params.get("channel") == CHANNEL,
        status=200,
        body={"ok": False, "error": "channel_not_found"},
    )
    await testbed.command("<@UANNA|anna> danke für die schnelle Hilfe beim Kundenticket")
    await testbed.settle()
    rows = await testbed.delivered(2)
    assert sorted((r.target_kind, r.status) for r in rows) == [("channel", "dead"), ("dm", "sent")]
    assert next(r for r in rows if r.status == "dead").last_error == "chat.postMessage: channel_not_found"
    assert await testbed.kudos_rows() != []  # the kudos itself stands


async def test_sender_maps_slack_answers_to_outbox_outcomes(testbed: Testbed, fake: SlackWire) -> None:
    from storage.models import OutboxMessage

    sender = testbed.slack.sender
    msg = Message(blocks=[Section(text="Hallo")])
    row = OutboxMessage(workspace_id="slack:T1", platform="slack", target_kind="dm", target_id="UANNA")
    ts = await sender.send(row, msg)
    assert ts and fake.message(fake.dm_channel_id("UANNA"), ts) is not None
    from bot.outbox import PermanentFailure, RetryLater

    fake.fail_next("chat.postMessage", status=429, retry_after=12)
    with pytest.raises(RetryLater) as later:
        await sender.send(row, msg)
    assert later.value.seconds == 12
    for error in ("account_inactive", "not_in_channel", "channel_not_found"):
        fake.fail_next("chat.postMessage", status=200, body={"ok": False, "error": error})
        with pytest.raises(PermanentFailure):
            await sender.send(row, msg)


async def _wait_outbox(bed: Testbed, ready: Any, timeout: float = 5.0) -> list:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await bed.outbox_rows()
        if ready(rows):
            return rows
        assert asyncio.get_running_loop().time() < deadline, [(r.status, r.last_error) for r in rows]
        await asyncio.sleep(0.02)
