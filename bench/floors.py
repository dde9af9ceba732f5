"""Floor processes, served the way Starling is: a bare Bolt app that only acks, a bare botbuilder bot that
only replies, and a bare process that imports Starling's libraries. Run as ``python -m bench.floors KIND``."""

from __future__ import annotations

import argparse
import os
import sys
import time

T0 = time.perf_counter()

LIBRARIES = [
    "aiohttp",
    "slack_bolt",
    "slack_bolt.async_app",
    "slack_sdk.web.async_client",
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "sqlmodel",
    "aiosqlite",
    "psycopg",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "structlog",
    "rapidfuzz",
    "holidays",
    "yaml",
    "apscheduler",
    "botbuilder.core",
    "botbuilder.integration.aiohttp",
    "openai",
    "prometheus_client",
]


STARLING_MODULES = [
    "bot.cli",
    "bot.app",
    "bot.web",
    "bot.slack.adapter",
    "bot.teams.web",
    "bot.teams.adapter",
    "bot.scheduler",
    "bot.outbox",
    "storage.db",
    "storage.tables",
]
OWN = {"bot", "handlers", "storage", "tests", "bench", "__main__"}


def libraries(platforms: list[str]) -> None:
    """Print the third-party packages Starling's server modules import (one per line).

    Only the adapters of ``platforms`` count: ``starling serve`` imports a platform's SDK only when that
    platform is configured (a Slack-only deployment never loads botbuilder)."""
    import contextlib
    import importlib

    for name in STARLING_MODULES:
        platform = name.split(".")[1] if name.startswith("bot.") else ""
        if platform in ("slack", "teams") and platform not in platforms:
            continue
        with contextlib.suppress(ImportError):  # modules of features that are not there
            importlib.import_module(name)
    with contextlib.suppress(ImportError):
        from bot.core.router import Router
        from handlers import register_all

        register_all(Router())
    found = {m.split(".")[0] for m in sys.modules}
    for name in sorted(found - set(sys.stdlib_module_names) - OWN):
        if not name.startswith("_"):
            print(name)


def imports(names: list[str]) -> None:
    """Import the given libraries, say ``ready``, then wait until stdin closes."""
    import contextlib
    import importlib

    for name in names or LIBRARIES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    print(f"ready {time.perf_counter() - T0:.4f}", flush=True)
    sys.stdin.read()


def bolt(port: int) -> None:
    """A bare Bolt AsyncApp whose /kudos listener only acks, on aiohttp at 127.0.0.1."""
    from aiohttp import web
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    token = os.environ["SLACK_BOT_TOKEN"]
    client = AsyncWebClient(token=token, base_url=os.environ["STARLING_SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)

    @app.command("/kudos")
    async def kudos(ack: AsyncAck) -> None:
        await ack()

    web_app = app.web_app(path="/slack/events")

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_app.router.add_get("/readyz", ready)
    web.run_app(web_app, host="127.0.0.1", port=port, access_log=None, print=None)


def teams(port: int) -> None:
    """A bare botbuilder bot that replies "ok" to every message, on aiohttp at 127.0.0.1 (no app id)."""
    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class Bot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity("ok")

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = Bot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_app = web.Application()
    web_app.router.add_post("/api/messages", messages)
    web_app.router.add_get("/readyz", ready)
    web.run_app(web_app, host="127.0.0.1", port=port, access_log=None, print=None)


def starling_teams(port: int) -> None:
    """Starling's own Teams endpoint (``bot.teams.web.add_routes``) with its outbox worker, on aiohttp at
    127.0.0.1, in the unauthenticated local mode (no app id), like the bare bot it is compared with."""
    import asyncio

    from aiohttp import web

    from bot.app import Starling
    from bot.logging import configure
    from bot.settings import Settings
    from bot.teams.web import add_routes

    settings = Settings()
    configure(settings.log_level)
    starling = Starling(settings)
    web_app = web.Application()
    add_routes(web_app, starling)
    stop = asyncio.Event()

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start_outbox(_app: web.Application) -> None:
        web_app["outbox"] = asyncio.get_running_loop().create_task(starling.outbox.run(stop))

    async def stop_outbox(_app: web.Application) -> None:
        stop.set()
        starling.outbox.wake()
        await web_app["outbox"]
        await starling.close()

    web_app.router.add_get("/readyz", ready)
    web_app.on_startup.append(start_outbox)
    web_app.on_cleanup.append(stop_outbox)
    web.run_app(web_app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floors")
    parser.add_argument("kind", choices=["imports", "libraries", "bolt", "teams", "starling-teams"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--modules", default="", help="comma-separated modules for `imports`")
    parser.add_argument("--platforms", default="slack,teams", help="configured platforms for `libraries`")
    args = parser.parse_args()
    if args.kind == "imports":
        imports([m for m in args.modules.split(",") if m])
    elif args.kind == "libraries":
        libraries(args.platforms.split(","))
    elif args.kind == "bolt":
        bolt(args.port)
    elif args.kind == "starling-teams":
        starling_teams(args.port)
    else:
        teams(args.port)


if __name__ == "__main__":
    main()
