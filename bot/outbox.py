"""The outbox worker: delivers proactive messages written by handlers and scheduled jobs.

Messages are written to the ``outbox`` table in the same transaction as their cause. The worker
delivers them per *lane* (one conversation on one platform, :class:`storage.outbox.Lane`):

- A lane is leased in the database, so with several workers only one sends to a conversation at a
  time: in order, and at the platform's pace (``Settings.outbox_pace_seconds``, Slack ~1 message/s
  per channel). Different lanes are delivered in parallel: a worker holds up to ``outbox_concurrency``
  lanes, and at most ``outbox_in_flight`` platform calls are under way at once over all of them (a lane
  waiting for its pace or a ``Retry-After`` holds no call).
- A sender raises :class:`RetryLater` for HTTP 429 (with ``Retry-After``) or a transient failure with
  a known wait: the message is tried again after exactly that wait, and a rate limit pauses the whole
  conversation that long (in the database, so every worker honours it). Other errors retry the message
  later with exponential backoff and jitter; the conversation's other messages go on.
  :class:`PermanentFailure`, or ``outbox_max_attempts`` attempts, makes the message a dead letter
  (``starling outbox dead``, ``starling_outbox_dead_letters``).
- Rows being sent carry the lease. If the worker dies between claiming and recording the result, the
  lease runs out and another worker sends them again (``starling_outbox_resends_total``). Once the
  platform's acknowledgement is recorded the message is ``sent`` and never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.core import metrics
from bot.core.messages import Message, fold_messages
from bot.core.services import Services
from bot.settings import Settings
from storage import outbox as oq
from storage.db import transaction
from storage.models import OutboxMessage
from storage.outbox import Claimed, Lane, Sendable

log = structlog.get_logger("starling.outbox")
T = TypeVar("T")


async def woken_or_stopped(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait until ``wake`` or ``stop`` is set, or ``seconds`` have passed (a worker's idle pause)."""
    waker = asyncio.ensure_future(wake.wait())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waker, stopper}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waker.cancel()
        stopper.cancel()


class RetryLater(Exception):
    """The platform asked us to wait (HTTP 429 ``Retry-After``) or had a transient failure.

    The message is tried again ``seconds`` later. A rate limit (``conversation=True``; by default any
    ``reason`` naming a 429 or a rate limit) also pauses the whole conversation for that long, so no
    other message is sent there before; any other transient failure concerns this message only.
    """

    def __init__(self, seconds: float, reason: str = "rate_limited", *, conversation: bool | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason
        low = reason.lower().replace("_", "").replace("-", "").replace(" ", "")
        self.conversation = ("429" in low or "ratelimit" in low) if conversation is None else conversation


class PermanentFailure(Exception):
    """The message can never be delivered (channel gone, user left): dead-letter at once."""


class Sender(Protocol):
    """Delivers one outbox message; returns the platform's message id.

    Raise :class:`RetryLater` on a rate limit (429 with ``Retry-After``) or a transient failure with a
    known wait, :class:`PermanentFailure` when the target can never receive it; any other exception
    counts as transient and is retried with backoff.
    """

    async def send(self, row: Sendable, message: Message) -> str | None: ...


Op = Callable[[AsyncSession], Awaitable[Any]]
Flush = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]  # one result per item, in order


FOLD_ROWS = 500  # rows of one conversation looked at for one folded post (a post holds about this many lines)


def foldable_tail(claimed: Sequence[Claimed], start: int) -> bool:
    """Every row from ``start`` on is a fresh foldable message of one fold key and thread (so more of the same
    may be waiting behind them)."""
    key: str | None = None
    for item in claimed[start:]:
        fold = item.row.payload.get("fold")
        if item.resend or not isinstance(fold, dict) or item.row.thread_id != claimed[start].row.thread_id:
            return False
        if key is None:
            key = fold.get("key")
        elif fold.get("key") != key:
            return False
    return key is not None


def folded(claimed: Sequence[Claimed], start: int) -> tuple[Message, list[Claimed]]:
    """The message to send for ``claimed[start]``: alone, or folded with the foldable ones right after it
    (same fold key; none of them a resend, which must go as it was); and the rows it stands for."""
    first = Message.model_validate(claimed[start].row.payload)
    if first.fold is None or claimed[start].resend or first.attachments:
        return first, [claimed[start]]
    messages, rows = [first], [claimed[start]]
    for item in claimed[start + 1 :]:
        if item.resend or item.row.thread_id != claimed[start].row.thread_id:
            break
        msg = Message.model_validate(item.row.payload)
        if msg.fold is None or msg.fold.key != first.fold.key or msg.attachments:
            break
        messages.append(msg)
        rows.append(item)
    message, taken = fold_messages(messages)
    return message, rows[:taken]


