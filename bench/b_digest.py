"""Digest fan-out to many Slack channels through the scheduler contract and the outbox worker, against the
fake Slack Web API enforcing 1 message per second per channel with injected 429s; the floor is a bare
slack_sdk client that paces each channel itself and honours Retry-After, once as slack_sdk comes (a new
HTTP session per call) and once with one connection pool, as Starling's sender keeps. Nothing lost,
nothing doubled. Every wait has a deadline: a run that does not finish in time is reported as an error."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bench.core import Config, NotAvailable, Row, median
from bench.dbs import database, label
from bench.registry import require
from bot.app import Starling
from bot.core.jobs import JobContext
from bot.core.messages import Bar, BarList, Header, Message, Note, Section
from bot.outbox import Sender
from bot.settings import Settings
from storage import core
from storage.db import transaction
from tests.fakes import FakeSlackAPI

NAME = "digest"
TITLE = "Digest fan-out to many channels (1 msg/s/channel, 429s) vs a bare paced client"
TOKEN = "xoxb-test-token"
KINDS = ("digest", "leaderboard")  # two posts per channel: the per-channel pace is part of the floor
WORKSPACE = "slack:T1"
CONCURRENCY = 50


def channel(i: int) -> str:
    return f"C{i:06d}"


def digest_message(i: int, kind: str) -> Message:
    title = "Wochenrückblick" if kind == "digest" else "Rangliste des Monats"
    return Message(
        blocks=[
            Header(text=f"{title} · Team {i}"),
            Section(text="*42 Kudos* diese Woche, 12 davon teamübergreifend."),
            BarList(
                rows=[Bar(label=v, value=n) for v, n in (("Kundenfokus", 17), ("Teamwork", 12), ("Verantwortung", 9))]
            ),
            Note(text="Gruppen unter 5 Personen werden nicht gezeigt."),
        ],
        text=title,
    )


def inject(fake: FakeSlackAPI, channels: int) -> int:
    fake.enforce_channel_rate(1.0)
    failures = max(1, channels // 20)
    fake.fail_next("chat.postMessage", status=429, times=failures, retry_after=1)
    return failures


def delivered_count(fake: FakeSlackAPI) -> int:
    """Accepted chat.postMessage calls, counted cheaply (the fake's log grows with every request)."""
    return sum(1 for r in fake.requests if r.op == "chat.postMessage" and r.accepted)


def check(fake: FakeSlackAPI, channels: int) -> None:
    posted = Counter(str(p.get("channel")) for p in fake.posts())
    lost = [channel(i) for i in range(channels) if posted[channel(i)] < len(KINDS)]
    doubled = [c for c, n in posted.items() if n > len(KINDS)]
    if lost or doubled:
        raise RuntimeError(f"fan-out lost {len(lost)} channels and doubled {len(doubled)}")


# --- floor ---------------------------------------------------------------------------------------------


async def bare_fanout(fake: FakeSlackAPI, channels: int, *, pool: bool, timeout: float) -> float:
    session = aiohttp.ClientSession() if pool else None
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url, session=session)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(i: int, kind: str) -> None:
        message = digest_message(i, kind)
        while True:
            async with gate:
                try:
                    await client.chat_postMessage(channel=channel(i), text=message.text or "", blocks=[])
                    return
                except SlackApiError as err:
                    if err.response.status_code != 429:
                        raise
                    wait = float(err.response.headers.get("Retry-After", 1))
            await asyncio.sleep(wait)

    async def one_channel(i: int) -> None:
        for n, kind in enumerate(KINDS):
            if n:
                await asyncio.sleep(1.0)
            await post(i, kind)

    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one_channel(i) for i in range(channels)))
    except TimeoutError:
        raise RuntimeError(f"the bare client did not deliver every post within {timeout:.0f} s") from None
    finally:
        if session is not None:
            await session.close()
    return time.perf_counter() - t0


# --- Starling ------------------------------------------------------------------------------------------


