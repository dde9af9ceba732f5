"""The outbox against the fake Slack Web API: pacing per channel, Retry-After, retries, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
import structlog

from tests.bot.outbox_kit import (
    deliver,
    ensure_slack_workspace,
    keys_delivered,
    make_app,
    outbox_outcomes,
    outbox_statuses,
    queue_posts,
    with_fake_slack,
)
from tests.bot.slack_sender import delivered
from tests.fakes import FakeSlackAPI
from tests.kit import Clock


def metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_fan_out_200_channels_paced_with_429s_all_delivered_once(any_db_url: str) -> None:
    channels = [f"C{n:04d}" for n in range(200)]
    async with FakeSlackAPI() as fake:
        fake.enforce_channel_rate(1.0)
        fake.fail_next("chat.postMessage", status=429, times=25, retry_after=1)
        app = with_fake_slack(make_app(any_db_url), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [(c, f"digest {i}") for i in (1, 2) for c in channels])
            await deliver(app, fake, 400)
            assert await outbox_statuses(app) == {"sent": 400}
        finally:
            await app.close()
        keys = keys_delivered(fake)
        assert set(keys) == {f"{c}:digest {i}" for c in channels for i in (1, 2)}
        assert set(keys.values()) == {1}
        per_channel: dict[str, list[str]] = defaultdict(list)
        for post in delivered(fake):
            per_channel[post["channel"]].append(post["text"])
        assert all(texts == ["digest 1", "digest 2"] for texts in per_channel.values())
        rejected = [r for r in fake.calls("chat.postMessage") if r.rejected]
        # the only refusals are the 25 injected ones: the pace itself never hit Slack's limit
        assert len(rejected) == 25


async def test_two_workers_share_channels_without_doubles_or_rate_limit_hits(any_db_url: str) -> None:
    channels = [f"C{n:03d}" for n in range(30)]
    async with FakeSlackAPI() as fake:
        fake.enforce_channel_rate(1.0)
        first = with_fake_slack(make_app(any_db_url), fake.api_url)
        second = with_fake_slack(make_app(any_db_url), fake.api_url)
        try:
            await ensure_slack_workspace(first)
            await queue_posts(first, [(c, f"post {i}") for i in range(3) for c in channels])
            a, b = await asyncio.gather(first.outbox.drain(), second.outbox.drain())
            assert a + b == 90
        finally:
            await first.close()
            await second.close()
        keys = keys_delivered(fake)
        assert len(keys) == 90 and set(keys.values()) == {1}
        assert not [r for r in fake.calls("chat.postMessage") if r.rejected]
        for c in channels:
            assert [p["text"] for p in delivered(fake) if p["channel"] == c] == ["post 0", "post 1", "post 2"]


async def test_retry_after_pauses_the_channel_then_the_same_message_goes_first(db_url: str) -> None:
    async with FakeSlackAPI() as fake:
        fake.fail_next("chat.postMessage", status=429, times=1, retry_after=2)
        app = with_fake_slack(make_app(db_url), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [("CRATE", "hello"), ("CRATE", "again")])
            await deliver(app, fake, 2)
        finally:
            await app.close()
        calls = fake.calls("chat.postMessage")
        assert [(c.rejected, c.params["text"]) for c in calls] == [(True, "hello"), (False, "hello"), (False, "again")]
        assert calls[1].time - calls[0].time >= 2.0  # nothing went to that channel before Retry-After was over
        assert keys_delivered(fake) == {"CRATE:hello": 1, "CRATE:again": 1}


async def test_failing_sends_back_off_then_become_dead_letters(db_url: str) -> None:
    clock = Clock()
    dead_before = metric("starling_outbox_dead_total", platform="slack")
    async with FakeSlackAPI() as fake:
        fake.fail_next("chat.postMessage", status=500, times=3)
        app = with_fake_slack(make_app(db_url, clock=clock, outbox_max_attempts=3), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [("CDEAD", "doomed")])
            assert await app.outbox.drain() == 0
            assert await outbox_statuses(app) == {"pending": 1}
            assert await app.outbox.drain() == 0  # not due yet: backing off
            assert len(fake.calls("chat.postMessage")) == 1
            for _ in range(2):
                clock.advance(minutes=15)
                assert await app.outbox.drain() == 0
            assert await outbox_statuses(app) == {"dead": 1}
            clock.advance(hours=2)
            assert await app.outbox.drain() == 0
            assert len(fake.calls("chat.postMessage")) == 3
        finally:
            await app.close()
    assert metric("starling_outbox_dead_total", platform="slack") == dead_before + 1


async def test_permanent_failure_is_dead_at_once_and_other_channels_go_on(db_url: str) -> None:
    async with FakeSlackAPI() as fake:
        fake.fail_next(
            lambda r: r.op == "chat.postMessage" and r.params.get("channel") == "CGONE",
            status=200,
            body={"ok": False, "error": "channel_not_found"},
        )
        app = with_fake_slack(make_app(db_url), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [("CGONE", "lost"), ("COK", "fine")])
            assert await app.outbox.drain() == 1
            assert await outbox_statuses(app) == {"dead": 1, "sent": 1}
        finally:
            await app.close()
        assert keys_delivered(fake) == {"COK:fine": 1}


async def _dead_letter(db_url: str) -> None:
    async with FakeSlackAPI() as fake:
        fake.fail_next("chat.postMessage", status=200, body={"ok": False, "error": "channel_not_found"})
        app = with_fake_slack(make_app(db_url), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [("CGONE", "lost")])
            await app.outbox.drain()
            await app.outbox.refresh_gauges()  # a running worker does this every 15 seconds
        finally:
            await app.close()


@pytest.fixture
def cli() -> Iterator[Callable[[list[str]], int]]:
    """``starling`` in-process; the logging it configures for the captured terminal is put back afterwards."""
    from bot.cli import main

    handlers, level, config = logging.root.handlers[:], logging.root.level, structlog.get_config()
    yield main
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
    structlog.configure(**config)


def test_dead_letters_are_visible_in_the_cli_and_the_metric_and_can_be_requeued(
    db_url: str, cli: Callable[[list[str]], int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = cli
    asyncio.run(_dead_letter(db_url))
    assert metric("starling_outbox_dead_letters", platform="slack") == 1
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    capsys.readouterr()
    assert main(["outbox", "dead"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "channel:CGONE" in x]
    row_id, status = line.split()[:2]
    assert status == "dead" and line.endswith("channel_not_found")
    assert main(["outbox", "retry", "x"]) == 2
    assert main(["outbox", "retry", row_id]) == 0
    assert f"requeued 1 dead letter(s): {row_id}" in capsys.readouterr().out
    assert main(["outbox"]) == 0
    listed = capsys.readouterr().out
    assert "outbox (not yet sent): slack/pending: 1" in listed and "channel:CGONE" in listed
    assert main(["outbox", "dead"]) == 0
    assert "no dead letters" in capsys.readouterr().out


async def test_one_batch_with_some_sends_failing_gives_each_message_its_own_outcome(any_db_url: str) -> None:
    fine = [f"COK{n}" for n in range(4)]
    async with FakeSlackAPI() as fake:
        fake.enforce_channel_rate(1.0)
        fake.fail_next(
            lambda r: r.op == "chat.postMessage" and r.params.get("channel") == "CGONE",
            status=200,
            body={"ok": False, "error": "channel_not_found"},
            times=2,
        )
        fake.fail_next(lambda r: r.op == "chat.postMessage" and r.params.get("channel") == "CFLAKY", status=500)
        fake.fail_next(lambda r: r.op == "chat.postMessage" and r.params.get("channel") == "CRATE", retry_after=1)
        # a retry after a server error waits minutes, so that message stays queued during this test
        app = with_fake_slack(make_app(any_db_url, outbox_backoff_seconds=600.0), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            channels = [*fine, "CGONE", "CFLAKY", "CRATE"]
            await queue_posts(app, [(c, f"post {i}") for i in (1, 2) for c in channels])
            # accepted: both posts of the four fine channels and of CRATE, the second post of CFLAKY
            await deliver(app, fake, 2 * len(fine) + 2 + 1)
            outcome = await outbox_outcomes(app)
        finally:
            await app.close()
        assert {c: outcome[c] for c in fine} == {c: [("sent", 1), ("sent", 1)] for c in fine}
        assert outcome["CRATE"] == [("sent", 2), ("sent", 1)]  # the rate-limited post went again, then the next
        assert outcome["CGONE"] == [("dead", 1), ("dead", 1)]
        assert outcome["CFLAKY"] == [("pending", 1), ("sent", 1)]  # backing off; the channel's next post went on
        keys = keys_delivered(fake)
        assert set(keys.values()) == {1}
        assert set(keys) == {f"{c}:post {i}" for c in [*fine, "CRATE"] for i in (1, 2)} | {"CFLAKY:post 2"}


async def test_calls_in_flight_stay_within_the_limit_while_many_channels_are_served(db_url: str) -> None:
    channels = [f"C{n:03d}" for n in range(40)]
    async with FakeSlackAPI() as fake:
        for _ in channels:
            fake.delay_next(0.05, "chat.postMessage")
        app = with_fake_slack(make_app(db_url, outbox_in_flight=3), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await queue_posts(app, [(c, "hello") for c in channels])
            assert await app.outbox.drain() == len(channels)
        finally:
            await app.close()
        calls = fake.calls("chat.postMessage")
        assert len(calls) == len(channels) and fake.max_open <= 3
        assert keys_delivered(fake) == {f"{c}:hello": 1 for c in channels}


async def test_a_wake_for_conversations_being_delivered_leaves_them_to_their_round_and_looks_up_the_others(
    db_url: str,
) -> None:
    """A handler's commit wakes the running worker with the conversations it wrote to. A conversation the worker is
    delivering (held for Slack's one post per second) sends the new message in its next round without a wake; one
    it does not hold is looked up at once. With the poll an hour away, only these two paths can deliver."""
    from storage.outbox import Lane

    def lane(channel: str) -> Lane:
        return Lane("slack", "slack:T1", "channel", channel)

    async with FakeSlackAPI() as fake:
        # a pace of 3 s: the channel stays held while the test looks, however slow the machine
        app = with_fake_slack(make_app(db_url, outbox_pace_seconds={"slack": 3.0}), fake.api_url)
        try:
            await ensure_slack_workspace(app)
            await app.outbox.start(poll_seconds=3600)
            await queue_posts(app, [("C1", "eins")])
            app.outbox.wake({lane("C1")})
            await wait_for(lambda: len(delivered(fake)) == 1)
            assert lane("C1") in app.outbox._lanes  # held for the channel's pace after its post

            await queue_posts(app, [("C1", "zwei")])
            app.outbox._wake.clear()
            app.outbox.wake({lane("C1")})
            assert not app.outbox._wake.is_set()  # left to the conversation's own round
            await queue_posts(app, [("C2", "drei")])
            app.outbox.wake({lane("C1"), lane("C2")})
            assert app.outbox._wake.is_set()  # C2 is nobody's yet: looked up at once

            await wait_for(lambda: len(delivered(fake)) == 3)
            sent = [(p["channel"], p["text"]) for p in delivered(fake)]
            assert sent == [("C1", "eins"), ("C2", "drei"), ("C1", "zwei")]  # C1's second waits for its pace
            await app.outbox.stop()
            assert await outbox_statuses(app) == {"sent": 3}
        finally:
            await app.outbox.stop()
            await app.close()


async def wait_for(ready: Callable[[], bool], seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not ready():
        assert loop.time() < deadline, "not delivered (only the hourly poll would have found it)"
        await asyncio.sleep(0.02)
