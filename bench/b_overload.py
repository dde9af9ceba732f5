"""Overload, head to head in one run: a bare Bolt app that only acks (the floor) and ``starling serve``.

Each server is pinned to one core (``taskset -c 0``) while this process (the load generator and the fake Slack
Web API, which keeps Slack's one post per second per channel) runs on the other. The requests are really signed
``/kudos`` commands into one channel. Printed per database:

- acked requests/s and kudos *stored*/s while 16 clients send as fast as answers come back (and with 4 clients,
  the no-collapse reference), how long the backlog takes to drain after the load stops, and whether any acked
  kudos never arrived;
- RSS at start, at its peak and after the overload;
- server CPU time per stored kudos (user + system, from ``/proc``), also with history already stored;
- the ack p50/p99 at 50 requests/s against the floor at the same rate;
- request → celebration post at the fake Slack API, p50/p99, and the share of kudos named in some post.

Figures are printed, never asserted: the machine is shared, so the ratios against the floor measured in the
same run are what to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bench import load
from bench.b_throughput import raise_limits
from bench.core import Config, NotAvailable, Row, median, percentile
from bench.data import WORKSPACE as HISTORY_WORKSPACE
from bench.data import postgres_history, sqlite_history_copy
from bench.dbs import database, drop_postgres, label
from bench.procs import BOT_TOKEN, SIGNING_SECRET, Proc, free_port, rss_mib, slack_env, starling_argv
from bench.registry import require, require_command
from storage import kudos_rollup
from storage.db import sync_engine_for
from tests.fakes import FakeSlackAPI, slack_form_body, slack_signed_headers

NAME = "overload"
TITLE = "Overload head to head: starling serve vs a bare Bolt app that only acks, one core each"
GIVERS = 400
CHANNEL = load.CHANNEL  # the channel whose celebrations are timed
WARM_CHANNEL = "C0BUSY001"  # warm-ups and the overload post elsewhere, so their backlog does not delay them
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- processes ------------------------------------------------------------------------------------------


def pinned(argv: list[str]) -> list[str]:
    """``argv`` on core 0 when the machine has two cores or more and ``taskset`` exists."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0", *argv]
    return argv


@contextlib.contextmanager
def on_other_core() -> Iterator[None]:
    """Keep this process (load generator, fake Slack) off the server's core while measuring."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {1})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


@contextlib.asynccontextmanager
async def server(kind: str, env: dict[str, str], port: int) -> AsyncIterator[Proc]:
    if kind == "floor":
        argv = pinned([sys.executable, "-m", "bench.floors", "bolt", "--port", str(port)])
    else:
        argv = pinned(starling_argv(port))
    proc = Proc(f"overload-{kind}", argv, env=env)
    try:
        await proc.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield proc
    finally:
        proc.stop()


class RssSampler:
    """The server's RSS every 100 ms in the background; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


# --- requests -------------------------------------------------------------------------------------------


REF = re.compile(r"\bref(\d+)\b")


def ref(n: int) -> str:
    return f"ref{n}"


def kudos_request(slack_url: str, givers: int, channel: str = WARM_CHANNEL) -> load.Request:
    """Request ``n``: a signed ``/kudos`` whose reason carries ``ref(n)``, so its celebration can be found."""

    def make(n: int) -> tuple[bytes, dict[str, str]]:
        giver, receiver = load.RECEIVERS + n % givers, n % load.RECEIVERS
        uid = load.slack_user(receiver)
        body = slack_form_body(
            {
                "team_id": load.TEAM,
                "channel_id": channel,
                "channel_name": "general" if channel == CHANNEL else "busy",
                "user_id": load.slack_user(giver),
                "user_name": f"p{giver}",
                "command": "/kudos",
                "text": f"<@{uid}|p{receiver}> danke für die schnelle Hilfe beim Kundentermin {ref(n)} #kundenfokus",
                "api_app_id": "AAPP1",
                "response_url": f"{slack_url}/commands/{load.TEAM}/{giver}/response",
                "trigger_id": f"{n}.{giver}.{receiver}.overload",
            }
        )
        return body, slack_signed_headers(SIGNING_SECRET, body)

    return make


