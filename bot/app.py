"""Wiring: settings → storage → router → services → inbox and outbox. No feature code here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import Message
from bot.core.metrics import count_event
from bot.core.router import Done, Router
from bot.core.services import Directory, LanguageModel, Services
from bot.inbox import Inbox
from bot.llm import build_llm
from bot.outbox import OutboxWorker, Sender
from bot.settings import Settings
from handlers import register_all
from storage.db import create_engine_for, migrate, session_factory
from storage.types import utcnow


class Starling:
    """One Starling process: its database, router, services, inbox and outbox worker."""

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
        # Acknowledged platform events until they are handled (adapters add their handlers: ``inbox.handlers``).
        self.inbox = Inbox(
            self.sessions,
            database_url=settings.database_url,
            clock=clock,
            concurrency=settings.slack_event_concurrency,
            batch=settings.inbox_batch,
            synchronous_commit=settings.inbox_synchronous_commit,
            lease_seconds=settings.inbox_lease_seconds,
            drain_seconds=settings.inbox_drain_seconds,
        )

    async def dispatch(self, event: Event, *, done: Done | None = None) -> list[Message]:
        """Route one event; ``done(session)`` is written in the transaction that records it (see Router.dispatch)."""
        count_event(event.actor.platform.value, type(event))
        return await self.router.dispatch(event, self.services, done=done)

    def attach(self, platform: str, *, sender: Sender | None, directory: Directory | None = None) -> None:
        """Connect a platform: the outbox delivers its messages through ``sender`` and the router asks
        ``directory`` about its people. Called by whoever builds the platform's adapter."""
        if sender is not None:
            self.outbox.senders[platform] = sender
        if directory is not None:
            self.services.directories[platform] = directory

    async def close(self) -> None:
        await self.inbox.close()
        await self.outbox.close_senders()
        close_llm = getattr(self.services.llm, "close", None)
        if close_llm is not None:
            await close_llm()
        await self.engine.dispose()
