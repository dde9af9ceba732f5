"""Slack payloads → neutral events.

Slack text arrives with ``&``, ``<`` and ``>`` escaped and with real mentions, channels and links as
``<…>`` tokens. Neutral text keeps only user mentions as tokens (``<@U123|anna>`` → ``<@U123>``);
special mentions become words (``<!here>`` → ``@here``), links become their text, entities are decoded,
and anything that would only *look* like a token after decoding is broken with a zero-width space,
so a person typing ``<@U999>`` literally can never address someone.

Workspace ids: ``slack:<team_id>``; an org-wide (Enterprise Grid) install is one Starling workspace,
``slack:<enterprise_id>``, because its user ids are org-wide.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from bot.core.events import (
    ActionEvent,
    Actor,
    AppOpenedEvent,
    CommandEvent,
    Conversation,
    Event,
    MemberJoinedEvent,
    Mention,
    MessageDeletedEvent,
    MessageEvent,
    Platform,
    ReactionEvent,
    mention_ids,
)
from bot.slack.render import form_values, strip_action_suffix

TOKEN_RE = re.compile(r"<([^<>]*)>")
LOOKALIKE_RE = re.compile(r"<(?=[@#!])")
ZWSP = "\u200b"
MESSAGE_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}


@dataclass(frozen=True)
class Team:
    """Who the request is for: team, enterprise and our bot user."""

    team_id: str | None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    bot_user_id: str | None = None

    @property
    def workspace_id(self) -> str:
        if self.is_enterprise_install and self.enterprise_id:
            return f"slack:{self.enterprise_id}"
        return f"slack:{self.team_id or self.enterprise_id or 'unknown'}"


@dataclass
class Origin:
    """Where an event came from, for answering it: channel, thread, trigger, response URL, container."""

    channel_id: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    container: str | None = None  # "message" | "view"
    is_ephemeral: bool = False
    view_id: str | None = None
    view_type: str | None = None  # "home" | "modal"
    is_dm: bool = False
    submitted: bool = False  # a submitted modal, kept open (``response_action: update``) for its answer
    answered: bool = False  # set once an answer replaced that modal


@dataclass
class Inbound:
    event: Event
    origin: Origin


# --- text ----------------------------------------------------------------------------------------------


def _decode_plain(s: str) -> str:
    return LOOKALIKE_RE.sub("<" + ZWSP, html.unescape(s)) if "&" in s or "<" in s else s


def _token(inner: str) -> str:
    if inner.startswith("@"):
        uid = inner[1:].split("|", 1)[0]
        return f"<@{uid}>"
    if inner.startswith("#"):
        return f"<{inner}>"
    if inner.startswith("!"):
        body, _, label = inner[1:].partition("|")
        if body in ("here", "channel", "everyone"):
            return "@" + body
        return _decode_plain(label) if label else ""
    url, _, label = inner.partition("|")
    url = html.unescape(url)
    label = _decode_plain(label)
    if not label or label in url:
        return url.removeprefix("mailto:")
    return f"{label} ({url})"


def to_neutral_text(text: str) -> str:
    """Slack message or command text → neutral text (see module docstring)."""
    out: list[str] = []
    pos = 0
    for m in TOKEN_RE.finditer(text):
        out.append(_decode_plain(text[pos : m.start()]))
        out.append(_token(m.group(1)))
        pos = m.end()
    out.append(_decode_plain(text[pos:]))
    return "".join(out)


def _rich_text_users(elements: Any, found: list[str]) -> None:
    if isinstance(elements, list):
        for el in elements:
            _rich_text_users(el, found)
    elif isinstance(elements, dict):
        if elements.get("type") == "user" and elements.get("user_id"):
            found.append(str(elements["user_id"]))
        for key in ("elements", "blocks"):
            if key in elements:
                _rich_text_users(elements[key], found)


def mentions_of(text: str, blocks: list[Any] | None = None, *, exclude: str | None = None) -> list[Mention]:
    """Mentioned user ids from ``<@U…>`` tokens and rich-text user elements, in order, once each."""
    ids = mention_ids(text)
    rich: list[str] = []
    _rich_text_users(blocks or [], rich)
    out: list[Mention] = []
    for uid in [*ids, *rich]:
        if uid != exclude and all(m.user_id != uid for m in out):
            out.append(Mention(user_id=uid))
    return out


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    if not bot_user_id:
        return text.strip()
    return " ".join(text.replace(f"<@{bot_user_id}>", " ").split())


# --- helpers -------------------------------------------------------------------------------------------


class Unreadable(ValueError):
    """A signed payload that fits Slack's shape but names no one to act for."""


