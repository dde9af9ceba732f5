"""Leaderboard (month, top 10) through the kudos handler over a large history, against the raw indexed query."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import data
from bench.core import Config, Row, median, percentile
from bench.dbs import drop_postgres, label
from bot.app import Starling
from bot.console.render import render
from bot.core.events import Actor, CommandEvent, Conversation, Platform
from bot.core.messages import BarList
from bot.settings import Settings
from handlers.kudos import period_start

NAME = "leaderboard"
TITLE = "Leaderboard (month, top 10) through the handler vs the raw indexed query"

RAW = """
SELECT receiver_id, SUM(points) AS total FROM kudos
WHERE workspace_id = :ws AND created_at >= :since
  AND receiver_id NOT IN (SELECT user_id FROM member WHERE workspace_id = :ws AND leaderboard_opt_out)
GROUP BY receiver_id ORDER BY total DESC, receiver_id LIMIT 10
"""


def _event() -> CommandEvent:
    return CommandEvent(
        actor=Actor(platform=Platform.CONSOLE, workspace_id=data.WORKSPACE, user_id=data.person(1234)),
        conversation=Conversation(id="general", kind="channel"),
        event_id=uuid.uuid4().hex,
        name="kudos",
        text="leaderboard month",
    )


async def measure(url: str, kind: str, cfg: Config, rows: int) -> list[Row]:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    app = Starling(settings, clock=lambda: data.NOW, run_migrations=False)
    since: Any = period_start("month", data.NOW, "Europe/Berlin")
    assert since is not None
    if kind == "sqlite":
        since = data._sqlite_ts(since)
    params = {"ws": data.WORKSPACE, "since": since}

    async def through_handler() -> list[int]:
        messages = await app.dispatch(_event())
        render(messages[0], lambda uid: uid)
        bars = [b for m in messages for b in m.blocks if isinstance(b, BarList)]
        if not bars:
            raise AssertionError(f"no leaderboard in the handler's answer: {messages}")
        return [int(bar.value) for bar in bars[0].rows]

    async def raw() -> list[int]:
        async with app.engine.connect() as conn:
            result = await conn.execute(text(RAW), params)
            return [int(total) for _uid, total in result.all()]

    try:
        expected = await raw()
        got = await through_handler()
        if got != expected:
            raise AssertionError(f"handler leaderboard {got} differs from the raw query {expected}")
        n = cfg.size(25, 5)
        times: dict[str, list[float]] = {"starling": [], "floor": []}
        for _ in range(n):
            for side, fn in (("floor", raw), ("starling", through_handler)):
                t0 = time.perf_counter()
                await fn()
                times[side].append((time.perf_counter() - t0) * 1000)
    finally:
        await app.close()
    size = f"{rows:,}".replace(",", " ")
    figure = f"leaderboard month top10 {size} rows, {label(kind)}"
    return [
        Row(
            NAME,
            f"{figure}, p50",
            median(times["starling"]),
            median(times["floor"]),
            "ms",
            target=1.5,
            samples=times,
        ),
        Row(NAME, f"{figure}, p99", percentile(times["starling"], 99), percentile(times["floor"], 99), "ms"),
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
