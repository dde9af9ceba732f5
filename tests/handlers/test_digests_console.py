"""Team digests and leaderboard posts in the console: commands, schedules over a simulated month, privacy."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select, update
from structlog.testing import capture_logs

from bot.scheduler import SchedulerService
from storage import outbox as oq
from storage.db import transaction
from storage.models import Kudos, OutboxMessage, ScheduledClaim, Workspace
from tests.bot.outbox_kit import only_schedules
from tests.kit import BotHarness, CancelAt, Clock


def scheduler(bot: BotHarness, name: str) -> SchedulerService:
    """The real scheduler service, ticking only the digests (the other features' jobs have their own tests)."""
    only_schedules(bot.app, "digests")
    return SchedulerService(bot.app, name=name)


def posts(output: list[str], channel: str) -> list[str]:
    """The scheduled posts the terminal showed for ``#channel``, as their first (header) line."""
    prefix = f"→ #{channel}:\n"
    return [o[len(prefix) :].splitlines()[0] for o in output if o.startswith(prefix)]


async def claimed_periods(bot: BotHarness, kind: str, channel: str) -> list[str]:
    async with bot.app.sessions() as session:
        rows = await session.execute(
            select(ScheduledClaim.period)
            .where(ScheduledClaim.kind == kind, ScheduledClaim.channel_id == channel)
            .order_by(ScheduledClaim.period)
        )
        return list(rows.scalars())


async def tick(bot: BotHarness, service: SchedulerService) -> None:
    await service.tick(bot.clock())
    await bot.app.outbox.drain()


def weekdays_between(first: date, last: date) -> list[str]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [d.isoformat() for d in days if d.weekday() < 5]


async def lease_like_a_dead_worker(bot: BotHarness) -> int:
    """Lease every due message the way a worker does just before it sends, then vanish (a crash)."""
    now = bot.clock()
    async with transaction(bot.app.sessions) as session:
        lanes = await oq.due_lanes(session, now=now, platforms=["console"], limit=100)
        taken = await oq.acquire_lanes(session, lanes=lanes, holder="dead-worker", now=now, lease=timedelta(seconds=60))
        leased = 0
        for lane in taken:
            rows = await oq.claim_lane_rows(
                session, lane=lane, holder="dead-worker", now=now, lease=timedelta(seconds=60), limit=20
            )
            leased += len(rows or [])
    return leased


async def test_simulated_month_with_restarts_and_crashes_posts_every_digest_once(db_url: str, clock: Clock) -> None:
    rng = random.Random(20261118)
    bot = await BotHarness(db_url, clock).start()
    await bot.say("digest subscribe #team mo 09:00")
    await bot.say("digest subscribe #daily mo-fr 17:30")
    await bot.say("digest leaderboard #kudos monat")
    outputs = [bot.output]
    service = scheduler(bot, "scheduler-1")
    end = datetime(2026, 12, 19, 12, 0, tzinfo=UTC)
    step, restarts, crashes, leased, waiting = 0, 0, 0, 0, False
    try:
        while clock() < end:
            step += 1
            clock.advance(minutes=rng.randint(20, 330))
            if step % 29 == 0:  # a restart on the same database, after less than the grace period
                await service.stop()
                await bot.close()
                clock.advance(minutes=rng.randint(1, 50))
                bot = await BotHarness(db_url, clock).start(demo=False)
                outputs.append(bot.output)
                service = scheduler(bot, f"scheduler-{step}")
                restarts += 1
                waiting = True
            if step % 19 == 0:  # a tick cancelled at one of its database calls: its transaction rolls back
                with CancelAt(bot.app.engine, rng.randint(1, 12)):
                    await asyncio.gather(service.tick(clock()), return_exceptions=True)
                crashes += 1
            if step % 29 == 0:
                await bot.say(
                    "kudos @anna @ben danke für die schnelle Hilfe beim Kundenanruf #kundenfokus", as_="clara"
                )
            queued = await service.tick(clock())
            if queued and rng.random() < 0.4:
                leased += await lease_like_a_dead_worker(bot)  # a worker dies between leasing and sending
                waiting = True
                continue
            if queued or waiting:  # what a worker would find on its next poll
                waiting = False
                await bot.app.outbox.drain()
        clock.advance(minutes=5)
        await tick(bot, service)
        everything = [line for out in outputs for line in out]
        assert restarts >= 3 and crashes >= 5 and leased >= 3
        mondays = ["2026-11-23", "2026-11-30", "2026-12-07", "2026-12-14"]
        weekdays = weekdays_between(date(2026, 11, 18), date(2026, 12, 18))
        assert await claimed_periods(bot, "digest", "team") == mondays
        assert await claimed_periods(bot, "digest", "daily") == weekdays
        assert await claimed_periods(bot, "leaderboard", "kudos") == ["month:2026-11-01"]
        team, daily, kudos = posts(everything, "team"), posts(everything, "daily"), posts(everything, "kudos")
        assert team == [
            "Team-Digest · 16.11. – 22.11.2026",
            "Team-Digest · 23.11. – 29.11.2026",
            "Team-Digest · 30.11. – 6.12.2026",
            "Team-Digest · 7.12. – 13.12.2026",
        ]
        assert len(daily) == len(weekdays) and set(Counter(daily).values()) == {1}
        assert kudos == ["Kudos-Rangliste · November 2026"]
        async with bot.app.sessions() as session:
            statuses = (
                await session.execute(select(OutboxMessage.status).where(OutboxMessage.cause != "CommandEvent"))
            ).scalars()
            assert set(statuses) == {"sent"}
    finally:
        await service.stop()
        await bot.close()


async def test_an_outage_longer_than_the_grace_period_skips_that_digest_with_a_log_line(
    db_url: str, clock: Clock
) -> None:
    bot = await BotHarness(db_url, clock).start()
    service = scheduler(bot, "s")
    try:
        await bot.say("digest subscribe #team mo 09:00")
        await tick(bot, service)
        clock.set(datetime(2026, 11, 22, 20, 0, tzinfo=UTC))  # Sunday evening: last tick before the outage
        await tick(bot, service)
        clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))  # back Monday 18:00, nine hours late
        with capture_logs() as logs:
            await tick(bot, service)
        assert posts(bot.output, "team") == []
        skipped = [e for e in logs if e["event"] == "scheduled_post_skipped"]
        assert [(e["kind"], e["channel"], e["period"]) for e in skipped] == [("digest", "team", "2026-11-23")]
        clock.set(datetime(2026, 11, 30, 8, 5, tzinfo=UTC))
        await tick(bot, service)
        assert posts(bot.output, "team") == ["Team-Digest · 23.11. – 29.11.2026"]
    finally:
        await service.stop()
        await bot.close()