@dataclass
class Window:
    sent_at: dict[int, float] = field(default_factory=dict)  # request n → time.time() it was sent
    acked: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0


async def _send(http: aiohttp.ClientSession, url: str, make: load.Request, n: int, window: Window) -> None:
    body, headers = make(n)
    window.sent_at[n] = time.time()
    t0 = time.perf_counter()
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            ok = 200 <= resp.status < 300
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    window.latencies_ms.append((time.perf_counter() - t0) * 1000)
    if ok:
        window.acked.append(n)
    else:
        window.failed += 1


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30))


async def clients_for(url: str, make: load.Request, *, clients: int, seconds: float, first: int) -> Window:
    """``clients`` clients, each sending its next request when the last is answered, for ``seconds``."""
    window = Window()
    counter = iter(range(first, first + 10_000_000))
    with load.collector_held_off():
        async with _session() as http:
            t0 = time.perf_counter()
            end = t0 + seconds

            async def client() -> None:
                while time.perf_counter() < end:
                    await _send(http, url, make, next(counter), window)

            await asyncio.gather(*(client() for _ in range(clients)))
            window.seconds = time.perf_counter() - t0
    return window


async def at_rate(url: str, make: load.Request, *, rate: float, seconds: float, first: int) -> Window:
    """``rate`` requests per second for ``seconds``, whatever the answers take (open loop)."""
    window = Window()
    count = int(rate * seconds)
    with load.collector_held_off():
        async with _session() as http:
            t0 = time.perf_counter()
            tasks = []
            for i in range(count):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_send(http, url, make, first + i, window)))
            await asyncio.gather(*tasks)
            window.seconds = time.perf_counter() - t0
    return window


# --- the database -------------------------------------------------------------------------------------------


def stored_refs(url: str) -> set[int]:
    engine = sync_engine_for(url)
    try:
        with engine.connect() as conn:
            reasons = conn.execute(text("SELECT reason FROM kudos")).scalars().all()
    finally:
        engine.dispose()
    return {int(m.group(1)) for reason in reasons for m in REF.finditer(reason)}


async def drained(url: str, wanted: set[int], *, timeout: float) -> tuple[set[int], float]:
    """Wait until every wanted kudos is stored (or ``timeout``); what was stored and how long it took."""
    t0 = time.perf_counter()
    while True:
        have = await asyncio.to_thread(stored_refs, url)
        if wanted <= have or time.perf_counter() - t0 > timeout:
            return have, time.perf_counter() - t0
        await asyncio.sleep(0.2)


def named_in_posts(fake: FakeSlackAPI) -> dict[int, float]:
    """ref → time.time() of the first accepted channel post that names it."""
    seen: dict[int, float] = {}
    for rec in fake.ok_calls("chat.postMessage"):
        payload = fake.payload(rec)
        if payload.get("channel") != CHANNEL:
            continue
        for m in REF.finditer(json.dumps(payload, ensure_ascii=False)):
            seen.setdefault(int(m.group(1)), rec.time)
    return seen


# --- the run -----------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def warmed_starling(db: str, fake: FakeSlackAPI, make: load.Request) -> AsyncIterator[tuple[Proc, str]]:
    """``starling serve`` on ``db``, warmed up (its workspace exists, the warm-up's kudos are stored) with the
    budgets out of the way; yields the process and its Slack endpoint."""
    port = free_port()
    env = slack_env(db, fake.url, port) | {"STARLING_LOG_LEVEL": "ERROR"}
    async with server("starling", env, port) as proc:
        endpoint = f"http://127.0.0.1:{port}/slack/events"
        warm = await clients_for(endpoint, make, clients=4, seconds=0.5, first=0)
        if not warm.acked:
            raise RuntimeError(f"starling serve acked no /kudos:\n{proc.log_tail()}")
        await asyncio.to_thread(raise_limits, db)
        await drained(db, set(warm.acked), timeout=60)
        yield proc, endpoint


@dataclass(frozen=True)
class Floor:
    """The bare Bolt app that only acks, running beside Starling: its endpoint and its process."""

    url: str
    pid: int


