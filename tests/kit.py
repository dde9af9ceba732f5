"""Starling's test kit: a controllable clock, databases (SQLite; PostgreSQL when its URL is set),
and a harness that boots the whole bot on the console adapter, errbot-style."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from bot.app import Starling
from bot.console.adapter import WORKSPACE, ConsoleAdapter
from bot.settings import Settings
from storage.db import migrate

PG_ENV = "STARLING_TEST_POSTGRES_URL"
PG_SKIP_REASON = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test); .ci/run sets it"


@dataclass
class Clock:
    """A clock tests move by hand. Starts on a Wednesday morning in Berlin."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 18, 9, 30, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.astimezone(UTC)


_TEMPLATE: dict[str, Path] = {}


def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite file; migrations run once per test session and the file is copied."""
    if "sqlite" not in _TEMPLATE:
        template = Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"starling-template-{uuid.uuid4().hex}.db"
        migrate(f"sqlite:///{template}")
        _TEMPLATE["sqlite"] = template
    target = tmp_path / "starling.db"
    shutil.copy(_TEMPLATE["sqlite"], target)
    return f"sqlite:///{target}"


def postgres_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def postgres_url() -> str:
    """A fresh, migrated PostgreSQL database for one test (skips with a clear reason without a server URL)."""
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(PG_SKIP_REASON)
    name = f"starling_t_{uuid.uuid4().hex[:12]}"
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _db = plain.rpartition("/")
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    migrate(url)
    _CREATED_PG.append(name)
    return url


_CREATED_PG: list[str] = []


def drop_postgres_databases() -> None:
    admin = postgres_admin_url()
    if not admin or not _CREATED_PG:
        return
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        for name in _CREATED_PG:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _CREATED_PG.clear()


class BotHarness:
    """The whole bot on the console adapter; ``say`` returns everything the terminal showed."""

    def __init__(self, database_url: str, clock: Clock, **settings: object) -> None:
        self.clock = clock
        self.settings = Settings(database_url=database_url, _env_file=None, **settings)  # type: ignore[call-arg]
        self.app = Starling(self.settings, clock=clock, run_migrations=False)
        self.app.outbox.clock = clock
        self.output: list[str] = []
        self.console = ConsoleAdapter(self.app, write=self.output.append)
        self.app.attach("console", sender=self.console)
        self.workspace_id = WORKSPACE

    async def start(self, demo: bool = True) -> BotHarness:
        await self.console.start(demo=demo)
        self.output.clear()
        return self

    async def say(self, line: str, *, as_: str | None = None) -> str:
        if as_ is not None:
            self.console.user = as_
        start = len(self.output)
        await self.console.handle_line(line)
        return "\n".join(self.output[start:])

    async def close(self) -> None:
        await self.app.close()


class CancelAt:
    """Cancels the task that makes the ``nth`` database call, at that call's await."""

    def __init__(self, engine: Any, nth: int) -> None:
        self.engine = engine.sync_engine
        self.nth = nth
        self.calls = 0
        self.fired = False

    def _hit(self, *_args: Any, **_kw: Any) -> None:
        self.calls += 1
        if self.calls == self.nth:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            self.fired = True

    def __enter__(self) -> CancelAt:
        event.listen(self.engine, "before_cursor_execute", self._hit)
        event.listen(self.engine, "commit", self._hit)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)
        event.remove(self.engine, "commit", self._hit)
