"""A short-lived, per-process cache for computed pages' figures, with one computation per key at a time.

The overview over a large history takes a while; twenty people opening it at once wait for the same
computation instead of starting twenty. Only derived figures are kept (nothing another replica needs),
for ``ttl`` seconds; the key carries the workspace's configuration revision, so a changed minimum group
or switch is seen at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class SingleFlight:
    def __init__(self, ttl: float, *, size: int = 128) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        if self.ttl <= 0:
            return await compute()
        now = time.monotonic()
        found = self._items.get(key)
        if found is not None and found[0] > now:
            return await asyncio.shield(found[1])
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._items[key] = (now + self.ttl, future)
        if len(self._items) > self.size:
            for old in sorted(self._items, key=lambda k: self._items[k][0])[: len(self._items) - self.size]:
                if old != key:
                    self._items.pop(old, None)
        try:
            value = await compute()
        except BaseException as err:
            self._items.pop(key, None)
            future.set_exception(err)
            future.exception()  # the waiters (if any) see it; nobody else needs to
            raise
        future.set_result(value)
        return value
