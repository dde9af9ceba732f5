"""A scheduler process for tests: the real scheduler service and outbox worker, ticking through simulated
periods and delivering to the fake Slack Web API. ``python -m tests.bot.scheduler_proc --help``, or
:func:`fork` from a test (a forked child skips the interpreter start and the imports).

Once set up it waits for the ``go`` event when given one (so several processes start together), ticks,
and exits 0 once the outbox is empty. ``--crash-in-digest N`` kills the process (SIGKILL) while it builds
its N-th digest, after the claim and before the commit; ``--crash-on-send N`` kills it just before its
N-th send, after the message was leased. ``--slack-sender`` delivers with Starling's own Slack sender.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.process
import os
import signal
import sys
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import Starling
from bot.core.messages import Block
from bot.scheduler import SchedulerService
from bot.settings import Settings
from bot.slack.client import SlackSender, make_client
from handlers.digests.sections import DigestScope, register_section
from storage.models import OutboxMessage
from tests.bot.outbox_kit import only_schedules
from tests.bot.slack_sender import SlackWebSender


async def unsent(app: Starling) -> int:
    async with app.sessions() as session:
        stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(["pending", "sending"]))  # type: ignore[attr-defined]
        return int((await session.execute(stmt)).scalar_one())


async def main(args: argparse.Namespace, go: Any = None) -> int:
    settings = Settings(
        database_url=args.db,
        outbox_lease_seconds=args.lease,
        outbox_pace_seconds={"slack": 0.0},
        outbox_concurrency=args.concurrency,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = only_schedules(Starling(settings, run_migrations=False), "digests")
    if args.slack_sender:  # Starling's own Slack sender (message metadata, the check before a resend)
        app.outbox.senders["slack"] = SlackSender(make_client("xoxb-test-token", args.slack, retry_rate_limits=False))
    else:
        app.outbox.senders["slack"] = SlackWebSender(args.slack, crash_on_send=args.crash_on_send)
    if args.crash_in_digest:
        built = 0

        async def crash(scope: DigestScope) -> list[Block]:
            nonlocal built
            built += 1
            if built >= args.crash_in_digest:
                os.kill(os.getpid(), signal.SIGKILL)
            return []

        register_section("test-crash", crash, order=0)
    service = SchedulerService(app, name=args.name)
    if go is not None:
        await asyncio.to_thread(go.wait, 60)
    if not args.no_outbox:
        await app.outbox.start(poll_seconds=0.5)
    start = datetime.fromisoformat(args.start)
    for i in range(args.periods):
        await service.tick(start + timedelta(hours=args.step_hours * i, minutes=(i * 7 + len(args.name)) % 50))
    if not args.no_outbox:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.deadline
        while await unsent(app) and loop.time() < deadline:
            app.outbox.wake()
            await asyncio.sleep(0.05)  # a worker's poll: waiting for other workers' leases to run out
        await app.outbox.stop()
    left = await unsent(app) if not args.no_outbox else 0
    await app.close()
    return 0 if left == 0 else 3


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--slack", required=True, help="the fake Slack Web API base URL")
    p.add_argument("--name", default="proc")
    p.add_argument("--start", required=True, help="the first tick (ISO, UTC)")
    p.add_argument("--periods", type=int, default=100)
    p.add_argument("--step-hours", type=float, default=24.0)
    p.add_argument("--lease", type=float, default=60.0)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--deadline", type=float, default=60.0)
    p.add_argument("--crash-in-digest", type=int, default=0)
    p.add_argument("--crash-on-send", type=int, default=None)
    p.add_argument("--no-outbox", action="store_true")
    p.add_argument("--slack-sender", action="store_true", help="deliver with bot.slack's SlackSender")
    return p.parse_args(argv)


def _child(argv: list[str], go: Any) -> None:
    asyncio.events._set_running_loop(None)  # forked from inside the test's running event loop
    os._exit(asyncio.run(main(parse(argv), go)))


def fork(argv: list[str], go: Any = None) -> multiprocessing.process.BaseProcess:
    """Start the entry in a forked OS process; ``go`` (a multiprocessing Event) holds it at the start line."""
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(argv, go), daemon=True)
    proc.start()
    return proc


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