async def overload(kind: str, cfg: Config, fake: FakeSlackAPI, floor: Floor) -> list[Row]:
    seconds = cfg.size(10, 1)
    rows: list[Row] = []
    givers = cfg.size(GIVERS, 40)
    make = kudos_request(fake.url, givers)
    with database(kind, cfg) as db:
        async with warmed_starling(db, fake, make) as (proc, endpoint):
            start_rss = rss_mib(proc.pid)
            first = 1_000_000
            per_clients: dict[int, dict[str, float]] = {}
            lost_total = 0
            with RssSampler(proc.pid) as rss:
                for clients in (4, 16):
                    before = await asyncio.to_thread(stored_refs, db)
                    cpu0 = cpu_seconds(proc.pid)
                    bare = await clients_for(floor.url, make, clients=clients, seconds=seconds, first=first)
                    win = await clients_for(endpoint, make, clients=clients, seconds=seconds, first=first)
                    in_window = await asyncio.to_thread(stored_refs, db)
                    have, drain = await drained(db, set(win.acked), timeout=cfg.size(300, 60))
                    cpu = cpu_seconds(proc.pid) - cpu0
                    stored = len(have - before)
                    lost = len(set(win.acked) - have)
                    lost_total += lost
                    per_clients[clients] = {
                        "acked_per_s": len(win.acked) / win.seconds,
                        "floor_acked_per_s": len(bare.acked) / bare.seconds,
                        "stored_per_s": len(in_window - before) / win.seconds,
                        "drain_s": drain,
                        "cpu_ms_per_kudos": 1000 * cpu / max(stored, 1),
                        "lost": lost,
                    }
                    first += 10_000_000
                after_rss = rss_mib(proc.pid)
            db_label = label(kind)
            busy, calm = per_clients[16], per_clients[4]
            rows += [
                Row(
                    NAME,
                    f"acked req/s, 16 clients for {seconds} s, {db_label}",
                    busy["acked_per_s"],
                    busy["floor_acked_per_s"],
                    "req/s",
                    higher_is_better=True,
                ),
                Row(
                    NAME,
                    f"kudos stored/s in the window, 16 vs 4 clients, {db_label}",
                    busy["stored_per_s"],
                    calm["stored_per_s"],
                    "kudos/s",
                    target=0.8,
                    higher_is_better=True,
                    note="floor column: the same build with 4 clients (no collapse: ratio ≥ 0.8)",
                ),
                Row(
                    NAME,
                    f"drain after the 16-client load, {db_label}",
                    busy["drain_s"],
                    0.0,
                    "s",
                    note=f"acked but never stored: {lost_total}",
                ),
                Row(
                    NAME,
                    f"RSS after the overload vs at start, {db_label}",
                    after_rss,
                    start_rss,
                    "MiB",
                    target=1.3,
                    note=f"peak {rss.peak:.0f} MiB",
                ),
                Row(
                    NAME,
                    f"server CPU per stored kudos (16 clients), {db_label}",
                    busy["cpu_ms_per_kudos"],
                    3.0,
                    "ms",
                    target=1.0,
                    note="floor column: the 3 ms target",
                ),
            ]
    return rows


async def at_fifty(kind: str, cfg: Config, fake: FakeSlackAPI, floor: Floor) -> list[Row]:
    """50 requests/s into one channel on a fresh server: the ack against the floor, request → celebration post."""
    givers = cfg.size(GIVERS, 40)
    make = kudos_request(fake.url, givers)
    with database(kind, cfg) as db:
        async with warmed_starling(db, fake, make) as (proc, endpoint):
            timed = kudos_request(fake.url, givers, CHANNEL)
            return await _fifty(kind, cfg, fake, timed, endpoint, floor, db, proc)


