"""Memory and start-up of ``starling serve``: resident memory after start and after many kudos against a bare
process importing the same libraries, and the time to ready (/readyz) against that import time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from bench import load
from bench.b_throughput import raise_limits, settled_count
from bench.core import Config, Row, median
from bench.dbs import sqlite_db
from bench.procs import ROOT, Proc, fake_server, free_port, rss_mib, slack_env, starling_serve
from bench.registry import require, require_command

NAME = "memory"
TITLE = "RSS and start-up of starling serve vs a bare process importing the same libraries"
GIVERS = 400


def starling_libraries() -> list[str]:
    """The third-party packages a Slack-only ``starling serve`` imports (found in a throwaway process)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.floors", "libraries", "--platforms", "slack"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [*out.stdout.split(), "aiosqlite"]  # the driver is loaded on the first connection


async def bare_process(libraries: list[str]) -> tuple[float, float]:
    """(seconds from spawn to 'ready', RSS MiB) of a process that only imports Starling's libraries."""
    argv = [sys.executable, "-m", "bench.floors", "imports", "--modules", ",".join(libraries)]
    proc = Proc("floor-imports", argv, stdin=True)
    try:
        await proc.read_line("ready ")
        seconds = time.perf_counter() - proc.started
        await asyncio.sleep(0.2)
        return seconds, rss_mib(proc.pid)
    finally:
        proc.stop()


async def run(cfg: Config) -> list[Row]:
    require("bot.web")
    require_command("serve")
    kudos = cfg.size(10_000, 20)
    givers = cfg.size(GIVERS, 20)
    reps = max(1, cfg.reps - 1)
    bare_start, bare_rss, start, rss_start = [], [], [], []
    rss_after = 0.0
    libraries = await asyncio.to_thread(starling_libraries)
    with sqlite_db() as url:
        async with fake_server("slack", users=load.RECEIVERS + GIVERS) as slack_url:
            for rep in range(reps):
                s, r = await bare_process(libraries)
                bare_start.append(s)
                bare_rss.append(r)
                port = free_port()
                async with starling_serve(slack_env(url, slack_url, port), port) as proc:
                    start.append(proc.ready_seconds)  # type: ignore[attr-defined]
                    await asyncio.sleep(0.2)
                    rss_start.append(rss_mib(proc.pid))
                    if rep == reps - 1:
                        endpoint = f"http://127.0.0.1:{port}/slack/events"
                        make = load.slack_kudos(slack_url, givers)
                        warm = await load.closed_loop(endpoint, make, count=givers, concurrency=8)
                        if warm.ok == 0:
                            raise RuntimeError(f"starling serve refused every /kudos: {dict(warm.statuses)}")
                        await asyncio.to_thread(raise_limits, url)
                        # Bounded in count and in time: chunks at the pace Starling writes them.
                        sent, deadline = givers, time.perf_counter() + cfg.size(90, 30)
                        while sent < kudos and time.perf_counter() < deadline:
                            chunk = min(500, kudos - sent)
                            res = await load.closed_loop(
                                endpoint, make, count=chunk, concurrency=16, first=sent, timeout=60
                            )
                            if res.failed:
                                raise RuntimeError(f"{res.failed} of {chunk} /kudos failed: {dict(res.statuses)}")
                            sent += chunk
                            await settled_count(url, sent, timeout=max(deadline - time.perf_counter(), 1))
                        kudos = await settled_count(url, sent, timeout=30)
                        await asyncio.sleep(1.0)  # let the outbox deliver what the kudos queued
                        rss_after = rss_mib(proc.pid)
    floor_rss = median(bare_rss)
    n = f"{kudos:,}".replace(",", " ")
    return [
        Row(
            NAME,
            "RSS of starling serve after start (SQLite)",
            median(rss_start),
            floor_rss,
            "MiB",
            target=1.3,
            samples={"starling": rss_start, "floor": bare_rss},
        ),
        Row(
            NAME,
            f"RSS after {n} kudos over Slack HTTP (SQLite)",
            rss_after,
            floor_rss,
            "MiB",
            target=1.3,
            samples={"starling": [rss_after], "floor": bare_rss},
        ),
        Row(
            NAME,
            "start-up to /readyz vs library import time",
            median(start),
            median(bare_start),
            "s",
            target=1.5,
            samples={"starling": start, "floor": bare_start},
        ),
    ]
