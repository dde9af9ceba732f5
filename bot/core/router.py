"""The router: features register commands (with declared subcommands), message routes, reactions,
actions, events and schedules, each under a feature name; every event passes the same middleware
(dedupe, workspace and locale, the feature gate, error reporting) in one database transaction, and the
handler's proactive messages enter the outbox in that transaction. See :class:`Router`."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import Any

import structlog
from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.commands import Arg, ArgError, Command, F, Handler, Intro, Sub, parse_args
from bot.core.context import Calls, Context, Declined, Failed, FeatureGate, FetchFirst, UserError, people_named
from bot.core.events import (
    ActionEvent,
    CommandEvent,
    Event,
    MessageEvent,
    ReactionEvent,
)
from bot.core.i18n import translator_for
from bot.core.messages import Block, Header, Markup, Message, Note, Section, Target, user_text
from bot.core.services import Services
from storage import core, privacy
from storage.db import transaction
from storage.models import OutboxMessage
from storage.outbox import Lane

log = structlog.get_logger("starling.router")
TRANSACTION_ATTEMPTS = 5
FETCH_ROUNDS = 4  # network look-ups a handler may ask for before its transaction, one round at a time

__all__ = [
    "Arg",
    "Command",
    "Context",
    "Declined",
    "FeatureGate",
    "Priority",
    "Router",
    "UserError",
    "command_help",
    "command_usable",
    "require_admin",
    "require_on",
]


class Priority(IntEnum):
    """The order message routes are tried in (higher first). Within a priority, the order of registration."""

    EXPLICIT = 300  # an explicit command word in free text (``kudos <@U1> …`` in a thread)
    THREAD = 200  # a reply in a thread a feature knows (the route declines threads it does not know)
    COMMAND = 150  # a message addressed to the bot is read as a command here
    PATTERN = 100  # free-text patterns (``<@U1> :star: danke``)


@dataclass
class Route:
    matcher: Callable[[MessageEvent], bool]
    handler: Handler
    feature: str
    priority: int = Priority.PATTERN
    addressed: bool = False  # also offered messages addressed to the bot (before they are read as commands)


@dataclass
class ActionRoute:
    prefix: str
    handler: Handler
    feature: str


@dataclass
class EventRoute:
    event_type: type[Event]
    handler: Handler
    feature: str
    quiet: bool = True  # switched off: passed over silently (no refusal for a join, a deletion, an app opened)


@dataclass
class ScheduleSpec:
    name: str
    fn: ScheduledFn
    feature: str


ScheduledFn = Callable[[Any], Awaitable[None]]
Done = Callable[[AsyncSession], Awaitable[None]]  # written in the transaction that records an event


async def switches_gate(session: AsyncSession, workspace_id: str, feature: str) -> bool:
    """The default gate: the workspace's feature switches (``privacy feature <name> on|off``)."""
    return await privacy.feature_enabled(session, workspace_id, feature)


