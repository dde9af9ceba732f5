"""Sustained kudos throughput (every request really writes a kudos) against the raw SQLModel give-kudos
transaction (budget check + insert) on the same database, with the same number of concurrent clients."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date

from sqlalchemy import and_, func, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from bench import load
from bench.core import Config, NotAvailable, Row, median
from bench.dbs import database, label
from bench.procs import fake_server, free_port, slack_env, starling_serve
from bench.registry import require, require_command
from bot.app import Starling
from bot.core.events import Actor, CommandEvent, Conversation, Platform
from bot.settings import Settings
from storage import core
from storage.db import create_engine_for, session_factory, sync_engine_for, transaction
from storage.models import BudgetDay, Kudos
from storage.types import utcnow

NAME = "throughput"
TITLE = "Sustained kudos throughput vs the raw SQLModel give-kudos transaction"
CONCURRENCY = 8
WORKSPACE = "console:bench"
REASON = "danke für die schnelle Hilfe beim Kundentermin"


# --- the floor: one hand-written give-kudos transaction ----------------------------------------------


async def raw_give(sessions: async_sessionmaker[AsyncSession], workspace_id: str, giver: str, receiver: str) -> None:
    """Budget check (conditional UPDATE) and the kudos INSERT in one transaction: the least a kudos costs."""
    day = date.today()
    async with transaction(sessions) as session:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(BudgetDay)
            .values(workspace_id=workspace_id, user_id=giver, day=day, spent=0)
            .on_conflict_do_nothing(index_elements=["workspace_id", "user_id", "day"])
        )
        key = and_(BudgetDay.workspace_id == workspace_id, BudgetDay.user_id == giver, BudgetDay.day == day)
        left = await session.execute(
            update(BudgetDay)
            .where(key, BudgetDay.spent + 1 <= 1_000_000)
            .values(spent=BudgetDay.spent + 1)
            .returning(BudgetDay.spent)
        )
        if left.scalar_one_or_none() is None:
            raise RuntimeError("budget refused in the floor transaction")
        session.add(
            Kudos(
                workspace_id=workspace_id,
                batch_id=uuid.uuid4().hex,
                giver_id=giver,
                receiver_id=receiver,
                reason=REASON,
                value_tag="kundenfokus",
                giver_day=day,
                created_at=utcnow(),
            )
        )


async def count_kudos(sessions: async_sessionmaker[AsyncSession], workspace_id: str | None = None) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Kudos)
        if workspace_id is not None:
            stmt = stmt.where(Kudos.workspace_id == workspace_id)
        return int((await session.execute(stmt)).scalar_one())


async def floor_rate(url: str, count: int, first: int) -> float:
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            await core.ensure_workspace(
                session, workspace_id="raw:bench", platform="console", locale="de", timezone="Europe/Berlin"
            )
        before = await count_kudos(sessions, "raw:bench")
        counter = iter(range(first, first + count))

        async def client() -> None:
            for i in counter:
                await raw_give(sessions, "raw:bench", f"G{i % 500}", f"R{i % 40}")

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        seconds = time.perf_counter() - t0
        written = await count_kudos(sessions, "raw:bench") - before
    finally:
        await engine.dispose()
    if written != count:
        raise RuntimeError(f"floor wrote {written} kudos for {count} transactions")
    return count / seconds


def raise_limits(url: str, timeout: float = 30.0) -> None:
    """Budgets and caps out of the way, so every request in a run is a kudos that is really written.

    Waits until the workspace exists (adapters may write after they answered the platform)."""
    engine = sync_engine_for(url)
    deadline = time.perf_counter() + timeout
    with engine.connect() as conn:
        while not conn.execute(text("SELECT count(*) FROM workspace")).scalar() and time.perf_counter() < deadline:
            conn.rollback()
            time.sleep(0.05)
    with engine.begin() as conn:
        conn.execute(text("UPDATE workspace SET daily_budget = 1000000, pair_daily_cap = 1000000"))
    engine.dispose()


# --- Starling through the router (in process) ----------------------------------------------------------


async def router_rate(app: Starling, count: int, first: int) -> float:
    def event(i: int) -> CommandEvent:
        giver = f"U{load.RECEIVERS + i % 500:05d}"
        return CommandEvent(
            actor=Actor(platform=Platform.CONSOLE, workspace_id=WORKSPACE, user_id=giver),
            conversation=Conversation(id="general", kind="channel"),
            event_id=uuid.uuid4().hex,
            name="kudos",
            text=f"<@U{i % load.RECEIVERS:05d}> {REASON} #kundenfokus",
        )

    before = await count_kudos(app.sessions, WORKSPACE)
    counter = iter(range(first, first + count))

    async def client() -> None:
        for i in counter:
            await app.dispatch(event(i))

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    seconds = time.perf_counter() - t0
    written = await count_kudos(app.sessions, WORKSPACE) - before
    if written != count:
        raise RuntimeError(f"Starling wrote {written} kudos for {count} /kudos commands")
    return count / seconds


async def seed_router_workspace(app: Starling) -> None:
    async with transaction(app.sessions) as session:
        await core.ensure_workspace(
            session, workspace_id=WORKSPACE, platform="console", locale="de", timezone="Europe/Berlin"
        )
        for i in range(load.RECEIVERS):
            await core.upsert_member(session, workspace_id=WORKSPACE, user_id=f"U{i:05d}", display_name=f"Person {i}")


async def run_router(kind: str, cfg: Config) -> Row:
    count = cfg.size(200, 50)
    with database(kind, cfg) as url:
        app = Starling(Settings(database_url=url, _env_file=None), run_migrations=False)  # type: ignore[call-arg]
        try:
            await seed_router_workspace(app)
            await asyncio.to_thread(raise_limits, url)
            await router_rate(app, 20, 10_000_000)  # warm-up
            await floor_rate(url, 20, 10_000_000)
            starling, floor = [], []
            for rep in range(max(1, cfg.reps - 1)):
                floor.append(await floor_rate(url, count, rep * count))
                starling.append(await router_rate(app, count, rep * count))
        finally:
            await app.close()
    return Row(
        NAME,
        f"kudos/s via Router.dispatch, {CONCURRENCY} clients, {label(kind)}",
        median(starling),
        median(floor),
        "kudos/s",
        target=0.8,
        higher_is_better=True,
        samples={"starling": starling, "floor": floor, "count": count},
    )


# --- Starling over signed Slack HTTP (starling serve) --------------------------------------------------


async def run_slack(kind: str, cfg: Config) -> Row:
    count = cfg.size(100, 50)
    givers = cfg.size(100, 20)
    with database(kind, cfg) as url:
        async with fake_server("slack", users=load.RECEIVERS + givers) as slack_url:
            port = free_port()
            async with starling_serve(slack_env(url, slack_url, port), port):
                endpoint = f"http://127.0.0.1:{port}/slack/events"
                make = load.slack_kudos(slack_url, givers)
                warm = await load.closed_loop(endpoint, make, count=givers, concurrency=CONCURRENCY)
                if warm.ok == 0:
                    raise RuntimeError(f"starling serve refused every /kudos: {dict(warm.statuses)}")
                await asyncio.to_thread(raise_limits, url)
                engine = create_engine_for(url)
                sessions = session_factory(engine)
                starling, floor = [], []
                try:
                    # The warm-up's kudos are written after their acks: let them land before counting.
                    await _settled_count(sessions, givers, timeout=60)
                    for rep in range(max(1, cfg.reps - 1)):
                        floor.append(await floor_rate(url, count, rep * count))
                        before = await count_kudos(sessions)
                        t0 = time.perf_counter()
                        res = await load.closed_loop(
                            endpoint, make, count=count, concurrency=CONCURRENCY, first=givers + rep * count
                        )
                        # Slack is answered first and the kudos written after: the clock stops when all are.
                        written = await _settled_count(sessions, before + count, timeout=60)
                        seconds = time.perf_counter() - t0
                        if written - before != count or res.failed:
                            raise RuntimeError(
                                f"{written - before} kudos written for {count} requests ({dict(res.statuses)})"
                            )
                        starling.append(count / seconds)
                finally:
                    await engine.dispose()
    return Row(
        NAME,
        f"kudos/s via signed Slack HTTP, {CONCURRENCY} clients, {label(kind)}",
        median(starling),
        median(floor),
        "kudos/s",
        target=0.8,
        higher_is_better=True,
        samples={"starling": starling, "floor": floor, "count": count},
    )


async def settled_count(url: str, expected: int, timeout: float = 10.0) -> int:
    engine = create_engine_for(url)
    try:
        return await _settled_count(session_factory(engine), expected, timeout)
    finally:
        await engine.dispose()


async def _settled_count(sessions: async_sessionmaker[AsyncSession], expected: int, timeout: float = 10.0) -> int:
    """The kudos count once it reaches ``expected`` (work acknowledged first may finish just after)."""
    deadline = time.perf_counter() + timeout
    n = await count_kudos(sessions)
    while n < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        n = await count_kudos(sessions)
    return n


async def run(cfg: Config) -> list[Row]:
    rows = [await run_router(kind, cfg) for kind in cfg.databases]
    if not cfg.http or cfg.smoke:  # the smoke run covers signed Slack HTTP in `ack`
        return rows
    try:
        require("bot.web")
        require_command("serve")
    except NotAvailable as why:
        print(f"   Slack HTTP part skipped: {why}", flush=True)
        return rows
    for kind in cfg.databases:
        rows.append(await run_slack(kind, cfg))
    return rows
