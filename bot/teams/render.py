"""Adaptive Cards (1.5) from the neutral message model.

Header → large bold TextBlock, Section → wrapping TextBlocks (``> `` lines become a quote box),
Fields → FactSet, BarList → one ColumnSet per row with a coloured bar whose width is proportional,
Note → small subtle TextBlock, Actions → ``Action.Execute`` (``Action.Submit`` as fallback),
Form → inputs plus a submit action. Text a person typed is escaped so it can neither format, link
nor mention (``*``, ``_``, ``[x](y)``, ``<at>``, HTML); our own ``<@id>`` mentions become real Teams
mentions (``<at>Name</at>`` plus an entity) where ``mentions`` is on, plain names elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.core.events import MENTION_RE
from bot.core.messages import (
    Actions,
    BarList,
    Block,
    Divider,
    Fields,
    Form,
    Header,
    Input,
    Message,
    Note,
    Section,
    plain,
    render_markup,
)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
INPUT_PREFIX = "f."  # input ids on our cards; the submitted data carries them next to action_id/value

_NL = "\x02"  # a newline inside user text, kept apart from our own line structure until the end
_ZW = "\u200b"
_MD_INLINE = re.compile(r"([\\*_\[\]~`])")
_MD_LINE_START = re.compile(r"(?m)^([ \t]*)([#>+\-=|])")
_MD_ORDERED = re.compile(r"(?m)^([ \t]*\d+)([.)])")
_BOLD = re.compile(r"(?<![\w*\\])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_CHANNEL_RE = re.compile(r"<#([A-Za-z0-9_.:@;=\-]+)(?:\|([^>]*))?>")
_LIST_ITEM = re.compile(r"^\s*(?:[-•]\s|\d+\.\s)")
_MD_LINK = re.compile(r"\]\s*\(")
_MD_EMPHASIS = re.compile(r"[*_~`]")
_OWN_TOKEN = re.compile(r"<@[A-Za-z0-9_.:\-]+>|<#[A-Za-z0-9_.:@;=\-]+(?:\|[^<>]*)?>")


def escape_text(s: str) -> str:
    """Make text a person typed inert in a TextBlock: no markdown, no links, no ``<at>`` mentions, no HTML."""
    s = _MD_INLINE.sub(r"\\\1", s)
    s = _MD_LINE_START.sub(r"\1\\\2", s)
    s = _MD_ORDERED.sub(r"\1\\\2", s)
    # A zero-width space after '<' and '&' breaks every tag (<at>, <b>) and entity without changing what is seen.
    return s.replace("<", "<" + _ZW).replace("&", "&" + _ZW)


def _inert_plain(s: str) -> str:
    """User text in plain-text properties (titles, labels, choices, summaries, fallback text): tags, entities,
    markdown links and emphasis are broken with a zero-width space, so no client that renders them anyway can."""
    s = _MD_LINK.sub("]" + _ZW + "(", s.replace("<", "<" + _ZW).replace("&", "&" + _ZW))
    return _MD_EMPHASIS.sub(lambda m: _ZW + m.group(0) + _ZW, s)


def _inert_own(s: str) -> str:
    """Our own markup between its mention and channel tokens: a ``<`` or ``&`` (``<wert>`` in a usage line) is
    shown, never taken for a tag or an entity, and no ``[x](y)`` becomes a link."""
    return _MD_LINK.sub("]" + _ZW + "(", s.replace("<", "<" + _ZW).replace("&", "&" + _ZW))


def _own_parts(s: str, convert: Callable[[str], str]) -> str:
    """``convert`` applied to our own markup, with every other ``<``/``&``/link made inert first."""
    out: list[str] = []
    pos = 0
    for m in _OWN_TOKEN.finditer(s):
        out.append(_inert_own(s[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_inert_own(s[pos:]))
    return convert("".join(out))


class _Text:
    """Converts neutral markup to Teams card markdown and collects the mention entities it used."""

    def __init__(self, names: Mapping[str, str], mentions: bool) -> None:
        self.names = names
        self.mentions = mentions
        self.entities: dict[str, dict[str, Any]] = {}

    def name(self, user_id: str) -> str:
        return self.names.get(user_id) or user_id

    def _mention(self, user_id: str) -> str:
        name = escape_text(self.name(user_id))
        if not self.mentions:
            return name
        tag = f"<at>{name}</at>"
        self.entities.setdefault(
            user_id, {"type": "mention", "text": tag, "mentioned": {"id": user_id, "name": self.name(user_id)}}
        )
        return tag

    def _own(self, s: str) -> str:
        return _own_parts(s, self._own_markup)

    def _own_markup(self, s: str) -> str:
        s = _BOLD.sub(r"**\1**", s)
        s = _CODE.sub(r"**\1**", s)
        s = _CHANNEL_RE.sub(lambda m: "#" + escape_text(m.group(2) or self.names.get(m.group(1)) or m.group(1)), s)
        return MENTION_RE.sub(lambda m: self._mention(m.group(1)), s)

    def md(self, text: str) -> str:
        """Card markdown; user newlines are still ``_NL`` so callers can split on our own lines."""
        return render_markup(text, escape=lambda u: escape_text(u).replace("\n", _NL), markup=self._own)

    def inline(self, text: str) -> str:
        return self.md(text).replace(_NL, " ").replace("\n", " ")

    def data(self, text: str) -> str:
        """A value that is always data (bar labels, form titles): escaped whether or not it was marked; only a
        label that is one channel link of our own becomes its ``#name``."""
        m = _CHANNEL_RE.fullmatch(text)
        if m:
            return "#" + escape_text(m.group(2) or self.names.get(m.group(1)) or m.group(1))
        return escape_text(plain(text)).replace("\n", " ")

    def label(self, text: str) -> str:
        """Plain-text properties that are always data (button and input labels, choices, form titles)."""
        return _inert_plain(plain(text))

    def plain(self, text: str) -> str:
        """For plain-text properties: no markdown, mentions as names."""

        def own(s: str) -> str:
            s = re.sub(r"\*(\S[^*\n]*?)\*", r"\1", s)
            s = _CODE.sub(r"\1", s)
            s = _CHANNEL_RE.sub(lambda m: "#" + _inert_plain(m.group(2) or self.names.get(m.group(1)) or m.group(1)), s)
            return MENTION_RE.sub(lambda m: _inert_plain(self.name(m.group(1))), s)

        return render_markup(text, escape=_inert_plain, markup=lambda s: _own_parts(s, own))


