"""Teams: activities per second through ``/api/messages`` with a kudos, against a bare botbuilder adapter that
only replies, both served on aiohttp at 127.0.0.1 and replying to the fake Bot Connector (the serviceUrl)."""

from __future__ import annotations

import asyncio
import json
import uuid

from bench import load
from bench.b_throughput import raise_limits
from bench.core import Config, Row, median
from bench.dbs import database, label
from bench.procs import fake_server, floor_server, free_port, starling_serve
from bench.registry import require, require_command

NAME = "teams"
TITLE = "Teams activities/s through /api/messages (kudos) vs a bare botbuilder bot that replies"
TENANT = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
BOT = "28:11111111-2222-3333-4444-555555555555"
CONVERSATION = "19:bench@thread.tacv2"
CONCURRENCY = 8
GIVERS = 400


def user(i: int) -> dict[str, str]:
    return {"id": f"29:user-{i:05d}", "aadObjectId": f"00000000-0000-0000-0000-{i:012d}", "name": f"Person {i}"}


def activity(i: int, service_url: str) -> bytes:
    giver = user(load.RECEIVERS + i % GIVERS)
    receiver = user(i % load.RECEIVERS)
    mention = f"<at>{receiver['name']}</at>"
    body = {
        "type": "message",
        "id": uuid.uuid4().hex,
        "timestamp": "2026-11-18T09:30:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": giver,
        "conversation": {"id": CONVERSATION, "conversationType": "channel", "tenantId": TENANT, "isGroup": True},
        "recipient": {"id": BOT, "name": "Starling"},
        "text": f"<at>Starling</at> kudos {mention} danke für die schnelle Hilfe beim Kundentermin #kundenfokus",
        "textFormat": "plain",
        "locale": "de-DE",
        "entities": [
            {"type": "mention", "mentioned": {"id": BOT, "name": "Starling"}, "text": "<at>Starling</at>"},
            {"type": "mention", "mentioned": {"id": receiver["id"], "name": receiver["name"]}, "text": mention},
        ],
        "channelData": {"tenant": {"id": TENANT}, "teamsChannelId": CONVERSATION, "teamsTeamId": CONVERSATION},
    }
    return json.dumps(body).encode()


def teams_env(database_url: str, port: int) -> dict[str, str]:
    return {
        "STARLING_DATABASE_URL": database_url,
        "STARLING_HOST": "127.0.0.1",
        "STARLING_PORT": str(port),
        "STARLING_LOG_LEVEL": "WARNING",
        "STARLING_ENVIRONMENT": "dev",
        "SLACK_BOT_TOKEN": "",
        "MicrosoftAppId": "",
        "MicrosoftAppPassword": "",
    }


async def _rate(endpoint: str, service_url: str, count: int, first: int) -> tuple[float, load.LoadResult]:
    def make(i: int) -> tuple[bytes, dict[str, str]]:
        return activity(i, service_url), {"Content-Type": "application/json"}

    res = await load.closed_loop(endpoint, make, count=count, concurrency=CONCURRENCY, first=first)
    return count / res.seconds, res


async def run(cfg: Config) -> list[Row]:
    require("bot.teams")
    require("bot.web")
    require_command("serve")
    count = cfg.size(600, 30)
    givers = cfg.size(GIVERS, 20)
    rows: list[Row] = []
    async with fake_server("teams", users=load.RECEIVERS + GIVERS) as connector_url:
        service_url = connector_url + "/"
        floor_port = free_port()
        async with floor_server("teams", {}, floor_port):
            floor_endpoint = f"http://127.0.0.1:{floor_port}/api/messages"
            await _rate(floor_endpoint, service_url, 20, 0)
            for kind in cfg.databases:
                with database(kind, cfg) as url:
                    port = free_port()
                    async with starling_serve(teams_env(url, port), port):
                        endpoint = f"http://127.0.0.1:{port}/api/messages"
                        rate, warm = await _rate(endpoint, service_url, givers, 0)
                        if warm.ok == 0:
                            raise RuntimeError(f"/api/messages refused every activity: {dict(warm.statuses)}")
                        await asyncio.to_thread(raise_limits, url)
                        starling, floor = [], []
                        sent = givers
                        for _rep in range(cfg.reps):
                            r, res = await _rate(floor_endpoint, service_url, count, sent)
                            floor.append(r)
                            r, res = await _rate(endpoint, service_url, count, sent)
                            starling.append(r)
                            sent += count
                            if res.failed:
                                raise RuntimeError(f"{res.failed} activities failed: {dict(res.statuses)}")
                        rows.append(
                            Row(
                                NAME,
                                f"Teams activities/s (kudos), {CONCURRENCY} clients, {label(kind)}",
                                median(starling),
                                median(floor),
                                "act/s",
                                samples={"starling": starling, "floor": floor, "count": count},
                            )
                        )
    return rows