def _actor(team: Team, user_id: str, **facts: Any) -> Actor:
    if not isinstance(user_id, str) or not user_id:
        raise Unreadable("no user id")
    if not (team.team_id or team.enterprise_id):
        raise Unreadable("no team id")
    return Actor(platform=Platform.SLACK, workspace_id=team.workspace_id, user_id=user_id, **facts)


def _kind_for_channel_type(channel_type: str | None, channel_id: str) -> str:
    if channel_type == "im" or (channel_type is None and channel_id.startswith("D")):
        return "dm"
    if channel_type == "mpim":
        return "group"
    return "channel"


def message_id(channel: str | None, ts: str | None) -> str | None:
    """Neutral message id: message timestamps are unique per channel only."""
    if not ts:
        return None
    return f"{channel}:{ts}" if channel else ts


# --- slash commands ------------------------------------------------------------------------------------


def from_command(body: dict[str, Any], team: Team) -> Inbound:
    channel_id = str(body.get("channel_id") or "")
    channel_name = str(body.get("channel_name") or "")
    if channel_id.startswith("D") or channel_name == "directmessage":
        kind = "dm"
    elif channel_name.startswith("mpdm-"):
        kind = "group"
    else:
        kind = "channel"
    text = to_neutral_text(str(body.get("text") or ""))
    event = CommandEvent(
        actor=_actor(team, str(body.get("user_id") or ""), display_name=str(body.get("user_name") or "")),
        conversation=Conversation(id=channel_id, kind=kind, name=channel_name or None) if channel_id else None,
        # Slack does not retry slash commands; the trigger id catches a double submission.
        event_id=f"cmd:{body['trigger_id']}" if body.get("trigger_id") else None,
        name=str(body.get("command") or "").lstrip("/").lower(),
        text=text,
        mentions=mentions_of(text),
        raw=body,
    )
    origin = Origin(
        channel_id=channel_id or None,
        trigger_id=body.get("trigger_id"),
        response_url=body.get("response_url"),
        is_dm=kind == "dm",
    )
    return Inbound(event, origin)


# --- Events API ----------------------------------------------------------------------------------------


def from_event(body: dict[str, Any], team: Team) -> Inbound | None:
    """An ``event_callback`` body → neutral event, or None when Starling does not act on it."""
    ev = body.get("event") or {}
    etype = ev.get("type")
    event_id = body.get("event_id")
    if etype in ("message", "app_mention"):
        return _from_message(ev, event_id, team, body)
    if etype in ("reaction_added", "reaction_removed"):
        item = ev.get("item") or {}
        if item.get("type") != "message" or not ev.get("user"):
            return None
        channel = item.get("channel")
        return Inbound(
            ReactionEvent(
                actor=_actor(team, ev["user"]),
                conversation=Conversation(id=channel, kind=_kind_for_channel_type(None, channel)) if channel else None,
                event_id=event_id,
                emoji=str(ev.get("reaction") or "").split("::", 1)[0],
                added=etype == "reaction_added",
                message_id=message_id(channel, item.get("ts")) or "",
                item_author_id=ev.get("item_user"),
                raw=body,
            ),
            Origin(channel_id=channel, is_dm=bool(channel and channel.startswith("D"))),
        )
    if etype == "app_home_opened":
        if ev.get("tab", "home") != "home" or not ev.get("user"):
            return None
        return Inbound(
            AppOpenedEvent(actor=_actor(team, ev["user"]), event_id=event_id, raw=body),
            Origin(view_type="home"),
        )
    if etype == "team_join":
        user = ev.get("user") or {}
        if not user.get("id") or user.get("deleted"):
            return None
        profile = user.get("profile") or {}
        facts = {
            "display_name": profile.get("display_name") or profile.get("real_name") or user.get("real_name") or "",
            "timezone": user.get("tz"),
            "is_bot": bool(user.get("is_bot") or user.get("is_app_user")),
            "is_admin": bool(user.get("is_admin") or user.get("is_owner")),
        }
        return Inbound(
            MemberJoinedEvent(actor=_actor(team, user["id"], **facts), event_id=event_id, raw=body), Origin()
        )
    return None


