"""The neutral message model. Handlers build these; each adapter renders them natively
(Block Kit on Slack, Adaptive Cards on Teams, plain text in the terminal).

Text uses a tiny markup: ``*bold*``, ``_italic_`` and ``<@USER_ID>`` mentions. Anything a person typed
is wrapped with :func:`user_text`, and every renderer escapes the wrapped part for its platform, so
``<!channel>``, ``@here``, forged ``<@U…>``, Teams ``<at>`` tags and markdown links never ping or link.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, Field

USER_OPEN = "\ue000"
USER_CLOSE = "\ue001"
_USER_SPAN = re.compile(f"{USER_OPEN}(.*?){USER_CLOSE}", re.S)


def user_text(s: str) -> str:
    """Mark text that came from a person, so renderers escape it."""
    clean = s.replace(USER_OPEN, "").replace(USER_CLOSE, "")
    return f"{USER_OPEN}{clean}{USER_CLOSE}"


def render_markup(text: str, escape: Callable[[str], str], markup: Callable[[str], str] | None = None) -> str:
    """Escape the user-typed spans with ``escape`` and pass our own markup through ``markup``."""
    out: list[str] = []
    pos = 0
    for m in _USER_SPAN.finditer(text):
        own = text[pos : m.start()]
        out.append(markup(own) if markup else own)
        out.append(escape(m.group(1)))
        pos = m.end()
    tail = text[pos:]
    out.append(markup(tail) if markup else tail)
    return "".join(out)


def plain(text: str) -> str:
    """Strip the user-text markers (for logs and the terminal)."""
    return text.replace(USER_OPEN, "").replace(USER_CLOSE, "")


class Header(BaseModel):
    kind: Literal["header"] = "header"
    text: str


class Section(BaseModel):
    kind: Literal["section"] = "section"
    text: str


class Fields(BaseModel):
    kind: Literal["fields"] = "fields"
    items: list[tuple[str, str]]


class Bar(BaseModel):
    label: str
    value: float
    display: str | None = None
    rank: int | None = None
    highlight: bool = False


class BarList(BaseModel):
    """A ranked list with proportional bars: leaderboards, value mixes, participation."""

    kind: Literal["bars"] = "bars"
    title: str | None = None
    rows: list[Bar]


class Note(BaseModel):
    kind: Literal["context"] = "context"
    text: str


class Divider(BaseModel):
    kind: Literal["divider"] = "divider"


class Button(BaseModel):
    label: str
    action_id: str
    value: str = ""
    style: Literal["primary", "danger"] | None = None


class Actions(BaseModel):
    kind: Literal["actions"] = "actions"
    buttons: list[Button]


class Option(BaseModel):
    value: str
    label: str


class Input(BaseModel):
    id: str
    label: str
    type: Literal["text", "multiline", "select", "checkbox"] = "text"
    required: bool = True
    placeholder: str | None = None
    max_length: int | None = None
    options: list[Option] = Field(default_factory=list)
    initial: str | None = None


class Form(BaseModel):
    """A simple form: a Slack modal, inputs on a Teams card, prompt-by-prompt in the terminal."""

    kind: Literal["form"] = "form"
    title: str
    action_id: str
    submit_label: str
    inputs: list[Input]
    private_metadata: str = ""


Block = Annotated[Header | Section | Fields | BarList | Note | Divider | Actions | Form, Field(discriminator="kind")]


class Target(BaseModel):
    """Where a message goes.

    ``reply`` answers where the event came from (publicly); ``ephemeral`` only to the actor;
    ``dm`` privately to ``user_id``; ``channel`` a post in ``channel_id``; ``update`` replaces the
    message a button was pressed on; ``home`` the person's app home; ``modal`` opens a form.
    """

    kind: Literal["reply", "ephemeral", "dm", "channel", "update", "home", "modal"] = "reply"
    user_id: str | None = None
    channel_id: str | None = None
    thread_id: str | None = None


class Attachment(BaseModel):
    """A file sent with a message (a data export, a fact sheet); content is base64."""

    filename: str
    mime: str = "application/octet-stream"
    content_b64: str

    @classmethod
    def of(cls, filename: str, content: bytes, mime: str) -> Attachment:
        return cls(filename=filename, mime=mime, content_b64=base64.b64encode(content).decode("ascii"))

    def content(self) -> bytes:
        return base64.b64decode(self.content_b64)


class Fold(BaseModel):
    """How waiting messages of one kind to one conversation become one post when they queue behind the
    conversation's pace (a busy channel's kudos celebrations, many kudos DMs to one person)."""

    key: str  # only messages with the same key are folded together
    line: str  # this message as one line of the folded post
    header: str  # the folded post's header; ``{n}`` is how many messages it holds


class Message(BaseModel):
    blocks: list[Block] = Field(default_factory=list)
    text: str = ""  # fallback / notification text
    attachments: list[Attachment] = Field(default_factory=list)
    target: Target = Field(default_factory=Target)
    dedupe_key: str | None = None  # for proactive messages: never sent twice
    fold: Fold | None = None  # may be folded with others of its kind that wait for the same conversation
    # The outbox rows one post delivers (set by the outbox worker as it sends; never stored): a platform that
    # can carry them with the post lets a later worker find out whether a post it is about to resend arrived.
    delivers: list[int] = Field(default_factory=list, exclude=True)

    def fallback(self) -> str:
        if self.text:
            return plain(self.text)
        for b in self.blocks:
            if isinstance(b, Header | Section | Note):
                return plain(b.text)
        return ""


FOLD_SECTION_CHARS = 2800  # Slack's section text limit is 3,000 characters
FOLD_MAX_SECTIONS = 45  # Slack allows 50 blocks in a message


def fold_messages(messages: list[Message]) -> tuple[Message, int]:
    """One post for several foldable messages: their header with the count and one line each, in order.

    Returns the post and how many of ``messages`` (from the start) it holds: as many as fit in one post.
    """
    first = messages[0]
    if first.fold is None or len(messages) == 1:
        return first, 1
    sections: list[list[str]] = [[]]
    size = 0
    taken = 0
    for msg in messages:
        if msg.fold is None or msg.fold.key != first.fold.key:
            break
        line = msg.fold.line
        if size + len(line) + 1 > FOLD_SECTION_CHARS and sections[-1]:
            if len(sections) == FOLD_MAX_SECTIONS:
                break
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
        taken += 1
    if taken == 1:
        return first, 1
    header = first.fold.header.format(n=taken)
    blocks: list[Block] = [Header(text=header)]
    blocks += [Section(text="\n".join(lines)) for lines in sections]
    return Message(blocks=blocks, text=header, target=first.target, dedupe_key=first.dedupe_key), taken


def bar_rows(pairs: list[tuple[str, float]], *, highlight: str | None = None) -> list[Bar]:
    """Bars with dense ranks: equal values share a rank."""
    rows: list[Bar] = []
    rank = 0
    last: float | None = None
    for label, value in pairs:
        if value != last:
            rank += 1
            last = value
        rows.append(Bar(label=label, value=value, rank=rank, highlight=label == highlight))
    return rows
