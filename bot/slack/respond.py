"""Answering an event on Slack: the targets reply, ephemeral, update, home and modal.

Proactive targets (dm, channel) go through the outbox and :class:`bot.slack.client.SlackSender`.
A failed call is logged with its context and never raised into the request.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core.messages import Message
from bot.slack.client import api_error, record_error
from bot.slack.convert import Origin
from bot.slack.render import (
    decode_form,
    form_of,
    info_view,
    modal_view,
    mrkdwn,
    open_form_button,
    render_home,
    render_message,
    render_modal,
)

log = structlog.get_logger("starling.slack")

#: chat.postMessage / postEphemeral errors where the response URL (or a DM) still reaches the person.
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived"})


class Responder:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def deliver(self, message: Message, origin: Origin, actor_id: str) -> None:
        kind = message.target.kind
        bound = log.bind(target=kind)  # no person id, no channel: an anonymous action leaves no trace
        try:
            if origin.submitted and origin.view_id and kind in ("reply", "ephemeral", "update", "modal"):
                await self.into_submitted(message, origin)
            elif kind == "reply":
                await self.reply(message, origin, actor_id)
            elif kind == "ephemeral":
                await self.ephemeral(message, origin, message.target.user_id or actor_id)
            elif kind == "update":
                await self.update(message, origin, actor_id)
            elif kind == "home":
                await self.client.views_publish(user_id=message.target.user_id or actor_id, view=render_home(message))
            elif kind == "modal":
                await self.modal(message, origin, actor_id)
            # "dm" and "channel" messages never come here: the router queues them in the outbox.
        except SlackApiError as err:
            error = api_error(err)
            record_error(str(err.response.api_url).rsplit("/", 1)[-1], error)
            bound.warning("slack_response_failed", error=error)
        except Exception:
            bound.exception("slack_response_failed")

    async def into_submitted(self, message: Message, origin: Origin) -> None:
        """The answer to a submitted modal replaces that modal (a next form, a receipt, a refusal): a view
        is not a stored message, so nobody can read a receipt back later."""
        assert origin.view_id is not None
        view = modal_view(message) or info_view(message)
        origin.answered = True
        await self.client.views_update(view_id=origin.view_id, view=view)

    async def close_submitted(self, origin: Origin) -> None:
        """A submitted modal whose event had no answer for the person: a plain ✓ replaces the waiting view."""
        if origin.view_id:
            try:
                await self.client.views_update(view_id=origin.view_id, view=info_view(Message(blocks=[])))
            except SlackApiError as err:
                log.warning("slack_response_failed", target="view", error=api_error(err))

    async def dm(self, message: Message, user_id: str) -> None:
        # Posting to a user id delivers into the app's direct-message conversation with them.
        await self.client.chat_postMessage(channel=user_id, **render_message(message))

    async def reply(self, message: Message, origin: Origin, actor_id: str) -> None:
        if not origin.channel_id:
            await self.dm(message, actor_id)
            return
        try:
            await self.client.chat_postMessage(
                channel=origin.channel_id, thread_ts=message.target.thread_id, **render_message(message)
            )
        except SlackApiError as err:
            # e.g. a slash command in a conversation the bot is not part of.
            if api_error(err) in UNREACHABLE and origin.response_url:
                await self._respond_url(origin.response_url, {"response_type": "in_channel", **render_message(message)})
            else:
                raise

    async def ephemeral(self, message: Message, origin: Origin, user_id: str) -> None:
        if not origin.channel_id:
            await self.dm(message, user_id)
            return
        payload = render_message(message)
        try:
            await self.client.chat_postEphemeral(
                channel=origin.channel_id, user=user_id, thread_ts=origin.thread_ts, **payload
            )
        except SlackApiError as err:
            if api_error(err) not in UNREACHABLE:
                raise
            if origin.response_url:
                await self._respond_url(origin.response_url, {"response_type": "ephemeral", **payload})
            else:
                await self.dm(message, user_id)

    async def update(self, message: Message, origin: Origin, actor_id: str) -> None:
        if origin.container == "message" and origin.message_ts and origin.channel_id and not origin.is_ephemeral:
            await self.client.chat_update(channel=origin.channel_id, ts=origin.message_ts, **render_message(message))
        elif origin.container == "message" and origin.response_url:
            await self._respond_url(origin.response_url, {"replace_original": True, **render_message(message)})
        elif origin.view_type == "home":
            await self.client.views_publish(user_id=actor_id, view=render_home(message))
        elif origin.view_id and origin.view_type == "modal" and (view := modal_view(message)) is not None:
            await self.client.views_update(view_id=origin.view_id, view=view)
        else:
            await self.ephemeral(message, origin, actor_id)

    async def modal(self, message: Message, origin: Origin, actor_id: str) -> None:
        view = modal_view(message)
        if view is None:
            await self.ephemeral(message, origin, actor_id)
            return
        if origin.trigger_id:
            try:
                await self.client.views_open(trigger_id=origin.trigger_id, view=view)
                return
            except SlackApiError as err:
                if api_error(err) not in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"):
                    raise
        # No (valid) trigger: offer a button that opens the form with the click's fresh trigger.
        form = form_of(message)
        assert form is not None
        button = open_form_button(form)
        if button is None:
            log.warning("slack_form_too_large", action_id=form.action_id)
            return
        blocks: list[dict[str, Any]] = [{"type": "actions", "elements": [button]}]
        await self._ephemeral_blocks(origin, actor_id, blocks, text=mrkdwn(form.title))

    async def open_form(self, value: str, origin: Origin) -> bool:
        """The ``open form`` button: open the encoded form with the click's trigger id."""
        form = decode_form(value)
        if form is None or not origin.trigger_id:
            return False
        await self.client.views_open(trigger_id=origin.trigger_id, view=render_modal(form))
        return True

    async def _ephemeral_blocks(self, origin: Origin, user_id: str, blocks: list[dict[str, Any]], text: str) -> None:
        if origin.channel_id:
            try:
                await self.client.chat_postEphemeral(
                    channel=origin.channel_id, user=user_id, text=text, blocks=blocks, thread_ts=origin.thread_ts
                )
                return
            except SlackApiError as err:
                if api_error(err) not in UNREACHABLE:
                    raise
        await self.client.chat_postMessage(channel=user_id, text=text, blocks=blocks)

    async def _respond_url(self, url: str, body: dict[str, Any]) -> None:
        resp = await AsyncWebhookClient(url, timeout=10).send_dict(body)
        if resp.status_code >= 300:
            record_error("response_url", f"http_{resp.status_code}")
            log.warning("slack_response_url_failed", status=resp.status_code, body=resp.body[:200])
