"""The inbox worker: handles the events a platform adapter acknowledged and stored (``storage.inbox``).

Writing: :meth:`Inbox.put` stores one event and returns once it is committed; events stored at the same moment
share one transaction (group commit), so a burst of acknowledgements costs one commit, not one each. An adapter
acknowledges an event only after ``put`` returned; if it raised (the database is away), the platform is told to
try again later (Slack: 503), so nothing is acknowledged that is not stored. No statement of an acknowledgement
waits for the handling's transactions, and none holds a lock across turns of the event loop:

- SQLite: the inbox is a file of its own next to the database (``starling-inbox.db`` beside ``starling.db``):
  SQLite has one write lock per file, and an acknowledgement must not wait for the transactions of the handling.
  Its statements run right away on the event loop's thread (a commit in WAL mode without a sync is a fraction of
  a millisecond, less than handing it to another thread would cost), so they never wait for one another either.
- PostgreSQL: the table ``inbox`` of the database itself. The acknowledgements' rows are written on the event
  loop over a connection of their own (a durable commit waits for the disk; the event loop goes on meanwhile),
  the rows waiting at that moment in one commit. The worker's claims are one statement each over another
  connection of their own (:class:`_PgClaims`); the rest (renewals, counts, hand-backs) uses the pool.

Handling: :meth:`Inbox.run` claims rows with a lease (``storage.inbox.claim``: several replicas drain one inbox)
and hands each to the adapter's ``handle(row, done)``, at most ``concurrency`` at a time and at most ``batch``
rows held in memory, however many are waiting. ``done(session)`` deletes the row in the transaction that
records the event's effect (PostgreSQL; on SQLite, whose inbox is another file, with the next claim, as are the
rows handled without such a transaction: nothing answers them, or the handler failed). The lease of the rows being handled is renewed while they are; a
process that dies (``kill -9``) leaves rows whose lease runs out, and the next worker (this process restarted,
or another replica) handles them again: the router's de-duplication key, written with the effect, makes that
replay count once. On a stop the worker goes on handling for ``drain_seconds`` (nothing new is acknowledged
meanwhile), then hands what is left back for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.metrics import INBOX_PENDING
from bot.outbox import woken_or_stopped
from storage import inbox as store
from storage.db import sync_engine_for, to_sync_url
from storage.inbox import HeldEvent
from storage.types import floor_hour

log = structlog.get_logger("starling.inbox")

T = TypeVar("T")
Done = Callable[[AsyncSession], Awaitable[None]]
Handle = Callable[[HeldEvent, Done], Awaitable[None]]
Op = Callable[[Connection], Any]

MAX_ROWS = 1000  # inbox rows written by one statement at most (PostgreSQL takes 65,535 parameters)
MAX_ATTEMPTS = 5  # a row claimed this often without being handled (its handling kills the process) is dropped


def spool_url(database_url: str) -> str | None:
    """Where the inbox lives: SQLite: its own file next to the database (``""`` for a database in memory, whose
    inbox is its own table); None: the database itself (PostgreSQL)."""
    url = to_sync_url(database_url)
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return ""
    file = Path(path)
    return f"sqlite:///{file.with_name(file.stem + '-inbox' + (file.suffix or '.db'))}"


class _OwnConnection:
    """A PostgreSQL connection of one purpose of this process (psycopg's own, in autocommit): opened when first needed,
    and discarded after a failure or a cancellation, so the next use opens it anew."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = "postgresql://" + url.split("://", 1)[1]  # psycopg's own form (no SQLAlchemy driver name)
        self.timeout = timeout
        self._conn: Any = None

    async def _opened(self, conn: Any) -> None:
        """Settings for a connection just opened."""

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(int(self.timeout), 2)
            )
            await self._opened(self._conn)
        return self._conn

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class _PgWriter(_OwnConnection):
    """PostgreSQL: the acknowledgements' rows, written on the event loop over one connection of their own.

    The durable commit waits for the disk without the event loop waiting (psycopg's asynchronous connection); the
    rows of acknowledgements that arrive meanwhile go into the next commit together (group commit). Nothing else
    uses this connection, so an acknowledgement never waits for the handling's pool, and no thread is involved (a
    thread would wait for the interpreter's lock while the event loop runs handlers). A commit that fails or takes
    longer than ``timeout`` raises for every row in it (none is acknowledged) and the connection is opened anew."""

    SQL = "INSERT INTO inbox (platform, workspace_id, kind, body, context, received_at, attempts) VALUES "
    ROW = "(%s, %s, %s, %s, %s, %s, 0)"

    def __init__(self, url: str, *, synchronous_commit: bool = True, timeout: float = 2.5) -> None:
        super().__init__(url, timeout=timeout)
        self.synchronous_commit = synchronous_commit
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []

    async def put(self, row: dict[str, Any]) -> None:
        from psycopg.types.json import Json

        values = (
            row["platform"],
            row["workspace_id"],
            row["kind"],
            Json(row["body"]),
            Json(row["context"]),
            row["received_at"],
        )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, future))
        async with self._lock:
            if not future.done():  # not committed by the one before: this one commits all that are waiting
                batch, self._waiting = self._waiting[:MAX_ROWS], self._waiting[MAX_ROWS:]
                await self._commit(batch)
        return future.result()

    async def _commit(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[None]]]) -> None:
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._connection()
                # One statement in autocommit: stored and committed in one round trip, all of the rows or none.
                rows = ", ".join([self.ROW] * len(batch))
                await conn.execute(self.SQL + rows, [value for values, _ in batch for value in values])
        except BaseException as err:  # the database is away, or this request was cancelled: nobody acknowledges
            error = err if isinstance(err, Exception) else ConnectionError("the inbox write was cancelled")
            await self._discard()
            if not isinstance(err, Exception):
                for _, future in batch:
                    _settle(future, None, error)
                raise
        for _, future in batch:
            _settle(future, None, error)

    async def _opened(self, conn: Any) -> None:
        if not self.synchronous_commit:
            await conn.execute("SET synchronous_commit = off")

    async def close(self) -> None:
        async with self._lock:
            await self._discard()


