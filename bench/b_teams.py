"""Teams: activities per second through ``/api/messages`` with a kudos, against a bare botbuilder bot that only
replies; both on aiohttp at 127.0.0.1 without authentication, replying to the fake Bot Connector (serviceUrl)."""

from __future__ import annotations

import asyncio
import json
import time

from bench import load
from bench.b_throughput import raise_limits, settled_count
from bench.core import Config, Row, median
from bench.dbs import database, label
from bench.procs import fake_server, floor_server, free_port
from bench.registry import require

NAME = "teams"
TITLE = "Teams activities/s through /api/messages (kudos) vs a bare botbuilder bot that replies"
TENANT = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
BOT = "28:11111111-2222-3333-4444-555555555555"
TEAM = "19:8j-Mnacwmq2QFDbzykeQH5v55m6cN1X3QJ5viHvGIIQ1@thread.tacv2"
CHANNEL = "19:d441d38c655c47a085215b2726e76927@thread.tacv2"
CONCURRENCY = 8
GIVERS = 400


def user(i: int) -> dict[str, str]:
    return {"id": f"29:bench-user-{i:05d}", "aadObjectId": f"00000000-0000-0000-0000-{i:012d}", "name": f"Person {i}"}


def activity(i: int, givers: int, service_url: str) -> bytes:
    """A channel message mentioning Starling and one colleague: ``kudos @Person danke … #kundenfokus``."""
    giver = user(load.RECEIVERS + i % givers)
    receiver = user(i % load.RECEIVERS)
    mention = f"<at>{receiver['name']}</at>"
    activity_id = str(1_800_000_000_000 + i)
    body = {
        "type": "message",
        "id": activity_id,
        "timestamp": "2026-11-18T09:30:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": giver,
        "conversation": {
            "id": f"{CHANNEL};messageid={activity_id}",
            "conversationType": "channel",
            "tenantId": TENANT,
            "isGroup": True,
        },
        "recipient": {"id": BOT, "name": "Starling"},
        "text": f"<at>Starling</at> kudos {mention} danke für die schnelle Hilfe beim Kundentermin #kundenfokus",
        "textFormat": "plain",
        "locale": "de-DE",
        "entities": [
            {"type": "mention", "mentioned": {"id": BOT, "name": "Starling"}, "text": "<at>Starling</at>"},
            {"type": "mention", "mentioned": {"id": receiver["id"], "name": receiver["name"]}, "text": mention},
        ],
        "channelData": {
            "teamsChannelId": CHANNEL,
            "teamsTeamId": TEAM,
            "channel": {"id": CHANNEL},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
    }
    return json.dumps(body).encode()


def teams_env(database_url: str) -> dict[str, str]:
    return {
        "STARLING_DATABASE_URL": database_url,
        "STARLING_LOG_LEVEL": "ERROR",
        "STARLING_ENVIRONMENT": "dev",
        "STARLING_TEAMS_APP_ID": "",
        "MicrosoftAppId": "",
    }


async def _rate(endpoint: str, service_url: str, count: int, first: int, givers: int) -> tuple[float, load.LoadResult]:
    def make(i: int) -> tuple[bytes, dict[str, str]]:
        return activity(i, givers, service_url), {"Content-Type": "application/json"}

    res = await load.closed_loop(endpoint, make, count=count, concurrency=CONCURRENCY, first=first)
    return count / res.seconds, res


async def run(cfg: Config) -> list[Row]:
    require("bot.teams.web")
    count = cfg.size(150, 10)
    givers = cfg.size(GIVERS, 10)
    rows: list[Row] = []
    async with fake_server("teams", users=load.RECEIVERS + givers) as connector_url:
        service_url = connector_url + "/"
        floor_port = free_port()
        async with floor_server("teams", {}, floor_port):
            floor_endpoint = f"http://127.0.0.1:{floor_port}/api/messages"
            await _rate(floor_endpoint, service_url, 10, 0, givers)
            for kind in cfg.databases[:1]:  # the database is measured elsewhere; one is enough here
                with database(kind, cfg) as url:
                    port = free_port()
                    async with floor_server("starling-teams", teams_env(url), port):
                        endpoint = f"http://127.0.0.1:{port}/api/messages"
                        _, warm = await _rate(endpoint, service_url, givers, 0, givers)
                        if warm.ok == 0:
                            raise RuntimeError(f"/api/messages refused every activity: {dict(warm.statuses)}")
                        await asyncio.to_thread(raise_limits, url)
                        starling, floor = [], []
                        sent = givers
                        for _rep in range(max(1, cfg.reps - 1)):
                            r, _ = await _rate(floor_endpoint, service_url, count, sent, givers)
                            floor.append(r)
                            t0 = time.perf_counter()
                            _, res = await _rate(endpoint, service_url, count, sent, givers)
                            sent += count
                            written = await settled_count(url, sent, timeout=60)
                            if res.failed or written < sent:
                                raise RuntimeError(
                                    f"{written} kudos for {sent} activities; answers {dict(res.statuses)}"
                                )
                            starling.append(count / (time.perf_counter() - t0))
                        rows.append(
                            Row(
                                NAME,
                                f"Teams activities/s (kudos), {CONCURRENCY} clients, {label(kind)}",
                                median(starling),
                                median(floor),
                                "act/s",
                                higher_is_better=True,
                                samples={"starling": starling, "floor": floor, "count": count},
                            )
                        )
    return rows
