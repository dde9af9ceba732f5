"""Ack latency of ``/kudos`` over real signed HTTP to ``starling serve`` at fixed request rates, against a
bare Bolt AsyncApp that only acks, served the same way (aiohttp on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import psycopg
from psycopg.types.json import Json

from bench import load
from bench.b_throughput import raise_limits
from bench.core import Config, Row, median, percentile
from bench.dbs import database, label, psycopg_url
from bench.procs import fake_server, floor_server, free_port, slack_env, starling_serve
from bench.registry import require, require_command

NAME = "ack"
TITLE = "Ack latency of /kudos over signed HTTP vs a bare Bolt app that only acks"
GIVERS = 400
ALONE = 100  # requests one at a time


async def _series(endpoint: str, make: load.Request, rate: int, count: int, first: int) -> load.LoadResult:
    def shifted(i: int) -> tuple[bytes, dict[str, str]]:
        return make(first + i)

    return await load.fixed_rate(endpoint, shifted, count=count, rate=rate, timeout=30)


async def drained(port: int, timeout: float = 300.0) -> None:
    """Until ``/readyz`` reports no acknowledged event waiting (each series starts with the handling caught up, so
    "at 50 req/s" is the ack while 50 kudos/s are handled, not while a warm-up's backlog is)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                backlog = (await resp.json()).get("backlog")
            if not backlog:  # 0, or a build without an inbox (it does not say)
                return
            await asyncio.sleep(0.2)


async def run(cfg: Config) -> list[Row]:
    require("bot.web")
    require_command("serve")
    rates = (50, 200)
    duration = 2 if not cfg.smoke else 0.5  # seconds of load per series
    givers = cfg.size(GIVERS, 20)
    rows: list[Row] = []
    async with fake_server("slack", users=load.RECEIVERS + GIVERS) as slack_url:
        make = load.slack_kudos(slack_url, givers)
        floor_port = free_port()
        async with floor_server("bolt", slack_env("sqlite://", slack_url, floor_port), floor_port):
            floor_endpoint = f"http://127.0.0.1:{floor_port}/slack/events"
            await _series(floor_endpoint, make, 50, 20, 0)  # warm-up (Bolt's auth.test on first request)
            for kind in cfg.databases:
                with database(kind, cfg) as url:
                    port = free_port()
                    async with starling_serve(slack_env(url, slack_url, port), port):
                        endpoint = f"http://127.0.0.1:{port}/slack/events"
                        warm = await load.closed_loop(endpoint, make, count=givers, concurrency=8)
                        if warm.ok == 0:
                            raise RuntimeError(f"starling serve refused every /kudos: {dict(warm.statuses)}")
                        await asyncio.to_thread(raise_limits, url)
                        sent = givers
                        # One request at a time, each handled before the next: what the acknowledgement itself costs
                        # (for Starling: storing the event in the inbox), without handling competing for the loop.
                        alone: dict[str, list[float]] = {"starling": [], "floor": []}
                        for _i in range(cfg.size(ALONE, 10)):
                            for side, target in (("floor", floor_endpoint), ("starling", endpoint)):
                                if side == "starling":
                                    await drained(port)
                                res = await load.closed_loop(target, make, count=1, concurrency=1, first=sent)
                                sent += 1
                                alone[side] += res.latencies_ms
                        for stat, q in (("p50", 50), ("p99", 99)):
                            rows.append(
                                Row(
                                    NAME,
                                    f"/kudos ack one at a time (handled in between), {label(kind)}, {stat}",
                                    percentile(alone["starling"], q),
                                    percentile(alone["floor"], q),
                                    "ms",
                                    target=2.0,
                                    samples={"count": len(alone["starling"])},
                                )
                            )
                        floor_at: dict[int, dict[str, float]] = {}
                        for rate in rates:
                            count = int(rate * duration)
                            per_side: dict[str, dict[str, list[float]]] = {
                                "starling": {"p50": [], "p99": []},
                                "floor": {"p50": [], "p99": []},
                            }
                            failures = {"starling": 0, "floor": 0}
                            for _rep in range(max(1, cfg.reps - 1)):
                                for side, target in (("floor", floor_endpoint), ("starling", endpoint)):
                                    if side == "starling":
                                        await drained(port)
                                    res = await _series(target, make, rate, count, sent)
                                    sent += count
                                    failures[side] += res.failed
                                    per_side[side]["p50"].append(percentile(res.latencies_ms, 50))
                                    per_side[side]["p99"].append(percentile(res.latencies_ms, 99))
                            note = "" if not any(failures.values()) else f"non-2xx answers: {failures}"
                            figure = f"/kudos ack at {rate} req/s, {label(kind)}"
                            floor_at[rate] = {stat: median(per_side["floor"][stat]) for stat in ("p50", "p99")}
                            for stat in ("p50", "p99"):
                                rows.append(
                                    Row(
                                        NAME,
                                        f"{figure}, {stat}",
                                        median(per_side["starling"][stat]),
                                        median(per_side["floor"][stat]),
                                        "ms",
                                        target=2.0,
                                        note=note,
                                        samples={s: per_side[s][stat] for s in per_side} | {"count": count},
                                    )
                                )
                    if kind == "postgres":
                        rows += await durable_writes(url, floor_at[50], cfg.size(ALONE, 10))
    return rows


PROBE_BODY = {"text": "<@U00001|p1> danke für die schnelle Hilfe beim Kundentermin #kundenfokus " * 4, "n": 0}


async def durable_writes(url: str, floor: dict[str, float], count: int) -> list[Row]:
    """What PostgreSQL alone takes of an acknowledgement that survives a crash: one INSERT of an event-sized row,
    committed, over one connection, one every 20 ms (the gap between requests at 50 req/s), against the floor's whole
    ack at 50 req/s. Between requests both the database's process and the disk are idle, and waking them is part of
    every such write (back to back, the same INSERT takes a fraction of it)."""
    latencies: list[float] = []
    async with await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True) as conn:
        await conn.execute("CREATE TABLE bench_probe (id bigserial PRIMARY KEY, body jsonb, at timestamptz)")
        for n in range(count + 5):
            t0 = time.perf_counter()
            await conn.execute("INSERT INTO bench_probe (body, at) VALUES (%s, now())", (Json(PROBE_BODY | {"n": n}),))
            if n >= 5:  # the first few open the table's files
                latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.02)
        await conn.execute("DROP TABLE bench_probe")
    return [
        Row(
            NAME,
            f"one durable INSERT into PostgreSQL every 20 ms, vs the floor's ack at 50 req/s, {stat}",
            percentile(latencies, q),
            floor[stat],
            "ms",
            note="no target: the database's part of any PostgreSQL acknowledgement that survives a crash",
            samples={"count": len(latencies)},
        )
        for stat, q in (("p50", 50), ("p99", 99))
    ]