class _PgClaims(_OwnConnection):
    """PostgreSQL: the worker's claims, one statement each over a connection of its own.

    Deleting the rows this worker finished and leasing the next ones is one statement in autocommit (a
    data-modifying ``WITH``), so a claim is one round trip instead of five (``BEGIN``, the delete, the ``SELECT … FOR
    UPDATE SKIP LOCKED``, the update, ``COMMIT``), and no SQLAlchemy in between. Several replicas claim side by side:
    ``SKIP LOCKED`` passes over the rows another claim is taking at that moment. A claim that fails or is cancelled
    discards the connection (the next one opens it anew); the rows it may have leased are claimed again once their
    lease runs out, as when a worker dies."""

    SQL = (
        "WITH gone AS (DELETE FROM inbox WHERE holder = %(holder)s AND id = ANY(%(finished)s::bigint[]) RETURNING id) "
        "UPDATE inbox SET holder = %(holder)s, lease_until = %(until)s, attempts = attempts + 1 "
        "WHERE id IN (SELECT id FROM inbox WHERE (lease_until IS NULL OR lease_until <= %(now)s) "
        "AND platform = ANY(%(platforms)s::text[]) AND id <> ALL(%(exclude)s::bigint[]) "
        "AND id NOT IN (SELECT id FROM gone) "  # the statement's snapshot still shows what it deletes
        "ORDER BY id LIMIT %(limit)s FOR UPDATE OF inbox SKIP LOCKED) "
        "AND (lease_until IS NULL OR lease_until <= %(now)s) "
        f"RETURNING {store.COLUMNS}"
    )
    FINISH = "DELETE FROM inbox WHERE holder = %(holder)s AND id = ANY(%(finished)s::bigint[])"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        super().__init__(url, timeout=timeout)

    async def claim(
        self,
        finished: list[int],
        *,
        holder: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platforms: list[str],
        exclude: list[int],
    ) -> list[HeldEvent]:
        """Delete ``finished`` (while ``holder`` holds them) and lease up to ``limit`` claimable rows, oldest first:
        what :func:`storage.inbox.finish` and :func:`storage.inbox.claim` do, in one statement."""
        params: dict[str, Any] = {"holder": holder, "finished": list(finished)}
        claiming = limit > 0 and bool(platforms)
        if not claiming and not finished:
            return []
        if claiming:
            params |= {
                "now": now,
                "until": now + lease,
                "platforms": list(platforms),
                "exclude": list(exclude),
                "limit": limit,
            }
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._connection()
                cursor = await conn.execute(self.SQL if claiming else self.FINISH, params)
                found = await cursor.fetchall() if claiming else []
        except BaseException:
            await self._discard()
            raise
        return sorted((store.held_event(r, _as_is, _in_utc) for r in found), key=lambda r: r.id)

    async def close(self) -> None:
        await self._discard()


