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
from bot.slack.render import fallback_text, render_message
from storage.outbox import Sendable

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


LIST_PAGE = 200  # users.list page size (Slack recommends no more than 200)


class SlackDirectory:
    """Who a Slack user is, kept warm in memory: the whole list from ``users.list`` (paged, with the locale) at
    start and every ``refresh`` seconds, and every ``team_join``/``user_change`` event as it arrives
    (:meth:`update`). ``users.info`` is asked only about someone the list does not know (a newcomer whose event
    was missed, a guest from another organisation), and that answer is kept for ``ttl``.

    Only Slack's own facts live here, in memory; nobody becomes a member of Starling's database by being listed.
    A deactivated account is known as gone (``None``)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = LIST_PAGE,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self.page_size = page_size
        self._cache: dict[tuple[str, str], tuple[float, PersonInfo | None]] = {}
        # user id → what the list (or a later event) says; None: the account is deactivated
        self._listed: dict[str, PersonInfo | None] = {}
        self.listed_at: float | None = None  # when the last complete users.list was read
        self._changed_while_listing: set[str] = set()

    def known(self, workspace_id: str, user_id: str) -> tuple[bool, PersonInfo | None]:
        """``(True, person)`` when the answer is in memory (``person`` None: gone), else ``(False, None)``."""
        if user_id in self._listed:
            return True, self._listed[user_id]
        hit = self._cache.get((workspace_id, user_id))
        if hit is not None and hit[0] > self.clock():
            return True, hit[1]
        return False, None

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None:
        """The person, or None when Slack does not know them (or they were deactivated)."""
        found, info = self.known(workspace_id, user_id)
        if found:
            return info
        key = (workspace_id, user_id)
        now = self.clock()
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

    async def warm_up(self) -> int:
        """Read the whole ``users.list`` (paged) and keep it; returns how many accounts it holds. On a failure
        half-way the list read before stays (a partial list would turn people into strangers)."""
        listed: dict[str, PersonInfo | None] = {}
        cursor: str | None = None
        self._changed_while_listing = set()
        while True:
            try:
                resp = await self.client.users_list(limit=self.page_size, cursor=cursor, include_locale=True)
            except SlackApiError as err:
                record_error("users.list", api_error(err))
                raise
            for user in resp.get("members") or []:
                if isinstance(user, dict) and user.get("id"):
                    listed[str(user["id"])] = person_info(user)
            cursor = ((resp.get("response_metadata") or {}).get("next_cursor") or "").strip() or None
            if cursor is None:
                break
        # Events that arrived while the pages were read are newer than the list: they win.
        self._listed = {
            **listed,
            **{uid: self._listed[uid] for uid in self._changed_while_listing if uid in self._listed},
        }
        self.listed_at = self.clock()
        self._cache.clear()
        return len(listed)

    def update(self, user: dict[str, Any]) -> PersonInfo | None:
        """A ``team_join`` or ``user_change`` event's user object, remembered at once (None: deactivated).

        Events carry no ``locale`` (Slack adds it only when asked, ``include_locale``): the one known from the
        list is kept, and someone the directory never saw is left to ``users.info``, which tells it."""
        uid = str(user["id"])
        info = person_info(user)
        before = self._listed.get(uid)
        for key in [k for k in self._cache if k[1] == uid]:
            del self._cache[key]
        if info is not None and "locale" not in user:
            if before is None:
                self._listed.pop(uid, None)
                self._changed_while_listing.discard(uid)
                return info
            info.locale = before.locale
        self._listed[uid] = info
        self._changed_while_listing.add(uid)
        return info

    async def keep_warm(self, every: float) -> None:
        """:meth:`warm_up` now and then every ``every`` seconds, until cancelled; a failure is logged and
        tried again after a minute (meanwhile ``users.info`` answers for the people the list lacks)."""
        while True:
            try:
                count = await self.warm_up()
                log.info("slack_directory_listed", accounts=count)
                wait = every
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("slack_directory_list_failed", error=repr(err)[:200])
                wait = min(every, 60.0)
            await asyncio.sleep(wait)

    def forget(self, workspace_id: str, user_id: str) -> None:
        self._cache.pop((workspace_id, user_id), None)
        self._listed.pop(user_id, None)


METADATA_TYPE = "starling_outbox"
HISTORY_PAGE = 200  # messages per conversations.history page when looking for a post that may have arrived
HISTORY_PAGES = 3


def outbox_metadata(row: Sendable, message: Message) -> dict[str, Any]:
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
        handle=_text(user.get("name")),
        is_bot=bool(user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT"),
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        locale=_text(user.get("locale")),
        timezone=_text(user.get("tz")),
    )


def _text(value: Any) -> str | None:
    """A directory fact that must be text: anything else (a malformed or hostile payload) counts as not given."""
    return value if isinstance(value, str) else None


class ConnectionPool:
    """One HTTP connection pool for a client's calls, opened on first use in the running event loop (slack_sdk
    would otherwise open a session, a connector and a TCP connection for every call)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def use(self) -> None:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout), trust_env=self.client.trust_env_in_session
            )
            self._loop = loop
            self.client.session = self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        self.client.session = None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class SlackSender:
    """Delivers outbox rows for platform ``slack``: channel posts and DMs; returns the message ts.

    Its calls share one HTTP connection pool (opened on the first send, in the running event loop;
    :meth:`close` closes it): a fan-out to many channels does not open a connection per message.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._dm_channels: dict[str, str] = {}
        self.pool = ConnectionPool(client)

    def _use_pool(self) -> None:
        self.pool.use()

    async def close(self) -> None:
        await self.pool.close()

    async def send(self, row: Sendable, message: Message) -> str | None:
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
                    initial_comment=fallback_text(message).strip() or None,  # mrkdwn: values escaped
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

    async def delivered(self, row: Sendable) -> str | None:
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
