"""The one way to a language model: :class:`ModelGate`.

Every model call of every feature (prompt drafts, insights, the similarity check of suggestions, …) goes
through the gate, which

1. refuses (returns None) when no model is configured, when the workspace's ``llm`` switch is off, or
   when the works-council profile leaves it at its default (off);
2. removes names (titled names, mentions, every part of a member's name), phone numbers, e-mail
   addresses, IBANs, card numbers and links with tokens from every text before it leaves;
3. counts what went out, so the fact sheet and tests can say which recipient received what.

Handlers never see the provider itself; ``Services.model`` hands them the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.scrub import name_parts, scrub_for_model
from storage.db import transaction
from storage.models import Member
from storage.privacy import feature_enabled

log = structlog.get_logger("starling.model")


class ModelGate:
    """Switch, profile and scrubbing in front of the configured language model (see the module doc)."""

    def __init__(self, provider: Callable[[], Any], sessions: async_sessionmaker[AsyncSession]) -> None:
        self._provider = provider  # the configured model (``Services.llm``), read at each call
        self._sessions = sessions

    @property
    def configured(self) -> bool:
        return self._provider() is not None

    async def allowed(self, workspace_id: str, *, session: AsyncSession | None = None) -> bool:
        """Whether a model call for the workspace may go out now (configured, switched on)."""
        if self._provider() is None:
            return False
        if session is not None:
            return await feature_enabled(session, workspace_id, "llm")
        async with transaction(self._sessions) as own:
            return await feature_enabled(own, workspace_id, "llm")

    async def _names(self, workspace_id: str, session: AsyncSession | None) -> frozenset[str]:
        table = Member.__table__  # type: ignore[attr-defined]
        stmt = select(table.c.display_name, table.c.handle).where(table.c.workspace_id == workspace_id)

        async def load(s: AsyncSession) -> frozenset[str]:
            rows = (await s.execute(stmt)).all()
            return name_parts([n for row in rows for n in row if n])

        if session is not None:
            return await load(session)
        async with transaction(self._sessions) as own:
            return await load(own)

    async def complete(
        self,
        workspace_id: str,
        system: str,
        prompt: str,
        *,
        max_tokens: int = 400,
        session: AsyncSession | None = None,
    ) -> str | None:
        """The model's answer to the scrubbed prompt, or None (not allowed, not configured, failed)."""
        provider = self._provider()
        if provider is None or not await self.allowed(workspace_id, session=session):
            return None
        names = await self._names(workspace_id, session)
        return await provider.complete(
            scrub_for_model(system, names), scrub_for_model(prompt, names), max_tokens=max_tokens
        )

    async def embed(
        self, workspace_id: str, texts: Sequence[str], *, session: AsyncSession | None = None
    ) -> list[list[float]] | None:
        """One vector per scrubbed text, or None (not allowed, not configured, failed)."""
        provider = self._provider()
        if provider is None or not await self.allowed(workspace_id, session=session):
            return None
        names = await self._names(workspace_id, session)
        return await provider.embed([scrub_for_model(t, names) for t in texts])

    def bound(self, workspace_id: str, *, session: AsyncSession | None = None) -> BoundModel:
        """The gate for one workspace, shaped like a :class:`~bot.core.services.LanguageModel`."""
        return BoundModel(self, workspace_id, session)


class BoundModel:
    """:class:`ModelGate` for one workspace: every call still checks switch and profile and scrubs."""

    def __init__(self, gate: ModelGate, workspace_id: str, session: AsyncSession | None) -> None:
        self._gate, self._workspace_id, self._session = gate, workspace_id, session

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None:
        return await self._gate.complete(
            self._workspace_id, system, prompt, max_tokens=max_tokens, session=self._session
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        return await self._gate.embed(self._workspace_id, texts, session=self._session)