class Router:
    """Where features register what they answer to. Every registration names its ``feature``.

    Order and declining
        Message routes are tried by :class:`Priority` (then in registration order): an explicit command
        word in a thread, then replies in threads a feature knows, then, for a message addressed to the bot,
        the command it names, then free-text patterns. A handler that finds the message is not its own
        calls :meth:`Context.decline` (before it writes anything); the next route is tried, and what the
        declining handler had queued is dropped.

    Commands and subcommands
        :meth:`command` returns a :class:`bot.core.commands.Command` on which subcommands are declared
        with their words in both languages, typed arguments and help keys. The router chooses the
        subcommand, parses its arguments (``ctx.params``), answers a mistyped one with "did you mean",
        and ``help``/``help <command>`` are generated from the same declarations.

    The feature gate
        ``gate(session, workspace_id, feature)`` says whether a feature is on in a workspace. It is asked
        once per dispatch, for the handler that is about to run: a subcommand's feature (else its
        command's), an action's, an event's, a message route's. A switched-off feature is refused with
        ``core.feature_off`` (a message route that is switched off is passed over silently, so the next
        route may take the message). Scheduled functions see the same gate through
        ``JobContext.feature_on``/``JobContext.schedules``, with the feature they were registered with.
        The default gate reads the switches in ``storage.privacy``; the composition root may pass another.
    """

    def __init__(self, *, gate: FeatureGate = switches_gate) -> None:
        self.gate = gate
        self.commands: dict[str, Command] = {}
        self._names: dict[str, Command] = {}
        self._messages: list[Route] = []
        self._actions: list[ActionRoute] = []
        self._events: list[EventRoute] = []
        self.schedules: dict[str, ScheduleSpec] = {}
        self.thread_commands: set[str] = set()

    # registration -------------------------------------------------------------------------------
    def command(
        self,
        name: str,
        *,
        feature: str,
        aliases: Sequence[str] = (),
        help_key: str | None = None,
        intro: Intro | None = None,
        title_key: str | None = None,
        admin: bool = False,
        hidden: bool = False,
        default: str | None = None,
        in_threads: bool = False,
    ) -> Command:
        """A command; declare subcommands on the returned :class:`Command`, or use it as a decorator.

        ``in_threads``: the command's own name at the start of a thread reply is read as the command even
        when the bot is not addressed (slash commands cannot be used in threads). A command with
        subcommands answers ``help``/``hilfe``/``?`` with its generated help (see :func:`command_help`)."""
        spec = Command(
            name,
            feature,
            aliases=tuple(aliases),
            help_key=help_key,
            intro=intro,
            title_key=title_key,
            admin=admin,
            hidden=hidden,
            default=default,
        )

        async def show_help(ctx: Context) -> None:
            ctx.ephemeral(await command_help(ctx, spec))

        spec.help_handler = show_help  # becomes its ``help`` subcommand once it declares one
        self.commands[name] = spec
        for n in (name, *aliases):
            if n in self._names:
                raise ValueError(f"command {n!r} registered twice")
            self._names[n] = spec
        if in_threads:
            self.thread_commands.add(name)
        return spec

    def message(
        self,
        pattern: str | re.Pattern[str] | Callable[[MessageEvent], bool],
        *,
        feature: str,
        priority: int = Priority.PATTERN,
        addressed: bool = False,
    ) -> Callable[[F], F]:
        """Messages the bot can see (e.g. ``@anna :star: danke``). ``addressed``: also messages addressed to
        the bot, offered before they are read as commands (only above :attr:`Priority.COMMAND`)."""
        if callable(pattern) and not isinstance(pattern, re.Pattern):
            test = pattern
        else:
            rx = re.compile(pattern) if isinstance(pattern, str) else pattern
            test = lambda ev: bool(rx.search(ev.text))  # noqa: E731

        def deco(fn: F) -> F:
            self._messages.append(Route(test, fn, feature, priority, addressed))
            # Stable: equal priorities keep their registration order.
            self._messages.sort(key=lambda r: -r.priority)
            return fn

        return deco

    def action(self, prefix: str, *, feature: str) -> Callable[[F], F]:
        """Buttons and forms whose action id equals ``prefix`` or starts with ``prefix:``."""

        def deco(fn: F) -> F:
            self._actions.append(ActionRoute(prefix, fn, feature))
            return fn

        return deco

    def on(self, event_type: type[Event], *, feature: str, quiet: bool = True) -> Callable[[F], F]:
        """Other events (a reaction, a join, a deleted message, the app opened). ``quiet``: while the
        feature is switched off the event is passed over without a word; otherwise it is refused."""

        def deco(fn: F) -> F:
            self._events.append(EventRoute(event_type, fn, feature, quiet))
            return fn

        return deco

    def reaction(self, *, feature: str) -> Callable[[F], F]:
        return self.on(ReactionEvent, feature=feature)

    def schedule(self, name: str, *, feature: str) -> Callable[[ScheduledFn], ScheduledFn]:
        """A scheduled function, called on every scheduler tick with a ``bot.core.jobs.JobContext``."""

        def deco(fn: ScheduledFn) -> ScheduledFn:
            if name in self.schedules:
                raise ValueError(f"schedule {name!r} registered twice")
            self.schedules[name] = ScheduleSpec(name, fn, feature)
            return fn

        return deco

    # lookup ---------------------------------------------------------------------------------------
    def resolve_command(self, word: str) -> Command | None:
        return self._names.get(word.lower().lstrip("/"))

    def closest_commands(self, word: str, limit: int = 2) -> list[str]:
        visible = [n for n, s in self._names.items() if not s.hidden]
        # Plain edit distance: typos match, while short names no longer match inside unrelated words.
        found = process.extract(word.lower(), visible, scorer=fuzz.ratio, limit=limit, score_cutoff=60)
        return [m[0] for m in found]

    def _steps(self, event: Event) -> list[Step]:
        """What may answer ``event``, in order; an empty list means nothing does."""
        if isinstance(event, CommandEvent):
            return [_CommandStep(self, event)]
        if isinstance(event, MessageEvent):
            text = event.text.strip()
            if not text:
                return []
            command = _as_command(event)
            in_thread = bool(event.thread_id or (event.conversation and event.conversation.thread_id))
            if in_thread and command.name in self.thread_commands:
                return [_CommandStep(self, command)]
            steps: list[Step] = []
            for route in self._messages:
                if event.addressed and not (route.addressed and route.priority > Priority.COMMAND):
                    continue
                if route.matcher(event):
                    steps.append(_RouteStep(route))
            if event.addressed:
                steps.append(_CommandStep(self, command))
            return steps
        if isinstance(event, ActionEvent):
            for action in self._actions:
                if event.action_id == action.prefix or event.action_id.startswith(action.prefix + ":"):
                    return [_GatedStep(action.handler, action.feature)]
            return []
        for other in self._events:
            if isinstance(event, other.event_type):
                return [_GatedStep(other.handler, other.feature, quiet=other.quiet)]
        return []

    # dispatch -------------------------------------------------------------------------------------
    async def dispatch(self, event: Event, services: Services, *, done: Done | None = None) -> list[Message]:
        """Run one event through the middleware and its handler; returns the messages to render now.

        ``done(session)`` runs in the transaction that records the event (its effect, its refusal, or the
        finding that it was handled before), so whatever it writes (the inbox deleting the event's row) is
        committed together with the effect or not at all. It does not run when no transaction commits (no
        route takes the event, or the handler failed): the caller finishes such events itself."""
        steps = self._steps(event)
        if not steps:
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
        fetched: dict[Hashable, Any] = {}
        rounds = 0
        outage_until: float | None = None
        outage_waits = 0
        attempt = 0
        lanes: frozenset[Lane] = frozenset()  # the conversations the committed messages were queued for
        while True:
            attempt += 1
            try:
                async with transaction(services.sessions) as session:
                    if event.event_id and not await core.claim_platform_event(
                        session, workspace_id=event.actor.workspace_id, event_id=event.event_id, now=services.clock()
                    ):
                        # Never the platform's id: it can carry the person's id and the exact time.
                        bound.info("duplicate_event_ignored")
                        if done is not None:
                            await done(session)
                        return []
                    ctx = await _context(event, services, session)
                    ctx.gate = self.gate
                    ctx.origin = event
                    ctx.fetched = fetched
                    if refusal is not None:
                        ctx.out = [_error_message(ctx, refusal)]
                    else:
                        try:
                            await _run_steps(ctx, steps)
                        except UserError as err:
                            refusal = err
                            raise _Refused from err
                    out, lanes = await _queue_proactive(ctx)
                    if done is not None:
                        await done(session)
                break
            except _Refused:
                attempt -= 1  # not a failure: the next pass records the event and answers the refusal
                continue
            except FetchFirst as need:
                rounds += 1
                if rounds > FETCH_ROUNDS:
                    bound.error("handler_fetch_rounds_exceeded", wanted=str(need))
                    return [_failure(event, settings.default_locale)]
                await _fetch_round(need.calls, fetched)  # the transaction is closed: nothing is held meanwhile
                continue
            except Exception as err:
                if core.is_transient(err) and attempt < TRANSACTION_ATTEMPTS:
                    bound.warning("transaction_retried", attempt=attempt, error=_short(err))
                    # A little jitter, so the same transactions do not collide again.
                    await asyncio.sleep(random.uniform(0.0, 0.02 * attempt))
                    continue
                if core.is_unavailable(err):
                    # The database is away (refused, restarting, failing over): wait for it, for a bounded time,
                    # before anyone is told that something failed. The event is not lost meanwhile.
                    loop = asyncio.get_running_loop()
                    if outage_until is None:
                        outage_until = loop.time() + settings.database_outage_seconds
                    if loop.time() < outage_until:
                        attempt -= 1
                        outage_waits += 1
                        wait = min(0.05 * 2**outage_waits, 2.0, max(outage_until - loop.time(), 0.0))
                        bound.warning("database_unavailable_retrying", waits=outage_waits, error=_short(err))
                        await asyncio.sleep(random.uniform(wait / 2, wait))
                        continue
                bound.exception("handler_failed")
                return [_failure(event, settings.default_locale)]
        if lanes and services.on_outbox is not None:
            services.on_outbox(lanes)
        return out