def _as_is(value: Any) -> Any:
    return value  # psycopg reads JSON columns into Python values itself


def _in_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
        future.exception()  # marks it seen (a waiter that was cancelled leaves no complaint); an await still raises


_SQLITE_PUT = "INSERT INTO inbox (platform, workspace_id, kind, body, context, received_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)"


class _Local:
    """SQLite's inbox file, used straight from the event loop's thread (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine | None = None

    def put(self, row: dict[str, Any]) -> None:
        """The acknowledgement's one statement, on the driver's connection (SQLAlchemy would cost more than SQLite)."""
        values = store.sqlite_values(row)
        self._raw(lambda cursor: cursor.execute(_SQLITE_PUT, values))

    def claim(self, finished: list[int], **claim: Any) -> list[HeldEvent]:
        """Delete ``finished`` and lease what is claimable (``storage.inbox.sqlite_claim``) in one transaction."""
        return self._raw(partial(store.sqlite_claim, finished=finished, **claim))  # type: ignore[no-any-return]

    def _raw(self, op: Callable[[Any], Any]) -> Any:
        """``op(cursor)`` in one ``BEGIN IMMEDIATE`` transaction on a pooled driver connection."""
        if self.engine is None:
            self.run(store.pending_count)  # opens and creates the file
        assert self.engine is not None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                result = op(cursor)
                cursor.execute("COMMIT")
                return result
            except BaseException:
                with contextlib.suppress(Exception):
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool

    def run(self, op: Op) -> Any:
        try:
            if self.engine is None:
                self.engine = sync_engine_for(self.url)
                # No checkpoint inside a commit on the event loop's thread (it syncs the file, milliseconds to tens
                # of them on a busy disk): :meth:`checkpoint` runs on another thread instead.
                event.listen(self.engine, "connect", _no_autocheckpoint)
                with self.engine.begin() as conn:
                    store.create(conn)
            with self.engine.begin() as conn:
                return op(conn)
        except Exception:
            if self.engine is not None:
                self.engine.dispose()
                self.engine = None
            raise

    def checkpoint(self) -> None:
        """Copy the write-ahead log back into the file (on a thread of its own; writers go on meanwhile)."""
        path = self.url.split("///", 1)[1]
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


class Inbox:
    """The durable queue between an adapter's acknowledgement and the handling of the event."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        database_url: str,
        clock: Callable[[], datetime],
        concurrency: int = 4,
        batch: int = 32,
        synchronous_commit: bool = True,
        lease_seconds: float = 30.0,
        drain_seconds: float = 10.0,
        poll_seconds: float = 1.0,
        name: str | None = None,
    ) -> None:
        spool = spool_url(database_url)
        # SQLite: the inbox's own file (its own write lock); PostgreSQL: the database itself, from a thread. SQLite
        # in memory cannot be reached from a second connection: there the statements use the async sessions.
        self.same_database = not spool
        self.sessions = sessions
        self._writer = _PgWriter(database_url, synchronous_commit=synchronous_commit) if spool is None else None
        self._claims = _PgClaims(database_url) if spool is None else None
        self._local = _Local(spool) if spool else None
        self.clock = clock
        self.concurrency = concurrency
        self.batch = max(batch, concurrency)
        self.lease = timedelta(seconds=lease_seconds)
        self.drain_seconds = drain_seconds
        self.poll_seconds = poll_seconds
        self.name = name or f"inbox:{socket.gethostname()[:60]}:{os.getpid()}:{id(self):x}"
        self.handlers: dict[str, Handle] = {}  # per platform; only those platforms' rows are claimed here
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # something was stored, handled or finished (for ``idle``)
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._finished: list[int] = []  # handled here; deleted with the next claim
        self._counted = 0  # rows waiting, as last counted in the database
        self._stored_since = 0  # rows stored by this process since that count
        self._handled_since = 0
        self._counted_at = 0.0
        # The claim loop is owed a turn when a handled event frees room: rows may be waiting that the last claim
        # left (it filled the room, or it was put off for lack of room), or the stop waits for the last one.
        # Otherwise a handled event does not wake it: its row is deleted with the next claim, which a new event
        # or the poll brings (a claim per finished event would double the transactions of a quiet stream).
        self._owed = False

    async def _run(self, op: Callable[[Connection], T]) -> T:
        if self._local is not None:
            return self._local.run(op)  # type: ignore[no-any-return]
        # PostgreSQL: renewals, counts and hand-backs on the pool's connections (row locks only, nothing global), so
        # the acknowledgements' connection commits nothing but their rows and never waits behind them.
        async with self.sessions() as session, session.begin():
            return await session.run_sync(lambda sync: op(sync.connection()))

    # --- writing (the acknowledgement path) --------------------------------------------------------------
    async def put(self, *, platform: str, workspace_id: str, kind: str, body: Any, context: dict[str, Any]) -> None:
        """Store one acknowledged event; returns once it is committed (raises if it could not be)."""
        row = {
            "platform": platform,
            "workspace_id": workspace_id[:120],
            "kind": kind,
            "body": body,
            "context": context,
            "received_at": floor_hour(self.clock()),  # to the hour: the row says nothing finer about anyone
        }
        if self._local is not None:
            self._local.put(row)
        elif self._writer is not None:
            await self._writer.put(row)
        else:
            await self._run(partial(store.put, rows=[row]))
        self._stored_since += 1
        self.wake()

    @property
    def pending(self) -> int:
        """Events waiting or being handled, over all replicas (counted at most a second ago, plus what this
        process stored and handled since)."""
        return max(self._counted + self._stored_since - self._handled_since, 0)

    async def count(self) -> int:
        """Count the waiting events in the database now (and set ``starling_inbox_pending``)."""
        counted = await self._run(store.pending_count)
        self._counted, self._stored_since, self._handled_since = counted, 0, 0
        self._counted_at = time.monotonic()
        INBOX_PENDING.set(counted)
        return counted

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._claims is not None:
            await self._claims.close()
        if self._local is not None:
            self._local.close()

    # --- handling ----------------------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()
        self._changed.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Handle events until ``stop`` is set, then for at most ``drain_seconds`` more; hand the rest back."""
        loop = asyncio.get_running_loop()
        failures = 0
        renewed = loop.time()
        drain_until: float | None = None
        while True:
            if stop.is_set() and drain_until is None:
                drain_until = loop.time() + self.drain_seconds
                log.info("inbox_draining", pending=self.pending, seconds=self.drain_seconds)
            if drain_until is not None and loop.time() >= drain_until:
                break
            self._wake.clear()
            claimed = 0
            try:
                if loop.time() - renewed > self.lease.total_seconds() / 3:
                    await self._renew()
                    renewed = loop.time()
                # Refilled in chunks (a claim is a transaction): when half the rows held are handled, or none is left.
                room = self.batch - len(self._tasks)
                claiming = room >= self.batch // 2 or not self._tasks
                self._owed = drain_until is not None or not claiming
                if claiming:
                    claimed = await self._claim(room)
                    self._owed = self._owed or claimed == room
                if time.monotonic() - self._counted_at > 1.0:
                    await self.count()
                    if self._local is not None and self._local.engine is not None:
                        await asyncio.to_thread(self._local.checkpoint)
                failures = 0
            except Exception as err:
                failures += 1
                log.warning("inbox_claim_failed", error=f"{type(err).__name__}: {err}"[:300], failures=failures)
                await self._pause(min(0.05 * 2**failures, 2.0), stop)
                continue
            if drain_until is not None and not claimed and not self._tasks:
                break  # everything acknowledged here is handled
            if claimed and claimed == room:
                continue  # there may be more waiting
            await self._pause(self.poll_seconds, stop)
        await self._hand_back()

    async def _renew(self) -> None:
        ids, until = list(self._tasks), self.clock() + self.lease
        await self._run(lambda conn: store.renew(conn, ids, holder=self.name, until=until))

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        """Until woken (a new event, a finished one), stopped, or ``seconds`` passed."""
        await woken_or_stopped(self._wake, stop, seconds)

    async def _claim(self, room: int) -> int:
        finished, self._finished = self._finished, []
        now, exclude, platforms = self.clock(), list(self._tasks), list(self.handlers)

        wanted: dict[str, Any] = {
            "holder": self.name,
            "now": now,
            "lease": self.lease,
            "limit": room,
            "platforms": platforms,
            "exclude": exclude,
        }

        def claim(conn: Connection) -> list[HeldEvent]:
            store.finish(conn, finished, holder=self.name)
            return store.claim(conn, **wanted)

        try:
            if self._local is not None:  # SQLite's inbox file: the driver's statements (a claim per event)
                rows = self._local.claim(finished, **wanted)
            elif self._claims is not None:  # PostgreSQL: one statement on the claims' own connection
                rows = await self._claims.claim(finished, **wanted)
            else:
                rows = await self._run(claim)
        except BaseException:
            self._finished = finished + self._finished
            raise
        for row in rows:
            if row.attempts > MAX_ATTEMPTS:
                # Claimed again and again and never finished: its handling brings the process down. Dropped (with
                # its payload), or it would take every next process down too.
                log.error("inbox_event_dropped", inbox_id=row.id, attempts=row.attempts - 1)
                self._finished.append(row.id)
                continue
            if row.attempts > 1:
                log.info("inbox_replayed", inbox_id=row.id, attempt=row.attempts)  # its holder died or stopped
            task = asyncio.get_running_loop().create_task(self._one(row), name=f"inbox {row.id}")
            self._tasks[row.id] = task
        return len(rows)

    async def _one(self, row: HeldEvent) -> None:
        row_id = row.id
        handle = self.handlers[row.platform]

        async def done(session: AsyncSession) -> None:
            if self.same_database:  # deleted with the event's effect; else (SQLite) with the next claim
                await store.done(session, [row_id])

        try:
            async with self._slots:
                await handle(row, done)
        except asyncio.CancelledError:
            raise  # stopped: the row is handed back (or its lease runs out) and handled again
        except Exception:
            log.exception("inbox_event_failed", inbox_id=row_id)
            self._finished.append(row_id)
        else:
            self._finished.append(row_id)
        finally:
            self._tasks.pop(row_id, None)
            self._handled_since += 1
            self._changed.set()
            if self._owed:
                self._wake.set()

    async def _hand_back(self) -> None:
        """Stop: cancel what is still being handled (its transaction rolls back) and release those rows."""
        unfinished = dict(self._tasks)
        for task in unfinished.values():
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished.values())
        ids = [row_id for row_id, task in unfinished.items() if task.cancelled()]
        finished, self._finished = self._finished, []

        def hand_back(conn: Connection) -> None:
            store.finish(conn, finished, holder=self.name)
            store.release(conn, ids, holder=self.name)

        try:
            await self._run(hand_back)
        except Exception as err:  # the leases run out by themselves
            log.warning("inbox_hand_back_failed", error=f"{type(err).__name__}: {err}"[:300], rows=len(ids))
        if ids:
            log.info("inbox_handed_back", rows=len(ids))

    async def idle(self, *, timeout: float = 60.0) -> None:
        """Wait until no event is waiting in the inbox or being handled (tests, benchmarks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            if not self._tasks and await self.count() == 0 and not self._tasks:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"inbox not idle: {self.pending} waiting, {len(self._tasks)} being handled")
            self.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=random.uniform(0.005, 0.02))
