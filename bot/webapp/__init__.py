"""The web side of Starling under ``/app``: dashboard, suggestion board, privacy and settings pages."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.webapp import pages
from bot.webapp.app import WebApp

__all__ = ["WebApp", "mount"]


def mount(app: web.Application, starling: Any, *, providers: dict[str, Any] | None = None) -> WebApp:
    """Add the sign-in, the pages and their middleware to the one aiohttp application."""
    webapp = WebApp(starling, providers=providers)
    webapp.add_routes(app)
    pages.add_routes(webapp, app.router)
    return webapp
