"""The router: features register commands, message patterns, reactions, actions and events;
every event passes the same middleware (dedupe, workspace and locale, error reporting) in one
database transaction, and the handler's proactive messages enter the outbox in that transaction."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import (
    ActionEvent,
    Actor,
    CommandEvent,
    Event,
    MessageEvent,
    ReactionEvent,
)
from bot.core.i18n import Translator, translator_for
from bot.core.messages import Block, Form, Message, Note, Section, Target
from bot.core.services import Services
from storage import core
from storage.db import transaction
from storage.models import Member, Workspace
from storage.types import floor_day, floor_hour

log = structlog.get_logger("starling.router")
TRANSACTION_ATTEMPTS = 5

Handler = Callable[["Context"], Awaitable[None]]
F = TypeVar("F", bound=Handler)


class UserError(Exception):
    """A friendly, localized refusal shown only to the actor. Nothing the handler wrote is kept."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class Context:
    event: Event
    services: Services
    session: AsyncSession
    workspace: Workspace
    member: Member
    t: Translator
    out: list[Message] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    #: Set by a handler before it writes an anonymous action: from then on ``now`` is the full hour, and
    #: the messages it queues carry only the hour and go out with the next hour's batch, so no row this
    #: transaction writes has a finer time than the hour.
    anonymous: bool = False

    @property
    def actor(self) -> Actor:
        return self.event.actor

    @property
    def now(self) -> datetime:
        moment = self.services.clock()
        return floor_hour(moment) if self.anonymous else moment

    def act_anonymously(self) -> None:
        """From here on this event is an anonymous action (see ``anonymous``)."""
        self.anonymous = True

    def _msg(self, content: Message | Sequence[Block] | str, target: Target) -> Message:
        if isinstance(content, Message):
            msg = content.model_copy(update={"target": target})
        elif isinstance(content, str):
            msg = Message(blocks=[Section(text=content)], text=content, target=target)
        else:
            msg = Message(blocks=list(content), target=target)
        self.out.append(msg)
        return msg

    def reply(self, content: Message | Sequence[Block] | str) -> Message:
        thread = self.event.conversation.thread_id if self.event.conversation else None
        return self._msg(content, Target(kind="reply", thread_id=thread))

    def ephemeral(self, content: Message | Sequence[Block] | str) -> Message:
        return self._msg(content, Target(kind="ephemeral", user_id=self.actor.user_id))

    def dm(self, user_id: str, content: Message | Sequence[Block] | str, *, dedupe_key: str | None = None) -> Message:
        msg = self._msg(content, Target(kind="dm", user_id=user_id))
        msg.dedupe_key = dedupe_key
        return msg

    def post(
        self,
        channel_id: str,
        content: Message | Sequence[Block] | str,
        *,
        thread_id: str | None = None,
        dedupe_key: str | None = None,
    ) -> Message:
        msg = self._msg(content, Target(kind="channel", channel_id=channel_id, thread_id=thread_id))
        msg.dedupe_key = dedupe_key
        return msg

    def update(self, content: Message | Sequence[Block] | str) -> Message:
        return self._msg(content, Target(kind="update", user_id=self.actor.user_id))

    def in_place(self, content: Message | Sequence[Block] | str) -> Message:
        """A receipt only the actor sees and nothing can read back later: a submitted form is replaced by it
        (Slack: the modal's view is updated; Teams: the submitted card is refreshed in place), anything else
        gets it as an ephemeral answer. Anonymous receipts go this way, never as a stored direct message."""
        if isinstance(self.event, ActionEvent) and self.event.is_form:
            return self.update(content)
        return self.ephemeral(content)

    def home(self, content: Message | Sequence[Block]) -> Message:
        return self._msg(content, Target(kind="home", user_id=self.actor.user_id))

    def modal(self, form: Form) -> Message:
        return self._msg([form], Target(kind="modal", user_id=self.actor.user_id))

    def translator_for_member(self, member: Member | None) -> Translator:
        return translator_for(member.locale if member else None, self.workspace.locale, tone=self.workspace.tone)

    async def person(self, user_id: str) -> Member | None:
        """A person by platform id: from the database, refreshed from the platform's directory when stale."""
        ws = self.workspace.id
        member = await core.get_member(self.session, workspace_id=ws, user_id=user_id)
        directory = self.services.directories.get(self.actor.platform)
        # Last-seen times are kept to the day: a person is refreshed at most once a day.
        age = floor_day(self.now) - member.updated_at if member is not None else None
        stale = age is None or age >= max(self.services.directory_ttl, timedelta(days=1))
        if directory is not None and stale:
            info = await directory.fetch(ws, user_id)
            if info is not None:
                return await core.upsert_member(
                    self.session,
                    workspace_id=ws,
                    user_id=user_id,
                    display_name=info.display_name,
                    fill_only=("locale",),
                    is_bot=info.is_bot,
                    is_admin=info.is_admin or None,  # an admin granted in Starling stays one
                    locale=info.locale,
                    timezone=info.timezone,
                    department=info.department,
                    handle=info.handle,
                )
        return member