async def test_digest_at_0230_posts_once_on_both_dst_sundays(db_url: str) -> None:
    for start in (datetime(2026, 3, 28, 20, 0, tzinfo=UTC), datetime(2026, 10, 24, 20, 0, tzinfo=UTC)):
        clock = Clock(start)
        bot = await BotHarness(db_url, clock).start()
        service = scheduler(bot, "s")
        try:
            await bot.say("/channel night")
            await bot.say("digest subscribe so 02:30")
            while clock() < start + timedelta(hours=10):
                clock.advance(minutes=25)
                await tick(bot, service)
            assert len(posts(bot.output, "night")) == 1
        finally:
            await service.stop()
            await bot.close()
        async with transaction(bot.app.sessions) as session:
            await session.execute(delete(ScheduledClaim))
    # the post went out at 03:00 local on the spring-forward night, at the first 02:30 on the fall-back one


async def test_preview_is_admin_only_and_posts_nothing(bot: BotHarness) -> None:
    out = await bot.say("digest preview #team")
    assert out.startswith("(only you) Vorschau: Team-Digest · 16.11. – 22.11.2026")
    assert "Vergebene Kudos" in out and "Am meisten anerkannt" in out
    assert "#team hat noch keinen Digest" not in out and "<#team> hat noch keinen Digest" in out
    refused = await bot.say("digest preview #team", as_="anna")
    assert refused == "(only you) Das können nur Workspace-Admins ändern."
    async with bot.app.sessions() as session:
        assert (await session.execute(select(ScheduledClaim))).first() is None
        assert (await session.execute(select(OutboxMessage))).first() is None


async def test_bad_input_gets_a_friendly_error_only_for_the_admin(bot: BotHarness) -> None:
    assert "`25:00` verstehe ich nicht als Uhrzeit" in await bot.say("digest subscribe #team mo 25:00")
    assert "`irgendwann` verstehe ich nicht" in await bot.say("digest subscribe #team irgendwann")
    assert "Zeitzone `Mars/Olympus` kenne ich nicht" in await bot.say("digest subscribe #team Mars/Olympus")
    assert "Rangliste kommt zu Beginn jedes Zeitraums" in await bot.say("digest leaderboard #kudos mo")
    assert "keinen Team-Digest, den ich ausschalten" in await bot.say("digest off")
    assert "`digest later` kenne ich nicht" in await bot.say("digest later")
    await bot.say("starling language en")
    assert "`25:00` is not a time I understand" in await bot.say("digest subscribe #team 25:00")
    async with bot.app.sessions() as session:
        assert (await session.execute(select(ScheduledClaim))).first() is None
    status = await bot.say("digest status")
    assert "No digests or leaderboard posts are scheduled" in status


