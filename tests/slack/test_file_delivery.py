"""A message with a file (a personal data export) reaches the person's Slack DM as one upload."""

from __future__ import annotations

import json

from bot.core.messages import Attachment, Message, Section, Target
from bot.slack.client import SlackSender, make_client
from storage.models import OutboxMessage
from tests.slack.wire import TOKEN, SlackWire


async def test_an_export_is_uploaded_to_the_dm_with_its_text(fake: SlackWire) -> None:
    fake.add_user("UANNA", "anna", real_name="Anna Schmidt")
    export = json.dumps({"kudos": [{"receiver_id": "UANNA", "points": 1}]}).encode()
    message = Message(
        blocks=[Section(text="Here is everything Starling stores about you.")],
        target=Target(kind="dm", user_id="UANNA"),
        attachments=[Attachment.of("starling-my-data.json", export, "application/json")],
    )
    row = OutboxMessage(
        id=1, workspace_id="slack:T1", platform="slack", target_kind="dm", target_id="UANNA", payload={}
    )
    sender = SlackSender(make_client(TOKEN, fake.api_url, retry_rate_limits=False))

    file_id = await sender.send(row, message)

    (upload,) = fake.uploads()
    assert upload["filename"] == "starling-my-data.json"
    assert upload["content"] == export
    assert upload["channel_id"] == fake.dm_channel_id("UANNA")
    (done,) = fake.calls("files.completeUploadExternal")
    assert fake.payload(done)["initial_comment"] == "Here is everything Starling stores about you."
    assert file_id
    assert fake.posts() == []  # one effect: the file carries the text, no separate post
