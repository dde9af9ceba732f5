"""How fast Slack gets its acknowledgement: signed slash commands and events against ``starling serve``.

    uv run python -m bench.slack_ack [--requests 200]

Runs the real web app on 127.0.0.1 (port 0) against the fake Slack Web API, once with Bolt's
``process_before_response=True`` (the listener acks, hands off and returns) and once with ``False``
(Bolt runs the listener in a task and polls for the ack every 10 ms). Each request is timed by the
client (send to parsed response, same process) and by the server (request in to answer written); the
handling after the ack is awaited between requests so requests do not overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kit import Clock, sqlite_url
from tests.slack.wire import SlackWire, Testbed, message


async def measure(process_before_response: bool, requests: int) -> dict[str, list[float]]:
    fake = SlackWire()
    fake.seed()
    await fake.start()
    folder = Path(tempfile.mkdtemp(prefix="starling-bench-"))
    bed = Testbed(fake, sqlite_url(folder), Clock(), slack_options={"process_before_response": process_before_response})
    server_ms: list[float] = []

    @web.middleware
    async def timer(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)  # the Slack handler has written its answer when it returns
        server_ms.append((time.perf_counter() - started) * 1000)
        return response

    bed.server.app.middlewares.append(timer)
    await bed.start()
    timings: dict[str, list[float]] = {"command": [], "event": [], "command (server)": [], "event (server)": []}
    try:
        for i in range(requests + 10):
            started = time.perf_counter()
            status, _ = await bed.command("help", user="UANNA", trigger_id=f"bench.{i}")
            command_ms = (time.perf_counter() - started) * 1000
            await bed.settle()
            started = time.perf_counter()
            status2, _ = await bed.event(message(f"nur eine Nachricht {i}", user="UBEN"))
            event_ms = (time.perf_counter() - started) * 1000
            await bed.settle()
            assert status == status2 == 200
            if i >= 10:  # warm-up: the first requests pay for auth.test and imports
                timings["command"].append(command_ms)
                timings["event"].append(event_ms)
                timings["command (server)"].append(server_ms[-2])
                timings["event (server)"].append(server_ms[-1])
    finally:
        await bed.close()
        await fake.stop()
    return timings


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms"


async def main(requests: int) -> None:
    for flag in (True, False):
        timings = await measure(flag, requests)
        print(f"process_before_response={flag}")
        for kind, values in timings.items():
            print(f"  {kind:17s} {summary(values)}   (n={len(values)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(main(parser.parse_args().requests))
