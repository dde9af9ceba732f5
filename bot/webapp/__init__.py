"""The web side of Starling under ``/app``: dashboard, suggestion board, privacy and settings pages."""

from bot.webapp.app import WebApp

__all__ = ["WebApp"]
