"""Wiring: settings → storage → router → services → outbox. No feature code here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import Message
from bot.core.metrics import count_event
from bot.core.router import Router
from bot.core.services import LanguageModel, Services
from bot.llm import build_llm
from bot.outbox import OutboxWorker
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

    def install_senders(self) -> list[str]:
        """A sender for every configured platform, for a process without the web server (``starling scheduler``).

        Each platform's adapter gives the outbox its sender (and the router its user directory) when built;
        the SDKs are imported only for the platforms that are configured.
        """
        if self.settings.slack_enabled and "slack" not in self.outbox.senders:
            from bot.slack.adapter import SlackAdapter

            SlackAdapter(self)
        if self.settings.teams_enabled and "teams" not in self.outbox.senders:
            from bot.teams.adapter import TeamsAdapter

            TeamsAdapter(self)
        return sorted(self.outbox.senders)

    async def close(self) -> None:
        await self.outbox.close_senders()
        close_llm = getattr(self.services.llm, "close", None)
        if close_llm is not None:
            await close_llm()
        await self.engine.dispose()
