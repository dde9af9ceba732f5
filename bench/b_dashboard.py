"""The web overview over a large kudos history: the whole page over HTTP (sign-in cookie, privacy rules,
SVG charts, template) against its raw queries in the same run, and its p99 under 20 concurrent viewers."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import data
from bench.core import Config, Row, median, percentile
from bench.dbs import drop_postgres, label
from bot.app import Starling
from bot.settings import Settings
from bot.web import WebServer
from bot.webapp.demo import sign_in_link
from handlers import dashboard
from storage import dashboard as q
from storage.db import transaction
from storage.models import Workspace
from storage.suggestions import digest_summary

NAME = "dashboard"
TITLE = "Web overview (52 weeks) over HTTP vs its raw queries; p99 under 20 concurrent viewers"
PERIOD = "52w"
VIEWERS = 20


async def raw_queries(sessions: Any, ws: Workspace) -> int:
    """The statements behind the overview, run one after the other on one connection (the floor)."""
    first, end = dashboard.period_bounds(PERIOD, data.NOW.date())
    since, until = dashboard.day_start(first, ws.timezone), dashboard.day_start(end, ws.timezone)
    p = q.Period(ws.id, since, until, first, end)
    async with sessions() as session:
        await q.department_sizes(session, workspace_id=ws.id)
        await q.member_total(session, workspace_id=ws.id)
        days = await q.kudos_by_day(session, p)
        await q.value_mix(session, p)
        await q.department_edges(session, p)
        await q.prompts_by_day(session, p)
        await digest_summary(session, ws.id, since, until)
    return sum(n for _, n, _, _ in days)


async def measure(url: str, kind: str, cfg: Config, rows: int) -> list[Row]:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    app = Starling(settings, clock=lambda: data.NOW, run_migrations=False)
    server = WebServer(app, host="127.0.0.1", port=0, scheduler=False, web_providers={})
    await server.start()
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        async with transaction(app.sessions) as session:
            ws = await session.get(Workspace, data.WORKSPACE)
            assert ws is not None
            session.expunge(ws)
            link = await sign_in_link(
                session,
                base=f"http://127.0.0.1:{server.port}",
                user=data.person(0),
                now=data.NOW,
                workspace_id=data.WORKSPACE,
            )
        async with http.get(link, allow_redirects=False) as resp:
            cookie = resp.cookies["starling_session"].value
        page_url = f"http://127.0.0.1:{server.port}/app/overview?period={PERIOD}"
        headers = {"Cookie": f"starling_session={cookie}"}

        async def page() -> int:
            async with http.get(page_url, headers=headers, allow_redirects=False) as resp:
                body = await resp.text()
                if resp.status != 200 or "<svg" not in body:
                    raise AssertionError(f"overview answered {resp.status}: {body[:300]}")
                return len(body)

        async def floor() -> int:
            return await raw_queries(server.webapp.reader, ws)

        counted = await floor()
        if counted < rows * 0.5:
            raise AssertionError(f"the period covers {counted} of {rows} kudos")
        cache = server.webapp.overview_cache
        kept, cache.ttl = cache.ttl, 0.0  # page against raw queries: every page computes its figures
        await page()
        n = cfg.size(3, 3)
        times: dict[str, list[float]] = {"starling": [], "floor": []}
        for _ in range(n):
            for side, fn in (("floor", floor), ("starling", page)):
                t0 = time.perf_counter()
                await fn()
                times[side].append((time.perf_counter() - t0) * 1000)

        # 20 people looking at once, as deployed (figures shared for a minute): each asks again at once
        cache.ttl = kept
        rounds = cfg.size(2, 2)
        latencies: list[float] = []

        async def viewer() -> None:
            for _ in range(rounds):
                t0 = time.perf_counter()
                await page()
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(viewer() for _ in range(VIEWERS)))
        wall = time.perf_counter() - t0
    finally:
        await http.close()
        await server.stop()
        await app.close()
    size = f"{rows:,}".replace(",", " ")
    figure = f"overview {PERIOD} over {size} kudos, {label(kind)}"
    return [
        Row(
            NAME,
            f"{figure}, p50 (page vs raw queries)",
            median(times["starling"]),
            median(times["floor"]),
            "ms",
            target=1.5,
            samples=times,
        ),
        Row(
            NAME,
            f"{figure}, p99 with {VIEWERS} concurrent viewers, figures cached {kept:g} s (floor: one page's p50)",
            percentile(latencies, 99),
            median(times["starling"]),
            "ms",
            note=f"{len(latencies)} pages in {wall:.1f} s",
        ),
    ]


async def run(cfg: Config) -> list[Row]:
    rows = cfg.size(1_000_000, 20_000)
    out: list[Row] = []
    for kind in cfg.databases:
        if kind == "sqlite":
            url, folder = await asyncio.to_thread(data.sqlite_history_copy, rows)
            try:
                out += await measure(url, kind, cfg, rows)
            finally:
                shutil.rmtree(Path(folder), ignore_errors=True)
        else:
            url = await asyncio.to_thread(data.postgres_history, cfg, rows)
            try:
                out += await measure(url, kind, cfg, rows)
            finally:
                drop_postgres(cfg, url)
    return out
