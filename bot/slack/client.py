"""Slack Web API clients, the user directory and the outbox sender."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Message
from bot.core.metrics import PLATFORM_ERRORS
from bot.core.services import PersonInfo
from bot.outbox import PermanentFailure, RetryLater
from bot.slack.render import render_message
from storage.models import OutboxMessage

log = structlog.get_logger("starling.slack")

#: Errors after which a message can never be delivered: dead-letter at once.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_not_found",
        "user_not_visible",
        "user_disabled",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "restricted_action",
        "restricted_action_read_only_channel",
        "ekm_access_denied",
    }
)


class ProportionalJitter(Jitter):
    """Up to +100% of the delay (slack_sdk's default adds up to a whole second whatever the delay)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1.0 + random.random())


def make_client(
    token: str | None, base_url: str, *, retry_rate_limits: bool = True, backoff: float = 0.5
) -> AsyncWebClient:
    """An AsyncWebClient that retries transient 5xx and connection errors, and 429s after ``Retry-After``.

    The outbox client leaves 429s to the outbox (``retry_rate_limits=False``), which reschedules the
    message instead of holding a worker while it waits.
    """
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=ProportionalJitter())
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
    ]
    if retry_rate_limits:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers, timeout=15)


def api_error(err: SlackApiError) -> str:
    data = err.response.data if isinstance(err.response.data, dict) else {}
    return str(data.get("error") or f"http_{err.response.status_code}")


def record_error(method: str, error: str) -> None:
    PLATFORM_ERRORS.labels("slack", method, error).inc()


def retry_after(err: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (HTTP 429 ``Retry-After``), or None if it was not a rate limit."""
    if err.response.status_code != 429 and api_error(err) != "ratelimited":
        return None
    for key, value in (err.response.headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return 30.0


class SlackDirectory:
    """Who a Slack user is, from ``users.info`` (with ``include_locale``), cached in memory for ``ttl``."""

    def __init__(
        self, client: AsyncWebClient, *, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, PersonInfo | None]] = {}

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None:
        """The person, or None when Slack does not know them (or they were deactivated)."""
        key = (workspace_id, user_id)
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            resp = await self.client.users_info(user=user_id, include_locale=True)
        except SlackApiError as err:
            error = api_error(err)
            record_error("users.info", error)
            if error in ("user_not_found", "user_not_visible"):
                self._cache[key] = (now + min(self.ttl, 60.0), None)
                return None
            raise
        info = person_info(resp["user"])
        self._cache[key] = (now + self.ttl, info)
        return info

    def forget(self, workspace_id: str, user_id: str) -> None:
        self._cache.pop((workspace_id, user_id), None)


METADATA_TYPE = "starling_outbox"
HISTORY_PAGE = 200  # messages per conversations.history page when looking for a post that may have arrived
HISTORY_PAGES = 3


def outbox_metadata(row: OutboxMessage, message: Message) -> dict[str, Any]:
    """Slack message metadata naming the outbox rows a post delivers (one, or several folded into it)."""
    return {"event_type": METADATA_TYPE, "event_payload": {"outbox_ids": message.delivers or [row.id]}}


def person_info(user: dict[str, Any]) -> PersonInfo | None:
    if user.get("deleted"):
        return None
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name") or ""
    return PersonInfo(
        user_id=str(user["id"]),
        display_name=str(name),
        handle=user.get("name"),
        is_bot=bool(user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT"),
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        locale=user.get("locale"),
        timezone=user.get("tz"),
    )


class SlackSender:
    """Delivers outbox rows for platform ``slack``: channel posts and DMs; returns the message ts.

    Its calls share one HTTP connection pool (opened on the first send, in the running event loop;
    :meth:`close` closes it): a fan-out to many channels does not open a connection per message.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._dm_channels: dict[str, str] = {}
        self._pool: aiohttp.ClientSession | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None

    def _use_pool(self) -> None:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.closed or self._pool_loop is not loop:
            self._pool = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout), trust_env=self.client.trust_env_in_session
            )
            self._pool_loop = loop
            self.client.session = self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        self.client.session = None
        if pool is not None and not pool.closed and self._pool_loop is asyncio.get_running_loop():
            await pool.close()

    async def send(self, row: OutboxMessage, message: Message) -> str | None:
        method = "chat.postMessage"
        self._use_pool()
        try:
            if row.target_kind == "dm":
                method = "conversations.open"
                channel = await self._dm_channel(row.target_id)
                method = "chat.postMessage"
            else:
                channel = row.target_id
            if message.attachments:
                # A file (a data export) goes as one upload with the message as its comment: one effect,
                # so a retry never leaves a post without its file or a file twice.
                method = "files.uploadV2"
                uploads = [
                    {"content": a.content(), "filename": a.filename, "title": a.filename} for a in message.attachments
                ]
                done = await self.client.files_upload_v2(
                    channel=channel,
                    file_uploads=uploads,
                    initial_comment=message.fallback() or None,
                    thread_ts=row.thread_id,
                )
                files = done.get("files") or [{}]
                return str(files[0].get("id") or "") or None
            kwargs: dict[str, Any] = render_message(message)
            if row.thread_id:
                kwargs["thread_ts"] = row.thread_id
            resp = await self.client.chat_postMessage(channel=channel, metadata=outbox_metadata(row, message), **kwargs)
        except SlackApiError as err:
            error = api_error(err)
            record_error(method, error)
            wait = retry_after(err)
            if wait is not None:
                raise RetryLater(wait, "ratelimited") from err
            if error in PERMANENT_ERRORS:
                raise PermanentFailure(f"{method}: {error}") from err
            raise
        return str(resp.get("ts") or "") or None

    async def delivered(self, row: OutboxMessage) -> str | None:
        """The ts of ``row``'s post if Slack already has it, else None.

        Asked before a post whose lease ran out is sent again (its sender may have died after Slack
        accepted it and before the "sent" record): every post carries its outbox row in its message
        metadata, looked up among the conversation's (or thread's) latest messages."""
        if row.id is None or row.target_kind not in ("channel", "dm"):
            return None
        try:
            channel = await self._dm_channel(row.target_id) if row.target_kind == "dm" else row.target_id
            cursor: str | None = None
            for _page in range(HISTORY_PAGES):
                args: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": HISTORY_PAGE}
                if cursor:
                    args["cursor"] = cursor
                if row.thread_id:
                    resp = await self.client.conversations_replies(ts=row.thread_id, **args)
                else:
                    resp = await self.client.conversations_history(**args)
                for found in resp.get("messages") or []:
                    meta = found.get("metadata") or {}
                    ids = (meta.get("event_payload") or {}).get("outbox_ids") or []
                    if meta.get("event_type") == METADATA_TYPE and row.id in ids:
                        return str(found.get("ts") or "") or "?"
                cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
                if not resp.get("has_more") or not cursor:
                    break
        except SlackApiError as err:
            error = api_error(err)
            record_error("conversations.history", error)
            wait = retry_after(err)
            if wait is not None:
                raise RetryLater(wait, "ratelimited") from err
            log.warning("slack_delivery_check_failed", outbox_id=row.id, error=error)  # sent again: at least once
        return None

    async def _dm_channel(self, user_id: str) -> str:
        cached = self._dm_channels.get(user_id)
        if cached:
            return cached
        resp = await self.client.conversations_open(users=user_id)
        channel = str(resp["channel"]["id"])
        self._dm_channels[user_id] = channel
        return channel
