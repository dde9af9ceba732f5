"""Wiring: settings → storage → router → services → outbox. No feature code here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import Message
from bot.core.metrics import count_event
from bot.core.router import Router
from bot.core.services import Directory, LanguageModel, Services
from bot.llm import build_llm
from bot.outbox import OutboxWorker, Sender
from bot.settings import Settings
from handlers import register_all
from storage.db import create_engine_for, migrate, session_factory
from storage.types import utcnow


class Starling:
    """One Starling process: its database, router, services and outbox worker."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        llm: LanguageModel | None = None,
        run_migrations: bool = True,
    ) -> None:
        self.settings = settings
        if run_migrations:
            migrate(settings.database_url)
        self.engine = create_engine_for(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.router = register_all(Router())
        self.services = Services(
            settings=settings, sessions=self.sessions, clock=clock, llm=llm if llm is not None else build_llm(settings)
        )
        self.outbox = OutboxWorker(self.services, settings)
        self.services.on_outbox = self.outbox.wake

    async def dispatch(self, event: Event) -> list[Message]:
        count_event(event.actor.platform.value, type(event))
        return await self.router.dispatch(event, self.services)

    def attach(self, platform: str, *, sender: Sender | None, directory: Directory | None = None) -> None:
        """Connect a platform: the outbox delivers its messages through ``sender`` and the router asks
        ``directory`` about its people. Called by whoever builds the platform's adapter."""
        if sender is not None:
            self.outbox.senders[platform] = sender
        if directory is not None:
            self.services.directories[platform] = directory

    async def close(self) -> None:
        await self.outbox.close_senders()
        close_llm = getattr(self.services.llm, "close", None)
        if close_llm is not None:
            await close_llm()
        await self.engine.dispose()
