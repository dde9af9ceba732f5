"""Neutral events: what adapters turn Slack, Teams and terminal payloads into.

Mentions inside text are always written as ``<@USER_ID>`` tokens, whatever the platform: the Slack
adapter keeps them, the Teams adapter turns ``<at>`` entities into them, the console turns ``@handle``
into them. Handlers read recipients from these tokens and the ``mentions`` list, never from names.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from storage.types import utcnow

MENTION_RE = re.compile(r"<@([A-Za-z0-9_.:\-]+)>")


class Platform(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    CONSOLE = "console"


class Actor(BaseModel):
    """The person (or bot) behind an event."""

    platform: Platform
    workspace_id: str  # "<platform>:<team/tenant id>"
    user_id: str
    display_name: str = ""
    locale: str | None = None
    timezone: str | None = None
    is_admin: bool = False
    is_bot: bool = False
    is_guest: bool = False
    department: str | None = None


class Conversation(BaseModel):
    id: str
    kind: Literal["channel", "group", "dm", "console"] = "channel"
    thread_id: str | None = None
    name: str | None = None


class Mention(BaseModel):
    user_id: str
    display_name: str = ""


class Event(BaseModel):
    """Base of every event. ``event_id`` is the platform's id, used once for de-duplication."""

    actor: Actor
    conversation: Conversation | None = None
    event_id: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)


class CommandEvent(Event):
    """A command: ``/kudos leaderboard week`` or ``kudos leaderboard week`` said to the bot."""

    name: str
    text: str = ""
    mentions: list[Mention] = Field(default_factory=list)
    message_id: str | None = None

    @property
    def args(self) -> list[str]:
        return self.text.split()


class MessageEvent(Event):
    """A message the bot can see. ``addressed`` is true in a DM, the console, or when the bot is mentioned."""

    text: str
    mentions: list[Mention] = Field(default_factory=list)
    message_id: str | None = None
    thread_id: str | None = None
    addressed: bool = False


class MessageDeletedEvent(Event):
    message_id: str


class ReactionEvent(Event):
    emoji: str
    added: bool
    message_id: str
    item_author_id: str | None = None


class ActionEvent(Event):
    """A button press or a form submission."""

    action_id: str
    value: str = ""
    form: dict[str, str] = Field(default_factory=dict)
    message_id: str | None = None
    is_form: bool = False


class MemberJoinedEvent(Event):
    pass


class AppOpenedEvent(Event):
    """The person opened the app (Slack App Home, Teams personal tab)."""


def mention_ids(text: str) -> list[str]:
    """User ids mentioned in neutral text, in order, without duplicates."""
    seen: list[str] = []
    for uid in MENTION_RE.findall(text):
        if uid not in seen:
            seen.append(uid)
    return seen
