from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit import BotHarness, Clock
from tests.slack.wire import SlackWire, Testbed


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
