"""A simulated fortnight of scheduler ticks with a controlled clock: holidays, weekends and a
daylight-saving change, two schedulers ticking at once, and exactly the expected posts."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.scheduler import run_tick
from storage.models import ScheduledClaim
from storage.prompts import PromptPost
from tests.kit import BotHarness, Clock

BERLIN = ZoneInfo("Europe/Berlin")
VIENNA = ZoneInfo("Europe/Vienna")
DELIVERY = re.compile(r"^(?:\(\d+\) )?→ #(\S+):")  # channel posts are numbered: "(3) → #team:"


@pytest.fixture
async def week_bot(any_db_url: str) -> AsyncIterator[BotHarness]:
    clock = Clock(datetime(2027, 3, 24, 12, 0, tzinfo=UTC))  # Wednesday before Easter 2027
    bot = BotHarness(any_db_url, clock)
    await bot.start()
    yield bot
    await bot.close()


async def subscribe(bot: BotHarness, channel: str, args: str) -> str:
    await bot.say(f"/channel {channel}", as_="max")
    return await bot.say(f"prompt subscribe {args}")


async def drive(bot: BotHarness, start: datetime, end: datetime, step: timedelta) -> list[tuple[str, datetime]]:
    """Tick two schedulers at once every ``step``, deliver the outbox, and note what was posted when."""
    posted: list[tuple[str, datetime]] = []
    when = start
    while when < end:
        bot.clock.set(when)
        queued = await asyncio.gather(
            run_tick(bot.app.router, bot.app.services, when, worker="scheduler-a"),
            run_tick(bot.app.router, bot.app.services, when, worker="scheduler-b"),
        )
        assert sum(queued) <= 3  # never more than one post per channel
        first = len(bot.output)
        if sum(queued):
            await bot.app.outbox.drain()
        for line in bot.output[first:]:
            m = DELIVERY.match(line)
            if m:
                posted.append((m.group(1), when))
        when += step
    return posted


def local(day: int, hour: int, minute: int, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=zone)


async def test_week_with_holidays_and_daylight_saving_posts_exactly_the_expected_prompts(week_bot: BotHarness) -> None:
    bot = week_bot
    out = await subscribe(bot, "team-by", "09:30 mo-fr Europe/Berlin DE-BY")
    assert "nicht an Feiertagen in DE-BY" in out
    await subscribe(bot, "team-wien", "08:00 mon-fri Europe/Vienna AT en")
    await subscribe(bot, "nightshift", "02:30 daily Europe/Berlin keine")

    start = datetime(2027, 3, 24, 23, 0, tzinfo=UTC)  # Thursday 25 March, 00:00 in Berlin
    posted = await drive(bot, start, start + timedelta(days=7), timedelta(minutes=30))

    expected = [
        # Bavaria: Good Friday (26th) and Easter Monday (29th) are holidays, 27th/28th the weekend.
        ("team-by", local(25, 9, 30)),
        ("team-by", local(30, 9, 30)),
        ("team-by", local(31, 9, 30)),
        # Austria: Good Friday is a working day, Easter Monday a holiday.
        ("team-wien", local(25, 8, 0, VIENNA)),
        ("team-wien", local(26, 8, 0, VIENNA)),
        ("team-wien", local(30, 8, 0, VIENNA)),
        ("team-wien", local(31, 8, 0, VIENNA)),
        # Every day at 02:30; on the night the clocks spring forward 02:30 does not exist: 03:30, once.
        *[("nightshift", local(d, 2, 30)) for d in (25, 26, 27)],
        ("nightshift", local(28, 3, 30)),
        *[("nightshift", local(d, 2, 30)) for d in (29, 30, 31)],
    ]
    assert sorted(posted) == sorted((c, t.astimezone(UTC)) for c, t in expected)
    # 09:30 stays 09:30 local on both sides of the change (08:30 UTC before, 07:30 UTC after)
    by_utc = [t for c, t in posted if c == "team-by"]
    assert [t.hour for t in by_utc] == [8, 7, 7]

    async with bot.app.sessions() as s:
        posts = (await s.execute(select(PromptPost).order_by(PromptPost.channel_id, PromptPost.day))).scalars().all()
        prompt_claims = select(func.count()).select_from(ScheduledClaim).where(ScheduledClaim.kind == "prompt")
        claims = (await s.execute(prompt_claims)).scalar_one()
    assert claims == len(expected) == len(posts)
    for channel in ("team-by", "team-wien", "nightshift"):
        keys = [p.prompt_key for p in posts if p.channel_id == channel]
        assert len(keys) == len(set(keys))  # no prompt repeats
    assert {p.language for p in posts if p.channel_id == "team-wien"} == {"en"}
    text = "\n".join(bot.output)
    assert "Today's prompt" in text and "Impuls des Tages" in text


async def test_autumn_night_posts_once_and_a_missed_time_is_caught_up_within_the_grace_window(
    week_bot: BotHarness,
) -> None:
    bot = week_bot
    bot.clock.set(datetime(2027, 10, 29, 12, 0, tzinfo=UTC))
    await subscribe(bot, "nightshift", "02:30 daily Europe/Berlin keine")
    await subscribe(bot, "office", "09:30 daily Europe/Berlin keine")
    # the night of 31 October: 02:30 happens twice (CEST, then CET)
    night = datetime(2027, 10, 30, 22, 0, tzinfo=UTC)
    posted = await drive(bot, night, night + timedelta(hours=6), timedelta(minutes=5))
    assert posted == [("nightshift", datetime(2027, 10, 31, 0, 30, tzinfo=UTC))]

    # the scheduler is down from 09:00 to 11:10 local: the 09:30 prompt comes at the first tick after
    back = datetime(2027, 10, 31, 10, 10, tzinfo=UTC)
    posted = await drive(bot, back, back + timedelta(hours=1), timedelta(minutes=10))
    assert posted == [("office", back)]
    # down all day on 1 November: more than the grace window late, so no evening prompt
    evening = datetime(2027, 11, 1, 15, 0, tzinfo=UTC)
    assert await drive(bot, evening, evening + timedelta(hours=2), timedelta(minutes=30)) == []


async def test_pause_and_resume(week_bot: BotHarness) -> None:
    bot = week_bot
    await subscribe(bot, "team", "09:30 daily Europe/Berlin keine")
    out = await bot.say("prompt pause")
    assert "pausiert" in out
    day = datetime(2027, 3, 25, 6, 0, tzinfo=UTC)
    assert await drive(bot, day, day + timedelta(hours=4), timedelta(minutes=30)) == []
    bot.clock.set(day + timedelta(hours=4))
    out = await bot.say("prompt resume")
    assert "laufen wieder" in out
    # resumed after today's time: no catching up today, the next prompt tomorrow at 09:30
    posted = await drive(bot, day + timedelta(hours=4), day + timedelta(days=1, hours=4), timedelta(minutes=30))
    assert posted == [("team", datetime(2027, 3, 26, 8, 30, tzinfo=UTC))]
