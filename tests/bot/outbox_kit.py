"""Helpers for outbox and scheduler tests: apps on a shared database, queued messages, the fake's log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.app import Starling
from bot.core.messages import Message, Section
from bot.settings import Settings
from storage import core
from storage.db import transaction
from storage.models import OutboxMessage
from storage.types import utcnow
from tests.bot.slack_sender import SlackWebSender, delivered

WORKSPACE = "slack:T1"


def make_app(db_url: str, *, clock: Any = utcnow, **settings: Any) -> Starling:
    conf = Settings(database_url=db_url, _env_file=None, **settings)  # type: ignore[call-arg]
    app = Starling(conf, clock=clock, run_migrations=False)
    app.outbox.clock = clock
    return app


def only_schedules(app: Starling, *names: str) -> Starling:
    """Tick only these scheduled functions (the other features' jobs have their own tests)."""
    app.router.schedules = {name: fn for name, fn in app.router.schedules.items() if name in names}
    return app


def with_fake_slack(app: Starling, api_url: str, **kwargs: Any) -> Starling:
    app.outbox.senders["slack"] = SlackWebSender(api_url, **kwargs)
    return app


async def ensure_slack_workspace(app: Starling, *, timezone: str = "Europe/Berlin", locale: str = "de") -> None:
    async with transaction(app.sessions) as session:
        await core.ensure_workspace(
            session, workspace_id=WORKSPACE, platform="slack", locale=locale, timezone=timezone, name="Test"
        )


async def queue_posts(app: Starling, posts: Iterable[tuple[str, str]], *, now: datetime | None = None) -> None:
    """Queue (channel, text) posts with dedupe key ``channel:text``, as a handler would."""
    when = now or app.services.clock()
    async with transaction(app.sessions) as session:
        for channel, text in posts:
            await core.enqueue(
                session,
                OutboxMessage(
                    workspace_id=WORKSPACE,
                    platform="slack",
                    target_kind="channel",
                    target_id=channel,
                    payload=Message(blocks=[Section(text=text)], text=text).model_dump(mode="json"),
                    cause="test",
                    dedupe_key=f"{channel}:{text}",
                    next_attempt_at=when,
                    created_at=when,
                ),
            )


async def outbox_statuses(app: Starling) -> dict[str, int]:
    async with app.sessions() as session:
        rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: int(n) for status, n in rows.all()}


async def outbox_outcomes(app: Starling) -> dict[str, list[tuple[str, int]]]:
    """Per channel, each queued message's (status, attempts), in the order they were queued."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.target_id, OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.id)  # type: ignore[arg-type]
        )
        out: dict[str, list[tuple[str, int]]] = {}
        for target, status, attempts in rows.all():
            out.setdefault(target, []).append((status, int(attempts)))
        return out


async def deliver(app: Starling, fake: Any, count: int, *, timeout: float = 60) -> None:
    """Run the outbox worker as ``starling serve`` does until the fake accepted ``count`` posts, then stop it."""
    await app.outbox.start(poll_seconds=0.1)
    try:
        await fake.wait_for(lambda r: r.op == "chat.postMessage" and r.accepted, count=count, timeout=timeout)
    finally:
        await app.outbox.stop()


def keys_delivered(fake: Any) -> Counter[str]:
    return Counter(str(d["key"]) for d in delivered(fake))
