"""Proactive Teams messages from stored conversation references: the outbox sender for ``teams``,
private messages to one person (their 1:1 chat, created when needed) and the people directory."""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ErrorResponseException,
)
from msrest.exceptions import ClientRequestError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.messages import Message
from bot.core.services import PersonInfo
from bot.outbox import PermanentFailure, RetryLater
from bot.teams.auth import Connectors
from bot.teams.files import FileOffers
from bot.teams.render import ADAPTIVE_CARD, mention_ids_in, plain_text, render_card
from storage import teams as store
from storage.db import transaction
from storage.outbox import Sendable
from storage.teams import THREAD_MARK, TeamsConversation
from storage.types import utcnow

log = structlog.get_logger("starling.teams")

MAX_BACKOFF_SECONDS = 300.0


def message_activity(message: Message, names: Mapping[str, str], *, mentions: bool) -> Activity:
    """A message activity carrying the rendered Adaptive Card."""
    card = render_card(message, names, mentions=mentions)
    return Activity(
        type=ActivityTypes.message,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
        summary=plain_text(message, names)[:200] or None,
    )


def status_of(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    return int(status) if status is not None else None


def retry_after_seconds(err: BaseException) -> float | None:
    """The ``Retry-After`` header of a failed call, in seconds (delta or HTTP date)."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    raw = None
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            raw = str(value).strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int) -> float:
    return min(float(2 ** max(attempt, 1)), MAX_BACKOFF_SECONDS)


def classify(err: BaseException, attempt: int) -> Exception:
    """429/5xx/network → RetryLater (Retry-After honoured, else exponential back-off); other 4xx → permanent."""
    status = status_of(err)
    if isinstance(err, ClientRequestError) or status is None or status == 429 or status >= 500 or status == 401:
        wait = retry_after_seconds(err)
        reason = f"http_{status}" if status else "connection_error"
        return RetryLater(wait if wait is not None else backoff_seconds(attempt), reason)
    return PermanentFailure(f"Teams answered HTTP {status}: {err}")


class NoReference(PermanentFailure):
    """Starling has no stored conversation reference to reach this target."""


class TeamsSender:
    """Sends to Teams conversations found in the database (never in process memory)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Connectors,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.connectors = connectors
        self.files = FileOffers(sessions, clock)
        # Opening a 1:1 chat twice is harmless (Teams returns the same one) but wasteful: one at a time per person.
        self._opening: dict[tuple[str, str], asyncio.Lock] = {}

    # -- the outbox Sender protocol -----------------------------------------------------------------
    async def send(self, row: Sendable, message: Message) -> str | None:
        try:
            if row.target_kind == "dm":
                return await self.to_user(row.workspace_id, row.target_id, message, outbox_id=row.id)
            conversation = row.target_id
            if row.thread_id and THREAD_MARK not in conversation:
                conversation = f"{conversation}{THREAD_MARK}{row.thread_id}"
            if message.attachments:
                # Teams lets a bot send files only in a 1:1 chat: a post elsewhere goes without them.
                log.warning("teams_files_only_in_personal_chat", conversation=conversation)
            return await self.to_conversation(row.workspace_id, conversation, message, mentions=True)
        except (ErrorResponseException, ClientRequestError) as err:
            failure = classify(err, row.attempts)
            if isinstance(failure, PermanentFailure) and message.attachments and row.id is not None:
                await self.files.forget_message(row.id)
            raise failure from err
        except PermanentFailure:
            if message.attachments and row.id is not None:
                await self.files.forget_message(row.id)
            raise

    # -- sending ------------------------------------------------------------------------------------
    async def names(
        self, workspace_id: str, message: Message, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        ids = mention_ids_in(message)
        async with self.sessions() as session:
            found = await store.display_names(session, workspace_id=workspace_id, user_ids=ids)
        return {**(extra or {}), **found}

    async def to_conversation(
        self,
        workspace_id: str,
        conversation_id: str,
        message: Message,
        *,
        mentions: bool,
        names: Mapping[str, str] | None = None,
    ) -> str | None:
        async with self.sessions() as session:
            ref = await store.get_conversation(session, workspace_id=workspace_id, conversation_id=conversation_id)
        if ref is None or not ref.installed:
            raise NoReference(f"no Teams conversation reference for {conversation_id} in {workspace_id}")
        names = names if names is not None else await self.names(workspace_id, message)
        activity = self._addressed(message_activity(message, names, mentions=mentions), ref)
        client = await self.connectors.client(ref.service_url)
        result = await client.conversations.send_to_conversation(conversation_id, activity)
        return getattr(result, "id", None)

    async def to_user(
        self,
        workspace_id: str,
        user_id: str,
        message: Message,
        *,
        names: Mapping[str, str] | None = None,
        hint: TeamsConversation | None = None,
        outbox_id: int | None = None,
    ) -> str | None:
        """A private message in the person's 1:1 chat with Starling, created (and stored) when needed.

        Its files are offered in the same activity, one FileConsentCard each (see :mod:`bot.teams.files`):
        one post, so a retry never leaves the message without its files or offers a file twice.
        """
        names = names if names is not None else await self.names(workspace_id, message)
        ref = await self.personal_reference(workspace_id, user_id, hint=hint)
        activity = self._addressed(message_activity(message, names, mentions=False), ref)
        if message.attachments:
            description = plain_text(message, names)[:200]
            offers = await self.files.cards(
                workspace_id, user_id, message.attachments, outbox_id=outbox_id, description=description
            )
            activity.attachments = [*(activity.attachments or []), *offers]
        client = await self.connectors.client(ref.service_url)
        result = await client.conversations.send_to_conversation(ref.conversation_id, activity)
        return getattr(result, "id", None)

    async def personal_reference(
        self, workspace_id: str, user_id: str, *, hint: TeamsConversation | None = None
    ) -> TeamsConversation:
        lock = self._opening.setdefault((workspace_id, user_id), asyncio.Lock())
        async with lock:
            return await self._personal_reference(workspace_id, user_id, hint)

    async def _personal_reference(
        self, workspace_id: str, user_id: str, hint: TeamsConversation | None
    ) -> TeamsConversation:
        async with self.sessions() as session:
            ref = await store.personal_conversation(session, workspace_id=workspace_id, user_id=user_id)
            if ref is not None:
                return ref
            base = hint
            if base is None:
                recent = await store.recent_conversations(session, workspace_id=workspace_id, limit=1)
                base = recent[0] if recent else None
        if base is None:
            raise NoReference(f"no Teams conversation known in {workspace_id} to reach {user_id} from")
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=base.bot_id, name=base.bot_name or None),
            members=[ChannelAccount(id=user_id)],
            tenant_id=base.tenant_id or None,
            channel_data={"tenant": {"id": base.tenant_id}} if base.tenant_id else None,
        )
        client = await self.connectors.client(base.service_url)
        created = await client.conversations.create_conversation(params)
        async with transaction(self.sessions) as session:
            return await store.save_conversation(
                session,
                workspace_id=workspace_id,
                conversation_id=created.id,
                kind="personal",
                service_url=getattr(created, "service_url", None) or base.service_url,
                tenant_id=base.tenant_id,
                bot_id=base.bot_id,
                bot_name=base.bot_name,
                channel_id=base.channel_id,
                user_id=user_id,
                installed=True,
            )

    @staticmethod
    def _addressed(activity: Activity, ref: TeamsConversation) -> Activity:
        activity.from_property = ChannelAccount(id=ref.bot_id, name=ref.bot_name or None)
        activity.channel_id = ref.channel_id
        return activity


