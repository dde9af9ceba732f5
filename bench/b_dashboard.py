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
from storage import kudos_rollup as rollup
from storage.db import transaction
from storage.models import Workspace
from storage.suggestions import digest_summary

NAME = "dashboard"
TITLE = "Web overview (52 weeks, from the kudos roll-up) over HTTP vs the raw queries; p99 of 20 concurrent viewers"
PERIOD = "52w"
VIEWERS = 20


def _period(ws: Workspace, department: str | None = None) -> q.Period:
    first, end = dashboard.period_bounds(PERIOD, data.NOW.date())
    since, until = dashboard.day_start(first, ws.timezone), dashboard.day_start(end, ws.timezone)
    return q.Period(ws.id, since, until, first, end, department)


async def _others(session: Any, ws: Workspace, p: q.Period) -> None:
    """The statements that are not about kudos (the same on both sides)."""
    await q.department_sizes(session, workspace_id=ws.id)
    await q.member_total(session, workspace_id=ws.id)
    await q.prompts_by_day(session, p)
    await digest_summary(session, ws.id, p.since, p.until)


async def raw_queries(sessions: Any, ws: Workspace) -> dict[str, Any]:
    """The overview's figures as grouped statements over the kudos themselves, one after the other on one
    connection: the raw queries (the floor)."""
    p = _period(ws)
    async with sessions() as session:
        await _others(session, ws, p)
        weeks: dict[Any, list[int]] = {}
        for day, n, pts, cross in await q.kudos_by_day(session, p):
            w = weeks.setdefault(dashboard.monday(day), [0, 0, 0])
            w[0], w[1], w[2] = w[0] + n, w[1] + pts, w[2] + cross
        return {
            "weeks": sorted((w, *v) for w, v in weeks.items()),
            "values": sorted(await q.value_mix(session, p), key=repr),
            "edges": sorted(await q.department_edges(session, p)),
        }


async def rollup_queries(sessions: Any, ws: Workspace) -> dict[str, Any]:
    """The statements the page runs: the same figures from the roll-up."""
    p = _period(ws)
    scope = rollup.Scope(ws.id, p.first_day)
    async with sessions() as session:
        await _others(session, ws, p)
        return {
            "weeks": sorted(await rollup.kudos_by_week(session, scope)),
            "values": sorted(await rollup.value_mix(session, scope), key=repr),
            "edges": sorted(await rollup.department_edges(session, scope)),
        }


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

        async def floor() -> Any:
            return await raw_queries(server.webapp.reader, ws)

        async def rolled() -> Any:
            return await rollup_queries(server.webapp.reader, ws)

        raw = await floor()
        counted = sum(w[1] for w in raw["weeks"])
        if counted < rows * 0.5:
            raise AssertionError(f"the period covers {counted} of {rows} kudos")
        if await rolled() != raw:
            raise AssertionError("the roll-up's figures differ from the raw queries' figures")
        cache = server.webapp.overview_cache
        kept, cache.ttl = cache.ttl, 0.0  # every page computes its figures: no cache on either side
        await page()
        n = cfg.size(3, 3)
        times: dict[str, list[float]] = {"starling": [], "floor": [], "rollup": []}
        for _ in range(n):  # interleaved; the fast sides several times per slow raw run (a loaded machine)
            for side, fn, k in (("floor", floor, 1), ("rollup", rolled, 5), ("starling", page, 5)):
                for _ in range(k):
                    t0 = time.perf_counter()
                    await fn()
                    times[side].append((time.perf_counter() - t0) * 1000)

        # 20 people looking at once, each asking again as soon as the page is there: first each computing
        # the figures (no cache), then as deployed (figures shared for ``kept`` seconds, one computation)
        rounds = cfg.size(5, 2)
        latencies: dict[str, list[float]] = {"uncached": [], "cached": []}

        async def viewer(mode: str) -> None:
            for _ in range(rounds):
                t0 = time.perf_counter()
                await page()
                latencies[mode].append((time.perf_counter() - t0) * 1000)

        walls: dict[str, float] = {}
        for mode in ("uncached", "cached"):
            cache.ttl = 0.0 if mode == "uncached" else kept
            t0 = time.perf_counter()
            await asyncio.gather(*(viewer(mode) for _ in range(VIEWERS)))
            walls[mode] = time.perf_counter() - t0
    finally:
        await http.close()
        await server.stop()
        await app.close()
    size = f"{rows:,}".replace(",", " ")
    figure = f"overview {PERIOD} over {size} kudos, {label(kind)}"
    return [
        Row(
            NAME,
            f"{figure}, p50 (page over HTTP vs the raw queries over the kudos)",
            median(times["starling"]),
            median(times["floor"]),
            "ms",
            target=1.5,
            samples=times,
        ),
        Row(
            NAME,
            f"{figure}, p50 (page over HTTP vs its own statements on the roll-up)",
            median(times["starling"]),
            median(times["rollup"]),
            "ms",
            note="sign-in look-up, privacy rules, SVG, template and HTTP on top of the statements",
        ),
        Row(
            NAME,
            f"{figure}, p99 with {VIEWERS} concurrent viewers, each computing the figures (floor: one page's p50)",
            percentile(latencies["uncached"], 99),
            median(times["starling"]),
            "ms",
            note=f"{len(latencies['uncached'])} pages in {walls['uncached']:.1f} s",
        ),
        Row(
            NAME,
            f"{figure}, p99 with {VIEWERS} concurrent viewers as deployed, figures shared for {kept:g} s "
            "(floor: one page's p50)",
            percentile(latencies["cached"], 99),
            median(times["starling"]),
            "ms",
            note=f"{len(latencies['cached'])} pages in {walls['cached']:.1f} s",
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
