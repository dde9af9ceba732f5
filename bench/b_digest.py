"""Digest fan-out to many Slack channels through the scheduler contract and the outbox worker, against the
fake Slack Web API enforcing 1 message per second per channel with injected 429s; the floor is a bare
slack_sdk client that paces each channel itself and honours Retry-After. Nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bench.core import Config, NotAvailable, Row, median
from bench.dbs import database, label
from bench.registry import require
from bot.app import Starling
from bot.jobs import JobContext
from bot.messages import Bar, BarList, Context, Header, Message, Section
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
            Context(text="Gruppen unter 5 Personen werden nicht gezeigt."),
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


async def bare_fanout(fake: FakeSlackAPI, channels: int) -> float:
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
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
    await asyncio.gather(*(one_channel(i) for i in range(channels)))
    return time.perf_counter() - t0


# --- Starling ------------------------------------------------------------------------------------------


def slack_sender(app: Starling, fake: FakeSlackAPI) -> Sender:
    """Starling's own Slack sender for the outbox (from bot/slack), pointed at the fake Web API."""
    require("bot.slack.adapter")
    from bot.slack.adapter import SlackAdapter

    SlackAdapter(app)  # wires its directory and its outbox sender into the app, as `starling serve` does
    sender = app.outbox.senders.get("slack")
    if sender is None:
        raise NotAvailable("not available yet: the Slack adapter registers no outbox sender")
    return sender


async def starling_fanout(kind: str, cfg: Config, fake: FakeSlackAPI, channels: int) -> float:
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
            try:
                now = app.services.clock()
                async with transaction(app.sessions) as session:
                    job = JobContext(services=app.services, session=session, now=now, worker="bench")
                    for i in range(channels):
                        for k in KINDS:
                            if await job.claim(workspace_id=ws.id, channel_id=channel(i), kind=k, period="2026-W47"):
                                await job.post(
                                    ws, channel(i), digest_message(i, k), kind=k, dedupe_key=f"{k}:{i}:2026-W47"
                                )
                app.outbox.wake()
                deadline = time.perf_counter() + cfg.size(120, 30)
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
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(worker, timeout=10)
        finally:
            await app.close()
    return seconds


async def run(cfg: Config) -> list[Row]:
    require("bot.slack")
    channels = cfg.size(1000, 20)
    rows: list[Row] = []
    for kind in cfg.databases:
        times: dict[str, list[float]] = {"starling": [], "floor": []}
        info: dict[str, Any] = {}
        for _rep in range(max(1, cfg.reps - 2)):
            async with FakeSlackAPI(tokens=(TOKEN,)) as fake:
                info["injected_429"] = inject(fake, channels)
                times["floor"].append(await bare_fanout(fake, channels))
                check(fake, channels)
            async with FakeSlackAPI(tokens=(TOKEN,)) as fake:
                inject(fake, channels)
                times["starling"].append(await starling_fanout(kind, cfg, fake, channels))
                check(fake, channels)
                info["rejected"] = sum(1 for r in fake.calls("chat.postMessage") if r.rejected)
        rows.append(
            Row(
                NAME,
                f"fan-out {channels} channels x {len(KINDS)} posts, {label(kind)}, wall time",
                median(times["starling"]),
                median(times["floor"]),
                "s",
                target=1.1,
                note="0 lost, 0 doubled",
                samples=times | info,
            )
        )
    return rows