async def _fetch_round(calls: Calls, into: dict[Hashable, Any]) -> None:
    """Make one round of network calls at once, with no transaction open; failures are kept as answers."""
    keys = list(calls)
    answers = await asyncio.gather(*(calls[k]() for k in keys), return_exceptions=True)
    for key, answer in zip(keys, answers, strict=True):
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer
        into[key] = Failed(answer) if isinstance(answer, Exception) else answer


def _short(err: BaseException) -> str:
    return str(err.__cause__ or err).replace("\n", " ")[:200]


def _failure(event: Event, default_locale: str) -> Message:
    t = translator_for(event.actor.locale, default_locale)
    return Message(blocks=[Section(text=t("core.error"))], text=t("core.error"), target=_ephemeral(event))


class Step:
    """One candidate for an event. ``run`` raises :class:`Declined` to pass the event on."""

    async def run(self, ctx: Context) -> None:
        raise NotImplementedError


@dataclass
class _RouteStep(Step):
    route: Route

    async def run(self, ctx: Context) -> None:
        if not await ctx.feature_on(self.route.feature):
            raise Declined
        await self.route.handler(ctx)


@dataclass
class _GatedStep(Step):
    handler: Handler
    feature: str
    quiet: bool = False

    async def run(self, ctx: Context) -> None:
        if self.quiet and not await ctx.feature_on(self.feature):
            return
        await require_on(ctx, self.feature)
        await self.handler(ctx)