async def test_subscribe_change_status_and_off(bot: BotHarness) -> None:
    out = await bot.say("digest subscribe #team")
    assert (
        out == "(only you) Team-Digest für <#team>: montags um 09:00 (Europe/Berlin) · nächster: Mo 23.11.2026, 09:00"
    )
    out = await bot.say("digest subscribe #team mo-fr 8:30 Europe/Vienna")
    assert "montags bis freitags um 08:30 (Europe/Vienna) · nächster: Do 19.11.2026, 08:30" in out
    await bot.say("digest leaderboard #kudos quartal geber")
    status = await bot.say("digest status", as_="anna")
    assert "Team-Digest → <#team>: montags bis freitags um 08:30" in status
    assert "Rangliste (Quartal, nur Gebende) → <#kudos>: am 1. jedes Quartals um 09:00" in status
    assert await bot.say("digest off #team", as_="max") == "(only you) Der Team-Digest ist aus für <#team>."
    assert "Team-Digest" not in await bot.say("digest status")


async def test_privacy_opt_out_works_council_and_small_groups(bot: BotHarness) -> None:
    async with bot.app.sessions() as session:
        top = (
            (
                await session.execute(
                    select(Kudos.receiver_id)
                    .where(Kudos.created_at >= datetime(2026, 11, 16, tzinfo=UTC))
                    .group_by(Kudos.receiver_id)
                    .order_by(Kudos.receiver_id)
                )
            )
            .scalars()
            .all()
        )
    assert "felix" in top
    await bot.say("kudos optout", as_="felix")
    out = await bot.say("digest preview #team", as_="max")
    assert "Am meisten anerkannt" in out and "Felix Brunner" not in out

    async with transaction(bot.app.sessions) as session:
        await session.execute(update(Workspace).values(privacy_profile="works-council"))
    out = await bot.say("digest preview #team")
    assert "Vergebene Kudos" in out and "Namen werden nicht gezeigt (Datenschutzprofil Betriebsrat)." in out
    for name in ("Anna Schmidt", "Ben Müller", "Clara Fischer", "Emma Hofer", "Greta Keller", "Max Weber", "Deniz"):
        assert name not in out

    async with transaction(bot.app.sessions) as session:
        await session.execute(update(Workspace).values(privacy_profile="standard"))
        await session.execute(delete(Kudos))
    await bot.say("kudos @anna danke für die Hilfe beim Kundentermin heute #kundenfokus", as_="ben")
    await bot.say("kudos @ben danke für die Übergabe an die Spätschicht #teamwork", as_="clara")
    out = await bot.say("digest preview #team", as_="max")
    assert "Weniger als 5 Personen waren beteiligt" in out
    assert "Vergebene Kudos" not in out and "Anna Schmidt" not in out and "Werte-Mix" not in out


async def test_leaderboard_post_on_the_first_of_the_month_in_each_mode(bot: BotHarness, clock: Clock) -> None:
    service = scheduler(bot, "s")
    try:
        await bot.say("digest leaderboard #kudos monat geber")
        await bot.say("digest leaderboard #board monat")
        clock.set(datetime(2026, 12, 1, 8, 1, tzinfo=UTC))
        await tick(bot, service)
        givers = [o for o in bot.output if o.startswith("→ #kudos:")]
        both = [o for o in bot.output if o.startswith("→ #board:")]
        assert len(givers) == 1 and len(both) == 1
        assert givers[0].splitlines()[1] == "Die großzügigsten Kolleginnen und Kollegen · November 2026"
        assert "Am großzügigsten" in givers[0] and "Am meisten anerkannt" not in givers[0]
        assert "Am großzügigsten" in both[0] and "Am meisten anerkannt" in both[0]
        async with transaction(bot.app.sessions) as session:
            await session.execute(update(Workspace).values(privacy_profile="works-council"))
        await bot.say("digest leaderboard #council quartal")
        clock.set(datetime(2027, 1, 1, 8, 1, tzinfo=UTC))
        await tick(bot, service)
        council = [o for o in bot.output if o.startswith("→ #council:")]
        assert len(council) == 1 and "Kudos-Rangliste · Q4 2026" in council[0]
        assert "Ranglisten einzelner Personen sind aus" in council[0] and "Am großzügigsten" not in council[0]
    finally:
        await service.stop()


