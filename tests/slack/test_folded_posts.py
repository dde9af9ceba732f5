"""A busy channel keeps up: kudos celebrations that wait behind Slack's one post per second per channel are
folded into one post (and many kudos DMs to one person into one DM), each kudos named exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import time

from sqlalchemy import update

from storage.db import transaction
from storage.models import Workspace
from tests.slack.test_kudos_wire import command_body
from tests.slack.wire import CHANNEL, SlackWire, Testbed

REF = re.compile(r"\bref(\d+)\b")
KUDOS = 24
FORM = "application/x-www-form-urlencoded"


def named(payloads: list[dict]) -> list[int]:
    return [int(m.group(1)) for p in payloads for m in REF.finditer(json.dumps(p, ensure_ascii=False))]


async def give_many(bed: Testbed, fake: SlackWire, refs: range) -> None:
    """Ben gives Anna one kudos per ref over signed ``/kudos`` requests, all at once; each is stored."""
    bodies = [
        command_body(fake, f"<@UANNA|anna> danke für die Hilfe am Telefon ref{i}", user="UBEN", trigger_id=f"t.{i}")
        for i in refs
    ]
    answers = await asyncio.gather(*(bed.post(b, content_type=FORM) for b in bodies))
    assert {status for status, _ in answers} == {200}
    await bed.settle()
    assert len(await bed.kudos_rows()) == refs.stop


async def test_celebrations_behind_the_channel_pace_are_folded_and_each_kudos_is_named_once(
    testbed_any_db: Testbed, fake: SlackWire
) -> None:
    bed = testbed_any_db
    fake.enforce_channel_rate(1.0)  # as Slack: a second post within a second is answered 429
    first = command_body(fake, "<@UANNA|anna> danke für die Hilfe am Telefon ref0", user="UBEN", trigger_id="t.0")
    assert (await bed.post(first, content_type=FORM))[0] == 200
    await bed.settle()
    async with transaction(bed.starling.sessions) as session:  # an admin raised the budgets
        await session.execute(update(Workspace).values(daily_budget=1000, pair_daily_cap=1000))

    await give_many(bed, fake, range(1, KUDOS + 1))

    deadline = time.monotonic() + 60
    want = list(range(KUDOS + 1))
    while sorted(named(fake.posts(CHANNEL))) != want or sorted(named(fake.dms("UANNA"))) != want:
        assert time.monotonic() < deadline, (named(fake.posts(CHANNEL)), named(fake.dms("UANNA")))
        bed.starling.outbox.wake()
        await asyncio.sleep(0.1)

    posts, dms = fake.posts(CHANNEL), fake.dms("UANNA")
    # Every kudos is named exactly once in the channel and once in Anna's DMs, in far fewer messages.
    assert sorted(named(posts)) == want and sorted(named(dms)) == want
    assert len(posts) <= KUDOS // 3, f"{len(posts)} posts for {KUDOS + 1} kudos"
    assert len(dms) <= KUDOS // 3, f"{len(dms)} DMs for {KUDOS + 1} kudos"
    folded = [p for p in posts if len(named([p])) > 1]
    assert folded and all(
        re.search(rf"{len(named([p]))} neue Kudos", json.dumps(p, ensure_ascii=False)) for p in folded
    )
    # The 429s were waited out, not dropped: every outbox row is sent.
    rows = await bed.delivered(len(await bed.outbox_rows()), timeout=30)
    assert {r.status for r in rows} == {"sent"}


async def test_a_channel_far_behind_its_pace_catches_up_in_a_few_posts(testbed: Testbed, fake: SlackWire) -> None:
    """More celebrations waiting than one batch of the outbox (50): the next post takes all that fit (up to 500),
    so at any rate the channel is at most a post or two behind, not one batch per second further behind."""
    bed, many = testbed, 200
    fake.enforce_channel_rate(1.0)
    first = command_body(fake, "<@UANNA|anna> danke ref0", user="UBEN", trigger_id="t.0")
    assert (await bed.post(first, content_type=FORM))[0] == 200
    await bed.settle()
    async with transaction(bed.starling.sessions) as session:
        await session.execute(update(Workspace).values(daily_budget=10_000, pair_daily_cap=10_000))
    while not named(fake.posts(CHANNEL)):
        bed.starling.outbox.wake()
        await asyncio.sleep(0.05)
    # Slack asks the channel to wait 8 s: meanwhile every celebration queues behind it.
    fake.fail_next(lambda r: r.op == "chat.postMessage" and fake.payload(r).get("channel") == CHANNEL, retry_after=8)
    await give_many(bed, fake, range(1, many + 1))
    bed.clock.advance(seconds=9)  # the channel's wait is over
    deadline = time.monotonic() + 60
    want = list(range(many + 1))
    while sorted(named(fake.posts(CHANNEL))) != want:
        assert time.monotonic() < deadline, sorted(named(fake.posts(CHANNEL)))
        bed.starling.outbox.wake()
        await asyncio.sleep(0.1)
    posts = fake.posts(CHANNEL)
    # One batch of 50 per post would need at least 1 + 200 / 50 = 5 posts; all that waited go in one or two.
    assert len(posts) <= 3, [len(named([p])) for p in posts]
