"""The Slack adapter: a Bolt ``AsyncApp`` over HTTP (``/slack/events``) and/or Socket Mode.

Every HTTP request passes the boundary first (:mod:`bot.slack.inbound`): the signature and the 5-minute
timestamp window over the raw bytes (401 otherwise), then the body is parsed and checked against Slack's
published shapes (400 otherwise), each refusal one short log line. Only then does Bolt see it; Bolt verifies
again, answers ``url_verification`` and drops our own events. A signed payload that still cannot be turned into
an event is answered as Slack expects (200; a friendly word where a person is waiting), never with a 500.

Nothing acknowledged is lost: the verified payload is stored in the inbox (``bot.inbox``, one short transaction
shared with the acknowledgements of the same moment) before Slack gets its 200; if it cannot be stored (the
database is away), Slack gets 503 and sends it again. The inbox worker handles the stored events after the
answer, at most ``STARLING_SLACK_EVENT_CONCURRENCY`` at a time, so Slack gets its answer in milliseconds
whatever the handler does; each event's row is deleted in the transaction of its effect, where the router also
de-duplicates retries and replays by the platform id. Every kind of request goes through the inbox (the answer
to a slash command or a submitted form is sent later through Slack's API, as before): only the "open form"
button, which writes nothing and needs the click's 3-second trigger, is handled straight after its answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_bolt.context.async_context import AsyncBoltContext as _Context
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import edge
from bot.core.events import ActionEvent, Event, Platform
from bot.core.i18n import translator_for
from bot.core.metrics import ACK_SECONDS
from bot.core.services import PersonInfo
from bot.inbox import Done
from bot.slack.client import ConnectionPool, SlackDirectory, SlackSender, make_client
from bot.slack.convert import Inbound, Team, from_action, from_command, from_event, from_view_submission
from bot.slack.inbound import Kind, parse, verify
from bot.slack.render import OPEN_FORM_ACTION, pending_view
from bot.slack.respond import Responder
from storage import core
from storage.db import transaction
from storage.inbox import HeldEvent

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import Starling

log = structlog.get_logger("starling.slack")

EVENTS_PATH = "/slack/events"
STORE_RETRY_SECONDS = 2.0  # of Slack's 3 s: how long a command or button waits for the inbox to take it
# Of Slack's 3 s: the longest a request waits for its turn while the acknowledgements leave the handling its share.
# Beyond it the turns are not held back: a sustained burst is acknowledged and waits in the inbox, not in the network
# (where, after 3 s, a slash command fails for the person and an event is sent again).
HOLD_BACK_BUDGET_SECONDS = 0.5
ANY = re.compile(r".*")


class SlackAdapter:
    platform = Platform.SLACK

    def __init__(self, starling: Starling, *, process_before_response: bool = True, retry_backoff: float = 0.5) -> None:
        settings = starling.settings
        if not settings.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        self.starling = starling
        self.settings = settings
        token, url = settings.slack_bot_token, settings.slack_api_url
        self.client = make_client(token, url, backoff=retry_backoff)
        self.pool = ConnectionPool(self.client)  # the directory's and the answers' calls share one pool
        self.directory = SlackDirectory(self.client, ttl=settings.slack_user_cache_seconds)
        self._directory_tasks: set[asyncio.Task[None]] = set()
        self._refreshes: set[asyncio.Task[None]] = set()  # rows following a user_change
        self.sender = SlackSender(make_client(token, url, retry_rate_limits=False, backoff=retry_backoff))
        self.responder = Responder(self.client)
        # Without a signing secret there is no HTTP endpoint at all (Socket Mode only), so nothing
        # unverified can ever reach Bolt.
        self.http_enabled = bool(settings.slack_signing_secret)
        self.bolt = AsyncApp(
            name="starling",
            client=self.client,
            signing_secret=settings.slack_signing_secret or "",
            request_verification_enabled=self.http_enabled,
            process_before_response=process_before_response,
            logger=_bolt_logger(),
        )
        self._register(self.bolt)
        self.bolt.error(self._on_bolt_error)
        self._tasks: set[asyncio.Task[None]] = set()  # "open form" clicks, handled right after their answer
        self.inbox = starling.inbox
        self.inbox.handlers[self.platform.value] = self.handle_stored
        self.max_backlog = settings.slack_event_backlog
        self.draining = False  # shutting down: nothing more is acknowledged (503, Slack retries elsewhere/later)
        self._acks = asyncio.Semaphore(settings.slack_ack_concurrency)
        self._ack_pause = 1 / settings.slack_ack_share - 1  # × an acknowledgement's time, while a backlog waits
        self._waiting: dict[object, float] = {}  # requests waiting for their turn → since when (oldest first)
        self._requests = 0  # HTTP requests being answered
        self._answered = asyncio.Event()
        self._socket: AsyncSocketModeHandler | None = None

    # --- Bolt listeners --------------------------------------------------------------------------------
    def _register(self, bolt: AsyncApp) -> None:
        # Each listener converts first, then acknowledges: a payload that cannot become an event raises
        # before the ack and is answered by ``_on_bolt_error``.
        # Over HTTP ``keep`` only notes the event: ``handle_http`` stores it before the answer is written.
        # Over Socket Mode it stores the event here, before Bolt sends the acknowledgement.
        @bolt.command(ANY)
        async def on_command(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
            team = team_of(context)
            await self.keep(from_command(body, team), Stored("command", body, team))
            await ack()

        @bolt.event(ANY)
        async def on_event(body: dict[str, Any], context: AsyncBoltContext) -> None:
            team = team_of(context)
            self.learn(body, team)
            await self.keep(from_event(body, team), Stored("event", body, team))

        @bolt.action(ANY)
        async def on_action(
            ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
        ) -> None:
            team = team_of(context)
            await self.keep(from_action(body, action, team), Stored("action", body, team, action))
            await ack()

        @bolt.view(ANY)
        async def on_view(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
            team = team_of(context)
            await self.keep(from_view_submission(body, team), Stored("view", body, team))
            # The modal stays open until its answer replaces it: a receipt (an anonymous one above all)
            # is shown there, where nothing can read it back later, never as a direct message.
            title = ((body.get("view") or {}).get("title") or {}).get("text") or "Starling"
            await ack(response_action="update", view=pending_view(str(title)))

    async def _on_bolt_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        """A signed payload Bolt or the conversion could not handle: one log line, the answer Slack expects."""
        if isinstance(error, NotStored):  # Socket Mode: no acknowledgement, Slack delivers it again
            return BoltResponse(status=503, body="")
        log.warning(
            "slack_payload_unreadable",
            kind=edge.escape_log(_kind_of(body), 40),
            type=edge.escape_log(body.get("type") or body.get("command") or "", 60),
            error=edge.escape_log(f"{type(error).__name__}: {error}", 200),
        )
        return self.unreadable(_kind_of(body), body)

    def unreadable(self, kind: Kind, body: dict[str, Any]) -> BoltResponse:
        """200 with a friendly word where a person waits (a command, a form); 200 and nothing for events and
        buttons (Slack would only retry them)."""
        t = translator_for(self.settings.default_locale)
        if kind == "command":
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": t("slack.err.unreadable")})
        if kind == "interactive" and body.get("type") == "view_submission":
            view = {
                "type": "modal",
                "title": {"type": "plain_text", "text": t("slack.err.unreadable_title")},
                "blocks": [{"type": "section", "text": {"type": "plain_text", "text": t("slack.err.unreadable")}}],
            }
            return BoltResponse(status=200, body={"response_action": "update", "view": view})
        return BoltResponse(status=200, body="")

    # --- the directory -------------------------------------------------------------------------------------
    def start_directory(self) -> None:
        """Keep the directory warm from ``users.list`` (at once, then every ``slack_directory_refresh_seconds``)."""
        every = self.settings.slack_directory_refresh_seconds
        if every > 0 and not any(t.get_name() == "slack-directory" for t in self._directory_tasks):
            self._track(self._keep_warm(every), name="slack-directory")

    async def _keep_warm(self, every: float) -> None:
        self.pool.use()
        await self.directory.keep_warm(every)

    def learn(self, body: dict[str, Any], team: Team) -> None:
        """``team_join`` / ``user_change``: the directory knows at once; for ``user_change`` the person's row, if
        Starling has one, follows (a new name shows everywhere). Nobody is added to the database by it."""
        ev = body.get("event") if isinstance(body.get("event"), dict) else None
        if ev is None or ev.get("type") not in ("team_join", "user_change"):
            return
        user = ev.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            return
        info = self.directory.update(user)
        if ev["type"] == "user_change" and info is not None:
            task = asyncio.get_running_loop().create_task(self._refresh_member(team.workspace_id, info))
            self._refreshes.add(task)
            task.add_done_callback(self._refreshes.discard)

    async def _refresh_member(self, workspace_id: str, info: PersonInfo) -> None:
        try:
            async with transaction(self.starling.sessions) as session:
                await core.refresh_known_member(
                    session,
                    workspace_id=workspace_id,
                    user_id=info.user_id,
                    display_name=info.display_name,
                    handle=info.handle,
                    timezone=info.timezone,
                    locale=info.locale,
                    is_bot=info.is_bot,
                    is_guest=info.is_guest,
                    is_admin=info.is_admin or None,
                )
        except Exception as err:
            log.warning("slack_user_change_failed", error=edge.escape_log(repr(err), 200))

    def _track(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._directory_tasks.add(task)
        task.add_done_callback(self._directory_tasks.discard)

    # --- the inbox: stored before the answer, handled after it -------------------------------------------
    async def keep(self, inbound: Inbound | None, stored: Stored) -> None:
        """An event Slack is about to get its answer for: stored in the inbox (or, for the "open form"
        button, handled straight after the answer)."""
        if inbound is None:
            return  # nothing Starling acts on
        inline = isinstance(inbound.event, ActionEvent) and inbound.event.action_id == OPEN_FORM_ACTION
        held = _held.get()
        if held is not None and not held.released:
            if inline:
                held.inline.append(inbound)
            else:
                held.items.append(stored)
            return
        if inline:
            self.spawn(inbound)
            return
        try:
            await self.store([stored])
        except Exception as err:
            raise NotStored from err

    async def store(self, items: list[Stored]) -> None:
        """Write events to the inbox; returns once they are committed."""
        await asyncio.gather(
            *(
                self.inbox.put(
                    platform=self.platform.value,
                    workspace_id=item.team.workspace_id,
                    kind=item.kind,
                    body=item.body,
                    context=item.context(),
                )
                for item in items
            )
        )

    async def handle_stored(self, row: HeldEvent, done: Done) -> None:
        """The inbox worker's handler for a Slack row: converted again from the stored payload, then handled;
        ``done`` deletes the row in the transaction that records the event."""
        inbound = restore(row)
        if inbound is None:
            return
        await self._process(inbound, done)

    def spawn(self, inbound: Inbound) -> None:
        task = asyncio.get_running_loop().create_task(self._process(inbound))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def backlog(self) -> int:
        """Acknowledged events not yet handled (the inbox, over all replicas)."""
        return self.inbox.pending

    async def _process(self, inbound: Inbound, done: Done | None = None) -> None:
        self.pool.use()
        event = inbound.event
        bound = log.bind(kind=type(event).__name__, workspace=event.actor.workspace_id)  # no platform id
        try:
            if isinstance(event, ActionEvent) and event.action_id == OPEN_FORM_ACTION:
                await self.responder.open_form(event.value, inbound.origin)
                return
            await self.enrich(event)
            if event.actor.is_bot:
                return  # other apps' users; Starling's own events never reach here
            messages = await self.starling.dispatch(event, done=done)
            for message in messages:
                await self.responder.deliver(message, inbound.origin, event.actor.user_id)
            if inbound.origin.submitted and not inbound.origin.answered:
                await self.responder.close_submitted(inbound.origin)
        except Exception:
            bound.exception("slack_event_failed")

    async def enrich(self, event: Event) -> None:
        """Fill in the actor from the directory. Slack's locale only fills an empty one (the router's
        ``fill_only``), so a language chosen in Starling is not overwritten by Slack's."""
        actor = event.actor
        try:
            info = await self.directory.fetch(actor.workspace_id, actor.user_id)
        except Exception as err:
            log.warning("slack_directory_failed", user=actor.user_id, error=repr(err))
            return
        if info is None:
            return
        event.actor = actor.model_copy(
            update={
                "display_name": info.display_name or actor.display_name,
                "timezone": info.timezone or actor.timezone,
                "is_admin": info.is_admin or actor.is_admin,
                "is_bot": info.is_bot or actor.is_bot,
                "is_guest": info.is_guest or actor.is_guest,
                "locale": info.locale or actor.locale,
            }
        )

    async def idle(self) -> None:
        """Wait until every request received so far has been answered and handled."""
        while self._tasks or self._requests or self._refreshes:
            if self._tasks or self._refreshes:
                await asyncio.gather(*self._tasks, *self._refreshes, return_exceptions=True)
            else:
                await self._answered.wait()
        await self.inbox.idle()

    # --- transports ----------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        if self.http_enabled:
            app.router.add_post(EVENTS_PATH, self.handle_http)

    async def handle_http(self, request: web.Request) -> web.Response:
        """Bolt answers; the event is stored in the inbox before the answer is written.

        While shutting down, with ``slack_event_backlog`` acknowledged events waiting in the inbox, or when
        the event cannot be stored, nothing is acknowledged: Slack gets 503 and delivers the event again later
        (to this or another replica)."""
        if self.draining or self.inbox.pending >= self.max_backlog:
            return _busy("shutting_down" if self.draining else "backlog_full")
        self._requests += 1
        try:
            return await self._answer(request)
        finally:
            self._requests -= 1
            answered, self._answered = self._answered, asyncio.Event()
            answered.set()

    async def _answer(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        held = _Held()
        raw = b""
        ticket = object()
        try:
            # The processor's part of an acknowledgement (read, verify, parse, Bolt) runs for at most
            # ``slack_ack_concurrency`` requests at once; the others wait unread. However many connections Slack
            # opens, the handling of stored events keeps its share of the event loop. Storing is outside: on
            # PostgreSQL the wait for the commit costs no processor (and the acknowledgements of one moment share
            # it); on SQLite it is a fraction of a millisecond.
            self._waiting[ticket] = started
            async with self._acks:
                del self._waiting[ticket]
                section = time.perf_counter()
                if self.draining:
                    return _busy("shutting_down")
                try:
                    raw = await edge.read_body(request)
                    verify(request.headers, raw, self.settings.slack_signing_secret or "")
                    kind, body_text, body = parse(raw, request.headers.get("Content-Type", ""))
                except edge.Rejected as err:
                    return edge.refuse(log, request, err, raw)
                token = _held.set(held)
                try:
                    bolt_response = await self.bolt.async_dispatch(_bolt_request(request, body_text, body))
                except Exception as err:  # Bolt on a payload that fits the published shape but not its assumptions
                    bolt_response = await self._on_bolt_error(err, body)
                finally:
                    _held.reset(token)
                await self._leave_handling_its_share(time.perf_counter() - section)
            if bolt_response.status >= 500 or bolt_response.status == 404:
                # 404: signed, but nothing here listens for it (an event callback without an event, a shortcut,
                # a closed modal, a type Slack may add): acknowledged, so Slack does not retry it.
                bolt_response = self.unreadable(kind, body)
            elif held.items and not await self._stored(held.items, kind, started):
                held.inline.clear()
                return _busy("not_stored")
            response = await to_aiohttp_response(bolt_response)
            await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            self._waiting.pop(ticket, None)  # cancelled while waiting for its turn
            ACK_SECONDS.labels(self.platform.value).observe(time.perf_counter() - started)
            held.released = True
            for inbound in held.inline:
                self.spawn(inbound)

    async def _leave_handling_its_share(self, took: float) -> None:
        """While more events wait in the inbox than the worker holds, hold the acknowledgements' turn for a while
        after each one (``slack_ack_share``): the handling keeps its part of the event loop however many requests
        come, and the requests that come meanwhile wait for their answer (in the network, not in memory), but never
        past ``HOLD_BACK_BUDGET_SECONDS``: when more come than that share can answer in time (a burst that lasts), they
        are answered as fast as they come and the backlog waits in the inbox, up to ``slack_event_backlog``."""
        if self._ack_pause > 0 and self.inbox.pending > self.inbox.batch:
            # at most 50 ms of it counted: a request whose body came slowly over the network used no processor
            pause = min(took, 0.05) * self._ack_pause
            if self._waiting:  # never so long that the oldest waiting request would miss its budget
                oldest = next(iter(self._waiting.values()))
                pause = min(pause, HOLD_BACK_BUDGET_SECONDS - (time.perf_counter() - oldest))
            if pause > 0:
                await asyncio.sleep(pause)

    async def _stored(self, items: list[Stored], kind: Kind, started: float) -> bool:
        """Store the request's events; False if they could not be (so they must not be acknowledged).

        Slack sends an event that got no acknowledgement again, but not a slash command or a button press: for
        those a database blip is retried for up to ``STORE_RETRY_SECONDS`` of Slack's 3-second window before the
        person gets Slack's error."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (STORE_RETRY_SECONDS if kind != "events" else 0.0) - (time.perf_counter() - started)
        delay = 0.05
        while True:
            try:
                await self.store(items)
                return True
            except Exception as err:
                if loop.time() + delay > give_up:
                    log.warning("slack_event_not_stored", error=edge.escape_log(f"{type(err).__name__}: {err}", 200))
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def start_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.settings.slack_app_token
        self._socket = AsyncSocketModeHandler(self.bolt, self.settings.slack_app_token, web_client=self.client)
        await self._socket.connect_async()
        log.info("slack_socket_mode_connected")

    async def stop_acking(self) -> None:
        """Stop acknowledging and finish the requests being answered. What was acknowledged is in the inbox:
        the inbox worker handles it (now, or after the next start)."""
        self.draining = True
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        while self._tasks or self._requests:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await self._answered.wait()

    async def close(self) -> None:
        """After :meth:`stop_acking` and the inbox worker's stop: the directory's refresh and the connections."""
        await self.stop_acking()
        if self._refreshes:
            await asyncio.gather(*self._refreshes, return_exceptions=True)
        for task in list(self._directory_tasks):
            task.cancel()
        if self._directory_tasks:
            await asyncio.wait(list(self._directory_tasks))
        await self.pool.close()


class NotStored(Exception):
    """The event could not be stored in the inbox, so it must not be acknowledged."""


@dataclass
class Stored:
    """What the inbox keeps of a request to turn it into its event again: the payload as Slack sent it, the
    team Bolt authorized it for, and for a button the element that was pressed."""

    kind: str  # command | event | action | view
    body: dict[str, Any]
    team: Team
    action: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        team = {
            "team_id": self.team.team_id,
            "enterprise_id": self.team.enterprise_id,
            "is_enterprise_install": self.team.is_enterprise_install,
            "bot_user_id": self.team.bot_user_id,
        }
        return {"team": team} if self.action is None else {"team": team, "action": self.action}


def restore(row: HeldEvent) -> Inbound | None:
    """The event of a stored request, converted as it was before its acknowledgement."""
    team = Team(**row.context["team"])
    if row.kind == "command":
        return from_command(row.body, team)
    if row.kind == "event":
        return from_event(row.body, team)
    if row.kind == "action":
        return from_action(row.body, row.context["action"], team)
    if row.kind == "view":
        return from_view_submission(row.body, team)
    raise ValueError(f"unknown inbox kind {row.kind!r}")


def _busy(reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=503, headers={"Retry-After": "1"})


class _Held:
    """What the current HTTP request is about to acknowledge: events to store first, and "open form" clicks
    to handle once the answer is written."""

    def __init__(self) -> None:
        self.items: list[Stored] = []
        self.inline: list[Inbound] = []
        self.released = False


_held: ContextVar[_Held | None] = ContextVar("slack_held_events", default=None)


def _bolt_request(request: web.Request, raw: str, body: dict[str, Any]) -> AsyncBoltRequest:
    """A Bolt request carrying the body as the boundary parsed it (Bolt's own parser reads a slash command
    whose text contains the word "payload" as an empty body)."""
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
    bolt_request.raw_body = raw
    bolt_request.body = body
    bolt_request.context = build_async_context(_Context(), body)
    return bolt_request


def _kind_of(body: dict[str, Any]) -> Kind:
    if "command" in body:
        return "command"
    if body.get("type") in ("event_callback", "url_verification", "app_rate_limited") or "event" in body:
        return "events"
    return "interactive"


class _OneLine(logging.Filter):
    """Bolt's own log lines, capped and on one line (it would otherwise log whole bodies and tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({type(record.exc_info[1]).__name__})"
        record.msg = edge.escape_log(message, 300)
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("starling.slack.bolt")
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())
    return logger


def team_of(context: AsyncBoltContext) -> Team:
    return Team(
        team_id=context.team_id,
        enterprise_id=context.enterprise_id,
        is_enterprise_install=bool(context.is_enterprise_install),
        bot_user_id=context.bot_user_id,
    )
