"""What a handler gets: the :class:`Context` of one event (its session, workspace, member, translator,
outgoing messages, parsed arguments and the feature gate), and the two ways to say no: a localized
:class:`UserError` for the person, or :meth:`Context.decline` ("not mine") for the router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import ActionEvent, Actor, CommandEvent, Event, MessageEvent, ReactionEvent, mention_ids
from bot.core.i18n import Translator, translator_for
from bot.core.messages import Block, Form, Message, Section, Target
from bot.core.services import PersonInfo, Services
from storage import core
from storage.models import Member, Workspace
from storage.types import floor_day, floor_hour

FeatureGate = Callable[[AsyncSession, str, str], Awaitable[bool]]
T = TypeVar("T")
Calls = dict[Hashable, Callable[[], Awaitable[Any]]]


class FetchFirst(BaseException):
    """The handler needs network answers (a directory, a language model) that must not be awaited while its
    transaction holds the database. The router rolls the transaction back, makes the calls with no
    transaction open, and runs the handler again with their answers (:meth:`Context.before_transaction`).

    A ``BaseException``, so that a handler's broad ``except Exception`` (e.g. "a model outage must never
    block a submission") cannot swallow it.
    """

    def __init__(self, calls: Calls) -> None:
        super().__init__(sorted(map(str, calls)))
        self.calls = calls


@dataclass
class Failed:
    """A call made before the transaction raised this; the handler gets it raised on its second run."""

    error: Exception


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
    args: list[str] = field(default_factory=list)  # the words after the command (after the subcommand, if any)
    params: dict[str, Any] = field(default_factory=dict)  # the subcommand's parsed arguments, by name
    rest: str = ""  # the text after the subcommand word (or the whole line for a fallback), as typed
    sub: str | None = None  # the subcommand that runs, by its English name
    gate: FeatureGate | None = field(default=None, repr=False)  # the router's feature gate
    origin: Event | None = field(default=None, repr=False)  # the event as it arrived (a message read as a command)
    #: Set by a handler before it writes an anonymous action: from then on ``now`` is the full hour, and
    #: the messages it queues carry only the hour and go out with the next hour's batch, so no row this
    #: transaction writes has a finer time than the hour.
    anonymous: bool = False
    fetched: dict[Hashable, Any] = field(default_factory=dict, repr=False)  # answers of calls made before
    #: Rows of the people the event names, read with the workspace at its start (None: no row); each is
    #: handed out once by :meth:`person`, which reads the database itself after that.
    preloaded: dict[str, Member | None] = field(default_factory=dict, repr=False)

    @property
    def said_openly(self) -> bool:
        """The event is a message in a conversation not addressed to the bot (already public)."""
        return isinstance(self.origin, MessageEvent) and not self.origin.addressed

    async def feature_on(self, feature: str) -> bool:
        """Whether ``feature`` is switched on in this workspace (the router's gate)."""
        return True if self.gate is None else await self.gate(self.session, self.workspace.id, feature)

    def decline(self) -> NoReturn:
        """Not mine: the router tries the next route. Call it before writing anything."""
        raise Declined

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

    async def before_transaction(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """The answer of ``call()``, a network call (a directory, a language model), made while no database
        transaction is open: the first time a handler asks, its transaction is rolled back, the call is made
        and the handler runs again, getting the answer (or the call's exception) here. ``key`` names the
        question; ask with the same key on the second run."""
        return cast(T, await self.before_transaction_many({key: call}, key))

    async def before_transaction_many(self, calls: Calls, key: Hashable) -> Any:
        """Like :meth:`before_transaction` for ``key``, fetching the other ``calls`` in the same round."""
        if key not in self.fetched:
            raise FetchFirst({k: c for k, c in calls.items() if k not in self.fetched})
        answer = self.fetched[key]
        if isinstance(answer, Failed):
            raise answer.error
        return answer

    async def person(self, user_id: str) -> Member | None:
        """A person by platform id: from the database, refreshed from the platform's directory.

        A directory that holds its people in memory (``known``, e.g. Slack's, kept warm from ``users.list`` and
        ``user_change`` events) answers at once, and the row is written only when a fact changed. Otherwise the
        directory is asked when the row is a day old or missing, before the transaction (see
        :meth:`before_transaction`), together with everyone else the event names, so a slow directory never
        holds the database."""
        ws = self.workspace.id
        if user_id in self.preloaded:
            member = self.preloaded.pop(user_id)
        else:
            member = await core.get_member(self.session, workspace_id=ws, user_id=user_id)
        directory = self.services.directories.get(self.actor.platform)
        if directory is None:
            return member
        in_memory = getattr(directory, "known", None)
        found, info = in_memory(ws, user_id) if in_memory is not None else (False, None)
        if not found:
            # Last-seen times are kept to the day: a person is refreshed at most once a day.
            age = floor_day(self.now) - member.updated_at if member is not None else None
            if age is not None and age < max(self.services.directory_ttl, timedelta(days=1)):
                return member
            named = [
                u for u in dict.fromkeys([user_id, *people_named(self.event)]) if ("person", u) not in self.fetched
            ]
            calls: Calls = {("person", u): _lookup(directory.fetch, ws, u) for u in named}
            try:
                info = await self.before_transaction_many(calls, ("person", user_id))
            except Exception:
                if member is None:
                    raise  # nobody knows them: "try again" is the honest answer
                return member  # a directory outage: what the database knows is the best answer
        if info is None:
            return member
        return await core.upsert_member(
            self.session,
            workspace_id=ws,
            user_id=user_id,
            touch=not found or member is None,  # an answer from memory is written only when a fact changed
            known_member=member,
            display_name=info.display_name,
            fill_only=("locale",),
            is_bot=info.is_bot,
            is_guest=info.is_guest,
            is_admin=info.is_admin or None,  # an admin granted in Starling stays one
            locale=info.locale,
            timezone=info.timezone,
            department=info.department,
            handle=info.handle,
        )


def _lookup(
    fetch: Callable[[str, str], Awaitable[PersonInfo | None]], workspace_id: str, user_id: str
) -> Callable[[], Awaitable[PersonInfo | None]]:
    return lambda: fetch(workspace_id, user_id)


def people_named(event: Event) -> list[str]:
    """Everyone an event names: mentions, ``<@…>`` tokens in its text, a reaction's message author."""
    found: list[str] = []
    if isinstance(event, CommandEvent | MessageEvent):
        found += [m.user_id for m in event.mentions] + mention_ids(event.text)
    if isinstance(event, ReactionEvent) and event.item_author_id:
        found.append(event.item_author_id)
    return found[:50]


class Declined(Exception):
    """Raised by :meth:`Context.decline`: the message is not this handler's, the router tries the next route."""
