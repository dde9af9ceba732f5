"""Engines and sessions: SQLite (WAL, foreign keys, serialized writers) or PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import collections
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
from sqlalchemy.util import EMPTY_DICT

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


_DBAPI: _OneTripDBAPI | None = None


def _sqlite_dbapi() -> _OneTripDBAPI:
    global _DBAPI
    if _DBAPI is None:
        import sqlite3

        import aiosqlite

        _DBAPI = _OneTripDBAPI(aiosqlite, sqlite3)
    return _DBAPI


SQLITE_POOL = 3  # connections kept open to a SQLite file


def create_engine_for(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for the request path."""
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        # A small pool of open connections: opening one costs a thread, a file open and four PRAGMAs,
        # more than most of Starling's transactions. Every transaction takes SQLite's one write lock
        # (BEGIN IMMEDIATE), so a few kept connections serve all; each keeps its own page cache, so the
        # ones opened for a burst are closed again.
        if ":memory:" in async_url:
            engine = create_async_engine(async_url, module=_sqlite_dbapi())
        else:
            engine = create_async_engine(
                async_url, pool_size=SQLITE_POOL, max_overflow=pool_size, module=_sqlite_dbapi()
            )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
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
