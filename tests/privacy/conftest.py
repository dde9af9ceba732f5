from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.kit import BotHarness, Clock
from tests.slack.wire import SlackWire, Testbed
from tests.webapp.conftest import WebBed, start_web_bed


@pytest.fixture
async def anybot(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(any_db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


@pytest.fixture
async def fake() -> AsyncIterator[SlackWire]:
    api = SlackWire()
    api.seed()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def testbed_any_db(fake: SlackWire, any_db_url: str, clock: Clock) -> AsyncIterator[Testbed]:
    bed = await Testbed(fake, any_db_url, clock).start()
    yield bed
    await bed.close()


@pytest.fixture
async def oidc() -> AsyncIterator[FakeOIDCProvider]:
    provider = FakeOIDCProvider()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def web_any(fake: SlackWire, oidc: FakeOIDCProvider, any_db_url: str, clock: Clock) -> AsyncIterator[WebBed]:
    """``starling serve`` with the web pages over SQLite or PostgreSQL (the demo's minimum group is 2)."""
    wb = await start_web_bed(fake, oidc, any_db_url, clock)
    yield wb
    await wb.close()
    await wb.bed.close()