def _from_message(ev: dict[str, Any], event_id: str | None, team: Team, body: dict[str, Any]) -> Inbound | None:
    channel = str(ev.get("channel") or "")
    subtype = ev.get("subtype")
    kind = _kind_for_channel_type(ev.get("channel_type"), channel)
    if subtype == "message_deleted":
        previous = ev.get("previous_message") or {}
        ts = previous.get("ts") or ev.get("deleted_ts")
        author = previous.get("user")
        if not ts or not author:
            return None
        return Inbound(
            MessageDeletedEvent(
                actor=_actor(team, author),
                conversation=Conversation(id=channel, kind=kind),
                event_id=event_id,
                message_id=message_id(channel, ts) or "",
                raw=body,
            ),
            Origin(channel_id=channel, is_dm=kind == "dm"),
        )
    if subtype not in MESSAGE_SUBTYPES or ev.get("bot_id") or not ev.get("user"):
        return None
    raw_text = str(ev.get("text") or "")
    bot = team.bot_user_id
    mentions_bot = bool(bot and f"<@{bot}>" in raw_text)
    if ev.get("type") == "app_mention" or kind == "dm":
        addressed = True
    elif mentions_bot:
        return None  # the app_mention event for the same message handles it
    else:
        addressed = False
    text = to_neutral_text(raw_text)
    if addressed:
        text = strip_bot_mention(text, bot)
    thread = ev.get("thread_ts")
    event = MessageEvent(
        actor=_actor(team, str(ev["user"])),
        conversation=Conversation(id=channel, kind=kind, thread_id=thread),
        event_id=event_id,
        text=text,
        mentions=mentions_of(text, ev.get("blocks"), exclude=bot),
        message_id=message_id(channel, ev.get("ts")),
        thread_id=thread,
        addressed=addressed,
        raw=body,
    )
    return Inbound(event, Origin(channel_id=channel, thread_ts=thread, message_ts=ev.get("ts"), is_dm=kind == "dm"))


# --- interactivity ----------------------------------------------------------------------------------------


def from_action(body: dict[str, Any], action: dict[str, Any], team: Team) -> Inbound:
    """One element of a ``block_actions`` payload → ActionEvent (double clicks share the dedupe key)."""
    user = body.get("user") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    view = body.get("view") or {}
    value = action.get("value")
    if value is None and action.get("selected_option"):
        value = action["selected_option"].get("value")
    action_ts = action.get("action_ts") or body.get("trigger_id")
    thread = (body.get("message") or {}).get("thread_ts")
    event = ActionEvent(
        actor=_actor(team, str(user.get("id") or "")),
        conversation=Conversation(id=channel, kind=_kind_for_channel_type(None, channel), thread_id=thread)
        if channel
        else None,
        event_id=f"act:{action_ts}:{user.get('id')}:{action.get('action_id')}" if action_ts else None,
        action_id=strip_action_suffix(str(action.get("action_id") or "")),
        value=str(value or ""),
        message_id=message_id(channel, message_ts) if container.get("type") == "message" else None,
        raw=body,
    )
    origin = Origin(
        channel_id=channel,
        thread_ts=thread,
        trigger_id=body.get("trigger_id"),
        response_url=body.get("response_url"),
        message_ts=message_ts,
        container=container.get("type"),
        is_ephemeral=bool(container.get("is_ephemeral")),
        view_id=view.get("id") or container.get("view_id"),
        view_type=view.get("type"),
        is_dm=bool(channel and channel.startswith("D")),
    )
    return Inbound(event, origin)


def from_view_submission(body: dict[str, Any], team: Team) -> Inbound:
    user = body.get("user") or {}
    view = body.get("view") or {}
    view_key = f"{view.get('id')}:{view.get('hash')}" if view.get("id") else None
    event = ActionEvent(
        actor=_actor(team, str(user.get("id") or "")),
        event_id=f"view:{view_key}" if view_key else None,
        action_id=str(view.get("callback_id") or ""),
        value=str(view.get("private_metadata") or ""),
        form=form_values(view),
        is_form=True,
        raw=body,
    )
    origin = Origin(
        trigger_id=body.get("trigger_id"), view_id=view.get("id"), view_type=view.get("type"), submitted=True
    )
    return Inbound(event, origin)
