"""The overview's figures: computed once for many viewers at once, failures not kept, off with 0 s."""

from __future__ import annotations

import asyncio

import pytest

from bot.webapp.cache import SingleFlight


async def test_viewers_at_once_share_one_computation() -> None:
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    cache = SingleFlight(60)
    waiting = [asyncio.create_task(cache.get("k", compute)) for _ in range(20)]
    while calls == 0:
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [42] * 20
    assert calls == 1
    assert await cache.get("k", compute) == 42 and calls == 1
    assert await cache.get("other", compute) == 42 and calls == 2


async def test_a_failure_is_not_kept_and_zero_seconds_means_always() -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return calls

    cache = SingleFlight(60)
    with pytest.raises(RuntimeError):
        await cache.get("k", flaky)
    assert await cache.get("k", flaky) == 2
    off = SingleFlight(0)
    assert [await off.get("k", flaky) for _ in range(2)] == [3, 4]