async def test_digest_shows_prompt_participation_and_you_said_we_did(db_url: str) -> None:
    from bot.core.events import Conversation, MessageEvent
    from storage.prompts import PromptPost
    from tests.handlers.suggestion_kit import TRAVEL, fill_form

    clock = Clock(datetime(2026, 11, 18, 7, 0, tzinfo=UTC))  # Wednesday 08:00 in Berlin
    bot = await BotHarness(db_url, clock).start()
    try:
        for channel in ("team", "small"):
            await bot.say(f"/channel {channel}", as_="max")
            await bot.say("prompt subscribe 09:30 mo-fr Europe/Berlin DE-BY")
        clock.advance(hours=1, minutes=30)
        await SchedulerService(bot.app, name="s").tick(clock())  # every feature's job, as in production
        await bot.app.outbox.drain()
        async with bot.app.sessions() as session:
            posts = {p.channel_id: p for p in (await session.execute(select(PromptPost))).scalars()}
            sent = {
                r.target_id: r.platform_message_id
                for r in (await session.execute(select(OutboxMessage).where(OutboxMessage.cause == "prompt"))).scalars()
            }
        assert set(posts) == {"team", "small"}
        people = {"team": ["anna", "ben", "clara", "deniz", "emma"], "small": ["felix", "greta"]}
        for channel, who in people.items():
            for n, user in enumerate(who):
                bot.console.user = user
                await bot.console.send_event(
                    MessageEvent(
                        actor=await bot.console._actor(),
                        conversation=Conversation(id=channel, thread_id=sent[channel]),
                        text=f"Als Kunde möchte ich nicht dreimal dieselbe Frage beantworten ({n}).",
                        message_id=f"{channel}-{n}",
                        thread_id=sent[channel],
                        event_id=f"ev-{channel}-{n}",
                    )
                )
        await fill_form(bot, "anna", **TRAVEL)
        clock.advance(hours=2)
        out = await bot.say("digest preview #team", as_="max")
    finally:
        await bot.close()
    assert "Aus Kundensicht" in out
    assert "<#team>" in out and "5 Antworten auf 1 Impulse" in out
    assert "<#small>" not in out and "weniger als 5 Personen geantwortet" in out
    assert "Ihr habt gesagt, wir haben gemacht" in out and "Eingereicht" in out


async def test_switched_off_features_post_nothing_on_schedule(bot: BotHarness, clock: Clock) -> None:
    """The scheduler's gate: a digest is skipped while ``digests`` is off, a leaderboard post while
    ``leaderboards`` is off, each on its own; switched on again, the next one comes."""
    service = scheduler(bot, "s")
    try:
        await bot.say("digest subscribe #team täglich 09:00")
        await bot.say("digest leaderboard #kudos monat")
        await bot.say("privacy feature leaderboards off", as_="max")
        clock.set(datetime(2026, 12, 1, 8, 5, tzinfo=UTC))  # Tuesday 09:05 in Berlin, the first of the month
        await tick(bot, service)
        assert len(posts(bot.output, "team")) == 1 and posts(bot.output, "kudos") == []
        await bot.say("privacy feature leaderboards on", as_="max")
        await bot.say("privacy feature digests off", as_="max")
        clock.set(datetime(2026, 12, 2, 8, 5, tzinfo=UTC))
        await tick(bot, service)
        assert len(posts(bot.output, "team")) == 1  # no digest on the 2nd
        await bot.say("privacy feature digests on", as_="max")
        clock.set(datetime(2026, 12, 3, 8, 5, tzinfo=UTC))
        await tick(bot, service)
        assert len(posts(bot.output, "team")) == 2
        assert await claimed_periods(bot, "leaderboard", "kudos") == []  # December's was due while it was off
    finally:
        await service.stop()


async def test_leaderboard_post_preview_and_off_in_both_languages(bot: BotHarness) -> None:
    await bot.say("digest leaderboard #kudos monat")
    preview = await bot.say("digest rangliste vorschau #kudos")
    assert preview.startswith("(only you) ") and "Kudos-Rangliste" in preview
    assert "#kudos" in await bot.say("digest status")
    off = await bot.say("digest rangliste aus #kudos")
    assert off.startswith("(only you) ")
    assert "#kudos" not in await bot.say("digest status")
    await bot.say("digest leaderboard #board woche")
    await bot.say("digest leaderboard stop #board")
    assert "#board" not in await bot.say("digest status")
