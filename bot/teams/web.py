"""Mounts the Teams endpoint on Starling's aiohttp web server."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.app import Starling
from bot.core.events import Platform
from bot.teams.adapter import TeamsAdapter
from bot.teams.auth import key_store, metadata_urls

TEAMS_ADAPTER_KEY = web.AppKey("starling_teams", TeamsAdapter)


def add_routes(app: web.Application, starling: Starling, **auth_overrides: Any) -> None:
    """``POST /api/messages`` for the Bot Framework; registers the Teams outbox sender and directory.

    ``auth_overrides`` are extra Bot Framework configuration attributes (a private cloud's OpenID
    metadata URL and token issuer); production needs none.
    """
    adapter = TeamsAdapter(starling, **auth_overrides)
    starling.attach(Platform.TEAMS.value, sender=adapter.sender, directory=adapter.directory)
    app[TEAMS_ADAPTER_KEY] = adapter
    app.router.add_post("/api/messages", adapter.handle)
    if adapter.auth is not None and adapter.require_auth:

        async def fetch_keys(_app: web.Application) -> None:
            # In the background: the first token check waits for this fetch, nothing else does.
            for url in metadata_urls(adapter.auth):
                key_store(url).refresh()

        app.on_startup.append(fetch_keys)
