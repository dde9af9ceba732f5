"""``kill -9`` of a sender in the middle of a 200-channel fan-out doubles no Slack post.

The process is killed by the fake Slack API itself, right after Slack accepted a post and before the
process could read the answer, while up to ``outbox_in_flight`` other posts are under way (and every 20th
call is rate limited). Those posts are on Slack but not recorded as sent; after their lease runs out the
next process asks Slack (``conversations.history`` with the message metadata each post carries) before
it sends any of them again.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Any

from aiohttp import web

from tests.bot.outbox_kit import ensure_slack_workspace, make_app, queue_posts
from tests.bot.scheduler_proc import fork
from tests.bot.test_scheduler_race import finish
from tests.fakes import FakeSlackAPI, Recorded

CHANNELS = 200


class KillingSlack(FakeSlackAPI):
    """Answers 429 to every 20th post; SIGKILLs ``victim`` once it has accepted ``kill_after`` posts."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: int | None = None
        self.kill_after = 0
        self.seen = 0
        self.accepted = 0

    def _chat_post_message(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any] | web.Response:
        self.seen += 1
        if self.seen % 20 == 0:
            rec.rejected = True
            return self._respond(rec, {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        answer = super()._chat_post_message(rec, args)
        if isinstance(answer, dict) and answer.get("ok"):
            self.accepted += 1
            if self.victim is not None and self.accepted == self.kill_after:
                os.kill(self.victim, signal.SIGKILL)  # Slack has the post; the sender never hears so
                self.victim = None
        return answer


def outbox_ids_posted(fake: FakeSlackAPI) -> Counter[int]:
    found: Counter[int] = Counter()
    for post in fake.posts():
        meta = post.get("metadata") or {}
        assert meta.get("event_type") == "starling_outbox"
        found.update(meta["event_payload"]["outbox_ids"])
    return found


async def test_kill_9_mid_fan_out_then_a_new_sender_doubles_no_post(any_db_url: str) -> None:
    app = make_app(any_db_url)
    try:
        await ensure_slack_workspace(app)
        await queue_posts(app, [(f"C{n:04d}", f"Neuigkeiten für Kanal {n}") for n in range(CHANNELS)])
    finally:
        await app.close()
    async with KillingSlack() as fake:
        common = ["--db", any_db_url, "--slack", fake.api_url, "--start", "2026-01-05T08:10:00+00:00"]
        common += ["--periods", "0", "--slack-sender", "--lease", "3"]
        fake.kill_after = CHANNELS // 2
        victim = fork([*common, "--name", "victim"])
        fake.victim = victim.pid
        assert await finish(victim) == -signal.SIGKILL
        on_slack = len(fake.posts())
        assert CHANNELS // 2 <= on_slack < CHANNELS
        assert await finish(fork([*common, "--name", "survivor"])) == 0

    posted = outbox_ids_posted(fake)
    assert len(posted) == CHANNELS  # nothing lost
    assert set(posted.values()) == {1}, {k: v for k, v in posted.items() if v > 1}  # nothing doubled
    checked = fake.ok_calls("conversations.history")
    assert checked  # the survivor asked Slack about the posts the victim had left leased
    print(f"posts on Slack at the kill: {on_slack}; looked up afterwards: {len(checked)}")
