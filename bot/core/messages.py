"""The neutral message model. Handlers build these; each adapter renders them natively
(Block Kit on Slack, Adaptive Cards on Teams, plain text in the terminal).

Text uses a tiny markup: ``*bold*``, ``_italic_``, ``<@USER_ID>`` mentions and ``<#CHANNEL>`` links. Values are
data: the translator (:class:`bot.core.i18n.Translator`) wraps every value it fills into a template with
:func:`user_text` unless the value is :class:`Markup` (another translation, or a :func:`mention` /
:func:`channel_link` the bot means), and every renderer escapes the wrapped part for its platform, so
``<!channel>``, ``@here``, forged ``<@U…>``, Teams ``<at>`` tags, HTML and markdown links never ping, link or
format, whatever message a value ends up in. Text a handler puts into a block without a template is wrapped
with :func:`user_text` where it came from a person or a directory (``tests/test_escaping.py`` checks that
handlers write mentions and channel links only through :func:`mention` and :func:`channel_link`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, Field

USER_OPEN = "\ue000"
USER_CLOSE = "\ue001"
_USER_SPAN = re.compile(f"{USER_OPEN}(.*?){USER_CLOSE}", re.S)


_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]+")  # a person: Slack U…/W…, Teams 29:…, a:…, the console's handles
_CHANNEL_ID_RE = re.compile(r"[A-Za-z0-9_.:@;=\-]+")  # Teams: 19:…@thread.tacv2;messageid=…


class Markup(str):
    """Text that is our own markup: what the translator returns, a :func:`mention`, a :func:`channel_link`.

    A translation inserts a ``Markup`` value as it is; any other value is data (escaped by every renderer).
    Like any ``str`` subclass it is lost by concatenation and f-strings: what is built that way is data when
    it goes into a translation (wrap the whole in ``Markup`` only if every piece of it is our own markup or
    marked with :func:`user_text`).
    """

    __slots__ = ()

    def __add__(self, other: str) -> str:
        joined = str.__add__(self, other)
        return Markup(joined) if isinstance(other, Markup) else joined

    def __radd__(self, other: str) -> str:
        joined = str.__add__(other, self)
        return Markup(joined) if isinstance(other, Markup) else joined

    def join(self, parts: Iterable[str]) -> Markup:  # type: ignore[override]
        """Our markup between the parts; a part that is not :class:`Markup` is data."""
        return Markup(str.join(self, (p if isinstance(p, Markup) else user_text(p) for p in parts)))


def user_text(s: str) -> Markup:
    """Mark text that came from a person or a directory, so renderers escape it."""
    clean = str(s)
    if USER_OPEN in clean or USER_CLOSE in clean:
        clean = clean.replace(USER_OPEN, "").replace(USER_CLOSE, "")
    return Markup(USER_OPEN + clean + USER_CLOSE)


def mention(user_id: str) -> Markup:
    """A mention the bot means (Slack ``<@U…>``, a Teams ``<at>`` with its entity, ``@name`` in the terminal).

    An id that is not one (anything but letters, digits and ``_.:-``) is shown as data and mentions no one."""
    if _ID_RE.fullmatch(user_id or ""):
        return Markup(f"<@{user_id}>")
    return user_text(user_id or "")


def channel_link(channel_id: str) -> Markup:
    """A link to a channel the bot means (``<#C…>``); an id that is not one is shown as data."""
    if _CHANNEL_ID_RE.fullmatch(channel_id or ""):
        return Markup(f"<#{channel_id}>")
    return user_text(channel_id or "")


_SLOT_OPEN, _SLOT_CLOSE = "\ue010", "\ue011"
_SLOT = re.compile(f"{_SLOT_OPEN}(\\d+){_SLOT_CLOSE}")


def render_markup(text: str, escape: Callable[[str], str], markup: Callable[[str], str] | None = None) -> str:
    """Escape the user-typed spans with ``escape`` and pass our own markup through ``markup``.

    ``markup`` sees the whole of our own text at once, each user span standing in it as an opaque slot, so
    markup around a value (``*{title}*``, a code span around ``{command}``) is still one piece of markup."""
    spans: list[str] = []

    def slot(m: re.Match[str]) -> str:
        spans.append(m.group(1))
        return f"{_SLOT_OPEN}{len(spans) - 1}{_SLOT_CLOSE}"

    own = _USER_SPAN.sub(slot, text.replace(_SLOT_OPEN, "").replace(_SLOT_CLOSE, ""))
    shown = markup(own) if markup else own
    return _SLOT.sub(lambda m: escape(spans[int(m.group(1))]), shown)


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
    # Set by the router on what an anonymous action answers at once (never stored): an adapter must not keep
    # such an answer anywhere, not even to retry it, since it sits next to the anonymous row and names its author.
    anonymous: bool = Field(default=False, exclude=True)

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
