"""The one web server of ``starling serve``: platform endpoints, health, readiness and metrics.

Routes: ``POST /slack/events`` (Slack over HTTP), ``POST /api/messages`` (Microsoft Teams),
the web pages under ``/app`` (``bot.webapp``), ``GET /healthz`` (the process is alive), ``GET /readyz`` (started and the database answers) and
``GET /metrics`` (Prometheus). Next to it run the inbox worker (acknowledged events), the outbox worker,
Slack Socket Mode (with ``SLACK_APP_TOKEN``) and the scheduler (unless ``--no-scheduler``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sqlite3
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.app import Starling
from bot.core.metrics import exposition, watch_gc_pauses
from bot.eventloop import answer_first_middleware
from bot.scheduler import SchedulerService, start_scheduler
from bot.settings import Settings
from bot.webapp import mount

log = structlog.get_logger("starling.web")


class ConfigurationError(Exception):
    """The settings cannot serve (e.g. a Slack token without a way to verify requests)."""


def teams_local_mode(settings: Settings) -> bool:
    """True when ``starling serve`` mounts Teams without authentication: no app id, no Slack, not production."""
    return not settings.teams_enabled and not settings.slack_enabled and settings.environment != "production"


class WebServer:
    """Builds the aiohttp application and runs it with its background services."""

    def __init__(
        self,
        starling: Starling,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        scheduler: bool = True,
        slack_options: dict[str, Any] | None = None,
        teams_options: dict[str, Any] | None = None,
        web_providers: dict[str, Any] | None = None,
    ) -> None:
        self.starling = starling
        self.host = host
        self.requested_port = port
        self.run_scheduler = scheduler
        inbox = starling.inbox
        self.app = web.Application(middlewares=[answer_first_middleware(lambda: inbox.pending <= inbox.batch)])
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/metrics", self.metrics)
        self.slack: Any = None
        self._add_platforms(slack_options or {}, teams_options or {})
        # The web pages under /app (sign-in, dashboard, suggestion board, privacy, settings).
        self.webapp = mount(self.app, starling, providers=web_providers)
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()
        self._outbox_task: asyncio.Task[None] | None = None
        self._inbox_stop = asyncio.Event()
        self._inbox_task: asyncio.Task[None] | None = None
        self.scheduler: SchedulerService | None = None
        self._ready = False
        self.port = 0

    # --- platforms ---------------------------------------------------------------------------------------
    def _add_platforms(self, slack_options: dict[str, Any], teams_options: dict[str, Any]) -> None:
        settings = self.starling.settings
        # Slack: POST /slack/events when a signing secret is set; Socket Mode with SLACK_APP_TOKEN.
        if settings.slack_enabled:
            if not (settings.slack_signing_secret or settings.slack_app_token):
                raise ConfigurationError("Slack needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)")
            from bot.slack.adapter import SlackAdapter

            self.slack = SlackAdapter(self.starling, **slack_options)
            self.starling.attach("slack", sender=self.slack.sender, directory=self.slack.directory)
            self.slack.add_routes(self.app)

        # Microsoft Teams: `bot.teams.web.add_routes(app, starling)` mounts POST /api/messages here.
        # It may register `app.on_startup` / `app.on_cleanup` hooks for whatever it starts and stops.
        # Only imported when configured: botbuilder is large (a Slack-only process never loads it).
        # Without any platform credentials outside production, Teams runs in its unauthenticated local mode
        # (the Bot Framework Emulator and tests post to /api/messages), with a loud warning.
        local_teams = teams_local_mode(settings)
        mount_teams = settings.teams_enabled or local_teams
        if mount_teams:
            from bot.teams.config import teams_auth_warning
            from bot.teams.web import add_routes as add_teams_routes

            if local_teams:
                teams_auth_warning(settings)
            add_teams_routes(self.app, self.starling, **teams_options)

        if not settings.slack_enabled and not mount_teams:
            log.warning("no_platform_configured", hint="set SLACK_BOT_TOKEN or MicrosoftAppId")

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._stop.clear()
        self._outbox_task = asyncio.get_running_loop().create_task(self.starling.outbox.run(self._stop))
        if self.slack is not None:
            self.slack.start_directory()
        if self.starling.inbox.handlers:  # replays what an earlier process acknowledged and did not handle
            self._inbox_stop.clear()
            self._inbox_task = asyncio.get_running_loop().create_task(self.starling.inbox.run(self._inbox_stop))
        if self.slack is not None and self.starling.settings.slack_app_token:
            await self.slack.start_socket_mode()
        if self.run_scheduler:
            await self._start_scheduler()
        # What start-up created (modules, the schema, catalogs, compiled statements) lives as long as the
        # process: keep it out of the cyclic garbage collector's full passes, which would otherwise scan it
        # again and again and pause every request for tens of milliseconds.
        gc.collect()
        gc.freeze()
        self._ready = True
        log.info(
            "serving",
            host=self.host,
            port=self.port,
            scheduler=self.scheduler is not None,
            event_loop=type(asyncio.get_running_loop()).__name__,
        )

    async def _start_scheduler(self) -> None:
        self.scheduler = await start_scheduler(self.starling)

    async def _stop_scheduler(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await scheduler.stop()

    async def stop(self) -> None:
        """Stop acknowledging first, then handle what was acknowledged (for ``inbox_drain_seconds``; the rest
        stays in the inbox for the next start), then stop the background services."""
        self._ready = False
        if self.slack is not None:
            self.slack.draining = True  # from now on Slack gets 503 and retries: nothing more is acknowledged
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()  # no new connections; requests already being answered are answered
        await self._stop_scheduler()
        if self.slack is not None:
            await self.slack.stop_acking()
        self._inbox_stop.set()
        inbox, self._inbox_task = self._inbox_task, None
        if inbox is not None:
            await asyncio.wait([inbox])
        if self.slack is not None:
            await self.slack.close()
        self._stop.set()
        task, self._outbox_task = self._outbox_task, None
        # The worker finishes the batch it is sending; wake it until it has seen the stop.
        while task is not None and not task.done():
            self.starling.outbox.wake()
            await asyncio.wait([task], timeout=0.05)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- probes --------------------------------------------------------------------------------------------
    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        """200 when started and the database answers; ``backlog``: acknowledged events waiting in the inbox
        (all replicas). 503 while starting, without the database, or with the inbox full."""
        backlog = self.starling.inbox.pending
        if not self._ready:
            return web.json_response({"status": "starting", "backlog": backlog}, status=503)
        try:
            await self._probe_database()
            backlog = await self.starling.inbox.count()  # SQLite: the inbox's own file answers too
        except Exception as err:
            log.warning("readiness_database_failed", error=repr(err))
            return web.json_response({"status": "unavailable", "database": "error", "backlog": backlog}, status=503)
        if self.slack is not None and backlog >= self.slack.max_backlog:
            # Full: Slack is being told to come back later; a load balancer should send it elsewhere meanwhile.
            return web.json_response({"status": "busy", "database": "ok", "backlog": backlog}, status=503)
        return web.json_response({"status": "ready", "database": "ok", "backlog": backlog})

    async def _probe_database(self) -> None:
        """The database answers. SQLite: a new connection to the file as it is now (a pooled one keeps working on a
        file that was deleted or replaced); PostgreSQL: a pooled connection (checked before use)."""
        url = self.starling.engine.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            await asyncio.to_thread(_probe_sqlite, url.database)
            return
        async with self.starling.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _probe_sqlite(path: str) -> None:
    conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=5)  # never creates the file
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


def settle_heap() -> None:
    """Once started: the objects of the start-up (modules, tables, compiled statements, templates, some
    150,000 of them) move out of the garbage collector's sight. A full collection otherwise walks them all,
    100 ms and more with every request waiting for it; afterwards it walks only what the work since created."""
    watch_gc_pauses()
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, *, port: int | None = None, scheduler: bool = True) -> None:
    """``starling serve``: run until SIGINT or SIGTERM."""
    starling = Starling(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        server = WebServer(
            starling, host=settings.host, port=settings.port if port is None else port, scheduler=scheduler
        )
        try:
            await server.start()
            settle_heap()
            await stop.wait()
        finally:
            await server.stop()
    finally:
        await starling.close()
