"""Engines and sessions: SQLite (WAL, foreign keys, serialized writers) or PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import EMPTY_DICT, await_

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def to_async_url(url: str) -> str:
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def to_sync_url(url: str) -> str:
    if url.startswith("sqlite+aiosqlite://"):
        return url.replace("sqlite+aiosqlite://", "sqlite://", 1)
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event own transactions (the documented pysqlite/aiosqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Every transaction takes the write lock up front: a read-then-write (budget check, dedupe key)
    # can then never deadlock on a lock upgrade, and concurrent writers queue on busy_timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_keep_on_cancel(ctx: Any) -> None:
    # SQLAlchemy treats a cancellation during a statement like a lost connection and closes the
    # connection without a rollback. For aiosqlite that close cannot finish while the cancelled
    # statement's cursor is still referenced: SQLite keeps the connection as a "zombie" that holds its
    # open transaction, and with it the file's write lock, until the garbage collector happens by. The
    # connection is fine (its statements run one after another on its own thread), so it is kept and
    # ``transaction`` rolls it back, which releases the lock at once.
    if isinstance(ctx.original_exception, asyncio.CancelledError):
        ctx.is_disconnect = False


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor over aiosqlite, in one trip per statement.

    aiosqlite runs each call on the connection's own thread, and SQLAlchemy's adapter makes four of them per
    statement (open a cursor, execute, fetch, close), each a hand-over to that thread and back to the event
    loop: most of what a short statement costs. Here the cursor is opened, executed, read and closed in one
    call on that thread; its description, row count, last row id and rows come back together."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # nothing is open: the statement's cursor was closed on the connection's thread

    def close(self) -> None:
        self._rows.clear()

    def _run(self, operation: Any, parameters: Any, many: bool) -> tuple[Any, int, Any, list[Any] | None]:
        cursor = self._connection._conn.cursor()  # on the connection's thread
        try:
            if many:
                cursor.executemany(operation, parameters)
            elif parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            rows = cursor.fetchall() if cursor.description else None
            return cursor.description, cursor.rowcount, cursor.lastrowid, rows
        finally:
            cursor.close()

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            description, self._rowcount, self._lastrowid, rows = await self._connection._execute(
                self._run, operation, parameters, many
            )
        self._description = description
        self._rows = collections.deque(rows or ())

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._trip(operation, seq_of_parameters, True)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's dialect sees it, with :class:`_OneTripCursor` cursors."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _OneTripConnection(self, adapted._connection)


class _InlineCursor(_OneTripCursor):
    """A SQLite statement run where it is called, on the event loop's thread (:class:`_InlineConnection`)."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._inline(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._inline(operation, seq_of_parameters, True)

    def _inline(self, operation: Any, parameters: Any, many: bool) -> None:
        # One turn of the event loop before each statement: the requests waiting meanwhile are answered first
        # (``bot.eventloop``), as they were while a statement ran on a thread.
        await_(asyncio.sleep(0))
        try:
            description, self._rowcount, self._lastrowid, rows = self._run(operation, parameters, many)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description = description
        self._rows = collections.deque(rows or ())


class _Driver:
    """The plain ``sqlite3`` connection, where SQLAlchemy's adapter looks for aiosqlite's."""

    __slots__ = ("_conn", "_connection")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._connection = conn

    @property
    def isolation_level(self) -> Any:
        return self._conn.isolation_level

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        self._conn.close()


