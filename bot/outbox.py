"""The outbox worker: delivers proactive messages written by handlers and scheduled jobs.

Messages are written to the ``outbox`` table in the same transaction as their cause. The worker
delivers them per *lane* (one conversation on one platform, :class:`storage.outbox.Lane`):

- A lane is leased in the database, so with several workers only one sends to a conversation at a
  time: in order, and at the platform's pace (``Settings.outbox_pace_seconds``, Slack ~1 message/s
  per channel). Different lanes are delivered in parallel (up to ``outbox_concurrency``).
- A sender raises :class:`RetryLater` for HTTP 429 (with ``Retry-After``) or a transient failure with
  a known wait: the lane waits that long (``Retry-After`` is honoured) and tries the same message
  again. Other errors retry the message later with exponential backoff and jitter; the lane goes on.
  :class:`PermanentFailure`, or ``outbox_max_attempts`` attempts, makes the message a dead letter
  (``starling outbox dead``, ``starling_outbox_dead``).
- Rows being sent carry the lease. If the worker dies between claiming and recording the result, the
  lease runs out and another worker sends them again (``starling_outbox_resends_total``). Once the
  platform's acknowledgement is recorded the message is ``sent`` and never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from bot import metrics
from bot.messages import Message
from bot.router import Services
from storage import outbox as oq
from storage.db import transaction
from storage.models import OutboxMessage
from storage.outbox import Claimed, Lane

if TYPE_CHECKING:
    from bot.app import Starling

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
    """Delivers one outbox message; returns the platform's message id.

    Raise :class:`RetryLater` on a rate limit (429 with ``Retry-After``) or a transient failure with a
    known wait, :class:`PermanentFailure` when the target can never receive it; any other exception
    counts as transient and is retried with backoff.
    """

    async def send(self, row: OutboxMessage, message: Message) -> str | None: ...


# The sender of each platform for processes without the web server (``starling scheduler``):
# "module:function", the function takes the app and returns a Sender.
SENDER_FACTORIES: dict[str, str] = {
    "slack": "bot.slack.sender:create_sender",
    "teams": "bot.teams.sender:create_sender",
}


def install_senders(app: Starling) -> list[str]:
    """Give the app's outbox worker a sender for every configured platform; returns their names."""
    enabled = {"slack": app.settings.slack_enabled, "teams": app.settings.teams_enabled}
    for platform, on in enabled.items():
        if not on or platform in app.outbox.senders:
            continue
        module, _, func = SENDER_FACTORIES[platform].partition(":")
        try:
            factory = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            log.error("outbox_sender_missing", platform=platform, factory=SENDER_FACTORIES[platform])
            continue
        app.outbox.senders[platform] = factory(app)
    return sorted(app.outbox.senders)