@dataclass
class _CommandStep(Step):
    router: Router
    event: CommandEvent

    async def run(self, ctx: Context) -> None:
        ctx.event = self.event
        ctx.args = self.event.args
        spec = self.router.resolve_command(self.event.name)
        if spec is None:
            _unknown_command(ctx, self.router)
            return
        await run_command(ctx, spec)


async def _run_steps(ctx: Context, steps: Sequence[Step]) -> None:
    original = ctx.event
    for step in steps:
        mark = len(ctx.out)
        try:
            await step.run(ctx)
            return
        except Declined:
            del ctx.out[mark:]
            ctx.event = original
            continue


async def require_on(ctx: Context, feature: str) -> None:
    """Refuse (``core.feature_off``) when ``feature`` is switched off in this workspace."""
    if not await ctx.feature_on(feature):
        key = f"privacy.features.{feature}"
        raise UserError("core.feature_off", feature=ctx.t(key) if ctx.t.has(key) else feature)


async def run_command(ctx: Context, spec: Command) -> None:
    """Choose the subcommand, check its feature and arguments, run it."""
    if not spec.subs:
        if spec.handler is None:
            raise RuntimeError(f"command {spec.name!r} has no handler")
        await require_on(ctx, spec.feature)
        await spec.handler(ctx)
        return
    text = ctx.event.text.strip() if isinstance(ctx.event, CommandEvent) else ""
    word, _, rest = text.partition(" ")
    sub = spec.resolve(word) if word else (spec.resolve(spec.default) if spec.default else None)
    if sub is None:
        close = spec.closest(word, ctx.t) if word else []
        needs = spec.fallback_requires
        if close and needs is not None and not any(needs.accept(w) is not None for w in text.split()):
            hint = Markup(", ".join(f"`{spec.name} {c}`" for c in close))  # our own command names
            raise UserError("core.unknown_sub_close", command=spec.name, sub=word, suggestions=hint)
        if spec.fallback_handler is not None and (word or spec.default is None):
            await require_on(ctx, spec.fallback_feature or spec.feature)
            ctx.rest = text
            await spec.fallback_handler(ctx)
            return
        if not word and spec.handler is not None:
            await require_on(ctx, spec.feature)
            await spec.handler(ctx)
            return
        if close:
            hint = Markup(", ".join(f"`{spec.name} {c}`" for c in close))  # our own command names
            raise UserError("core.unknown_sub_close", command=spec.name, sub=word, suggestions=hint)
        raise UserError("core.unknown_sub", command=spec.name, sub=word)
    try:
        params = parse_args(sub.args, rest)
    except ArgError as err:
        if sub.loose and spec.fallback_handler is not None and (err.word is not None or not sub.error_key):
            await require_on(ctx, spec.fallback_feature or spec.feature)
            ctx.rest = text
            await spec.fallback_handler(ctx)
            return
        await require_on(ctx, sub.feature)
        if sub.admin:
            require_admin(ctx)
        usage = sub.usage(spec.name, ctx.t)
        if sub.error_key:
            raise UserError(sub.error_key, usage=usage, arg=user_text(err.word or "")) from None
        if err.word is None:
            raise UserError("core.missing_args", usage=usage) from None
        raise UserError("core.bad_arg", arg=user_text(err.word), usage=usage) from None
    await require_on(ctx, sub.feature)
    if sub.admin:
        require_admin(ctx)
    ctx.params = params
    ctx.sub = sub.name
    ctx.rest = rest.strip()
    ctx.args = rest.split()
    await sub.handler(ctx)