@dataclass
class CommandSpec:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    help_key: str | None = None
    admin: bool = False
    hidden: bool = False


@dataclass
class Route:
    matcher: Callable[[Event], bool]
    handler: Handler


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self._names: dict[str, CommandSpec] = {}
        self._messages: list[Route] = []
        self._actions: list[tuple[str, Handler]] = []
        self._events: list[tuple[type[Event], Handler]] = []
        self.schedules: dict[str, Callable[[Any], Awaitable[None]]] = {}

    # registration -------------------------------------------------------------------------------
    def command(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        help_key: str | None = None,
        admin: bool = False,
        hidden: bool = False,
    ) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            spec = CommandSpec(name, fn, tuple(aliases), help_key, admin, hidden)
            self.commands[name] = spec
            for n in (name, *aliases):
                if n in self._names:
                    raise ValueError(f"command {n!r} registered twice")
                self._names[n] = spec
            return fn

        return deco

    def message(self, pattern: str | re.Pattern[str] | Callable[[MessageEvent], bool]) -> Callable[[F], F]:
        """Messages in channels that are not addressed to the bot (e.g. ``@anna :star: danke``)."""
        if callable(pattern) and not isinstance(pattern, re.Pattern):
            test = pattern
        else:
            rx = re.compile(pattern) if isinstance(pattern, str) else pattern
            test = lambda ev: bool(rx.search(ev.text))  # noqa: E731

        def deco(fn: F) -> F:
            self._messages.append(Route(lambda ev: isinstance(ev, MessageEvent) and test(ev), fn))
            return fn

        return deco

    def action(self, prefix: str) -> Callable[[F], F]:
        """Buttons and forms whose action id equals ``prefix`` or starts with ``prefix:``."""

        def deco(fn: F) -> F:
            self._actions.append((prefix, fn))
            return fn

        return deco

    def on(self, event_type: type[Event]) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            self._events.append((event_type, fn))
            return fn

        return deco

    def schedule(self, name: str) -> Callable[[Callable[[Any], Awaitable[None]]], Callable[[Any], Awaitable[None]]]:
        """A scheduled function, called on every scheduler tick with a ``bot.core.jobs.JobContext``."""

        def deco(fn: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
            if name in self.schedules:
                raise ValueError(f"schedule {name!r} registered twice")
            self.schedules[name] = fn
            return fn

        return deco

    def reaction(self, fn: F) -> F:
        self._events.append((ReactionEvent, fn))
        return fn

    # lookup ---------------------------------------------------------------------------------------
    def resolve_command(self, word: str) -> CommandSpec | None:
        return self._names.get(word.lower().lstrip("/"))

    def closest_commands(self, word: str, limit: int = 2) -> list[str]:
        visible = [n for n, s in self._names.items() if not s.hidden]
        # Plain edit distance: typos match, while short names no longer match inside unrelated words.
        found = process.extract(word.lower(), visible, scorer=fuzz.ratio, limit=limit, score_cutoff=60)
        return [m[0] for m in found]

    def _find(self, event: Event) -> tuple[Handler | None, Event]:
        if isinstance(event, CommandEvent):
            spec = self.resolve_command(event.name)
            return (spec.handler if spec else None), event
        if isinstance(event, MessageEvent) and event.addressed:
            text = event.text.strip()
            if not text:
                return None, event
            parts = text.split(None, 1)
            first, rest = parts[0], (parts[1] if len(parts) > 1 else "")
            cmd = CommandEvent(
                actor=event.actor,
                conversation=event.conversation,
                event_id=event.event_id,
                received_at=event.received_at,
                raw=event.raw,
                name=first.lower().lstrip("/"),
                text=rest,
                mentions=event.mentions,
                message_id=event.message_id,
            )
            spec = self.resolve_command(cmd.name)
            return (spec.handler if spec else None), cmd
        if isinstance(event, MessageEvent):
            for route in self._messages:
                if route.matcher(event):
                    return route.handler, event
            return None, event
        if isinstance(event, ActionEvent):
            for prefix, fn in self._actions:
                if event.action_id == prefix or event.action_id.startswith(prefix + ":"):
                    return fn, event
            return None, event
        for etype, fn in self._events:
            if isinstance(event, etype):
                return fn, event
        return None, event

    # dispatch -------------------------------------------------------------------------------------
    async def dispatch(self, event: Event, services: Services) -> list[Message]:
        """Run one event through the middleware and its handler; returns the messages to render now."""
        handler, event = self._find(event)
        if handler is None and not _wants_unknown_reply(event):
            return []
        settings = services.settings
        out: list[Message] = []
        bound = log.bind(
            platform=event.actor.platform.value, workspace=event.actor.workspace_id, kind=type(event).__name__
        )
        # A deadlock or serialization failure (PostgreSQL) rolled everything back: run the event again.
        # A UserError rolls the handler's writes back with the whole transaction; the event is then
        # recorded (dedupe key) and the refusal composed in a second, short transaction. The happy path
        # so needs no savepoint round trips.
        refusal: UserError | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                async with transaction(services.sessions) as session:
                    if event.event_id and not await core.claim_platform_event(
                        session, workspace_id=event.actor.workspace_id, event_id=event.event_id, now=services.clock()
                    ):
                        # Never the platform's id: it can carry the person's id and the exact time.
                        bound.info("duplicate_event_ignored")
                        return []
                    ctx = await _context(event, services, session)
                    if isinstance(event, CommandEvent):
                        ctx.args = event.args
                    if refusal is not None:
                        ctx.out = [_error_message(ctx, refusal)]
                    elif handler is None:
                        _unknown_command(ctx, self)
                    else:
                        try:
                            await handler(ctx)
                        except UserError as err:
                            refusal = err
                            raise _Refused from err
                    out = await _queue_proactive(ctx)
                break
            except _Refused:
                attempt -= 1  # not a failure: the next pass records the event and answers the refusal
                continue
            except Exception as err:
                if core.is_transient(err) and attempt < TRANSACTION_ATTEMPTS:
                    bound.warning("transaction_retried", attempt=attempt, error=str(err.__cause__ or err)[:200])
                    # A little jitter, so the same transactions do not collide again.
                    await asyncio.sleep(random.uniform(0.0, 0.02 * attempt))
                    continue
                bound.exception("handler_failed")
                t = translator_for(event.actor.locale, settings.default_locale)
                return [Message(blocks=[Section(text=t("core.error"))], text=t("core.error"), target=_ephemeral(event))]
        if len(out) != len(ctx.out) and services.on_outbox is not None:
            services.on_outbox()
        return out


class _Refused(Exception):
    """Internal: the handler refused with a UserError; its transaction is rolled back."""


async def _context(event: Event, services: Services, session: AsyncSession) -> Context:
    """The workspace (created on first contact) and the actor (refreshed when a fact changed)."""
    settings = services.settings
    actor = event.actor
    ws, known = await core.load_actor(session, workspace_id=actor.workspace_id, user_id=actor.user_id)
    if ws is None:
        ws = await core.ensure_workspace(
            session,
            workspace_id=actor.workspace_id,
            platform=actor.platform.value,
            locale=settings.default_locale,
            timezone=settings.default_timezone,
        )
    member = await core.upsert_member(
        session,
        workspace_id=ws.id,
        user_id=actor.user_id,
        touch=known is None,  # someone new is inserted at once; a known row is written only when a fact changed
        fill_only=("locale",),
        known_member=known,
        display_name=actor.display_name or None,
        locale=actor.locale,
        timezone=actor.timezone,
        is_bot=actor.is_bot or None,
        is_admin=actor.is_admin or None,
        department=actor.department,
    )
    t = translator_for(member.locale, ws.locale, tone=ws.tone)
    return Context(event=event, services=services, session=session, workspace=ws, member=member, t=t)


def _ephemeral(event: Event) -> Target:
    return Target(kind="ephemeral", user_id=event.actor.user_id)


def _wants_unknown_reply(event: Event) -> bool:
    return isinstance(event, CommandEvent) or (isinstance(event, MessageEvent) and event.addressed and bool(event.text))


def _error_message(ctx: Context, err: UserError) -> Message:
    text = ctx.t(err.key, **err.params)
    return Message(blocks=[Section(text=text)], text=text, target=_ephemeral(ctx.event))


def _unknown_command(ctx: Context, router: Router) -> None:
    word = ctx.event.name if isinstance(ctx.event, CommandEvent) else ""
    close = router.closest_commands(word)
    if close:
        hint = ctx.t("core.unknown_command_close", command=word, suggestions=", ".join(f"`{c}`" for c in close))
    else:
        hint = ctx.t("core.unknown_command", command=word)
    ctx.ephemeral([Section(text=hint), Note(text=ctx.t("core.help_hint"))])


async def _queue_proactive(ctx: Context) -> list[Message]:
    """Proactive messages go to the outbox in the event's transaction; the rest is rendered now."""
    now_msgs: list[Message] = []
    queued: list[dict[str, Any]] = []
    for msg in ctx.out:
        if msg.target.kind in ("dm", "channel"):
            target_id = msg.target.user_id if msg.target.kind == "dm" else msg.target.channel_id
            queued.append(
                core.outbox_row(
                    workspace_id=ctx.workspace.id,
                    platform=ctx.actor.platform.value,
                    target_kind=msg.target.kind,
                    target_id=target_id or "",
                    thread_id=msg.target.thread_id,
                    payload=msg.model_dump(mode="json"),
                    cause=type(ctx.event).__name__,
                    dedupe_key=msg.dedupe_key,
                    now=ctx.now,
                    send_at=ctx.now + timedelta(hours=1) if ctx.anonymous else None,
                )
            )
        else:
            now_msgs.append(msg)
    await core.queue_messages(ctx.session, queued)
    return now_msgs


def require_admin(ctx: Context) -> None:
    if not (ctx.member.is_admin or ctx.actor.is_admin):
        raise UserError("core.admin_only")