def slack_sender(app: Starling, fake: FakeSlackAPI) -> Sender:
    """Starling's own Slack sender for the outbox (from bot/slack), pointed at the fake Web API."""
    require("bot.slack.adapter")
    from bot.slack.adapter import SlackAdapter

    slack = SlackAdapter(app)
    app.attach("slack", sender=slack.sender, directory=slack.directory)  # as `starling serve` does
    sender = app.outbox.senders.get("slack")
    if sender is None:
        raise NotAvailable("not available yet: the Slack adapter registers no outbox sender")
    return sender


async def starling_fanout(kind: str, cfg: Config, fake: FakeSlackAPI, channels: int, *, timeout: float) -> float:
    with database(kind, cfg) as url:
        settings = Settings(  # type: ignore[call-arg]
            database_url=url,
            slack_bot_token=TOKEN,
            slack_signing_secret="s",
            slack_api_url=fake.api_url,
            _env_file=None,
        )
        app = Starling(settings, run_migrations=False)
        try:
            app.outbox.senders["slack"] = slack_sender(app, fake)
            async with transaction(app.sessions) as session:
                ws = await core.ensure_workspace(
                    session, workspace_id=WORKSPACE, platform="slack", locale="de", timezone="Europe/Berlin"
                )
            stop = asyncio.Event()
            t0 = time.perf_counter()
            worker = asyncio.create_task(app.outbox.run(stop, poll_seconds=0.2))
            deadline = time.perf_counter() + timeout
            try:
                now = app.services.clock()
                try:
                    async with asyncio.timeout(timeout), transaction(app.sessions) as session:
                        job = JobContext(services=app.services, session=session, now=now, worker="bench")
                        for i in range(channels):
                            for k in KINDS:
                                if await job.claim(
                                    workspace_id=ws.id, channel_id=channel(i), kind=k, period="2026-W47"
                                ):
                                    await job.post(
                                        ws, channel(i), digest_message(i, k), kind=k, dedupe_key=f"{k}:{i}:2026-W47"
                                    )
                except TimeoutError:
                    raise RuntimeError(f"claiming and queueing took more than {timeout:.0f} s") from None
                app.outbox.wake()
                while delivered_count(fake) < channels * len(KINDS) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.1)
                seconds = time.perf_counter() - t0
                delivered = delivered_count(fake)
                if delivered < channels * len(KINDS):
                    raise RuntimeError(
                        f"only {delivered} of {channels * len(KINDS)} posts delivered in {seconds:.0f} s"
                    )
            finally:
                stop.set()
                app.outbox.wake()
                done, _ = await asyncio.wait({worker}, timeout=15)
                if not done:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(worker, timeout=5)
                    stuck = RuntimeError("the outbox worker did not stop within 15 s")
                else:
                    stuck = None
        finally:
            async with asyncio.timeout(30):
                await app.close()
    if stuck is not None:
        raise stuck
    return seconds


async def run(cfg: Config) -> list[Row]:
    require("bot.slack")
    channels = cfg.size(1000, 20)
    timeout = cfg.size(120, 30)  # each run (floor or Starling) must finish within this
    rows: list[Row] = []
    for kind in cfg.databases:
        times: dict[str, list[float]] = {"starling": [], "floor": [], "floor_pool": []}
        info: dict[str, Any] = {}
        for _rep in range(max(1, cfg.reps - 2)):
            for key, pool in (("floor", False), ("floor_pool", True)):
                async with FakeSlackAPI(tokens=(TOKEN,)) as fake:
                    info["injected_429"] = inject(fake, channels)
                    times[key].append(await bare_fanout(fake, channels, pool=pool, timeout=timeout))
                    check(fake, channels)
            async with FakeSlackAPI(tokens=(TOKEN,)) as fake:
                inject(fake, channels)
                times["starling"].append(await starling_fanout(kind, cfg, fake, channels, timeout=timeout))
                check(fake, channels)
                info["rejected"] = sum(1 for r in fake.calls("chat.postMessage") if r.rejected)
        figure = f"fan-out {channels} channels x {len(KINDS)} posts, {label(kind)}, wall time"
        for key, floor in (("floor", "bare client"), ("floor_pool", "bare client, one connection pool")):
            rows.append(
                Row(
                    NAME,
                    f"{figure} vs {floor}",
                    median(times["starling"]),
                    median(times[key]),
                    "s",
                    target=1.1,
                    note="0 lost, 0 doubled",
                    samples=times | info,
                )
            )
    return rows
