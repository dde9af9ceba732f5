"""``kill -9`` of a sender in the middle of a 200-conversation Teams fan-out loses no post and resends at most
``outbox_in_flight`` of them.

The fake Bot Framework connector answers 429 to every 20th post. Once it has accepted half of the posts it
keeps every further accepted post's answer back, and when no new post has come for a moment (every one of the
sender's call slots holds a post Teams has but the sender never heard of) it kills the sender with SIGKILL.
Teams offers no way to look a message up by our id, so after their lease runs out the next process sends
those posts again: each one it resends is a duplicate, and there can be no more of them than calls in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.process
import os
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp import web

from bot.app import Starling
from bot.core.events import Platform
from bot.core.messages import Message, Section
from bot.settings import Settings
from bot.teams.adapter import TeamsAdapter
from storage import core
from storage import teams as store
from storage.db import transaction
from storage.models import OutboxMessage
from storage.types import utcnow
from tests.bot.scheduler_proc import unsent
from tests.bot.test_scheduler_race import finish
from tests.fakes import FakeBotConnector
from tests.fakes.slack_api import Recorded
from tests.teams.conftest import BOT_ID, TENANT, WORKSPACE

CONVERSATIONS = 200
IN_FLIGHT = Settings(_env_file=None).outbox_in_flight  # type: ignore[call-arg]
LEASE = 3.0


def conversation(n: int) -> str:
    return f"19:fanout{n:04d}@thread.tacv2"


class KillingConnector(FakeBotConnector):
    """Answers 429 to every 20th post; past ``kill_after`` accepted posts, holds every accepted post's answer."""

    def __init__(self) -> None:
        super().__init__(tenant_id=TENANT, bot_id=BOT_ID)
        self.victim: int | None = None
        self.kill_after = 0
        self.seen = 0
        self.accepted = 0
        self.held = 0
        self.last_held = 0.0
        self.release = asyncio.Event()

    async def _send(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        if self.seen % 20 == 0:
            return self._respond(rec, self._fault_body(429), status=429, headers={"Retry-After": "1"})
        answer = await super()._send(rec, request)
        if answer.status == 201 and self.victim is not None:
            self.accepted += 1
            if self.accepted >= self.kill_after:  # Teams has the post; the sender will never hear so
                self.held += 1
                self.last_held = asyncio.get_running_loop().time()
                await self.release.wait()
        return answer

    async def kill_when_full(self) -> int:
        """SIGKILL the victim once the held posts stopped growing; the number of posts held then."""
        loop = asyncio.get_running_loop()
        while self.accepted < self.kill_after or loop.time() - self.last_held < 0.5:
            await asyncio.sleep(0.05)
        assert self.victim is not None
        os.kill(self.victim, signal.SIGKILL)
        self.victim = None
        self.release.set()
        return self.held


async def sender(args: argparse.Namespace) -> int:
    """A Teams outbox worker, as ``starling serve`` runs it; exits 0 once the outbox is empty."""
    settings = Settings(
        database_url=args.db,
        outbox_lease_seconds=LEASE,
        outbox_pace_seconds={"teams": 0.0},
        outbox_in_flight=args.in_flight,
        outbox_concurrency=256,
        _env_file=None,  # type: ignore[call-arg]
    )
    if args.threads:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(args.threads))
    app = Starling(settings, run_migrations=False)
    adapter = TeamsAdapter(app)
    app.attach(Platform.TEAMS.value, sender=adapter.sender, directory=adapter.directory)
    await app.outbox.start(poll_seconds=0.5)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while await unsent(app) and loop.time() < deadline:
        app.outbox.wake()
        await asyncio.sleep(0.05)
    await app.outbox.stop()
    left = await unsent(app)
    await app.close()
    return 0 if left == 0 else 3


def _child(args: argparse.Namespace) -> None:
    asyncio.events._set_running_loop(None)  # forked from inside the test's running event loop
    os._exit(asyncio.run(sender(args)))


def fork(db: str, *, threads: int | None, in_flight: int = IN_FLIGHT) -> multiprocessing.process.BaseProcess:
    args = argparse.Namespace(db=db, in_flight=in_flight, threads=threads)
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(args,), daemon=True)
    proc.start()
    return proc


async def queue_fan_out(db_url: str, service_url: str) -> None:
    app = Starling(Settings(database_url=db_url, _env_file=None), run_migrations=False)  # type: ignore[call-arg]
    now = utcnow()
    try:
        async with transaction(app.sessions) as session:
            await core.ensure_workspace(
                session, workspace_id=WORKSPACE, platform="teams", locale="de", timezone="Europe/Berlin", name="Test"
            )
            for n in range(CONVERSATIONS):
                await store.save_conversation(
                    session,
                    workspace_id=WORKSPACE,
                    conversation_id=conversation(n),
                    kind="channel",
                    service_url=service_url,
                    bot_id=BOT_ID,
                    team_id=f"19:team{n:04d}@thread.tacv2",
                )
                text = f"Neuigkeiten für Unterhaltung {n}"
                await core.enqueue(
                    session,
                    OutboxMessage(
                        workspace_id=WORKSPACE,
                        platform="teams",
                        target_kind="channel",
                        target_id=conversation(n),
                        payload=Message(blocks=[Section(text=text)], text=text).model_dump(mode="json"),
                        cause="test",
                        dedupe_key=f"{n}:{text}",
                        next_attempt_at=now,
                        created_at=now,
                    ),
                )
    finally:
        await app.close()


def posts_per_conversation(fake: FakeBotConnector) -> Counter[str]:
    return Counter({conversation(n): len(fake.messages(conversation(n))) for n in range(CONVERSATIONS)})


# The Bot Framework SDK makes its HTTP calls in the event loop's default thread pool (min(32, CPUs + 4)
# threads), which can hold fewer calls than ``outbox_in_flight``: as ``starling serve`` runs, and with as
# many threads as calls allowed in flight, where only ``outbox_in_flight`` bounds the window.
@pytest.mark.parametrize("threads", [None, IN_FLIGHT], ids=["default-threads", "in-flight-threads"])
async def test_kill_9_mid_fan_out_loses_no_teams_post_and_resends_at_most_the_calls_in_flight(
    any_db_url: str, threads: int | None
) -> None:
    async with KillingConnector() as fake:
        await queue_fan_out(any_db_url, fake.service_url)
        fake.kill_after = CONVERSATIONS // 2
        victim = fork(any_db_url, threads=threads)
        fake.victim = victim.pid
        held = await fake.kill_when_full()
        assert await finish(victim) == -signal.SIGKILL
        at_kill = sum(posts_per_conversation(fake).values())
        assert CONVERSATIONS // 2 <= at_kill < CONVERSATIONS
        assert await finish(fork(any_db_url, threads=threads)) == 0

    posts = posts_per_conversation(fake)
    posted = sum(posts.values())
    twice = sorted(c for c, n in posts.items() if n > 1)
    duplicates = sum(n - 1 for n in posts.values() if n > 1)
    print(
        f"\nTeams fan-out ({threads or 'default'} threads), kill -9 with {held} accepted posts unanswered "
        f"({at_kill} on Teams): "
        f"posted {posted}, duplicates {duplicates}, conversations posted twice {len(twice)}"
    )
    assert [c for c, n in posts.items() if n == 0] == []  # nothing lost
    assert max(posts.values()) <= 2  # a post is resent once at most
    assert duplicates <= IN_FLIGHT  # the documented at-least-once window: STARLING_OUTBOX_IN_FLIGHT