def _text_block(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def _join_lines(lines: Sequence[str]) -> str:
    """One TextBlock's markdown: paragraphs for our lines, single breaks inside a list."""
    out = ""
    prev_list = False
    for line in lines:
        is_list = bool(_LIST_ITEM.match(line))
        if out:
            out += "\n" if (is_list and prev_list) else "\n\n"
        out += line
        prev_list = is_list
    return out.replace(_NL, "\n\n")


def _action(label: str, action_id: str, data: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    submit: dict[str, Any] = {"type": "Action.Submit", "title": label, "data": data}
    action: dict[str, Any] = {"type": "Action.Execute", "title": label, "verb": action_id, "data": data}
    if style:
        action["style"] = submit["style"] = {"primary": "positive", "danger": "destructive"}[style]
    action["fallback"] = submit
    return action


class _Renderer:
    def __init__(self, names: Mapping[str, str], mentions: bool) -> None:
        self.text = _Text(names, mentions)

    def blocks(self, blocks: Sequence[Block]) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = []
        separator = False
        for block in blocks:
            if isinstance(block, Divider):
                separator = bool(body)
                continue
            elements = self.block(block)
            if elements and separator:
                elements[0]["separator"] = True
                elements[0]["spacing"] = "Medium"
                separator = False
            body.extend(elements)
        return body

    def block(self, block: Block) -> list[dict[str, Any]]:
        t = self.text
        if isinstance(block, Header):
            return [_text_block(t.inline(block.text), size="Large", weight="Bolder")]
        if isinstance(block, Section):
            return self.section(block.text)
        if isinstance(block, Note):
            return [_text_block(t.md(block.text).replace(_NL, " "), size="Small", isSubtle=True, spacing="Small")]
        if isinstance(block, Fields):
            facts = [{"title": t.inline(k), "value": t.inline(v)} for k, v in block.items]
            return [{"type": "FactSet", "facts": facts}]
        if isinstance(block, BarList):
            return [self.bars(block)]
        if isinstance(block, Actions):
            actions = [
                _action(t.label(b.label), b.action_id, {"action_id": b.action_id, "value": b.value}, b.style)
                for b in block.buttons
            ]
            return [{"type": "ActionSet", "actions": actions}]
        if isinstance(block, Form):
            return [self.form(block)]
        return []

    def section(self, text: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        normal: list[str] = []
        quote: list[str] = []

        def flush() -> None:
            if normal:
                out.append(_text_block(_join_lines(normal)))
                normal.clear()
            if quote:
                block = _text_block(_join_lines(quote))
                out.append({"type": "Container", "style": "emphasis", "spacing": "Small", "items": [block]})
                quote.clear()

        for line in self.text.md(text).split("\n"):
            if line.startswith("> ") or line == ">":
                if normal:
                    flush()
                quote.append(line[2:])
            elif line.strip():
                if quote:
                    flush()
                normal.append(line)
        flush()
        return out

    def bars(self, block: BarList) -> dict[str, Any]:
        t = self.text
        items: list[dict[str, Any]] = []
        if block.title:
            items.append(_text_block(t.inline(block.title), weight="Bolder"))
        top = max((r.value for r in block.rows), default=0) or 1
        for row in block.rows:
            share = max(1, round(100 * row.value / top)) if row.value > 0 else 0
            bar: list[dict[str, Any]] = []
            if share:
                bar.append(
                    {
                        "type": "Column",
                        "width": share,
                        "minHeight": "14px",
                        "style": "good" if row.highlight else "accent",
                        "items": [],
                    }
                )
            if share < 100:
                bar.append({"type": "Column", "width": 100 - share, "items": []})
            shown = row.display or _number(row.value)
            weight = "Bolder" if row.highlight else "Default"
            items.append(
                {
                    "type": "ColumnSet",
                    "spacing": "Small",
                    "columns": [
                        {
                            "type": "Column",
                            "width": "32px",
                            "items": [_text_block(f"{row.rank}." if row.rank else "", isSubtle=True, wrap=False)],
                        },
                        {
                            "type": "Column",
                            "width": 4,
                            "items": [_text_block(t.data(row.label), weight=weight, wrap=False)],
                        },
                        {
                            "type": "Column",
                            "width": 5,
                            "verticalContentAlignment": "Center",
                            "items": [{"type": "ColumnSet", "columns": bar}],
                        },
                        {
                            "type": "Column",
                            "width": "96px",
                            "items": [
                                _text_block(
                                    t.data(shown),
                                    horizontalAlignment="Right",
                                    weight=weight,
                                    isSubtle=not row.highlight,
                                    wrap=False,
                                )
                            ],
                        },
                    ],
                }
            )
        return {"type": "Container", "items": items}

    def form(self, form: Form) -> dict[str, Any]:
        t = self.text
        items: list[dict[str, Any]] = [_text_block(t.data(form.title), size="Medium", weight="Bolder")]
        items += [self.input(field) for field in form.inputs]
        data: dict[str, Any] = {
            "action_id": form.action_id,
            "value": form.private_metadata,
            "form": True,
            "required": [[f.id, t.label(f.label)] for f in form.inputs if f.required],
        }
        submit = _action(t.label(form.submit_label), form.action_id, data, "primary")
        submit["associatedInputs"] = "auto"
        submit["fallback"]["associatedInputs"] = "auto"
        items.append({"type": "ActionSet", "actions": [submit]})
        return {"type": "Container", "items": items}

    def input(self, field: Input) -> dict[str, Any]:
        t = self.text
        base: dict[str, Any] = {"id": INPUT_PREFIX + field.id, "label": t.label(field.label)}
        if field.type == "checkbox":
            return {
                **base,
                "type": "Input.Toggle",
                "title": t.label(field.label),
                "valueOn": "true",
                "valueOff": "",
                "value": "true" if field.initial in ("true", "1", "yes") else "",
            }
        base["isRequired"] = field.required
        if field.initial is not None:
            base["value"] = plain(field.initial)
        if field.type == "select":
            choices = [{"title": t.label(o.label), "value": o.value} for o in field.options]
            return {**base, "type": "Input.ChoiceSet", "style": "compact", "choices": choices}
        text: dict[str, Any] = {**base, "type": "Input.Text", "isMultiline": field.type == "multiline"}
        if field.max_length:
            text["maxLength"] = field.max_length
        if field.placeholder:
            text["placeholder"] = t.label(field.placeholder)
        return text


def render_card(message: Message, names: Mapping[str, str], *, mentions: bool = False) -> dict[str, Any]:
    """The Adaptive Card for ``message``; with ``mentions`` our ``<@id>`` become real Teams mentions."""
    renderer = _Renderer(names, mentions)
    blocks: Sequence[Block] = message.blocks or [Section(text=message.text)]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": renderer.blocks(blocks),
        "msteams": {"width": "Full"},
    }
    fallback = plain_text(message, names)
    if fallback:
        card["fallbackText"] = fallback
    if renderer.text.entities:
        card["msteams"]["entities"] = list(renderer.text.entities.values())
    return card


def plain_text(message: Message, names: Mapping[str, str]) -> str:
    """The message as plain text (invoke message responses, previews): names for mentions, no markup."""
    t = _Text(names, mentions=False)
    lines: list[str] = []
    for block in message.blocks:
        if isinstance(block, Header | Section | Note):
            lines.append(t.plain(block.text))
        elif isinstance(block, Fields):
            lines += [f"{t.plain(k)}: {t.plain(v)}" for k, v in block.items]
    text = "\n".join(line for line in lines if line.strip())
    return text or t.plain(message.text)


def mention_ids_in(message: Message) -> list[str]:
    """Every ``<@id>`` the message's texts mention (to look their names up before rendering)."""
    texts: list[str] = [message.text]
    for block in message.blocks:
        if isinstance(block, Header | Section | Note):
            texts.append(block.text)
        elif isinstance(block, Fields):
            texts += [x for pair in block.items for x in pair]
        elif isinstance(block, BarList):
            texts += [block.title or ""] + [r.label for r in block.rows]
    found: list[str] = []
    for text in texts:
        for uid in MENTION_RE.findall(text):
            if uid not in found:
                found.append(uid)
    return found


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def activity_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Neutral text as a message activity's ``text``, which Teams renders as markdown (code spans included):
    values escaped, our ``*bold*`` as ``**bold**``, our own ``<@id>`` mentions and channels as names."""
    t = _Text(names or {}, mentions=False)

    def own(s: str) -> str:
        s = _BOLD.sub(r"**\1**", s)
        s = _CHANNEL_RE.sub(lambda m: "#" + escape_text(m.group(2) or t.names.get(m.group(1)) or m.group(1)), s)
        return MENTION_RE.sub(lambda m: escape_text(t.name(m.group(1))), s)

    return render_markup(text, escape=escape_text, markup=lambda s: _own_parts(s, own))