class OutboxWorker:
    def __init__(
        self,
        services: Services,
        senders: dict[str, Sender] | None = None,
        *,
        batch: int = 20,
        lease: timedelta | None = None,
        max_attempts: int | None = None,
        clock: Callable[[], datetime] | None = None,
        pace: dict[str, float] | None = None,
        concurrency: int | None = None,
        name: str | None = None,
    ) -> None:
        settings = services.settings
        self.services = services
        self.senders: dict[str, Sender] = dict(senders or {})
        self.batch = batch  # rows leased per lane at a time
        self.lease = lease or timedelta(seconds=settings.outbox_lease_seconds)
        self.max_attempts = max_attempts or settings.outbox_max_attempts
        self.clock = clock or services.clock
        self.pace = dict(settings.outbox_pace_seconds if pace is None else pace)
        self.concurrency = concurrency or settings.outbox_concurrency
        self.backoff = settings.outbox_backoff_seconds
        self.backoff_max = settings.outbox_backoff_max_seconds
        self.max_wait = settings.outbox_max_wait_seconds
        self.name = name or f"outbox:{id(self):x}"
        self.sent = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lanes: dict[Lane, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._gauges_at = 0.0

    def wake(self) -> None:
        self._wake.set()

    # --- scheduling lanes ----------------------------------------------------------------------------

    async def _fill(self) -> int:
        """Lease due lanes up to the concurrency limit and start delivering them."""
        free = self.concurrency - len(self._lanes)
        if free <= 0 or not self.senders or self._stopping.is_set():
            return 0
        now = self.clock()
        started = 0
        async with transaction(self.services.sessions) as session:
            lanes = await oq.due_lanes(session, now=now, platforms=list(self.senders), limit=free)
            got = [
                lane
                for lane in lanes
                if lane not in self._lanes
                and await oq.acquire_lane(session, lane=lane, holder=self.name, now=now, lease=self.lease)
            ]
        for lane in got:
            self._lanes[lane] = asyncio.create_task(self._serve(lane), name=f"outbox-lane {lane}")
            started += 1
        return started

    async def drain(self, *, max_rounds: int = 100_000) -> int:
        """Send everything that is due now, waiting for pacing and short ``Retry-After`` pauses.

        Returns how many messages were delivered meanwhile.
        """
        before = self.sent
        for _ in range(max_rounds):
            await self._fill()
            if not self._lanes:
                break
            await asyncio.wait(list(self._lanes.values()), return_when=asyncio.FIRST_COMPLETED)
        return self.sent - before

    async def run(self, stop: asyncio.Event, *, poll_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, waking on new messages, finished lanes or every ``poll_seconds``."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self._fill()
                await self._refresh_gauges()
            except Exception:
                log.exception("outbox_fill_failed")
            with contextlib.suppress(TimeoutError):
                waker = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({waker, stopper}, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waker.cancel()
                    stopper.cancel()
        await self._finish()

    async def start(self, *, poll_seconds: float = 1.0) -> None:
        """Run the worker in the background (``starling serve`` and ``starling scheduler`` do this)."""
        if self._task is not None:
            return
        self._stopping.clear()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.run(self._stop, poll_seconds=poll_seconds), name="outbox-worker")

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Stop: lanes finish the message they are sending and hand the rest back."""
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout)
        self._task = None

    async def _finish(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        lanes = list(self._lanes.values())
        if lanes:
            _done, pending = await asyncio.wait(lanes, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _refresh_gauges(self, every: float = 15.0) -> None:
        if time.monotonic() - self._gauges_at < every:
            return
        self._gauges_at = time.monotonic()
        async with self.services.sessions() as session:
            counts = await oq.status_counts(session)
        platforms = {p for p, _ in counts} | set(self.senders)
        for platform in platforms:
            metrics.OUTBOX_PENDING.labels(platform).set(
                counts.get((platform, "pending"), 0) + counts.get((platform, "sending"), 0)
            )
            metrics.OUTBOX_DEAD_LETTERS.labels(platform).set(counts.get((platform, "dead"), 0))

    # --- one lane ---------------------------------------------------------------------------------------

    async def _serve(self, lane: Lane) -> None:
        loop = asyncio.get_running_loop()
        pace = self.pace.get(lane.platform, 0.0)
        last_done: float | None = None
        unsent: list[int] = []
        try:
            while True:
                if self._stopping.is_set():
                    await self._release(lane, unsent)
                    return
                async with transaction(self.services.sessions) as session:
                    claimed = await oq.claim_lane_rows(
                        session, lane=lane, holder=self.name, now=self.clock(), lease=self.lease, limit=self.batch
                    )
                if not claimed:  # nothing left (lane released) or the lane was lost
                    return
                unsent = [c.row.id for c in claimed if c.row.id is not None]
                leased_at = loop.time()
                for item in claimed:
                    if self._stopping.is_set():
                        break
                    if last_done is not None and pace > 0:
                        await asyncio.sleep(max(0.0, last_done + pace - loop.time()))
                    if loop.time() - leased_at > self.lease.total_seconds() / 2:
                        if not await self._renew(lane, unsent):
                            log.warning("outbox_lane_lost", lane=str(lane))
                            return
                        leased_at = loop.time()
                    paused_until = await self._deliver(lane, item, unsent)
                    unsent.remove(item.row.id)  # type: ignore[arg-type]
                    last_done = loop.time()
                    if paused_until is not None:
                        await self._release(lane, unsent, paused_until=paused_until)
                        return
                # keep the lane for one pace interval, so the next holder cannot post too soon
                if last_done is not None and pace > 0 and not self._stopping.is_set():
                    await asyncio.sleep(max(0.0, last_done + pace - loop.time()))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(lane, unsent))
            raise
        except Exception:
            log.exception("outbox_lane_failed", lane=str(lane))
            with contextlib.suppress(Exception):
                await self._release(lane, unsent)
        finally:
            self._lanes.pop(lane, None)
            self._wake.set()

    async def _renew(self, lane: Lane, unsent: list[int], extra: float = 0.0) -> bool:
        async with transaction(self.services.sessions) as session:
            return await oq.renew_lane(
                session,
                lane=lane,
                holder=self.name,
                row_ids=unsent,
                now=self.clock(),
                lease=self.lease + timedelta(seconds=extra),
            )

    async def _release(self, lane: Lane, unsent: list[int], *, paused_until: datetime | None = None) -> None:
        async with transaction(self.services.sessions) as session:
            await oq.release_lane(
                session, lane=lane, holder=self.name, unsent=unsent, paused_until=paused_until, next_attempt_at=None
            )

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_max, self.backoff * 2 ** max(attempts - 1, 0))
        return random.uniform(delay / 2, delay)

    async def _record(self, row_id: int, status: str, **values: object) -> None:
        async with transaction(self.services.sessions) as session:
            await oq.record_result(session, row_id=row_id, status=status, now=self.clock(), **values)  # type: ignore[arg-type]

    async def _deliver(self, lane: Lane, item: Claimed, unsent: list[int]) -> datetime | None:
        """Send one row, waiting out short ``Retry-After`` pauses; returns a time to pause the lane until."""
        row = item.row
        assert row.id is not None
        platform = row.platform
        sender = self.senders[platform]
        message = Message.model_validate(row.payload)
        bound = log.bind(outbox_id=row.id, platform=platform, target=row.target_id, cause=row.cause)
        if item.resend:
            metrics.OUTBOX_RESENDS.labels(platform).inc()
            bound.warning("outbox_resend_after_lease_expiry", attempt=row.attempts)
        attempts = row.attempts
        while True:
            started = time.monotonic()
            try:
                platform_id = await sender.send(row, message)
            except RetryLater as err:
                metrics.OUTBOX_RETRIES.labels(platform, err.reason).inc()
                wait = max(err.seconds, 0.0) * random.uniform(1.0, 1.1)
                error = f"{err.reason}: retry after {err.seconds:g}s"
                if attempts >= self.max_attempts:
                    return await self._dead(bound, row, error)
                retry_at = self.clock() + timedelta(seconds=wait)
                if wait > self.max_wait or self._stopping.is_set():
                    bound.info("outbox_lane_paused", seconds=round(wait, 2), reason=err.reason)
                    await self._record(row.id, "pending", error=error, next_attempt_at=retry_at)
                    return retry_at
                bound.info("outbox_retry_after", seconds=round(wait, 2), reason=err.reason, attempt=attempts)
                async with transaction(self.services.sessions) as session:
                    await oq.record_result(
                        session,
                        row_id=row.id,
                        status="sending",
                        now=self.clock(),
                        error=error,
                        next_attempt_at=retry_at,
                        extra_attempt=True,
                    )
                    # the row keeps its lease (through the wait), so a crash now still resends it
                    await oq.renew_lane(
                        session,
                        lane=lane,
                        holder=self.name,
                        row_ids=unsent,
                        now=self.clock(),
                        lease=self.lease + timedelta(seconds=wait),
                    )
                attempts += 1
                await asyncio.sleep(wait)
                continue
            except PermanentFailure as err:
                return await self._dead(bound, row, str(err) or type(err).__name__)
            except Exception as err:
                metrics.OUTBOX_RETRIES.labels(platform, "error").inc()
                error = f"{type(err).__name__}: {err}"[:2000]
                if attempts >= self.max_attempts:
                    return await self._dead(bound, row, error)
                delay = self._backoff(attempts)
                bound.warning("outbox_send_failed", error=error, attempt=attempts, retry_in=round(delay, 2))
                await self._record(
                    row.id, "pending", error=error, next_attempt_at=self.clock() + timedelta(seconds=delay)
                )
                return None
            metrics.OUTBOX_SEND_SECONDS.labels(platform).observe(time.monotonic() - started)
            await self._record(row.id, "sent", platform_message_id=platform_id)
            metrics.OUTBOX_SENT.labels(platform).inc()
            self.sent += 1
            return None

    async def _dead(self, bound: structlog.typing.FilteringBoundLogger, row: OutboxMessage, error: str) -> None:
        assert row.id is not None
        await self._record(row.id, "dead", error=error[:2000])
        metrics.OUTBOX_DEAD.labels(row.platform).inc()
        bound.error("outbox_dead_letter", error=error, attempts=row.attempts)
        return None