class _InlineConnection(AsyncAdapt_aiosqlite_connection):
    """SQLite for the request path, on the event loop's thread: no hand-over to a thread per statement.

    A statement on a local file takes microseconds, less than the two thread switches and the event loop's
    wake-up that aiosqlite spends on each. What could make one wait is SQLite's write lock; every transaction
    takes it up front (``BEGIN IMMEDIATE``) and this process's transactions take turns for it in the event loop
    (:class:`_Writer`), so a statement never waits for a lock: the connection's busy timeout is 0 and a ``BEGIN``
    that finds the lock held by another process is tried again after an asynchronous pause. The write-ahead log is
    copied back into the file on another thread (:class:`_Checkpoints`), not inside a commit."""

    __slots__ = ("writer", "checkpoints")
    _cursor_cls = _InlineCursor

    def __init__(self, dbapi: Any, connection: Any, checkpoints: _Checkpoints | None) -> None:
        super().__init__(dbapi, connection)
        self.writer: _Writer | None = None
        self.checkpoints = checkpoints

    @property  # type: ignore[override]
    def isolation_level(self) -> Any:
        return self._connection._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._connection._conn.isolation_level = value

    def create_function(self, *args: Any, **kw: Any) -> None:
        self._connection._conn.create_function(*args, **kw)

    def commit(self) -> None:
        try:
            self._connection._conn.commit()
        finally:
            self._release()
        if self.checkpoints is not None:
            self.checkpoints.after_commit()

    def rollback(self) -> None:
        try:
            self._connection._conn.rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            self._connection._conn.close()
        finally:
            self._release()

    async def _terminate_graceful_close(self) -> None:
        self.close()

    def _terminate_force_close(self) -> None:
        self.close()

    def _release(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.release()


class _Writer:
    """SQLite's one write lock, taken in turn by the transactions of one engine on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.held = False
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def acquire(self) -> None:
        """Take the lock (in SQLAlchemy's greenlet): at once when it is free, else after the ones waiting before."""
        if not self.held and not self.waiting:
            self.held = True
            return
        future = self.loop.create_future()
        self.waiting.append(future)
        try:
            await_(asyncio.wait_for(asyncio.shield(future), LOCK_WAIT_SECONDS))
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # it was handed over just as the wait ended: pass it on
            else:
                future.cancel()
            with contextlib.suppress(ValueError):
                self.waiting.remove(future)
            raise

    def release(self) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(None)  # handed over: ``held`` stays True
                return
        self.held = False


LOCK_WAIT_SECONDS = 30.0  # as long as SQLite's busy timeout on the other connections
CHECKPOINT_SECONDS = 1.0  # the write-ahead log is copied back at most this often while there are commits


class _Checkpoints:
    """Copies the write-ahead log back into the database file on a thread of its own, at most once every
    ``CHECKPOINT_SECONDS`` after commits: a checkpoint syncs the file (milliseconds, on a busy disk tens of them)
    and a commit on the event loop's thread must not wait for it, as it would for SQLite's own automatic one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.last = -CHECKPOINT_SECONDS
        self.running: asyncio.Future[None] | None = None

    def after_commit(self) -> None:
        now = time.monotonic()
        if now - self.last < CHECKPOINT_SECONDS:
            return
        loop = asyncio.get_running_loop()
        if self.running is not None and not self.running.done() and self.running.get_loop() is loop:
            return
        self.last = now
        self.running = loop.run_in_executor(None, self.checkpoint)

    def checkpoint(self) -> None:
        with _CHECKPOINTING, contextlib.suppress(sqlite3.Error):
            # mode=rw: a database that was removed meanwhile is not made again, empty
            conn = sqlite3.connect(f"file:{urllib.parse.quote(self.path)}?mode=rw", uri=True, timeout=5)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()


_CHECKPOINTS: dict[str, _Checkpoints] = {}  # one per database file, for all of its connections


# A process forked while a checkpoint's thread is inside SQLite would inherit SQLite's mutexes held by a thread it
# does not have, and hang on its first connection: a fork waits for a running checkpoint to end.
_CHECKPOINTING = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_CHECKPOINTING.acquire, after_in_parent=_CHECKPOINTING.release, after_in_child=_CHECKPOINTING.release
    )


class _InlineDBAPI(_OneTripDBAPI):
    """``sqlite3`` as SQLAlchemy's async dialect sees it, run on the event loop's thread (:class:`_InlineConnection`)."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        kw.pop("async_creator_fn", None)
        conn = sqlite3.connect(*arg, **{**kw, "check_same_thread": False, "timeout": 0})
        path = str(arg[0]) if arg else str(kw.get("database", ""))
        file = path.removeprefix("file:").split("?", 1)[0]
        checkpoints = None
        if file and file != ":memory:" and "mode=memory" not in path:
            checkpoints = _CHECKPOINTS.setdefault(file, _Checkpoints(file))
        try:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException:
            conn.close()
            raise
        return _InlineConnection(self, _Driver(conn), checkpoints)


def _inline_begin(writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer]) -> Any:
    def begin(conn: Any) -> None:
        adapted = conn.connection.dbapi_connection
        loop = asyncio.get_running_loop()
        writer = writers.get(loop)
        if writer is None:
            writer = writers[loop] = _Writer(loop)
        writer.acquire()
        adapted.writer = writer
        try:
            _waiting_for_others(adapted._connection._conn, "BEGIN IMMEDIATE")
        except BaseException:
            adapted._release()
            raise

    return begin


def _waiting_for_others(conn: sqlite3.Connection, sql: str) -> Any:
    """``sql``; while another process holds a lock it needs, tried again after a pause in which the event loop goes
    on (for as long as SQLite's busy timeout would have waited)."""
    delay, deadline = 0.001, time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err) or time.monotonic() + delay > deadline:
                raise
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, 0.05)


_DBAPI: _OneTripDBAPI | None = None
_INLINE: _InlineDBAPI | None = None


def _sqlite_dbapi() -> _OneTripDBAPI:
    global _DBAPI
    if _DBAPI is None:
        import aiosqlite

        _DBAPI = _OneTripDBAPI(aiosqlite, sqlite3)
    return _DBAPI


def _inline_dbapi() -> _InlineDBAPI:
    global _INLINE
    if _INLINE is None:
        import aiosqlite

        _INLINE = _InlineDBAPI(aiosqlite, sqlite3)
    return _INLINE


