"""A minimal outbox Sender for tests: posts with slack_sdk's AsyncWebClient to the fake Slack Web API.

It maps Slack's answers the way a platform sender must: HTTP 429 → ``RetryLater(Retry-After)``,
a channel that cannot receive → ``PermanentFailure``. Every post carries the outbox row's id and
dedupe key as Slack message metadata, so tests can count deliveries per row in the fake's log.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Message
from bot.outbox import PermanentFailure, RetryLater
from storage.models import OutboxMessage

TOKEN = "xoxb-test-token"
PERMANENT = {"channel_not_found", "is_archived", "not_in_channel", "invalid_blocks", "msg_too_long"}


class SlackWebSender:
    def __init__(self, api_url: str, *, token: str = TOKEN, crash_on_send: int | None = None) -> None:
        self.client = AsyncWebClient(token=token, base_url=api_url, timeout=10)
        self.calls = 0
        self.crash_on_send = crash_on_send  # kill this process (SIGKILL) instead of making the n-th send

    async def send(self, row: OutboxMessage, message: Message) -> str | None:
        self.calls += 1
        if self.crash_on_send is not None and self.calls >= self.crash_on_send:
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            response = await self.client.chat_postMessage(
                channel=row.target_id,
                text=message.fallback() or "…",
                metadata={"event_type": "starling_outbox", "event_payload": {"id": row.id, "key": row.dedupe_key}},
            )
        except SlackApiError as err:
            if err.response.status_code == 429:
                raise RetryLater(float(err.response.headers.get("Retry-After", "1"))) from err
            if err.response.get("error") in PERMANENT:
                raise PermanentFailure(str(err.response.get("error"))) from err
            raise
        return str(response["ts"])


def delivered(fake: Any) -> list[dict[str, Any]]:
    """Accepted posts as (channel, outbox id, dedupe key, text) dicts, in the order the fake accepted them."""
    out = []
    for post in fake.posts():
        meta = (post.get("metadata") or {}).get("event_payload") or {}
        out.append({"channel": post.get("channel"), "id": meta.get("id"), "key": meta.get("key"), "text": post["text"]})
    return out
