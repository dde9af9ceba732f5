"""Bot Framework activities (the JSON Teams posts) → Starling's neutral vocabulary.

Pure functions over the activity as received, so they survive a change of SDK. Recipients come from
``entities[type=mention]`` (``mentioned.id``), never from display names; the bot's own mention is
removed; anything in the text that looks like one of our ``<@id>`` tokens is made inert.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import Any

from bot.core.events import Actor, Conversation, Mention, Platform
from bot.teams.render import INPUT_PREFIX
from storage.teams import THREAD_MARK, thread_root

Activity = dict[str, Any]

_FORMAT_TAGS = re.compile(
    r"</?(?:p|div|span|br|b|i|u|s|em|strong|strike|del|ul|ol|li|blockquote|pre|code|h[1-6])\b[^>]*>", re.I
)
_FORGED = re.compile(r"<(?=[@#!])")
_SPACES = re.compile(r"[ \t]+")
LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?")  # what a member's locale column holds
TIMEZONE_RE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tenant_of(activity: Activity) -> str:
    tenant = _obj(_obj(activity.get("channelData")).get("tenant")).get("id")
    return str(tenant or _obj(activity.get("conversation")).get("tenantId") or "")


def workspace_of(activity: Activity, default_tenant: str | None = None) -> str:
    """``teams:<tenant id>``; the Emulator sends no tenant, so the configured one (or ``local``) is used."""
    return f"teams:{tenant_of(activity) or default_tenant or 'local'}"


def conversation_type(activity: Activity) -> str:
    conv = _obj(activity.get("conversation"))
    kind = conv.get("conversationType")
    if kind in ("personal", "groupChat", "channel"):
        return str(kind)
    return "groupChat" if conv.get("isGroup") else "personal"


def conversation_id(activity: Activity) -> str:
    return str(_obj(activity.get("conversation")).get("id") or "")


def neutral_conversation(activity: Activity) -> Conversation:
    conv = _obj(activity.get("conversation"))
    cid = conversation_id(activity)
    kind = {"personal": "dm", "groupChat": "group", "channel": "channel"}[conversation_type(activity)]
    thread = cid.split(THREAD_MARK, 1)[1] if THREAD_MARK in cid else None
    return Conversation(id=cid, kind=kind, thread_id=thread, name=conv.get("name"))  # type: ignore[arg-type]


def teams_channel_of(activity: Activity) -> str | None:
    data = _obj(activity.get("channelData"))
    found = (
        _obj(data.get("channel")).get("id")
        or data.get("teamsChannelId")
        or _obj(_obj(data.get("settings")).get("selectedChannel")).get("id")
    )
    if found:
        return str(found)
    if conversation_type(activity) == "channel":
        return thread_root(conversation_id(activity))
    return None


def reference_fields(activity: Activity) -> dict[str, Any]:
    """What a conversation reference stores: enough to post into this conversation later."""
    data = _obj(activity.get("channelData"))
    team = _obj(data.get("team"))
    bot = _obj(activity.get("recipient"))
    kind = conversation_type(activity)
    sender = _obj(activity.get("from"))
    return {
        "kind": kind,
        "service_url": str(activity.get("serviceUrl") or ""),
        "tenant_id": tenant_of(activity),
        "bot_id": str(bot.get("id") or ""),
        "bot_name": bot.get("name"),
        "channel_id": str(activity.get("channelId") or "msteams"),
        "team_id": team.get("id") or data.get("teamsTeamId"),
        "team_name": team.get("name"),
        "teams_channel_id": teams_channel_of(activity),
        "user_id": sender.get("id") if kind == "personal" and not is_bot_id(str(sender.get("id") or "")) else None,
    }


def is_bot_id(user_id: str) -> bool:
    return user_id.startswith("28:")


def actor_of(activity: Activity, workspace_id: str) -> Actor:
    sender = _obj(activity.get("from"))
    uid = str(sender.get("id") or "")
    return Actor(
        platform=Platform.TEAMS,
        workspace_id=workspace_id,
        user_id=uid,
        display_name=str(sender.get("name") or ""),
        is_bot=is_bot_id(uid),
    )


def event_id(activity: Activity, prefix: str = "") -> str:
    """The de-duplication id: the activity id within its conversation."""
    digest = hashlib.sha1(conversation_id(activity).encode()).hexdigest()[:16]
    return f"{prefix}{activity.get('id') or ''}@{digest}"


@dataclass
class NeutralText:
    text: str
    mentions: list[Mention] = field(default_factory=list)
    bot_mentioned: bool = False


def neutral_text(activity: Activity) -> NeutralText:
    """The message text with the bot's mention removed, other mentions as ``<@id>`` (channels ``<#id>``)."""
    text = str(activity.get("text") or "")
    bot_id = _obj(activity.get("recipient")).get("id")
    slots: dict[str, str] = {}
    mentions: list[Mention] = []
    bot_mentioned = False
    for entity in activity.get("entities") or []:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned = _obj(entity.get("mentioned"))
        mid = str(mentioned.get("id") or "")
        tag = str(entity.get("text") or f"<at>{mentioned.get('name', '')}</at>")
        if not mid or tag not in text:
            continue
        if mid == bot_id:
            token = ""
            bot_mentioned = True
        elif mid.startswith("19:"):
            token = f"<#{mid}|{mentioned.get('name') or ''}>"
        else:
            token = f"<@{mid}>"
            if all(m.user_id != mid for m in mentions):
                mentions.append(Mention(user_id=mid, display_name=str(mentioned.get("name") or "")))
        slot = f"\x00{len(slots)}\x00"
        slots[slot] = token
        text = text.replace(tag, slot, 1)
    text = _FORMAT_TAGS.sub(" ", text)
    text = html.unescape(text).replace("\xa0", " ")
    text = _FORGED.sub("<\u200b", text)  # typed "<@U…>" or "<!channel>" must never become a mention token
    for slot, token in slots.items():
        text = text.replace(slot, token)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")).strip()
    return NeutralText(text=text, mentions=mentions, bot_mentioned=bot_mentioned)