def _inline_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """``_sqlite_pragmas`` for :class:`_InlineConnection`: no statement waits inside SQLite (busy timeout 0, from the
    open on), and the switch to WAL, which needs the lock another process may hold, waits in the event loop."""
    conn = dbapi_connection._connection._conn
    conn.isolation_level = None
    conn.execute("PRAGMA busy_timeout=0")
    if _waiting_for_others(conn, "PRAGMA journal_mode") != [("wal",)]:
        _waiting_for_others(conn, "PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")


SQLITE_POOL = 3  # connections kept open to a SQLite file


def create_engine_for(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for the request path."""
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        # A small pool of open connections: opening one costs a file open and six PRAGMAs, more than most
        # of Starling's transactions. Every transaction takes SQLite's one write lock (BEGIN IMMEDIATE), so a
        # few kept connections serve all; each keeps its own page cache, so the ones opened for a burst are
        # closed again. Statements run on the event loop's thread (``_InlineConnection``).
        if ":memory:" in async_url:
            engine = create_async_engine(async_url, module=_inline_dbapi())
        else:
            engine = create_async_engine(
                async_url, pool_size=SQLITE_POOL, max_overflow=pool_size, module=_inline_dbapi()
            )
        writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = weakref.WeakKeyDictionary()
        event.listen(engine.sync_engine, "connect", _inline_pragmas)
        event.listen(engine.sync_engine, "begin", _inline_begin(writers))
        event.listen(engine.sync_engine, "handle_error", _sqlite_keep_on_cancel)
        return engine
    return create_async_engine(async_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_begin_read(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def create_reader_engine_for(url: str, *, pool_size: int = 4) -> AsyncEngine | None:
    """SQLite: an engine for long read-only queries (the web overview) whose transactions take no write lock.

    A deferred ``BEGIN`` reads a WAL snapshot, so a query of several seconds never holds up a kudos or the
    outbox (the request path's ``BEGIN IMMEDIATE`` would). None for PostgreSQL, whose reads never block writes.
    Nothing may be written through it."""
    async_url = to_async_url(url)
    if not async_url.startswith("sqlite") or ":memory:" in async_url:
        return None
    engine = create_async_engine(async_url, pool_size=1, max_overflow=pool_size, module=_sqlite_dbapi())
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_begin_read)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def finish(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` (a commit, a rollback, a close) to its end even if the caller is cancelled meanwhile.

    A cancellation that arrives while it runs is raised once it is done: a connection is never handed
    back to the pool half-way through a rollback, still holding SQLite's write lock or a PostgreSQL
    transaction.
    """
    task = asyncio.ensure_future(coro)
    cancelled: BaseException | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as err:
            if task.done():
                raise
            cancelled = err
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


async def _discard(session: AsyncSession) -> None:
    """Roll back; if even that fails (the connection broke), the connection is closed, not pooled."""
    try:
        await session.rollback()
    except Exception:
        await session.invalidate()


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error or cancellation.

    Once the work is done its commit runs to the end even if the task is cancelled meanwhile (the
    cancellation is raised after it), so the effect is either written whole or not at all; a rollback
    also runs to its end, so the connection goes back to the pool clean or is discarded.
    """
    session = factory()
    try:
        yield session
    except BaseException:
        await finish(_end(session, commit=False))
        raise
    await finish(_end(session, commit=True))


async def _end(session: AsyncSession, *, commit: bool) -> None:
    """Commit (or roll back) and close, as one piece of work: a commit that fails is rolled back."""
    try:
        if commit:
            try:
                await session.commit()
            except BaseException:
                await _discard(session)
                raise
        else:
            await _discard(session)
    finally:
        await session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", to_sync_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema up to date (``starling migrate``; also run on start)."""
    command.upgrade(alembic_config(url), revision)


def pending_migrations(url: str) -> list[str]:
    """The revisions ``migrate`` would apply, oldest first, each as "revision: message"."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    engine = sync_engine_for(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    todo = []
    for rev in script.walk_revisions("base", "heads"):
        if current and any(rev.revision == c or rev.revision in _ancestors(script, c) for c in current):
            continue
        todo.append(f"{rev.revision}: {(rev.doc or '').strip().splitlines()[0] if rev.doc else ''}")
    return list(reversed(todo))


def _ancestors(script: Any, revision: str) -> set[str]:
    return {r.revision for r in script.iterate_revisions(revision, "base")}


def sync_engine_for(url: str) -> Any:
    sync_url = to_sync_url(url)
    engine = create_engine(sync_url)
    if sync_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


@asynccontextmanager
async def one_transaction(url: str) -> AsyncIterator[AsyncSession]:
    """One transaction on its own engine, for a command-line tool: committed on success, then the engine closed."""
    engine = create_engine_for(url)
    try:
        async with transaction(session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()
