from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit import BotHarness, Clock, drop_postgres_databases, postgres_url, sqlite_url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def pg_url() -> str:
    return postgres_url()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return sqlite_url(tmp_path) if request.param == "sqlite" else postgres_url()


@pytest.fixture
async def bot(db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_postgres_databases()