@dataclass
class CardAction:
    action_id: str
    value: str = ""
    form: dict[str, str] = field(default_factory=dict)
    is_form: bool = False
    missing: list[str] = field(default_factory=list)  # labels of required inputs left empty


def card_action(data: Any, verb: str | None = None) -> CardAction | None:
    """The action a card button or form submitted (``Action.Submit`` value / ``Action.Execute`` data)."""
    data = _obj(data)
    action_id = data.get("action_id") or verb or data.get("actionId") or data.get("verb")
    if not isinstance(action_id, str) or not action_id.strip():
        return None
    form = {k[len(INPUT_PREFIX) :]: _as_text(v) for k, v in data.items() if k.startswith(INPUT_PREFIX)}
    missing: list[str] = []
    for item in data.get("required") or []:
        if isinstance(item, list | tuple) and len(item) == 2 and not form.get(str(item[0]), "").strip():
            missing.append(str(item[1]))
    return CardAction(
        action_id=action_id.strip(),
        value=_as_text(data.get("value")),
        form=form,
        is_form=bool(data.get("form")),
        missing=missing,
    )


def invoke_action(activity: Activity) -> CardAction | None:
    """``adaptiveCard/action``: ``value.action`` is the Action.Execute with its verb and data."""
    action = _obj(_obj(activity.get("value")).get("action"))
    verb = action.get("verb")
    return card_action(action.get("data"), verb if isinstance(verb, str) else None)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    return str(value)


def client_locale(activity: Activity) -> str | None:
    locale = activity.get("locale")
    if not locale:
        for entity in activity.get("entities") or []:
            if isinstance(entity, dict) and entity.get("type") == "clientInfo" and entity.get("locale"):
                locale = entity["locale"]
                break
    return str(locale) if isinstance(locale, str) and LOCALE_RE.fullmatch(locale) else None


def client_timezone(activity: Activity) -> str | None:
    tz = activity.get("localTimezone")
    if not tz:
        for entity in activity.get("entities") or []:
            if isinstance(entity, dict) and entity.get("type") == "clientInfo" and entity.get("timezone"):
                tz = entity["timezone"]
                break
    return str(tz) if isinstance(tz, str) and TIMEZONE_RE.fullmatch(tz) else None
