"""Over the real endpoint: a department typed into the suggestion form and a display name from ``users.info``
come back inert wherever Starling shows them (errors, the public leaderboard, DMs), on both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.scheduler import SchedulerService
from tests.bot.outbox_kit import only_schedules
from tests.kit import Clock
from tests.slack.wire import TEAM, SlackWire, Testbed, payload, visible_text

KUDOS_CHANNEL = "CKUDOS1"

EVIL_NAME = "<!channel> <@U0BEN> *Eve* <https://evil.example|klick>"
LIVE = re.compile(r"<!|<@U0BEN|<@UANNA>\s*<!|<https?:|(?<![\u200b\w])\*Eve\*")


def everything_sent(fake: SlackWire) -> list[str]:
    methods = ("chat.postMessage", "chat.postEphemeral", "chat.update", "views.open", "views.update", "views.publish")
    shown = [visible_text(fake.payload(rec)) for m in methods for rec in fake.ok_calls(m)]
    shown += [visible_text(fake.payload(rec)) for rec in fake.requests if rec.op == "response_url"]
    return shown


async def test_a_typed_department_is_echoed_inert_in_the_error(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    submission: dict[str, Any] = payload("view_submission.json")
    submission["team"]["id"] = TEAM
    submission["user"].update(id="UANNA", team_id=TEAM)
    submission["view"].update(callback_id="suggest:new", private_metadata="")
    submission["view"]["state"]["values"] = {
        "title": {"title": {"type": "plain_text_input", "value": "Weniger Formulare"}},
        "problem": {"problem": {"type": "plain_text_input", "value": "Jede Reise braucht drei Unterschriften."}},
        "proposal": {"proposal": {"type": "plain_text_input", "value": "Eine Unterschrift reicht."}},
        "category": {"category": {"type": "static_select", "selected_option": {"value": "form"}}},
        "department": {"department": {"type": "plain_text_input", "value": "<@UMAX> <!channel> *Eve*"}},
    }
    assert (await bed.interactive(submission))[0] == 200
    await bed.settle()
    shown = everything_sent(fake)
    errors = [s for s in shown if "UMAX" in s]
    assert errors, shown  # the department was echoed ...
    for text in errors:
        assert "<@UMAX>" not in text and "<!channel>" not in text and not LIVE.search(text), text  # ... inert


async def test_a_hostile_display_name_is_inert_on_the_leaderboard_and_in_dms(
    testbed_any_db: Testbed, fake: SlackWire
) -> None:
    bed = testbed_any_db
    fake.add_user("UEVE", "eve", real_name=EVIL_NAME, display_name=EVIL_NAME, team_id=TEAM)
    assert (await bed.command("<@UANNA|anna> danke für die schnelle Hilfe #kundenfokus", user="UEVE"))[0] == 200
    await bed.settle()
    assert (await bed.command("<@UEVE|eve> danke für die Hilfe beim Kunden #kundenfokus", user="UANNA"))[0] == 200
    await bed.settle()
    assert (await bed.command("leaderboard", user="UANNA"))[0] == 200
    await bed.settle()
    await bed.delivered(4)
    shown = everything_sent(fake)
    assert any("Eve" in s for s in shown)  # the name is shown ...
    for text in shown:
        assert not LIVE.search(text), text  # ... and never pings, links or formats
    dm_texts = [dm["text"] for dm in fake.dms("UANNA")]
    assert dm_texts and all("<!channel>" not in t and "<@U0BEN>" not in t for t in dm_texts)


HOSTILE = "<!channel> <@U0BEN> *Eve* [x](javascript:alert(1)) <at>x</at> <b>b</b> <https://evil.example|klick>"


async def test_a_hostile_directory_name_is_inert_in_the_scheduled_public_leaderboard_post(
    testbed_any_db: Testbed, fake: SlackWire, clock: Clock
) -> None:
    """The month's leaderboard the scheduler posts into #kudos names the people from ``users.info``: a hostile
    display name appears as typed, but neither pings, links nor formats, in the blocks and in the notification
    text of the post that reaches the Slack API."""
    bed = testbed_any_db
    fake.add_user("UEVE", "eve", real_name=HOSTILE, display_name=HOSTILE, team_id=TEAM)
    fake.add_channel(KUDOS_CHANNEL, "kudos")
    assert (await bed.command(f"leaderboard <#{KUDOS_CHANNEL}|kudos> month", command="/digest", user="UMAX"))[0] == 200
    for giver in ("UANNA", "UBEN", "UCLARA", "UMAX", "UENGLISH"):  # a board needs five people
        text = "<@UEVE|eve> danke für die schnelle Hilfe beim Kundenanruf #kundenfokus"
        assert (await bed.command(text, user=giver))[0] == 200
    await bed.settle()
    fake.reset()
    clock.set(datetime(2026, 12, 1, 8, 5, tzinfo=UTC))  # 09:05 in Berlin on the first: November's board is due
    service = SchedulerService(only_schedules(bed.starling, "digests"), name="wire")
    try:
        await service.tick(clock())
        await bed.delivered(1)
    finally:
        await service.stop()
    posts = [fake.payload(rec) for rec in fake.ok_calls("chat.postMessage")]
    board = [p for p in posts if p.get("channel") == KUDOS_CHANNEL]
    assert len(board) == 1, posts
    shown = visible_text(board[0])
    assert "Eve" in shown and "klick" in shown  # the name is shown ...
    for text in [shown, board[0]["text"]]:  # ... and never pings, links or formats, nor in the notification
        assert not LIVE.search(text) and "<@U0BEN>" not in text and "<!channel>" not in text, text


async def test_an_admins_hostile_emoji_setting_is_refused_inert(testbed_any_db: Testbed, fake: SlackWire) -> None:
    """``starling set emoji`` takes an emoji's name; anything else is refused, and the refusal shows it inert."""
    bed = testbed_any_db
    assert (await bed.command("set emoji <@U0BEN> <!channel>", command="/starling"))[0] == 200
    await bed.settle()
    shown = everything_sent(fake)
    refusals = [s for s in shown if "kein Emoji-Name" in s or "not an emoji name" in s]
    assert refusals, shown
    for text in refusals:
        assert "<@U0BEN>" not in text and "<!channel>" not in text and not LIVE.search(text), text
    assert (await bed.command("settings", command="/starling"))[0] == 200
    await bed.settle()
    assert not any(LIVE.search(s) for s in everything_sent(fake))
