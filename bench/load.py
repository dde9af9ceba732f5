"""Load generation on 127.0.0.1, bounded in count and time: a fixed request rate (open loop) or a fixed
number of concurrent clients (closed loop). Slack slash commands are really signed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.procs import SIGNING_SECRET
from tests.fakes import slack_form_body, slack_signed_headers

Request = Callable[[int], tuple[bytes, dict[str, str]]]


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[Any] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if isinstance(s, int) and 200 <= s < 300)

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) - self.ok


@contextlib.contextmanager
def collector_held_off() -> Iterator[None]:
    """This process's garbage collector held off while a series is timed (collected before and after instead).

    The load generator shares its process with the fake Slack API, which keeps every call it answers: a full
    collection over those objects paused this process for over 100 ms, and every request under way then counted
    the pause as the server's (the slowest acknowledgements of a series, never seen by the server itself)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _one(http: aiohttp.ClientSession, url: str, make: Request, i: int, result: LoadResult) -> None:
    body, headers = make(i)
    t0 = time.perf_counter()
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            status: Any = resp.status
    except (aiohttp.ClientError, TimeoutError) as err:
        status = type(err).__name__
    result.latencies_ms.append((time.perf_counter() - t0) * 1000)
    result.statuses[status] += 1


def _session(timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=timeout))


async def fixed_rate(url: str, make: Request, *, count: int, rate: float, timeout: float = 30.0) -> LoadResult:
    """Send ``count`` requests at ``rate`` per second whatever the answers take (open loop)."""
    result = LoadResult()
    with collector_held_off():
        async with _session(timeout) as http:
            tasks = []
            t0 = time.perf_counter()
            for i in range(count):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_one(http, url, make, i, result)))
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=timeout + 5)
            result.seconds = time.perf_counter() - t0
    return result


async def closed_loop(
    url: str, make: Request, *, count: int, concurrency: int, timeout: float = 30.0, first: int = 0
) -> LoadResult:
    """Send ``count`` requests from ``concurrency`` clients, each waiting for its answer before the next."""
    result = LoadResult()
    counter = iter(range(first, first + count))

    async def client(http: aiohttp.ClientSession) -> None:
        for i in counter:
            await _one(http, url, make, i, result)

    with collector_held_off():
        async with _session(timeout) as http:
            t0 = time.perf_counter()
            await asyncio.gather(*(client(http) for _ in range(concurrency)))
            result.seconds = time.perf_counter() - t0
    return result


# --- Slack ---------------------------------------------------------------------------------------------

TEAM = "T1"
CHANNEL = "C0BENCH01"
RECEIVERS = 40  # U00000 .. U00039 receive; everyone else gives


def slack_user(i: int) -> str:
    return f"U{i:05d}"


def kudos_command(giver: int, receiver: int, slack_url: str, n: int = 0) -> bytes:
    uid = slack_user(receiver)
    return slack_form_body(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "starling-test",
            "channel_id": CHANNEL,
            "channel_name": "general",
            "user_id": slack_user(giver),
            "user_name": f"p{giver}",
            "command": "/kudos",
            "text": f"<@{uid}|p{receiver}> danke für die schnelle Hilfe beim Kundentermin #kundenfokus",
            "api_app_id": "AAPP1",
            "is_enterprise_install": "false",
            "response_url": f"{slack_url}/commands/{TEAM}/{giver}/response",
            "trigger_id": f"{n}.{giver}.{receiver}.bench",  # unique per interaction, as Slack's are
        }
    )


def slack_kudos(slack_url: str, givers: int) -> Request:
    """Request ``i`` is a signed ``/kudos`` from giver ``RECEIVERS + i % givers`` to one of the receivers."""

    def make(i: int) -> tuple[bytes, dict[str, str]]:
        body = kudos_command(RECEIVERS + i % givers, i % RECEIVERS, slack_url, i)
        return body, slack_signed_headers(SIGNING_SECRET, body)

    return make
