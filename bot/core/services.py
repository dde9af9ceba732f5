"""The services the platform layer hands to features: nothing platform-specific.

A feature asks for a person through a :class:`Directory`, for text through a :class:`LanguageModel` (the one
gate in front of every model call), and for the time through the clock. Process settings reach it through
:class:`ProcessSettings`, the read-only part of ``bot.settings.Settings`` that features may use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.model import ModelGate
from storage.outbox import Lane
from storage.types import utcnow


class ProcessSettings(Protocol):
    """What features may read of the process configuration."""

    @property
    def environment(self) -> str: ...
    @property
    def database_url(self) -> str: ...
    @property
    def default_locale(self) -> str: ...
    @property
    def default_timezone(self) -> str: ...
    @property
    def scheduler_grace_hours(self) -> float: ...
    @property
    def database_outage_seconds(self) -> float: ...
    @property
    def openai_api_key(self) -> str | None: ...
    @property
    def openai_base_url(self) -> str | None: ...
    @property
    def slack_enabled(self) -> bool: ...
    @property
    def teams_enabled(self) -> bool: ...


@dataclass
class PersonInfo:
    """What a platform's user directory tells us about a person."""

    user_id: str
    display_name: str
    is_bot: bool = False
    is_admin: bool = False
    is_guest: bool = False
    locale: str | None = None
    timezone: str | None = None
    department: str | None = None
    handle: str | None = None


class Directory(Protocol):
    """A platform's user directory. One that keeps its people in memory also offers
    ``known(workspace_id, user_id) -> (found, person)``, answered without a network call (see ``Context.person``)."""

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None: ...


class LanguageModel(Protocol):
    async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None: ...


@dataclass
class Services:
    """What the platform layer hands to handlers: nothing platform-specific."""

    settings: ProcessSettings
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = utcnow
    directories: dict[str, Directory] = field(default_factory=dict)
    #: The configured model provider. Features never call it: they use :attr:`model`, the one gate.
    llm: LanguageModel | None = None
    #: Wakes the outbox worker after a commit, with the conversations written to (None: any of them).
    on_outbox: Callable[[frozenset[Lane] | None], None] | None = None
    directory_ttl: timedelta = timedelta(hours=12)

    @property
    def model(self) -> ModelGate:
        """The language model as features may use it: switch, profile and scrubbing checked on every call."""
        return ModelGate(lambda: self.llm, self.sessions)