async def _fifty(
    kind: str, cfg: Config, fake: FakeSlackAPI, make: load.Request, endpoint: str, floor: Floor, db: str, proc: Proc
) -> list[Row]:
    seconds = cfg.size(20, 2)
    first = 60_000_000 + (1_000_000 if kind == "postgres" else 0)
    floor_cpu0 = cpu_seconds(floor.pid)
    bare = await at_rate(floor.url, make, rate=50, seconds=seconds, first=first)
    floor_cpu = cpu_seconds(floor.pid) - floor_cpu0
    base = endpoint.rsplit("/slack/", 1)[0]
    gc0 = await gc_pauses(base)
    cpu0 = cpu_seconds(proc.pid)
    win = await at_rate(endpoint, make, rate=50, seconds=seconds, first=first + 500_000)
    gc1 = await gc_pauses(base)
    have, _drain = await drained(db, set(win.acked), timeout=cfg.size(120, 60))
    cpu = cpu_seconds(proc.pid) - cpu0
    paused_ms, long_pauses = 1000 * (gc1[0] - gc0[0]), gc1[1] - gc0[1]
    deadline = time.perf_counter() + cfg.size(120, 5)
    posted = named_in_posts(fake)
    while not set(win.acked) <= set(posted) and time.perf_counter() < deadline:
        await asyncio.sleep(0.25)
        posted = named_in_posts(fake)
    delays = [posted[n] - win.sent_at[n] for n in win.acked if n in posted]
    named = sum(1 for n in win.acked if n in posted) / max(len(win.acked), 1)
    db_label = label(kind)
    acks = [
        Row(
            NAME,
            f"ack p{q} at 50 req/s, {db_label}",
            percentile(win.latencies_ms, q),
            percentile(bare.latencies_ms, q),
            "ms",
            target=2.0,
        )
        for q in (50, 99)
    ]
    return acks + [
        Row(
            NAME,
            f"server CPU per stored kudos at 50 req/s, {db_label}",
            1000 * cpu / max(len(have & set(win.acked)), 1),
            3.0,
            "ms",
            target=1.0,
            note="floor column: the 3 ms target",
        ),
        Row(
            NAME,
            f"server CPU per kudos vs the bare Bolt app's per acknowledgement at 50 req/s, {db_label}",
            1000 * cpu / max(len(have & set(win.acked)), 1),
            1000 * floor_cpu / max(len(bare.acked), 1),
            "ms",
            note="floor column: Bolt's share of any kudos (read, verify, dispatch, ack), measured in the same run",
        ),
        Row(
            NAME,
            f"event loop paused by the garbage collector at 50 req/s, {db_label}",
            paused_ms / win.seconds,
            1000.0,
            "ms/s",
            note=f"floor column: a second; {long_pauses:g} pauses of 25 ms or more in {win.seconds:.0f} s",
        ),
        Row(
            NAME,
            f"request → celebration post p50 at 50 kudos/s, {db_label}",
            median(delays) if delays else math.inf,
            5.0,
            "s",
            note=f"named in some post: {named:.0%}",
        ),
        Row(
            NAME,
            f"request → celebration post p99 at 50 kudos/s, {db_label}",
            percentile(delays, 99) if len(delays) == len(win.acked) else math.inf,
            5.0,
            "s",
            target=1.0,
            note="floor column: the 5 s target; Slack's one post per second per channel enforced",
        ),
    ]


async def gc_pauses(base: str) -> tuple[float, float]:
    """From the server's ``/metrics``: seconds spent in garbage-collector pauses so far, and how many of those
    pauses took 25 ms or more."""
    async with _session() as http, http.get(base + "/metrics") as resp:
        text = await resp.text()
    total = sum(float(v) for v in re.findall(r"^starling_gc_pause_seconds_sum\{[^}]*\} (\S+)$", text, re.M))
    count = sum(float(v) for v in re.findall(r"^starling_gc_pause_seconds_count\{[^}]*\} (\S+)$", text, re.M))
    short = sum(
        float(v) for v in re.findall(r'^starling_gc_pause_seconds_bucket\{[^}]*le="0\.025"[^}]*\} (\S+)$', text, re.M)
    )
    return total, count - short


@contextlib.contextmanager
def history_database(kind: str, cfg: Config, n: int) -> Iterator[str]:
    """A fresh database that already holds ``n`` kudos (a generated, cached history)."""
    if kind == "sqlite":
        url, folder = sqlite_history_copy(n)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        url = postgres_history(cfg, n)
        try:
            yield url
        finally:
            drop_postgres(cfg, url)