async def visible_subs(ctx: Context, spec: Command) -> list[Sub]:
    """The subcommands this person may use here, in declaration order (help last): not hidden, not for
    admins only (unless the person is one), and not switched off in the workspace."""
    admin = bool(ctx.member.is_admin or ctx.actor.is_admin)
    subs = [s for s in spec.subs if not s.hidden and (admin or not s.admin) and await ctx.feature_on(s.feature)]
    return [s for s in subs if s.name != "help"] + [s for s in subs if s.name == "help"]


async def command_usable(ctx: Context, spec: Command) -> bool:
    """Whether ``help`` lists the command: something of it is switched on for this person."""
    if spec.hidden or (spec.admin and not (ctx.member.is_admin or ctx.actor.is_admin)):
        return False
    if await ctx.feature_on(spec.fallback_feature or spec.feature):
        return True
    return any(s.name != "help" for s in await visible_subs(ctx, spec))


async def command_help(ctx: Context, spec: Command) -> Message:
    """``help <command>``: the feature's own explanation, then one line per subcommand it declares, in the
    reader's language (its German or English word, typed arguments, its help text)."""
    t = ctx.t
    title = t(spec.title_key) if spec.title_key else t("core.help.title", command=spec.name)
    blocks: list[Block] = [Header(text=title)]
    if spec.intro is not None:
        blocks.extend(await spec.intro(ctx))
    lines = []
    if (
        spec.fallback_handler is not None
        and spec.fallback_help_key
        and await ctx.feature_on(spec.fallback_feature or spec.feature)
    ):
        usage = t(spec.fallback_usage_key) if spec.fallback_usage_key else f"{spec.name} …"
        lines.append(f"• `{usage}`: {t(spec.fallback_help_key)}")
    for sub in await visible_subs(ctx, spec):
        line = f"• `{sub.usage(spec.name, t)}`"
        if sub.help_key:
            line += f": {t(sub.help_key)}"
        if sub.admin:
            line += " " + t("core.help.admin")
        lines.append(line)
    if lines:
        blocks.append(Section(text=f"*{t('core.help.commands_title', command=spec.name)}*\n" + "\n".join(lines)))
    elif not spec.subs and spec.help_key:  # a command without subcommands: its own line
        blocks.append(Section(text=f"`{spec.name}`: {t(spec.help_key)}"))
    if spec.aliases:
        blocks.append(Note(text=t("core.help.aliases", words=Markup(", ".join(f"`{a}`" for a in spec.aliases)))))
    return Message(blocks=blocks, text=title)


