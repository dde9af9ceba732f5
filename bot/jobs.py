"""Scheduled jobs, platform-neutral: what a feature's ``@router.schedule`` function receives.

A scheduled function runs on every scheduler tick (once a minute) with a :class:`JobContext`. It
decides what is due in each workspace's or channel's own time zone, *claims* each post by
(workspace, channel, kind, period) and queues the message in the same transaction, so a post goes
out once even with several schedulers, restarts and retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator_for
from bot.messages import Message, Target
from storage import core
from storage.models import OutboxMessage, ScheduledClaim, Workspace

log = structlog.get_logger("starling.jobs")


@dataclass
class JobContext:
    services: object  # bot.router.Services (kept loose to avoid an import cycle)
    session: AsyncSession
    now: datetime
    worker: str = "scheduler"
    queued: int = field(default=0)

    async def claim(self, *, workspace_id: str, channel_id: str, kind: str, period: str) -> bool:
        """True if this run may post; False if another run (or an earlier one) already claimed it."""
        return await core.insert_ignore(
            self.session,
            ScheduledClaim,
            {
                "workspace_id": workspace_id,
                "channel_id": channel_id,
                "kind": kind,
                "period": period,
                "claimed_at": self.now,
                "claimed_by": self.worker,
            },
            ["workspace_id", "channel_id", "kind", "period"],
        )

    async def post(
        self,
        workspace: Workspace,
        channel_id: str,
        message: Message,
        *,
        kind: str,
        dedupe_key: str | None = None,
        dm: bool = False,
        thread_id: str | None = None,
    ) -> None:
        """Queue a channel post (or a DM when ``dm``) in this job's transaction."""
        target = Target(
            kind="dm" if dm else "channel", channel_id=None if dm else channel_id, user_id=channel_id if dm else None
        )
        message = message.model_copy(update={"target": target})
        await core.enqueue(
            self.session,
            OutboxMessage(
                workspace_id=workspace.id,
                platform=workspace.platform,
                target_kind=target.kind,
                target_id=channel_id,
                thread_id=thread_id,
                payload=message.model_dump(mode="json"),
                cause=kind,
                dedupe_key=dedupe_key,
                next_attempt_at=self.now,
                created_at=self.now,
            ),
        )
        self.queued += 1

    def translator(self, workspace: Workspace, locale: str | None = None) -> Translator:
        return translator_for(locale, workspace.locale, tone=workspace.tone)


ScheduledFn = Callable[[JobContext], Awaitable[None]]
