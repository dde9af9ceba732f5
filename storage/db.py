"""Engines and sessions: SQLite (WAL, foreign keys, serialized writers) or PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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
            engine = create_async_engine(async_url)
        else:
            engine = create_async_engine(async_url, pool_size=SQLITE_POOL, max_overflow=pool_size)
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
    engine = create_async_engine(async_url, pool_size=1, max_overflow=pool_size)
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
        try:
            yield session
            await finish(session.commit())
        except BaseException:
            await finish(_discard(session))
            raise
    finally:
        await finish(session.close())


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", to_sync_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema up to date (``starling migrate``; also run on start)."""
    command.upgrade(alembic_config(url), revision)


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