# -- the directory -----------------------------------------------------------------------------------


@dataclass
class TurnScope:
    """Where this turn may look people up: (serviceUrl, conversation or team id) pairs, best first."""

    workspace_id: str
    places: list[tuple[str, str]]
    found: dict[str, str | None] = field(default_factory=dict)  # user id → AAD object id


current_scope: contextvars.ContextVar[TurnScope | None] = contextvars.ContextVar("teams_scope", default=None)


def lookup_places(refs: list[TeamsConversation]) -> list[tuple[str, str]]:
    """A team's members are listed under the team id; a chat's under its conversation id."""
    places: list[tuple[str, str]] = []
    for ref in refs:
        where = ref.team_id if ref.kind == "channel" and ref.team_id else store.thread_root(ref.conversation_id)
        if ref.kind == "personal":
            continue
        if (ref.service_url, where) not in places:
            places.append((ref.service_url, where))
    return places


class TeamsDirectory:
    """Looks a Teams user up in the conversations of the current turn (a team roster or a chat)."""

    def __init__(self, connectors: Connectors) -> None:
        self.connectors = connectors

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None:
        scope = current_scope.get()
        if scope is None or scope.workspace_id != workspace_id:
            return None
        for service_url, where in scope.places:
            try:
                client = await self.connectors.client(service_url)
                member: Any = await client.conversations.get_conversation_member(where, user_id)
            except (ErrorResponseException, ClientRequestError) as err:
                if status_of(err) not in (400, 403, 404):
                    log.warning("teams_member_lookup_failed", where=where, error=str(err)[:200])
                continue
            if member is None:
                continue
            scope.found[user_id] = getattr(member, "aad_object_id", None)
            extra = getattr(member, "additional_properties", None) or {}
            return PersonInfo(
                user_id=user_id,
                display_name=str(getattr(member, "name", "") or ""),
                is_bot=user_id.startswith("28:"),
                is_guest=str(extra.get("userRole") or getattr(member, "user_role", "") or "").lower() == "guest",
            )
        return None