async def _record_sent(session: AsyncSession, acks: list[Any]) -> list[Any]:
    await oq.record_sent(session, acks=acks)
    return [None] * len(acks)


class GroupCommit:
    """Runs the database work of many lanes together: one transaction per batch (group commit).

    Work that arrives while a batch runs goes into the next one, so an idle worker commits at once and
    a busy one amortizes connections and commits over hundreds of lanes. Items added with :meth:`add`
    under one key are written by a single call (e.g. one executemany for all acknowledgements).
    Callers are answered only after the commit. If a batch fails, each of its parts is retried alone,
    so one bad operation cannot fail the others.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 500) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self._queue: list[tuple[Op | None, tuple[str, Flush, Any] | None, asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._batch: list[tuple[Op | None, tuple[str, Flush, Any] | None, asyncio.Future[Any]]] = []

    async def run(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await self._submit(op, None)  # type: ignore[no-any-return]

    async def add(self, key: str, item: Any, flush: Flush) -> Any:
        """Queue ``item`` for ``flush``, called once per batch with every item under ``key``; its result."""
        return await self._submit(None, (key, flush, item))

    async def _submit(self, op: Op | None, many: tuple[str, Flush, Any] | None) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((op, many, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._flush(), name="outbox-group-commit")
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        except BaseException as err:
            # Cancelled (shutdown) or broken: nobody may wait forever for a batch that will never commit.
            waiting, self._queue = self._queue, []
            for _op, _many, future in waiting + self._batch:
                if isinstance(err, Exception):
                    _fail(future, err)
                elif not future.done():
                    future.cancel()
            raise
        finally:
            self._batch = []

    async def _flush_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._batch = batch
            try:
                results = await self._commit(batch)
            except Exception:
                for entry in batch:
                    future = entry[2]
                    try:
                        (result,) = await self._commit([entry])
                    except Exception as err:
                        _fail(future, err)
                    else:
                        if not future.done():
                            future.set_result(result)
                continue
            for (_op, _many, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _commit(
        self, batch: list[tuple[Op | None, tuple[str, Flush, Any] | None, asyncio.Future[Any]]]
    ) -> list[Any]:
        grouped: dict[str, tuple[Flush, list[int]]] = {}
        results: list[Any] = [None] * len(batch)
        async with transaction(self.sessions) as session:
            for i, (op, many, _future) in enumerate(batch):
                if op is not None:
                    results[i] = await op(session)
                else:
                    assert many is not None
                    grouped.setdefault(many[0], (many[1], []))[1].append(i)
            for flush, positions in grouped.values():
                items = [batch[i][1][2] for i in positions]  # type: ignore[index]
                for i, result in zip(positions, await flush(session, items), strict=True):
                    results[i] = result
        return results


def _fail(future: asyncio.Future[Any], err: BaseException) -> None:
    """Hand ``err`` to whoever waits for ``future``; one who has stopped waiting (cancelled) leaves no
    "exception was never retrieved" complaint behind."""
    if not future.done():
        future.set_exception(err)
        future.exception()  # marks it seen; an await still raises it


SENT_RECORD_SECONDS = 30.0  # how long a "sent" record is retried before its lane is given up


class _Unrecorded(Exception):
    """The platform took the post but "sent" could not be recorded: the lane is given up, the row not retried."""


FILL_CHUNK = 500  # lanes leased per statement (keeps every statement far below SQLite's parameter limit)


class OutboxWorker:
    def __init__(
        self,
        services: Services,
        settings: Settings,
        senders: dict[str, Sender] | None = None,
        *,
        batch: int = 50,
        lease: timedelta | None = None,
        max_attempts: int | None = None,
        clock: Callable[[], datetime] | None = None,
        pace: dict[str, float] | None = None,
        concurrency: int | None = None,
        in_flight: int | None = None,
        name: str | None = None,
        fill_gap: float = 0.05,
    ) -> None:
        self.services = services
        self.fill_gap = fill_gap  # seconds between two looks for due conversations while running
        self.senders: dict[str, Sender] = dict(senders or {})
        self.batch = batch  # rows leased per lane at a time
        self.lease = lease or timedelta(seconds=settings.outbox_lease_seconds)
        self.max_attempts = max_attempts or settings.outbox_max_attempts
        self.clock = clock or services.clock
        self.pace = dict(settings.outbox_pace_seconds if pace is None else pace)
        self.concurrency = concurrency or settings.outbox_concurrency
        self.in_flight = in_flight or settings.outbox_in_flight
        self._calls = asyncio.Semaphore(self.in_flight)  # platform calls under way, over all lanes
        self.backoff = settings.outbox_backoff_seconds
        self.backoff_max = settings.outbox_backoff_max_seconds
        self.name = name or f"outbox:{id(self):x}"
        self.sent = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lanes: dict[Lane, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._gauges_at = 0.0
        self._batcher = GroupCommit(services.sessions)
        self._background = False  # run() is delivering continuously (not a one-off drain)

    def wake(self, lanes: Collection[Lane] | None = None) -> None:
        """Look for due conversations now (new messages were committed). With ``lanes``, the conversations just
        written to, only when one of them is not being delivered by this worker: a conversation it holds sends the
        new rows in its next round (before it gives a conversation back it looks for due rows in the same statement,
        and once it has given one back, the end of its delivery wakes the worker), so a busy conversation costs no
        look over all of them per message."""
        if lanes and all((task := self._lanes.get(lane)) is not None and not task.done() for lane in lanes):
            return
        self._wake.set()

    async def _db(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``op`` in a shared transaction with whatever other lanes asked for meanwhile."""
        return await self._batcher.run(op)

    # --- scheduling lanes ----------------------------------------------------------------------------

    async def _fill(self) -> int:
        """Lease due lanes up to the concurrency limit and start delivering them."""
        started = 0
        while True:
            free = min(self.concurrency - len(self._lanes), FILL_CHUNK)
            if free <= 0 or not self.senders or self._stopping.is_set():
                return started

            async def acquire(session: AsyncSession, free: int = free) -> tuple[int, dict[Lane, list[Claimed]]]:
                now = self.clock()
                lanes = await oq.due_lanes(session, now=now, platforms=list(self.senders), limit=free)
                found = len(lanes)
                lanes = [lane for lane in lanes if lane not in self._lanes]
                taken = await oq.acquire_lanes(session, lanes=lanes, holder=self.name, now=now, lease=self.lease)
                rows = await oq.claim_rows_of_lanes(session, lanes=taken, now=now, lease=self.lease, limit=self.batch)
                return found, rows

            found, acquired = await self._db(acquire)
            for lane, first in acquired.items():
                self._lanes[lane] = asyncio.create_task(self._serve(lane, first), name=f"outbox-lane {lane}")
                started += 1
            if found < free or not acquired:  # nothing more is due now (or all of it is held elsewhere)
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
        self._background = True
        loop = asyncio.get_running_loop()
        filled_at = -math.inf
        while not stop.is_set():
            # A burst of new messages (one wake per event) is looked for together, at most every ``fill_gap``.
            gap = filled_at + self.fill_gap - loop.time()
            if gap > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), gap)
                if stop.is_set():
                    break
            self._wake.clear()
            filled_at = loop.time()
            try:
                await self._fill()
                await self.refresh_gauges(every=15.0)
            except Exception:
                log.exception("outbox_fill_failed")
            await woken_or_stopped(self._wake, stop, poll_seconds)
        await self._finish()
        self._background = False

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

    async def close_senders(self) -> None:
        """Close what the senders keep open (connection pools); a sender opens them again when needed."""
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def refresh_gauges(self, *, every: float = 0.0) -> None:
        """Set ``starling_outbox_pending`` / ``starling_outbox_dead_letters`` from the database."""
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

    async def _serve(self, lane: Lane, first: list[Claimed]) -> None:
        loop = asyncio.get_running_loop()
        pace = self.pace.get(lane.platform, 0.0)
        last_done: float | None = None
        unsent: list[int] = []
        # Rows being delivered right now: the platform may have them already, so if the lane fails or is
        # cancelled they keep their lease (not handed back as pending) and are looked up before any resend.
        trying: list[int] = []
        leased_at = loop.time()  # the lane was just acquired
        half_lease = self.lease.total_seconds() / 2
        try:
            while True:
                if self._stopping.is_set():
                    await self._release(lane, unsent)
                    return
                if loop.time() - leased_at > half_lease:
                    if not await self._renew(lane, unsent):
                        log.warning("outbox_lane_lost", lane=str(lane))
                        return
                    leased_at = loop.time()
                claimed: list[Claimed] | None = first
                first = []
                if not claimed:
                    claimed = await self._db(
                        lambda session: oq.claim_lane_rows(
                            session, lane=lane, holder=self.name, now=self.clock(), lease=self.lease, limit=self.batch
                        )
                    )
                    if not claimed:  # nothing left (lane released) or the lane was lost
                        return
                unsent = [c.row.id for c in claimed if c.row.id is not None]
                position = 0
                while position < len(claimed):
                    if self._stopping.is_set():
                        break
                    if last_done is not None and pace > 0:
                        await asyncio.sleep(max(0.0, last_done + pace - loop.time()))
                    if loop.time() - leased_at > half_lease:
                        if not await self._renew(lane, unsent):
                            log.warning("outbox_lane_lost", lane=str(lane))
                            return
                        leased_at = loop.time()
                    # Waiting messages that may be folded (kudos celebrations behind a channel's pace) go as one.
                    # When all rows held are of one fold and the batch was full, more are waiting behind: take up
                    # to FOLD_ROWS of them into this post, so a channel behind its pace catches up at any rate.
                    if len(claimed) - position >= self.batch and foldable_tail(claimed, position):
                        more = await self._top_up(lane, FOLD_ROWS - (len(claimed) - position))
                        claimed = [*claimed, *more]
                        unsent += [c.row.id for c in more if c.row.id is not None]
                    message, group = folded(claimed, position)
                    trying = [item.row.id for item in group if item.row.id is not None]
                    paused_until, last_done, done = await self._deliver(lane, group[0], message, also=group[1:])
                    trying = []
                    for item in group[: len(group) if done else 1]:
                        unsent.remove(item.row.id)  # type: ignore[arg-type]
                    position += len(group) if done else 1
                    if paused_until is not None:
                        await self._release(lane, unsent, paused_until=paused_until)
                        self._wake_at(paused_until)
                        return
                # a running worker keeps the lane for one pace interval, so the next holder (maybe another
                # replica) cannot post too soon; a one-off drain hands it back at once
                if self._background and last_done is not None and pace > 0 and not self._stopping.is_set():
                    await asyncio.sleep(max(0.0, last_done + pace - loop.time()))
                if not self._stopping.is_set() and await self._batcher.add("release", lane, self._release_idle):
                    return  # nothing more to send here: released together with other lanes
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(lane, [i for i in unsent if i not in trying]))
            raise
        except Exception:
            log.exception("outbox_lane_failed", lane=str(lane))
            with contextlib.suppress(Exception):
                await self._release(lane, [i for i in unsent if i not in trying])
        finally:
            self._lanes.pop(lane, None)
            self._wake.set()

    async def _top_up(self, lane: Lane, limit: int) -> list[Claimed]:
        """More due rows of a lane this worker holds and is still sending (never releases it)."""
        if limit <= 0:
            return []
        more = await self._db(
            lambda session: oq.claim_lane_rows(
                session,
                lane=lane,
                holder=self.name,
                now=self.clock(),
                lease=self.lease,
                limit=limit,
                release_when_empty=False,
            )
        )
        return more or []

    async def _release_idle(self, session: AsyncSession, lanes: list[Any]) -> list[Any]:
        released = await oq.release_idle_lanes(session, lanes=lanes, holder=self.name, now=self.clock())
        return [lane in released for lane in lanes]

    async def _renew(self, lane: Lane, unsent: list[int]) -> bool:
        ids = list(unsent)
        return await self._db(
            lambda session: oq.renew_lane(
                session, lane=lane, holder=self.name, row_ids=ids, now=self.clock(), lease=self.lease
            )
        )

    async def _release(self, lane: Lane, unsent: list[int], *, paused_until: datetime | None = None) -> None:
        ids = list(unsent)
        await self._db(
            lambda session: oq.release_lane(session, lane=lane, holder=self.name, unsent=ids, paused_until=paused_until)
        )

    def _wake_at(self, when: datetime) -> None:
        """Look for due lanes again at ``when`` (a paused conversation or a retry), not only at the next poll."""
        if self._background and not self._stopping.is_set():
            delay = max((when - self.clock()).total_seconds(), 0.0)
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_max, self.backoff * 2 ** max(attempts - 1, 0))
        return random.uniform(delay / 2, delay)

    async def _record(self, row_id: int, status: str, **values: Any) -> None:
        await self._db(
            lambda session: oq.record_result(session, row_id=row_id, status=status, now=self.clock(), **values)
        )

    async def _deliver(
        self, lane: Lane, item: Claimed, message: Message, *, also: Sequence[Claimed] = ()
    ) -> tuple[datetime | None, float, bool]:
        """Send one row (with the rows ``also`` folded into ``message``). Returns when the conversation may be
        used again if the platform rate-limited it (else None), the loop time the platform answered (the
        conversation's pace counts from there), and whether it was sent: when not, only ``item`` is recorded
        (retry, dead letter) and the rows ``also`` stay the lane's to send."""
        row = item.row
        assert row.id is not None
        platform = row.platform
        sender = self.senders[platform]
        bound = log.bind(outbox_id=row.id, platform=platform, target=row.target_id, cause=row.cause)
        rows = [row, *(other.row for other in also)]
        message = message.model_copy(update={"delivers": [r.id for r in rows]})
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        answered = loop.time()
        try:
            # The call's slot is held until the platform's answer is recorded: at most ``in_flight`` posts
            # can be out on the platform and not yet recorded as sent when the process dies.
            async with self._calls:
                platform_id = await self._arrived(bound, item, sender)
                if platform_id is None:
                    try:
                        platform_id = await sender.send(row, message)
                    finally:
                        answered = loop.time()
                await self._record_sent(bound, rows, platform_id)
        except RetryLater as err:
            metrics.OUTBOX_RETRIES.labels(platform, err.reason).inc()
            if row.attempts >= self.max_attempts:
                await self._dead(bound, row, err.reason)
                return None, answered, False
            retry_at = self.clock() + timedelta(seconds=max(err.seconds, 0.0))
            bound.info("outbox_retry_later", seconds=err.seconds, reason=err.reason, conversation=err.conversation)
            await self._record(row.id, "pending", error=err.reason, next_attempt_at=retry_at)
            if not err.conversation:
                self._wake_at(retry_at)
            return (retry_at if err.conversation else None), answered, False
        except PermanentFailure as err:
            await self._dead(bound, row, str(err) or type(err).__name__)
            return None, answered, False
        except _Unrecorded:
            raise
        except Exception as err:
            metrics.OUTBOX_RETRIES.labels(platform, "error").inc()
            error = f"{type(err).__name__}: {err}"[:2000]
            if row.attempts >= self.max_attempts:
                await self._dead(bound, row, error)
                return None, answered, False
            delay = self._backoff(row.attempts)
            bound.warning("outbox_send_failed", error=error, attempt=row.attempts, retry_in=round(delay, 2))
            retry_at = self.clock() + timedelta(seconds=delay)
            await self._record(row.id, "pending", error=error, next_attempt_at=retry_at)
            self._wake_at(retry_at)
            return None, answered, False
        metrics.OUTBOX_SEND_SECONDS.labels(platform).observe(time.monotonic() - started)
        if also:
            bound.info("outbox_folded", messages=1 + len(also))
        if message.attachments:
            # A delivered file (a data export) is not kept in the queue.
            async with transaction(self.services.sessions) as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == row.id)
                    .values(payload={**row.payload, "attachments": []})
                )
        metrics.OUTBOX_SENT.labels(platform).inc(1 + len(also))
        self.sent += 1 + len(also)
        return None, answered, True

    async def _arrived(self, bound: structlog.typing.FilteringBoundLogger, item: Claimed, sender: Sender) -> str | None:
        """For a row whose lease ran out (its last holder may have died after the platform took the post,
        before recording it): the platform's id of the post if the platform can tell that it arrived."""
        if not item.resend:
            return None
        platform = item.row.platform
        check = getattr(sender, "delivered", None)
        found = await check(item.row) if check is not None else None
        if found is not None:
            metrics.OUTBOX_RESENDS_AVOIDED.labels(platform).inc()
            bound.info("outbox_found_delivered", platform_id=found)
            return str(found)
        metrics.OUTBOX_RESENDS.labels(platform).inc()
        bound.warning("outbox_resend_after_lease_expiry", attempt=item.row.attempts)
        return None

    async def _record_sent(
        self, bound: structlog.typing.FilteringBoundLogger, rows: Sequence[Sendable], platform_id: str | None
    ) -> None:
        """Record "sent", together with other lanes' records in one commit. The platform has the post now,
        so a failed write is tried again (a database blip must not send it twice) for up to
        ``SENT_RECORD_SECONDS``; only then is the lane given up (and where the platform can tell, the post
        is looked up there before it is ever sent again)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SENT_RECORD_SECONDS
        delay = 0.05
        while True:
            try:
                now = self.clock()
                await asyncio.gather(
                    *(self._batcher.add("sent", (sent.id, platform_id, now), _record_sent) for sent in rows)
                )
                return
            except Exception as err:
                if loop.time() + delay > give_up:
                    raise _Unrecorded(f"{type(err).__name__}: {err}") from err
                bound.warning("outbox_sent_record_retried", retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _dead(self, bound: structlog.typing.FilteringBoundLogger, row: Sendable, error: str) -> None:
        assert row.id is not None
        await self._record(row.id, "dead", error=error[:2000])
        metrics.OUTBOX_DEAD.labels(row.platform).inc()
        bound.error("outbox_dead_letter", error=error, attempts=row.attempts)
