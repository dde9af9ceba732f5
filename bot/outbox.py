"""The outbox worker: delivers proactive messages written by handlers and scheduled jobs.

A message is leased before it is sent, so two workers never send it at once; a crash between
commit and send leaves it pending (or its lease runs out) and it is sent after restart. Once the
platform acknowledged it, it is marked sent and never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import update
from sqlmodel import col

from bot.messages import Message
from bot.router import Services
from storage import core
from storage.db import transaction
from storage.models import OutboxMessage

log = structlog.get_logger("starling.outbox")


class RetryLater(Exception):
    """The platform asked us to wait (HTTP 429 ``Retry-After``) or had a transient failure."""

    def __init__(self, seconds: float, reason: str = "rate_limited") -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class PermanentFailure(Exception):
    """The message can never be delivered (channel gone, user left): dead-letter at once."""


class Sender(Protocol):
    async def send(self, row: OutboxMessage, message: Message) -> str | None: ...


class OutboxWorker:
    def __init__(
        self,
        services: Services,
        senders: dict[str, Sender] | None = None,
        *,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.services = services
        self.senders: dict[str, Sender] = dict(senders or {})
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts or services.settings.outbox_max_attempts
        self.clock = clock or services.clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """Send everything that is due now; returns how many messages were delivered."""
        sent = 0
        for _ in range(max_rounds):
            async with transaction(self.services.sessions) as session:
                rows = await core.claim_due_outbox(
                    session, now=self.clock(), limit=self.batch, lease=self.lease, platforms=list(self.senders)
                )
            if not rows:
                break
            results = await asyncio.gather(*(self._deliver(row) for row in rows))
            sent += sum(results)
        return sent

    async def _deliver(self, row: OutboxMessage) -> bool:
        sender = self.senders[row.platform]
        message = Message.model_validate(row.payload)
        bound = log.bind(outbox_id=row.id, platform=row.platform, target=row.target_id, attempt=row.attempts)
        status, error, next_at, platform_id = "sent", None, self.clock(), None
        try:
            platform_id = await sender.send(row, message)
        except RetryLater as err:
            status, error = "pending", err.reason
            next_at = self.clock() + timedelta(seconds=max(err.seconds, 0.0))
        except PermanentFailure as err:
            status, error = "dead", str(err)[:2000]
        except Exception as err:
            status, error = "pending", f"{type(err).__name__}: {err}"[:2000]
            next_at = self.clock() + timedelta(seconds=min(2 ** max(row.attempts - 1, 0), 300))
        if status == "pending" and row.attempts >= self.max_attempts:
            status = "dead"
        if status != "sent":
            bound.warning("outbox_send_failed", status=status, error=error)
        # A delivered file (a data export) is not kept in the queue.
        extra = {"payload": {**row.payload, "attachments": []}} if status == "sent" and message.attachments else {}
        async with transaction(self.services.sessions) as session:
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .values(
                    **extra,
                    status=status,
                    last_error=error,
                    next_attempt_at=next_at,
                    lease_until=None,
                    sent_at=self.clock() if status == "sent" else None,
                    platform_message_id=platform_id,
                )
            )
        return status == "sent"

    async def run(self, stop: asyncio.Event, *, poll_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, waking on new messages or every ``poll_seconds``."""
        while not stop.is_set():
            try:
                await self.drain()
            except Exception:
                log.exception("outbox_drain_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