def adopt_history(url: str) -> None:
    """Give the generated history to the Slack workspace the warm-up created (same people, same indexes).

    As a bulk load does: the roll-up's triggers are dropped for the one UPDATE of every row, the roll-up is made
    again from the rows at once, and the triggers come back (row by row, a million rows take minutes)."""
    engine = sync_engine_for(url)
    dialect = engine.dialect.name

    def ddl(stmt: str) -> str:  # psycopg reads a lone % as a placeholder
        return stmt if dialect == "sqlite" else stmt.replace("%", "%%")

    try:
        with engine.begin() as conn:
            ws = conn.execute(text("SELECT id FROM workspace WHERE id <> :h"), {"h": HISTORY_WORKSPACE}).scalar_one()
            for stmt in kudos_rollup.drop_triggers(dialect):
                conn.exec_driver_sql(ddl(stmt))
            conn.execute(
                text("UPDATE kudos SET workspace_id = :ws WHERE workspace_id = :h"), {"ws": ws, "h": HISTORY_WORKSPACE}
            )
            for table in ("kudos_week", "kudos_person"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
            for stmt in kudos_rollup.rebuild(dialect) + kudos_rollup.create_triggers(dialect):
                conn.exec_driver_sql(ddl(stmt))
    finally:
        engine.dispose()


async def with_history(kind: str, cfg: Config, fake: FakeSlackAPI) -> list[Row]:
    """Server CPU per kudos at 50 requests/s with 1,000, 50,000 and 1,000,000 kudos already stored."""
    rows: list[Row] = []
    givers = cfg.size(GIVERS, 40)
    make = kudos_request(fake.url, givers)
    seconds = cfg.size(10, 2)
    sizes = (1_000, 50_000, 1_000_000) if not cfg.smoke else (1_000,)
    figures: dict[int, float] = {}
    for n in sizes:
        with history_database(kind, cfg, n) as db:
            async with warmed_starling(db, fake, make) as (proc, endpoint):
                await asyncio.to_thread(adopt_history, db)
                cpu0 = cpu_seconds(proc.pid)
                win = await at_rate(endpoint, make, rate=50, seconds=seconds, first=70_000_000)
                have, _ = await drained(db, set(win.acked), timeout=cfg.size(120, 60))
                figures[n] = 1000 * (cpu_seconds(proc.pid) - cpu0) / max(len(have & set(win.acked)), 1)
    base = figures[sizes[0]]
    for n in sizes:
        rows.append(
            Row(
                NAME,
                f"server CPU per kudos at 50 req/s with {n:,} kudos stored, {label(kind)}",
                figures[n],
                base,
                "ms",
                target=1.5,
                note=f"floor column: with {sizes[0]:,} stored (flat: ratio ≈ 1)",
            )
        )
    return rows


def progress(rows: list[Row]) -> list[Row]:
    """Print each figure as soon as it is measured (the whole run takes a quarter of an hour)."""
    for row in rows:
        note = f"  ({row.note})" if row.note else ""
        print(f"   {row.figure}: {row.starling:.4g} {row.unit} vs {row.floor:.4g} {row.unit}{note}", flush=True)
    return rows


async def run(cfg: Config) -> list[Row]:
    require("bot.web")
    require_command("serve")
    if not cfg.http:
        raise NotAvailable("left out: starts servers")
    if cfg.smoke and NAME not in cfg.only:
        raise NotAvailable("left out of the smoke run (about 90 s); `python -m bench --smoke --only overload` runs it")
    rows: list[Row] = []
    fake = FakeSlackAPI(tokens=(BOT_TOKEN,))
    for i in range(load.RECEIVERS + GIVERS):
        fake.add_user(load.slack_user(i), f"p{i}", real_name=f"Person {i}")
    fake.add_channel(CHANNEL, "general")
    fake.add_channel(WARM_CHANNEL, "busy")
    fake.enforce_channel_rate(1.0)
    await fake.start()
    try:
        floor_port = free_port()
        async with server("floor", slack_env("sqlite://", fake.url, floor_port), floor_port) as floor_proc:
            floor = Floor(f"http://127.0.0.1:{floor_port}/slack/events", floor_proc.pid)
            with on_other_core():
                for kind in cfg.databases:
                    for part in (overload(kind, cfg, fake, floor), at_fifty(kind, cfg, fake, floor)):
                        rows += progress(await part)
                    rows += progress(await with_history(kind, cfg, fake))
    finally:
        await fake.stop()
    return rows
