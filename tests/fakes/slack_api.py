"""Fake Slack Web API server, plus the recording HTTP-server base shared by all fakes.

The base class (:class:`FakeHTTPServer`) and the request log entry (:class:`Recorded`) live here so the
other fakes can import them from one place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import json
import logging
import math
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from urllib.parse import parse_qsl, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

log = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

#: What ``calls``/``wait_for``/``fail_next`` accept to select requests: an HTTP method ("POST"), a path
#: ("/api/chat.postMessage", fnmatch globs allowed), "METHOD /path", an operation name
#: ("chat.postMessage", "reply_to_activity", "chat.completions") or a predicate on :class:`Recorded`.
Selector = str | Callable[["Recorded"], bool]

Handler = Callable[["Recorded", web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    """One HTTP request received by a fake server, and how it was answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    time: float
    query: dict[str, str] = field(default_factory=dict)
    op: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    rejected: bool = False

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a request header, matched case-insensitively."""
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return default

    @property
    def bearer(self) -> str | None:
        """The bearer token from the ``Authorization`` header, or None if none was sent."""
        auth = self.header("Authorization")
        if auth and auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    @property
    def params(self) -> dict[str, Any]:
        """Query-string parameters merged with the parsed body (when the body is an object)."""
        merged: dict[str, Any] = dict(self.query)
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged

    @property
    def done(self) -> bool:
        """True once the fake has answered this request."""
        return self.status is not None

    @property
    def accepted(self) -> bool:
        """True if answered with a 2xx status and not rejected by fault injection or rate limiting."""
        return self.status is not None and 200 <= self.status < 300 and not self.rejected

    def matches(self, selector: Selector | None) -> bool:
        """Whether this request is selected by ``selector`` (see :data:`Selector`)."""
        if selector is None:
            return True
        if callable(selector):
            return bool(selector(self))
        if " " in selector:
            method, _, path = selector.partition(" ")
            return self.method == method.upper() and self._path_matches(path.strip())
        if selector.upper() in HTTP_METHODS and selector.isalpha():
            return self.method == selector.upper()
        if selector.startswith("/"):
            return self._path_matches(selector)
        return self.op == selector

    def _path_matches(self, pattern: str) -> bool:
        return self.path == pattern or fnmatch.fnmatchcase(self.path, pattern)

    def summary(self) -> str:
        """One line describing the request and its answer."""
        status = "pending" if self.status is None else str(self.status)
        flag = " rejected" if self.rejected else ""
        op = f" [{self.op}]" if self.op and self.op != self.path else ""
        return f"{self.method} {self.path}{op} -> {status}{flag}"


@dataclass
class _Fault:
    selector: Selector
    status: int
    times: int
    retry_after: float | None
    body: Any


@dataclass
class _Delay:
    selector: Selector | None
    seconds: float
    times: int


@dataclass
class _Route:
    methods: frozenset[str] | None
    pattern: re.Pattern[str]
    op: str
    handler: Handler


class FakeHTTPServer:
    """Base class: an aiohttp server on 127.0.0.1 (port 0) that records every request it gets.

    Subclasses register routes with :meth:`_add_route` and answer through :meth:`_respond`.
    """

    #: Human-readable name used in assertion messages.
    name = "fake server"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        #: Tracebacks of handler crashes (answered with HTTP 500); should stay empty.
        self.errors: list[str] = []
        #: Requests being answered right now, and the most there ever were at once.
        self.open_now = 0
        self.max_open = 0
        self._routes: list[_Route] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to 127.0.0.1 on a free port and start serving."""
        if self._runner is not None:
            raise RuntimeError(f"{self.name} already started")
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        """Stop serving; pending delayed answers are released at once."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server is bound to."""
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    # -- log access -----------------------------------------------------------------------------------

    def calls(self, path_or_method: Selector | None = None) -> list[Recorded]:
        """Recorded requests (answered or still pending) selected by ``path_or_method``."""
        return [rec for rec in self.requests if rec.matches(path_or_method)]

    async def wait_for(
        self,
        predicate_or_method: Selector | None = None,
        count: int = 1,
        timeout: float = 5.0,
        *,
        include_pending: bool = False,
    ) -> list[Recorded]:
        """Wait until at least ``count`` answered requests match; return all that match.

        Raises AssertionError with the request log on timeout. With ``include_pending`` requests
        still being answered (e.g. delayed ones) count too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            matched = [
                rec for rec in self.requests if (include_pending or rec.done) and rec.matches(predicate_or_method)
            ]
            if len(matched) >= count:
                return matched
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = getattr(predicate_or_method, "__name__", repr(predicate_or_method))
                raise AssertionError(
                    f"{self.name}: timed out after {timeout}s waiting for {count} request(s) matching "
                    f"{what}; got {len(matched)}.\n{self.summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def summary(self, last: int = 50) -> str:
        """The request log as text, one request per line (the last ``last`` requests)."""
        if not self.requests:
            return "  (no requests received)"
        shown = self.requests[-last:]
        skipped = len(self.requests) - len(shown)
        lines = [f"  ... {skipped} earlier request(s)"] if skipped else []
        lines += [f"  #{i} {rec.summary()}" for i, rec in enumerate(shown, start=skipped)]
        if self.errors:
            lines.append(f"  {len(self.errors)} handler error(s), last: {self.errors[-1].splitlines()[-1]}")
        return "\n".join(lines)

    def reset(self) -> None:
        """Forget the request log, errors and queued faults/delays (seeded data is kept)."""
        self.requests.clear()
        self.errors.clear()
        self.max_open = self.open_now
        self._faults.clear()
        self._delays.clear()

    # -- fault injection ------------------------------------------------------------------------------

    def fail_next(
        self,
        method_or_path: Selector,
        status: int = 429,
        times: int = 1,
        retry_after: float | None = 1,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        A 429 carries ``Retry-After: <retry_after>``. ``body`` (dict → JSON, str/bytes → raw) replaces
        the fake's default error body for that status.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        self._faults.append(_Fault(method_or_path, status, times, retry_after, body))

    def delay_next(self, seconds: float, method_or_path: Selector | None = None, times: int = 1) -> None:
        """Hold the answer to the next ``times`` matching requests for ``seconds`` (server side)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._delays.append(_Delay(method_or_path, seconds, times))

    # -- hooks for subclasses -------------------------------------------------------------------------

    def _add_route(self, methods: str | None, pattern: str, op: str, handler: Handler) -> None:
        """Register ``handler`` for raw paths matching ``pattern``; ``op`` may use ``{group}`` names."""
        allowed = frozenset(methods.split()) if methods else None
        self._routes.append(_Route(allowed, re.compile(pattern), op, handler))

    def _fault_body(self, status: int) -> Any:
        """Default body for an injected failure with ``status``."""
        return {"error": f"injected failure {status}"}

    async def _not_found(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        return self._respond(rec, {"error": f"no such endpoint: {rec.method} {rec.path}"}, status=404)

    def _respond(
        self,
        rec: Recorded,
        data: Any,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """Answer with ``data`` as JSON (or raw text/bytes) and remember it on ``rec``."""
        rec.response = data
        if data is None:
            return web.Response(status=status, headers=headers)
        if isinstance(data, bytes):
            return web.Response(status=status, body=data, headers=headers)
        if isinstance(data, str):
            return web.Response(status=status, text=data, headers=headers)
        return web.json_response(data, status=status, headers=headers)

    async def _sleep(self, seconds: float) -> None:
        """Sleep inside a handler, cut short when the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- internals ------------------------------------------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _take(self, queue: list[Any], rec: Recorded) -> Any:
        for item in queue:
            if rec.matches(item.selector):
                item.times -= 1
                if item.times <= 0:
                    queue.remove(item)
                return item
        return None

    def _match_route(self, method: str, raw_path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            m = route.pattern.match(raw_path)
            if m and (route.methods is None or method in route.methods):
                groups = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                return route, groups
        return None, {}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        raw_path = request.raw_path.split("?", 1)[0]
        rec = Recorded(
            method=request.method,
            path=unquote(raw_path),
            headers=dict(request.headers.items()),
            body=body,
            json=_parse_body(request.content_type, body),
            time=time.time(),
            query=dict(request.query.items()),
        )
        route, groups = self._match_route(request.method, raw_path)
        rec.path_params = groups
        rec.op = route.op.format(**groups) if route else ""
        self.requests.append(rec)
        self._notify()
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            fault = self._take(self._faults, rec)
            if fault is not None:
                response: web.StreamResponse = self._fault_response(rec, fault)
            else:
                delay = self._take(self._delays, rec)
                if delay is not None:
                    await self._sleep(delay.seconds)
                handler = route.handler if route else self._not_found
                response = await handler(rec, request)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test to see
            log.exception("%s handler crashed on %s", self.name, rec.summary())
            self.errors.append(f"{rec.summary()}: {exc!r}")
            response = self._respond(rec, {"error": f"fake server error: {exc!r}"}, status=500)
        finally:
            self.open_now -= 1
        rec.status = response.status
        self._notify()
        return response

    def _fault_response(self, rec: Recorded, fault: _Fault) -> web.Response:
        rec.rejected = True
        headers: dict[str, str] = {}
        if fault.status == 429 and fault.retry_after is not None:
            headers["Retry-After"] = _format_seconds(fault.retry_after)
        body = fault.body if fault.body is not None else self._fault_body(fault.status)
        return self._respond(rec, body, status=fault.status, headers=headers)


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _parse_body(content_type: str, body: bytes) -> Any:
    """Parse a JSON or form-encoded body; None for empty or other bodies."""
    if not body:
        return None
    if content_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
    if content_type == "application/json" or content_type.endswith("+json") or body[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


# ==================================================================================================
# Slack
# ==================================================================================================

#: Fields slack_sdk may send as JSON strings (always in form bodies); decoded in payload helpers.
_SLACK_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata", "unfurls", "user_auth_blocks")
_TS_BASE = 1_700_000_000

SlackMethod = Callable[[Recorded, dict[str, Any]], dict[str, Any] | web.Response]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class FakeSlackAPI(FakeHTTPServer):
    """Fake Slack Web API: ``POST|GET /api/<method>``, as slack_sdk's AsyncWebClient calls it.

    Point the client at :attr:`api_url` (``AsyncWebClient(base_url=fake.url + "/api/")``). Tokens are
    checked like Slack does (HTTP 200 with ``{"ok": false, "error": "invalid_auth"}``). Messages,
    views and uploads are kept so tests can inspect them with :meth:`posts`, :meth:`dms`, etc.
    Lenient on purpose: any channel id is accepted and ``chat.update``/``views.update`` accept ids
    this fake never issued (e.g. ones taken from fixture payloads).
    """

    name = "FakeSlackAPI"

    def __init__(
        self,
        tokens: Iterable[str] = ("xoxb-test-token",),
        *,
        team_id: str = "T1",
        team_name: str = "Starling Test",
        team_domain: str = "starling-test",
        bot_user_id: str = "UBOT1",
        bot_id: str = "BBOT1",
        bot_name: str = "starling",
        app_id: str = "AAPP1",
    ) -> None:
        super().__init__()
        self.tokens: set[str] = set(tokens)
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._counter = 0
        self._ts_counter = 0
        self._channel_rate: float | None = None
        self._last_post: dict[str, float] = {}
        self._opened_dms: dict[str, str] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, dict[str, Any]] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self._methods: dict[str, SlackMethod] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "reactions.get": self._reactions_get,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
        }
        self._no_auth = {"api.test"}
        self._add_route(None, r"^/api/(?P<api_method>[^/]+)/?$", "{api_method}", self._handle_api)
        self._add_route("POST PUT", r"^/upload/v1/(?P<file_id>[^/]+)$", "upload", self._handle_upload)

    @property
    def api_url(self) -> str:
        """Base URL for slack_sdk clients: ``<url>/api/``."""
        return self.url + "/api/"

    # -- seeding --------------------------------------------------------------------------------------

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        tz: str = "Europe/Berlin",
        locale: str = "de-DE",
        is_bot: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
        team_id: str = "T1",
        *,
        email: str | None = None,
        display_name: str | None = None,
        deleted: bool = False,
    ) -> dict[str, Any]:
        """Seed a user for ``users.info``; returns the (mutable) Slack user object."""
        real = real_name or name
        first, _, last = real.partition(" ")
        user: dict[str, Any] = {
            "id": id,
            "team_id": team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": _tz_label(tz),
            "tz_offset": _tz_offset(tz),
            "profile": {
                "title": "",
                "phone": "",
                "skype": "",
                "real_name": real,
                "real_name_normalized": real,
                "display_name": display_name if display_name is not None else name,
                "display_name_normalized": display_name if display_name is not None else name,
                "first_name": first,
                "last_name": last,
                "email": email if email is not None else f"{name}@example.com",
                "status_text": "",
                "status_emoji": "",
                "image_72": f"https://avatars.example.com/{id}_72.png",
                "team": team_id,
            },
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _TS_BASE,
            "is_email_confirmed": True,
            "who_can_share_contact_card": "EVERYONE",
            "locale": locale,
        }
        self.users[id] = user
        return user

    def add_channel(self, id: str, name: str, *, is_private: bool = False, is_archived: bool = False) -> dict[str, Any]:
        """Seed a channel for ``conversations.info`` (unknown ids get a synthesised channel)."""
        channel = self._channel_object(id, name=name, is_private=is_private, is_archived=is_archived)
        self.channels[id] = channel
        return channel

    def add_reaction(self, channel: str, ts: str, name: str, user: str) -> None:
        """Seed a reaction on a message (for ``reactions.get``)."""
        message = self._messages.setdefault((channel, ts), {"type": "message", "ts": ts, "text": ""})
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if user not in reaction["users"]:
                    reaction["users"].append(user)
                    reaction["count"] = len(reaction["users"])
                return
        reactions.append({"name": name, "users": [user], "count": 1})

    def enforce_channel_rate(self, per_seconds: float | None = 1.0) -> None:
        """Emulate Slack's ~1 message/second/channel limit for ``chat.postMessage`` (None turns it off).

        A post to a channel within ``per_seconds`` of the last accepted one gets HTTP 429 with
        ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``, and is recorded as rejected.
        """
        self._channel_rate = per_seconds
        self._last_post.clear()

    def reset(self) -> None:
        """Forget requests, faults, messages, views and uploads; users, channels and tokens stay."""
        super().reset()
        self._last_post.clear()
        self._opened_dms.clear()
        self._messages.clear()
        self._views.clear()
        self._home_views.clear()
        self._uploads.clear()

    # -- inspection helpers ---------------------------------------------------------------------------

    @staticmethod
    def dm_channel_id(user_id: str) -> str:
        """The DM channel id this fake uses for ``user_id`` (``"D" + user_id``)."""
        return "D" + user_id

    def payload(self, rec: Recorded) -> dict[str, Any]:
        """The Slack arguments of a recorded call: query + body, JSON-string fields decoded, no token."""
        args = rec.params
        args.pop("token", None)
        for key in _SLACK_JSON_FIELDS:
            value = args.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(value)
        return args

    def ok_calls(self, api_method: str) -> list[Recorded]:
        """Calls of ``api_method`` that were answered with ``{"ok": true}``."""
        return [
            rec
            for rec in self.requests
            if rec.op == api_method
            and rec.accepted
            and isinstance(rec.response, dict)
            and rec.response.get("ok") is True
        ]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.postMessage`` payloads, optionally for one channel (as sent or as resolved)."""
        return [
            self.payload(rec)
            for rec in self.ok_calls("chat.postMessage")
            if channel is None or channel in (rec.params.get("channel"), rec.response.get("channel"))
        ]

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.postEphemeral`` payloads, optionally filtered by channel and/or user."""
        result = []
        for rec in self.ok_calls("chat.postEphemeral"):
            args = self.payload(rec)
            if (channel is None or args.get("channel") == channel) and (user is None or args.get("user") == user):
                result.append(args)
        return result

    def dms(self, user: str) -> list[dict[str, Any]]:
        """Accepted ``chat.postMessage`` payloads sent to ``user`` directly or to their DM channel."""
        targets = {user, self.dm_channel_id(user), self._opened_dms.get(user)}
        return [
            self.payload(rec)
            for rec in self.ok_calls("chat.postMessage")
            if rec.params.get("channel") in targets or rec.response.get("channel") in targets
        ]

    def updates(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.update`` payloads."""
        return [
            self.payload(rec)
            for rec in self.ok_calls("chat.update")
            if channel is None or rec.params.get("channel") == channel
        ]

    def deletes(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.delete`` payloads."""
        return [
            self.payload(rec)
            for rec in self.ok_calls("chat.delete")
            if channel is None or rec.params.get("channel") == channel
        ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current state of a message posted/updated through this fake (None if deleted/unknown)."""
        return self._messages.get((channel, ts))

    def views(self, api_method: str | None = None) -> list[dict[str, Any]]:
        """View payloads sent with views.open/update/publish (or only ``api_method``), in order."""
        methods = (api_method,) if api_method else ("views.open", "views.update", "views.publish")
        return [
            self.payload(rec)["view"]
            for rec in self.requests
            if rec.op in methods and rec.accepted and isinstance(rec.response, dict) and rec.response.get("ok")
        ]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The last App Home view published for ``user_id``."""
        return self._home_views.get(user_id)

    def uploads(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files started with files.getUploadURLExternal: name, title, content bytes, channel, status."""
        return [u for u in self._uploads.values() if channel is None or u.get("channel_id") == channel]

    # -- HTTP handlers --------------------------------------------------------------------------------

    async def _handle_api(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        api_method = rec.path_params["api_method"]
        method = self._methods.get(api_method)
        if method is None:
            return self._respond(rec, {"ok": False, "error": "unknown_method", "req_method": api_method})
        args = self.payload(rec)
        if api_method not in self._no_auth:
            token = rec.bearer or rec.params.get("token")
            if token not in self.tokens:
                return self._respond(rec, {"ok": False, "error": "invalid_auth"})
        result = method(rec, args)
        if isinstance(result, web.Response):
            return result
        return self._respond(rec, result)

    async def _handle_upload(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        upload = self._uploads.get(rec.path_params["file_id"])
        if upload is None:
            return self._respond(rec, "file not found", status=404)
        upload["content"] = rec.body
        upload["uploaded"] = True
        return self._respond(rec, f"OK - {len(rec.body)}")

    def _fault_body(self, status: int) -> Any:
        if status == 429:
            return {"ok": False, "error": "ratelimited"}
        if status == 503:
            return {"ok": False, "error": "service_unavailable"}
        return {"ok": False, "error": "internal_error"}

    async def _not_found(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        return self._respond(rec, {"ok": False, "error": "unknown_method"}, status=404)

    # -- Slack methods --------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:07d}"

    def _next_ts(self) -> str:
        self._ts_counter += 100
        n = self._ts_counter
        return f"{_TS_BASE + n // 1_000_000}.{n % 1_000_000:06d}"

    def _resolve_channel(self, channel: str) -> str:
        """Posting to a user id goes to that user's DM channel, as in Slack."""
        if channel[:1] in ("U", "W"):
            return self._opened_dms.get(channel, self.dm_channel_id(channel))
        return channel

    def _api_test(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        if "error" in args:
            return {"ok": False, "error": args["error"], "args": args}
        return {"ok": True, "args": args}

    def _auth_test(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        data = json.loads(json.dumps(user))
        if not _truthy(args.get("include_locale", False)):
            data.pop("locale", None)  # Slack only includes it with include_locale=true
        return {"ok": True, "user": data}

    def _users_list(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        """Paged like Slack: ``limit`` per page (0: all), ``response_metadata.next_cursor`` ("" on the last)."""
        users = list(self.users.values())
        try:
            start = int(base64.b64decode(str(args.get("cursor") or "")).decode().removeprefix("user:") or 0)
            limit = int(args.get("limit") or 0)
        except (ValueError, UnicodeDecodeError):
            return {"ok": False, "error": "invalid_cursor"}
        end = len(users) if limit <= 0 else start + limit
        members = json.loads(json.dumps(users[start:end]))
        if not _truthy(args.get("include_locale", False)):
            for member in members:
                member.pop("locale", None)
        more = end < len(users)
        cursor = base64.b64encode(f"user:{end}".encode()).decode() if more else ""
        return {
            "ok": True,
            "members": members,
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": cursor},
        }

    def _message_object(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        return message

    def _chat_post_message(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any] | web.Response:
        channel_arg = str(args.get("channel") or "")
        if not channel_arg:
            return {"ok": False, "error": "channel_not_found"}
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        channel = self._resolve_channel(channel_arg)
        if self._channel_rate is not None:
            now = time.monotonic()
            last = self._last_post.get(channel)
            if last is not None and now - last < self._channel_rate:
                rec.rejected = True
                wait = max(1, math.ceil(self._channel_rate - (now - last)))
                return self._respond(
                    rec, {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(wait)}
                )
            self._last_post[channel] = now
        ts = self._next_ts()
        message = self._message_object(args, ts)
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        message = self._messages.get((channel, ts)) or self._message_object({}, ts)
        message = {**message, **self._message_object(args, ts)}
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text", ""), "message": message}

    def _chat_delete(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        self._messages.pop((channel, ts), None)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_get_permalink(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _listed(self, message: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack lists it: ``metadata`` only with ``include_all_metadata=true``."""
        shown = json.loads(json.dumps(message))
        if not _truthy(args.get("include_all_metadata", False)):
            shown.pop("metadata", None)
        return shown

    @staticmethod
    def _page(
        messages: list[dict[str, Any]], args: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]] | dict[str, Any]:
        """Slack's ``oldest``/``latest`` (exclusive unless ``inclusive``), ``limit`` and ``cursor`` paging."""
        inclusive = _truthy(args.get("inclusive", False))
        oldest, latest = args.get("oldest"), args.get("latest")
        try:
            low = float(oldest) if oldest not in (None, "") else None
            high = float(latest) if latest not in (None, "") else None
            limit = min(max(int(args.get("limit") or 100), 1), 999)
            start = int(str(args.get("cursor") or "0") or "0")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        kept = [
            m
            for m in messages
            if (low is None or float(m["ts"]) > low or (inclusive and float(m["ts"]) == low))
            and (high is None or float(m["ts"]) < high or (inclusive and float(m["ts"]) == high))
        ]
        page = kept[start : start + limit]
        more = start + limit < len(kept)
        return page, {"has_more": more, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _conversations_history(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages, newest first; thread replies only when also sent to the channel."""
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        channel = self._resolve_channel(channel)
        top = [
            m
            for (c, _ts), m in self._messages.items()
            if c == channel and (not m.get("thread_ts") or m.get("thread_ts") == m["ts"])
        ]
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        paged = self._page(top, args)
        if isinstance(paged, dict):
            return paged
        page, more = paged
        return {"ok": True, "messages": [self._listed(m, args) for m in page], **more}

    def _conversations_replies(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "thread_not_found"}
        channel = self._resolve_channel(channel)
        thread = [m for (c, _ts), m in self._messages.items() if c == channel and ts in (m["ts"], m.get("thread_ts"))]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        thread.sort(key=lambda m: float(m["ts"]))
        parent, replies = [m for m in thread if m["ts"] == ts], [m for m in thread if m["ts"] != ts]
        paged = self._page(replies, args)
        if isinstance(paged, dict):
            return paged
        page, more = paged
        return {"ok": True, "messages": [self._listed(m, args) for m in parent + page], **more}

    def _conversations_open(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": args["channel"]}}
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 1:
            channel_id = "G" + "".join(sorted(users))
            return {"ok": True, "channel": {"id": channel_id}}
        user = users[0]
        already = user in self._opened_dms
        channel_id = self._opened_dms.setdefault(user, self.dm_channel_id(user))
        channel: dict[str, Any] = {"id": channel_id}
        if _truthy(args.get("return_im", False)):
            channel = self._channel_object(channel_id, user=user)
        return {"ok": True, "no_op": already, "already_open": already, "channel": channel}

    def _channel_object(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_archived: bool = False,
        user: str | None = None,
    ) -> dict[str, Any]:
        if channel_id.startswith("D") or user is not None:
            dm_user = user or channel_id[1:]
            return {
                "id": channel_id,
                "created": _TS_BASE,
                "is_im": True,
                "is_org_shared": False,
                "user": dm_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        chan_name = name or channel_id.lower()
        return {
            "id": channel_id,
            "name": chan_name,
            "name_normalized": chan_name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": _TS_BASE,
            "is_archived": is_archived,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": True,
            "creator": "U0CREATOR",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": 2,
        }

    def _conversations_info(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channels.get(channel_id) or self._channel_object(channel_id)
        return {"ok": True, "channel": channel}

    def _view_object(self, view: dict[str, Any], view_id: str, **extra: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{_TS_BASE}.{self._next_id('h')}",
            "title": view.get("title"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        obj.update(extra)
        return obj

    def _views_open(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not args.get("trigger_id") and not args.get("interactivity_pointer"):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        obj = self._view_object(view, self._next_id("V"))
        self._views[obj["id"]] = obj
        return {"ok": True, "view": obj}

    def _views_update(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = str(args.get("view_id") or "")
        external_id = str(args.get("external_id") or "")
        if not view_id and external_id:
            view_id = next((k for k, v in self._views.items() if v.get("external_id") == external_id), "")
        if not view_id and not external_id:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = view_id or self._next_id("V")
        obj = self._view_object(view, view_id)
        self._views[view_id] = obj
        return {"ok": True, "view": obj}

    def _views_publish(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        user_id = str(args.get("user_id") or "")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        previous = self._home_views.get(user_id)
        view_id = previous["id"] if previous else self._next_id("V")
        obj = self._view_object(view, view_id)
        self._home_views[user_id] = obj
        return {"ok": True, "view": obj}

    def _files_get_upload_url(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        length = args.get("length")
        if not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        self._uploads[file_id] = {
            "file_id": file_id,
            "filename": str(filename),
            "length": int(length),
            "title": None,
            "content": None,
            "uploaded": False,
            "completed": False,
            "channel_id": None,
            "initial_comment": None,
            "thread_ts": None,
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel_id = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        result = []
        for item in files:
            upload = self._uploads.get(str(item.get("id")))
            if upload is None or not upload["uploaded"]:
                return {"ok": False, "error": "file_not_found"}
            upload.update(
                completed=True,
                title=item.get("title") or upload["filename"],
                channel_id=channel_id,
                initial_comment=args.get("initial_comment"),
                thread_ts=args.get("thread_ts"),
            )
            mimetype = mimetypes.guess_type(upload["filename"])[0] or "application/octet-stream"
            file_id = upload["file_id"]
            result.append(
                {
                    "id": file_id,
                    "created": _TS_BASE,
                    "timestamp": _TS_BASE,
                    "name": upload["filename"],
                    "title": upload["title"],
                    "mimetype": mimetype,
                    "filetype": upload["filename"].rsplit(".", 1)[-1] if "." in upload["filename"] else "",
                    "user": self.bot_user_id,
                    "size": len(upload["content"] or b""),
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{upload['filename']}",
                    "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{file_id}",
                    "channels": [channel_id] if channel_id else [],
                }
            )
        return {"ok": True, "files": result}

    def _reactions_get(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("timestamp") or "")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        message = self._messages.get((channel, ts)) or {"type": "message", "ts": ts, "text": ""}
        return {"ok": True, "type": "message", "channel": channel, "message": message}

    def _reactions_add(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, name = (str(args.get(k) or "") for k in ("channel", "timestamp", "name"))
        if not channel or not ts or not name:
            return {"ok": False, "error": "invalid_arguments"}
        message = self._messages.get((channel, ts))
        for reaction in (message or {}).get("reactions", []):
            if reaction["name"] == name and self.bot_user_id in reaction["users"]:
                return {"ok": False, "error": "already_reacted"}
        self.add_reaction(channel, ts, name, self.bot_user_id)
        return {"ok": True}

    def _reactions_remove(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, name = (str(args.get(k) or "") for k in ("channel", "timestamp", "name"))
        message = self._messages.get((channel, ts)) or {}
        for reaction in message.get("reactions", []):
            if reaction["name"] == name and self.bot_user_id in reaction["users"]:
                reaction["users"].remove(self.bot_user_id)
                reaction["count"] = len(reaction["users"])
                if not reaction["users"]:
                    message["reactions"].remove(reaction)
                return {"ok": True}
        return {"ok": False, "error": "no_reaction"}


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset is not None else 0


def _tz_label(tz: str) -> str:
    try:
        return datetime.now(ZoneInfo(tz)).tzname() or tz
    except (ZoneInfoNotFoundError, ValueError):
        return tz