def _as_command(event: MessageEvent) -> CommandEvent:
    parts = event.text.strip().split(None, 1)
    first, rest = parts[0], (parts[1] if len(parts) > 1 else "")
    return CommandEvent(
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


class _Refused(Exception):
    """Internal: the handler refused with a UserError; its transaction is rolled back."""


async def _context(event: Event, services: Services, session: AsyncSession) -> Context:
    """The workspace (created on first contact) and the actor (refreshed when a fact changed)."""
    settings = services.settings
    actor = event.actor
    # The actor and everyone the event names, with the workspace, in one statement.
    people = list(dict.fromkeys([actor.user_id, *people_named(event)]))
    ws, rows = await core.load_people(session, workspace_id=actor.workspace_id, user_ids=people)
    known = rows.pop(actor.user_id)
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
        is_guest=actor.is_guest or None,
        is_admin=actor.is_admin or None,
        department=actor.department,
    )
    t = translator_for(member.locale, ws.locale, tone=ws.tone)
    ctx = Context(event=event, services=services, session=session, workspace=ws, member=member, t=t)
    ctx.preloaded = rows
    return ctx


def _ephemeral(event: Event) -> Target:
    return Target(kind="ephemeral", user_id=event.actor.user_id)


def _error_message(ctx: Context, err: UserError) -> Message:
    text = ctx.t(err.key, **err.params)
    return Message(blocks=[Section(text=text)], text=text, target=_ephemeral(ctx.event))


def _unknown_command(ctx: Context, router: Router) -> None:
    word = ctx.event.name if isinstance(ctx.event, CommandEvent) else ""
    close = router.closest_commands(word)
    if close:
        hint = ctx.t("core.unknown_command_close", command=word, suggestions=Markup(", ".join(f"`{c}`" for c in close)))
    else:
        hint = ctx.t("core.unknown_command", command=word)
    ctx.ephemeral([Section(text=hint), Note(text=ctx.t("core.help_hint"))])


async def _queue_proactive(ctx: Context) -> tuple[list[Message], frozenset[Lane]]:
    """Proactive messages go to the outbox in the event's transaction; the rest is rendered now. Returns the messages
    to render and the conversations the queued ones are for."""
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
                    cause="anonymous" if ctx.anonymous else type(ctx.event).__name__,
                    dedupe_key=msg.dedupe_key,
                    now=ctx.now,
                    send_at=ctx.now + timedelta(hours=1) if ctx.anonymous else None,
                )
            )
        else:
            msg.anonymous = ctx.anonymous
            now_msgs.append(msg)
    if ctx.anonymous and queued:
        # Counted ids would place the anonymous action's messages between named, precisely timed ones.
        for row, row_id in zip(queued, await core.scattered_ids(ctx.session, OutboxMessage, len(queued)), strict=True):
            row["id"] = row_id
    await core.queue_messages(ctx.session, queued)
    return now_msgs, frozenset(Lane(r["platform"], r["workspace_id"], r["target_kind"], r["target_id"]) for r in queued)


def require_admin(ctx: Context) -> None:
    if not (ctx.member.is_admin or ctx.actor.is_admin):
        raise UserError("core.admin_only")
