"""The Teams adapter: Bot Framework activities in, neutral events through the router, Adaptive Cards out.

One request to ``/api/messages`` is authenticated (JWT, see :mod:`bot.teams.auth`), its conversation
reference is stored, the activity becomes a neutral event, and the router's messages are rendered:
``reply`` into the conversation, ``update`` into the card (invoke response or PUT), ``ephemeral`` and
forms privately (the 1:1 chat; in a 1:1 chat in place). ``dm`` and ``channel`` messages went to the
outbox in the handler's transaction and are delivered by :class:`bot.teams.proactive.TeamsSender`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity as SdkActivity
from botbuilder.schema import (
    ActivityTypes,
    Attachment,
    ErrorResponseException,
    InvokeResponse,
)
from msrest.exceptions import ClientRequestError

from bot import edge
from bot.app import Starling
from bot.core.events import ActionEvent, Actor, Event, MemberJoinedEvent, MessageEvent, Platform
from bot.core.i18n import Translator, translator_for
from bot.core.messages import Header, Message, Note, Section, Target
from bot.teams import activity as act
from bot.teams.auth import Connectors, build_authentication, wrap_result
from bot.teams.config import auth_required
from bot.teams.files import FILE_CONSENT_INVOKE
from bot.teams.inbound import check_activity
from bot.teams.proactive import (
    NoReference,
    TeamsDirectory,
    TeamsSender,
    TurnScope,
    current_scope,
    lookup_places,
    message_activity,
)
from bot.teams.render import ADAPTIVE_CARD, mention_ids_in, plain_text, render_card
from storage import core
from storage import teams as store
from storage.db import transaction
from storage.models import Member, OutboxMessage, Workspace
from storage.teams import TeamsConversation
from storage.types import floor_day

log = structlog.get_logger("starling.teams")

MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"


class TeamsAdapter:
    """Serves ``POST /api/messages`` for one Starling process and registers the Teams outbox sender."""

    platform = Platform.TEAMS

    def __init__(self, starling: Starling, **auth_overrides: Any) -> None:
        self.starling = starling
        self.settings = starling.settings
        self.require_auth = auth_required(self.settings)
        self.refuse_all = self.require_auth and not self.settings.teams_app_id
        self.auth = None if self.refuse_all else build_authentication(self.settings, **auth_overrides)
        self.cloud = CloudAdapter(self.auth) if self.auth is not None else None
        if self.cloud is not None:
            self.cloud.on_turn_error = self._on_turn_error
        self.connectors = Connectors(self.auth, self.settings.teams_app_id) if self.auth is not None else None
        if self.connectors is not None:
            self.sender: TeamsSender | None = TeamsSender(
                starling.sessions, self.connectors, clock=starling.services.clock
            )
            self.directory: TeamsDirectory | None = TeamsDirectory(self.connectors)
        else:
            self.sender = None
            self.directory = None

    # -- HTTP ------------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/messages``: 401 without a valid token (when required), 415/413/400 for bodies that
        cannot be read (see :mod:`bot.edge`); each refusal one short log line, never a 500."""
        if self.refuse_all or self.cloud is None or self.auth is None:
            return web.json_response({"error": "Teams is not configured (MicrosoftAppId)"}, status=401)
        raw = b""
        try:
            auth_header = request.headers.get("Authorization", "")
            if self.require_auth and not auth_header.strip():
                raise edge.Rejected(401, "no Authorization header")
            if "application/json" not in request.headers.get("Content-Type", ""):
                raise edge.Rejected(415, "not application/json")
            raw = await edge.read_body(request)
            body = edge.parse_object(edge.decode(raw))
            check_activity(body)
            try:
                activity = SdkActivity().deserialize(body)
            except Exception as err:  # msrest on values of the right JSON type but an unreadable form
                raise edge.Rejected(400, f"activity: {type(err).__name__}") from None
            try:
                result = await self.auth.authenticate_request(activity, auth_header)
            except Exception as err:  # the SDK raises PermissionError, and also others on malformed tokens
                raise edge.Rejected(401, f"{type(err).__name__}: {err}") from None
        except edge.Rejected as err:
            return edge.refuse(log, request, err, raw)

        async def logic(turn: TurnContext) -> None:
            await self.on_turn(turn, body)

        invoke = await self.cloud.process_activity(wrap_result(result), activity, logic)
        if invoke is not None:
            if invoke.status >= 500:  # the turn failed (logged by _on_turn_error); Teams shows its own error
                return web.json_response({"statusCode": 200, "type": MESSAGE_RESPONSE, "value": ""}, status=200)
            answer = invoke.body if isinstance(invoke.body, dict | list | None) else serializer_helper(invoke.body)
            return web.json_response(answer, status=invoke.status)
        return web.Response(status=201)

    async def _on_turn_error(self, turn: TurnContext, error: Exception) -> None:
        log.error("teams_turn_failed", error=edge.escape_log(f"{type(error).__name__}: {error}", 500), exc_info=error)

    # -- turns -----------------------------------------------------------------------------------------
    async def on_turn(self, turn: TurnContext, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if not act.conversation_id(raw) or not raw.get("serviceUrl"):
            return
        ref, scope = await self._remember(raw)
        token = current_scope.set(scope)
        try:
            if kind == ActivityTypes.message:
                await self._on_message(turn, raw, ref)
            elif kind == ActivityTypes.invoke and raw.get("name") == "adaptiveCard/action":
                body = await self._on_card_action(turn, raw, ref, invoke=True)
                response = InvokeResponse(status=200, body=body)
                await turn.send_activity(SdkActivity(type=ActivityTypes.invoke_response, value=response))
            elif kind == ActivityTypes.invoke and raw.get("name") == FILE_CONSENT_INVOKE:
                await self._on_file_consent(turn, raw, ref)
            elif kind == ActivityTypes.conversation_update:
                await self._on_conversation_update(turn, raw, ref)
            elif kind == ActivityTypes.installation_update:
                await self._on_installation_update(turn, raw, ref)
        finally:
            current_scope.reset(token)
        if scope.found:
            async with transaction(self.starling.sessions) as session:
                for user_id, aad in scope.found.items():
                    await store.save_user(session, workspace_id=scope.workspace_id, user_id=user_id, aad_object_id=aad)

    async def _remember(self, raw: dict[str, Any]) -> tuple[TeamsConversation, TurnScope]:
        """Store (refresh) the conversation reference and what we learn about the sender, before dispatch."""
        ws = act.workspace_of(raw, self.settings.teams_app_tenant_id)
        sender = raw.get("from") or {}
        uid = str(sender.get("id") or "")
        async with transaction(self.starling.sessions) as session:
            await core.ensure_workspace(
                session,
                workspace_id=ws,
                platform=Platform.TEAMS.value,
                locale=self.settings.default_locale,
                timezone=self.settings.default_timezone,
                name=_team_name(raw),
            )
            ref = await store.save_conversation(
                session, workspace_id=ws, conversation_id=act.conversation_id(raw), **act.reference_fields(raw)
            )
            if uid and not act.is_bot_id(uid):
                await store.save_user(session, workspace_id=ws, user_id=uid, aad_object_id=sender.get("aadObjectId"))
                # The Teams client's language and time zone are a person's defaults, set once: their own
                # later choice (`starling language …`) is never overwritten by the client.
                await core.insert_ignore(
                    session,
                    Member,
                    {
                        "workspace_id": ws,
                        "user_id": uid,
                        "display_name": str(sender.get("name") or ""),
                        "locale": act.client_locale(raw),
                        "timezone": act.client_timezone(raw),
                        # seen: the day, never finer (see storage.teams.save_user)
                        "created_at": floor_day(self.starling.services.clock()),
                        "updated_at": floor_day(self.starling.services.clock()),
                    },
                    ["workspace_id", "user_id"],
                )
            recent = await store.recent_conversations(session, workspace_id=ws, kinds=("channel", "groupChat"))
        places = lookup_places([ref, *[r for r in recent if r.conversation_id != ref.conversation_id]])
        return ref, TurnScope(workspace_id=ws, places=places)

    async def _on_message(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation) -> None:
        ws = ref.workspace_id
        actor = act.actor_of(raw, ws)
        if actor.is_bot:
            return
        conversation = act.neutral_conversation(raw)
        value = raw.get("value")
        if value is not None and not str(raw.get("text") or "").strip():
            await self._on_card_action(turn, raw, ref, invoke=False)
            return
        parsed = act.neutral_text(raw)
        personal = ref.kind == "personal"
        text = parsed.text
        addressed = personal or parsed.bot_mentioned
        if addressed and not text:
            text = "help"
        event = MessageEvent(
            actor=actor,
            conversation=conversation,
            event_id=act.event_id(raw),
            text=text,
            mentions=parsed.mentions,
            message_id=str(raw.get("id") or "") or None,
            thread_id=conversation.thread_id,
            addressed=addressed,
            raw=raw,
        )
        names = {m.user_id: m.display_name for m in parsed.mentions if m.display_name}
        if actor.display_name:
            names[actor.user_id] = actor.display_name
        messages = await self.starling.dispatch(event)
        await self.deliver(turn, raw, ref, event, messages, names=names)

    async def _on_card_action(
        self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation, *, invoke: bool
    ) -> dict[str, Any] | None:
        ws = ref.workspace_id
        actor = act.actor_of(raw, ws)
        action = act.invoke_action(raw) if invoke else act.card_action(raw.get("value"))
        t = await self._translator(ws, actor.user_id)
        if action is None or (action.is_form and action.missing):
            key = "teams.err.card_unreadable" if action is None else "teams.err.required"
            fields = ", ".join(action.missing) if action is not None else ""
            error = Message(blocks=[Section(text=t(key, fields=fields))], text=t(key, fields=fields))
            error.target = Target(kind="ephemeral", user_id=actor.user_id)
            event: Event = ActionEvent(actor=actor, conversation=act.neutral_conversation(raw), action_id="")
            return await self.deliver(turn, raw, ref, event, [error], invoke=invoke, t=t)
        event = ActionEvent(
            actor=actor,
            conversation=act.neutral_conversation(raw),
            event_id=act.event_id(raw),
            action_id=action.action_id,
            value=action.value,
            form=action.form,
            message_id=str(raw.get("replyToId") or "") or None,
            is_form=action.is_form,
            raw=raw,
        )
        messages = await self.starling.dispatch(event)
        return await self.deliver(turn, raw, ref, event, messages, invoke=invoke, t=t)

    async def _on_file_consent(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation) -> None:
        """The person accepted or declined a file Starling offered (see :mod:`bot.teams.files`)."""
        if self.sender is not None:
            t = await self._translator(ref.workspace_id, str((raw.get("from") or {}).get("id") or ""))
            await self.sender.files.answer(turn, raw, ref, t)
        response = InvokeResponse(status=200)
        await turn.send_activity(SdkActivity(type=ActivityTypes.invoke_response, value=response))

    async def _on_conversation_update(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation) -> None:
        bot_id = str((raw.get("recipient") or {}).get("id") or "")
        added = [m for m in raw.get("membersAdded") or [] if isinstance(m, dict) and m.get("id")]
        removed = [m for m in raw.get("membersRemoved") or [] if isinstance(m, dict) and m.get("id")]
        if any(m["id"] == bot_id for m in removed):
            await self._uninstalled(raw, ref)
            return
        if any(m["id"] == bot_id for m in added):
            await self._installed(turn, raw, ref)
        for member in added:
            if member["id"] == bot_id:
                continue
            event = MemberJoinedEvent(
                actor=Actor(
                    platform=Platform.TEAMS,
                    workspace_id=ref.workspace_id,
                    user_id=str(member["id"]),
                    display_name=str(member.get("name") or ""),
                    is_bot=act.is_bot_id(str(member["id"])),
                ),
                conversation=act.neutral_conversation(raw),
                event_id=act.event_id(raw, prefix=f"{member['id']}:"),
            )
            await self.deliver(turn, raw, ref, event, await self.starling.dispatch(event))

    async def _on_installation_update(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation) -> None:
        action = str(raw.get("action") or "")
        if action.startswith("remove"):
            await self._uninstalled(raw, ref)
        elif action.startswith("add"):
            await self._installed(turn, raw, ref)

    async def _installed(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation) -> None:
        """Starling was added to a team, chat or personal scope: remember it and say hello once."""
        ws = ref.workspace_id
        installer = act.actor_of(raw, ws)
        async with transaction(self.starling.sessions) as session:
            await store.set_installed(session, workspace_id=ws, conversation_ids=[ref.conversation_id], installed=True)
            if installer.user_id and not installer.is_bot and not await store.has_admin(session, workspace_id=ws):
                # Teams tells a bot nothing about admin roles: whoever installs Starling first administers it.
                await core.upsert_member(session, workspace_id=ws, user_id=installer.user_id, is_admin=True)
                log.info("teams_first_admin", workspace=ws, user=installer.user_id)
        bot = raw.get("recipient") or {}
        # Teams sends conversationUpdate and installationUpdate for one install: one welcome per day and place.
        welcome_id = (
            f"welcome:{store.thread_root(ref.conversation_id)}:{self.starling.services.clock().date().isoformat()}"
        )
        event = MemberJoinedEvent(
            actor=Actor(
                platform=Platform.TEAMS,
                workspace_id=ws,
                user_id=str(bot.get("id") or ref.bot_id),
                display_name=str(bot.get("name") or ref.bot_name or "Starling"),
                is_bot=True,
            ),
            conversation=act.neutral_conversation(raw),
            event_id=welcome_id,
        )
        await self.deliver(turn, raw, ref, event, await self.starling.dispatch(event))

    async def _uninstalled(self, raw: dict[str, Any], ref: TeamsConversation) -> None:
        team_id = ((raw.get("channelData") or {}).get("team") or {}).get("id")
        ids = [ref.conversation_id, *([team_id] if team_id else [])]
        async with transaction(self.starling.sessions) as session:
            await store.set_installed(session, workspace_id=ref.workspace_id, conversation_ids=ids, installed=False)

    # -- rendering and delivery ---------------------------------------------------------------------------
    async def deliver(
        self,
        turn: TurnContext,
        raw: dict[str, Any],
        ref: TeamsConversation,
        event: Event,
        messages: list[Message],
        *,
        names: Mapping[str, str] | None = None,
        invoke: bool = False,
        t: Translator | None = None,
    ) -> dict[str, Any] | None:
        """Render the router's messages for this turn; for an invoke, returns the invoke response body."""
        ws = ref.workspace_id
        response: dict[str, Any] | None = None
        for msg in messages:
            lookup = await self._names(ws, msg, names or {})
            kind = msg.target.kind
            if kind == "update":
                card = render_card(msg, lookup)
                if invoke and response is None:
                    response = _invoke_body(ADAPTIVE_CARD, card)
                elif raw.get("replyToId"):
                    await self._update(turn, str(raw["replyToId"]), card)
                else:
                    await self._reply(turn, ref, msg, lookup, mentions=False)
            elif kind == "reply":
                await self._reply(turn, ref, msg, lookup, mentions=True)
            else:  # ephemeral, modal, home: only for the actor
                if invoke and response is None and kind == "ephemeral" and _is_text_only(msg):
                    response = _invoke_body(MESSAGE_RESPONSE, plain_text(msg, lookup))
                    continue
                await self._private(turn, ref, event.actor.user_id, msg, lookup)
        if invoke and response is None:
            t = t or await self._translator(ws, event.actor.user_id)
            response = _invoke_body(MESSAGE_RESPONSE, t("teams.action_done"))
        return response

    async def _names(self, workspace_id: str, message: Message, known: Mapping[str, str]) -> dict[str, str]:
        ids = mention_ids_in(message)
        if not ids:
            return dict(known)
        async with self.starling.sessions() as session:
            found = await store.display_names(session, workspace_id=workspace_id, user_ids=ids)
        return {**known, **found}

    async def _reply(
        self, turn: TurnContext, ref: TeamsConversation, msg: Message, names: Mapping[str, str], *, mentions: bool
    ) -> None:
        try:
            await turn.send_activity(message_activity(msg, names, mentions=mentions))
        except (ErrorResponseException, ClientRequestError) as err:
            if msg.anonymous:
                # The answer to an anonymous action is not kept to be retried: a stored row addressed to the
                # author's chat, written right after the anonymous one, would name her.
                log.warning("teams_reply_dropped", error=str(err)[:200])
                return
            log.warning("teams_reply_deferred", conversation=ref.conversation_id, error=str(err)[:200])
            await self._queue(ref, "channel", ref.conversation_id, msg)

    async def _private(
        self, turn: TurnContext, ref: TeamsConversation, user_id: str, msg: Message, names: Mapping[str, str]
    ) -> None:
        """Only for this person: in place in a 1:1 chat, otherwise in their 1:1 chat with Starling."""
        if ref.kind == "personal" and ref.user_id in (None, user_id):
            await self._reply(turn, ref, msg, names, mentions=False)
            return
        assert self.sender is not None
        try:
            await self.sender.to_user(ref.workspace_id, user_id, msg, names=names, hint=ref)
        except (ErrorResponseException, ClientRequestError, NoReference) as err:
            # Teams has no ephemeral messages; if the 1:1 chat cannot be reached, answer in the thread.
            log.warning("teams_private_fallback", user=user_id, error=str(err)[:200])
            await self._reply(turn, ref, msg, names, mentions=False)

    async def _update(self, turn: TurnContext, activity_id: str, card: dict[str, Any]) -> None:
        update = SdkActivity(
            type=ActivityTypes.message,
            id=activity_id,
            attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
        )
        try:
            await turn.update_activity(update)
        except (ErrorResponseException, ClientRequestError) as err:
            log.warning("teams_update_failed", activity=activity_id, error=str(err)[:200])

    async def _queue(self, ref: TeamsConversation, kind: str, target: str, msg: Message) -> None:
        """A reply the connector refused for now (429/5xx) goes to the outbox and is retried from there."""
        async with transaction(self.starling.sessions) as session:
            await core.enqueue(
                session,
                OutboxMessage(
                    workspace_id=ref.workspace_id,
                    platform=Platform.TEAMS.value,
                    target_kind=kind,
                    target_id=target,
                    payload=msg.model_dump(mode="json"),
                    cause="teams_reply_retry",
                    next_attempt_at=self.starling.services.clock(),
                    created_at=self.starling.services.clock(),
                ),
            )
        self.starling.outbox.wake()

    async def _translator(self, workspace_id: str, user_id: str) -> Translator:
        async with self.starling.sessions() as session:
            ws = await session.get(Workspace, workspace_id)
            member = await core.get_member(session, workspace_id=workspace_id, user_id=user_id)
        return translator_for(
            member.locale if member else None,
            ws.locale if ws else self.settings.default_locale,
            tone=ws.tone if ws else "du",
        )


def _invoke_body(kind: str, value: Any) -> dict[str, Any]:
    """An ``adaptiveCard/action`` response: a replacement card or a message for the person who clicked."""
    return {"statusCode": 200, "type": kind, "value": value}


def _is_text_only(msg: Message) -> bool:
    return all(isinstance(b, Header | Section | Note) for b in msg.blocks)


def _team_name(raw: dict[str, Any]) -> str:
    """The team's name from ``channelData.team.name``, or "" when any part is missing or not an object."""
    data = raw.get("channelData")
    team = data.get("team") if isinstance(data, dict) else None
    name = team.get("name") if isinstance(team, dict) else None
    return name if isinstance(name, str) else ""
