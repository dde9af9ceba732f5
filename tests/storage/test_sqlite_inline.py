"""SQLite on the event loop's thread (``storage.db``): the transactions of one process take turns for the file's
write lock without ever blocking the event loop, a lock held by another process is waited for in the event loop,
and the write-ahead log is copied back into the file off the event loop, so it does not grow without bound."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.db
from storage.db import create_engine_for, session_factory, transaction


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(db_url)
    async with transaction(session_factory(engine)) as session:
        await session.execute(text("CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await session.execute(text("INSERT INTO tally (id, n) VALUES (1, 0)"))
    yield engine
    await engine.dispose()


class Ticker:
    """Counts the turns the event loop gives a task that sleeps 5 ms at a time."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    def stop(self) -> None:
        self._task.cancel()


async def test_concurrent_read_then_write_transactions_take_turns_and_lose_no_update(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)

    async def increment() -> None:
        async with transaction(sessions) as session:
            n = (await session.execute(text("SELECT n FROM tally WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0)  # another task runs here; it must not get in between the read and the write
            await session.execute(text("UPDATE tally SET n = :n WHERE id = 1"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(200)))
    async with transaction(sessions) as session:
        assert (await session.execute(text("SELECT n FROM tally WHERE id = 1"))).scalar_one() == 200
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_lock_held_by_another_process_is_waited_for_with_the_event_loop_running(
    engine: AsyncEngine, db_url: str
) -> None:
    path = db_url.split(":///", 1)[1]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); c.execute('UPDATE tally SET n = 100 WHERE id = 1')\n"
            "print('held', flush=True); time.sleep(0.8); c.execute('COMMIT'); print('released', flush=True)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.to_thread(holder.stdout.readline) == "held\n"
        ticker = Ticker()
        async with transaction(session_factory(engine)) as session:
            # BEGIN waited for the other process: its committed write is what this transaction reads
            n = (await session.execute(text("SELECT n FROM tally WHERE id = 1"))).scalar_one()
            waited = ticker.ticks
            await session.execute(text("UPDATE tally SET n = :n WHERE id = 1"), {"n": n + 1})
        ticker.stop()
        assert n == 100
        # A busy wait inside SQLite would have held the event loop for the whole 0.8 s: no tick at all.
        assert waited >= 20, f"the event loop ran only {waited} times while the lock was waited for"
    finally:
        holder.wait(timeout=10)
    async with transaction(session_factory(engine)) as session:
        assert (await session.execute(text("SELECT n FROM tally WHERE id = 1"))).scalar_one() == 101


@pytest.mark.parametrize("copied_back", [True, False])
async def test_the_write_ahead_log_is_copied_back_off_the_event_loop(
    engine: AsyncEngine, db_url: str, monkeypatch: pytest.MonkeyPatch, copied_back: bool
) -> None:
    """About 13 MB written in 200 commits. With the checkpoints (as ``starling serve`` runs) the log is reused and
    stays a fraction of that; without them (the control: nothing else copies it back, SQLite's own automatic
    checkpoint is off on these connections) it holds every commit."""
    monkeypatch.setattr(storage.db, "CHECKPOINT_SECONDS", 0.0)
    if not copied_back:
        monkeypatch.setattr(storage.db._Checkpoints, "checkpoint", lambda self: None)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await session.execute(text("CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"))
    checkpoints = storage.db._CHECKPOINTS[db_url.split(":///", 1)[1]]
    for i in range(200):
        async with transaction(sessions) as session:
            await session.execute(
                text("INSERT OR REPLACE INTO blob (id, data) VALUES (:id, randomblob(65536))"), {"id": i % 5}
            )
        if checkpoints.running is not None:
            await checkpoints.running  # as between real events, when the thread gets its turn (not timed here)
    wal = Path(db_url.split(":///", 1)[1] + "-wal").stat().st_size
    if copied_back:
        assert wal < 2_000_000, f"the write-ahead log grew to {wal} bytes"
    else:
        assert wal > 12_000_000, wal


def _open_and_read(path: str) -> None:
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("SELECT count(*) FROM blob").fetchone()
    finally:
        conn.close()
    os._exit(0)


async def test_a_process_forked_while_the_log_is_copied_back_can_open_the_database(
    engine: AsyncEngine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork while a checkpoint's thread is inside SQLite would leave the child SQLite's mutexes held by a thread
    it does not have (it hung on its first connection): every child here must open the file and read at once."""
    monkeypatch.setattr(storage.db, "CHECKPOINT_SECONDS", 0.0)
    path = db_url.split(":///", 1)[1]
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await session.execute(text("CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"))
    fork = multiprocessing.get_context("fork")
    hung = 0
    for i in range(60):
        async with transaction(sessions) as session:  # its commit starts a checkpoint on a thread
            await session.execute(
                text("INSERT OR REPLACE INTO blob (id, data) VALUES (:id, randomblob(262144))"), {"id": i % 3}
            )
        for _ in range(i % 4):
            await asyncio.sleep(0)  # forks at several points of the checkpoint's run
        child = fork.Process(target=_open_and_read, args=(path,), daemon=True)
        child.start()
        await asyncio.to_thread(child.join, 10)
        if child.exitcode is None:
            hung += 1
            child.kill()
            child.join()
        else:
            assert child.exitcode == 0
    assert hung == 0, f"{hung} of 60 forked processes hung opening the database"


async def test_a_checkpoint_never_makes_a_database_that_was_removed(
    engine: AsyncEngine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's checkpoint may start just as the file is removed (an operator's mistake, a test): it must not
    create an empty database in its place, which ``/readyz`` would then take for a working one."""
    path = Path(db_url.split(":///", 1)[1])
    checkpoints = storage.db._Checkpoints(str(path))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    checkpoints.checkpoint()
    assert not path.exists()
    checkpoints = storage.db._Checkpoints(str(path.with_name("näme with space.db")))
    checkpoints.checkpoint()
    assert not path.with_name("näme with space.db").exists()
