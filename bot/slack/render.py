"""Block Kit rendering of the neutral message model.

User-typed text (wrapped with :func:`bot.core.messages.user_text`) is escaped: ``&``, ``<`` and ``>`` become
entities, so ``<!channel>``, forged ``<@U…>`` and ``<http…|…>`` links never ping or link, the bare
words ``@here``, ``@channel`` and ``@everyone`` get a zero-width joiner, and ``*_~` `` formatting is broken
with zero-width spaces. Bar labels and form titles are always data, marked or not (:func:`data`); buttons,
headers, options and inputs are ``plain_text``, which Slack never parses. Our own markup passes through
(``*bold*``, ``_italic_``, ``<@USER_ID>`` and ``<#CHANNEL>`` tokens); any other ``&<>`` in it is escaped.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from bot.core.messages import (
    Actions,
    BarList,
    Button,
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

SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_PER_SECTION = 10
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
VIEW_TITLE_MAX = 24
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000
FALLBACK_MAX = 3000
BAR_WIDTH = 12

ZWJ = "\u200d"
ZWSP = "\u200b"
FORMAT_RE = re.compile(r"[*_~`]")  # mrkdwn formatting: broken with zero-width spaces so it stays as typed
CHANNEL_TOKEN_RE = re.compile(r"<#[A-Z0-9]{1,20}(?:\|[^<>|\ue000\ue001]*)?>")
BROADCAST_RE = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
# Tokens our own markup may use: user mentions and channel links.
OWN_TOKEN_RE = re.compile(r"<(?:@[A-Za-z0-9_.:\-]+|#[A-Za-z0-9_.:\-]+(?:\|[^<>|]*)?)>")
# Suffix that keeps action ids unique inside one actions block; stripped again on the way in.
DUP_SUFFIX_RE = re.compile(r"~#\d+$")
OPEN_FORM_ACTION = "starling.slack.open_form"


def escape_user(text: str) -> str:
    """Escape text a person typed for mrkdwn: no mentions, broadcasts, links or formatting survive."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = FORMAT_RE.sub(lambda m: ZWSP + m.group(0) + ZWSP, out)
    return BROADCAST_RE.sub(lambda m: "@" + ZWJ + m.group(1), out)


def data(text: str) -> str:
    """A value that is always data (bar labels, form titles): escaped like typed text, whether or not it
    was marked; only a label that is one ``<#CHANNEL>`` link of our own stays a link (it cannot ping)."""
    if CHANNEL_TOKEN_RE.fullmatch(text):
        return text
    return escape_user(plain(text))


def escape_own(text: str) -> str:
    """Our own markup: keep ``<@U…>`` / ``<#C…>`` tokens, escape any other control character."""
    out: list[str] = []
    pos = 0
    for m in OWN_TOKEN_RE.finditer(text):
        out.append(_entities(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_entities(text[pos:]))
    return "".join(out)


def _entities(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Neutral text → Slack mrkdwn."""
    return render_markup(text, escape=escape_user, markup=escape_own)


def plain_text(text: str, limit: int | None = None) -> dict[str, Any]:
    """A ``plain_text`` object (never parsed for mentions or links by Slack)."""
    s = plain(text).strip() or " "
    return {"type": "plain_text", "text": _clip(s, limit) if limit else s, "emoji": True}


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _split(text: str, limit: int = SECTION_MAX) -> list[str]:
    """Split rendered mrkdwn at line breaks into chunks Slack accepts."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _sections(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in _split(text) if chunk.strip()]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _bars(block: BarList) -> list[dict[str, Any]]:
    top = max((r.value for r in block.rows), default=0) or 1
    lines: list[str] = []
    if block.title:
        lines.append(f"*{mrkdwn(block.title)}*")
    for r in block.rows:
        filled = max(1, round(BAR_WIDTH * r.value / top)) if r.value > 0 else 0
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        rank = f"{r.rank}. " if r.rank is not None else ""
        shown = data(r.display) if r.display else _num(r.value)
        label = f"*{data(r.label)}*" if r.highlight else data(r.label)
        lines.append(f"{rank}{label}  `{bar}`  {shown}" + ("  ◀" if r.highlight else ""))
    return _sections("\n".join(lines))


def _button(b: Button, action_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "button",
        "text": plain_text(b.label, BUTTON_TEXT_MAX),
        "action_id": action_id[:255],
        "value": b.value[:BUTTON_VALUE_MAX],
    }
    if b.style:
        out["style"] = b.style
    return out


def _actions(block: Actions) -> dict[str, Any]:
    seen: dict[str, int] = {}
    elements = []
    for b in block.buttons[:25]:
        n = seen.get(b.action_id, 0)
        seen[b.action_id] = n + 1
        elements.append(_button(b, b.action_id if n == 0 else f"{b.action_id}~#{n}"))
    return {"type": "actions", "elements": elements}


def strip_action_suffix(action_id: str) -> str:
    return DUP_SUFFIX_RE.sub("", action_id)


def render_blocks(message: Message, *, limit: int = MESSAGE_BLOCKS_MAX) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Header):
            blocks.append({"type": "header", "text": plain_text(block.text, HEADER_MAX)})
        elif isinstance(block, Section):
            blocks += _sections(mrkdwn(block.text))
        elif isinstance(block, Fields):
            items = [
                {"type": "mrkdwn", "text": _clip(f"*{mrkdwn(k)}*\n{mrkdwn(v)}", FIELD_MAX)} for k, v in block.items
            ]
            for i in range(0, len(items), FIELDS_PER_SECTION):
                blocks.append({"type": "section", "fields": items[i : i + FIELDS_PER_SECTION]})
        elif isinstance(block, BarList):
            blocks += _bars(block)
        elif isinstance(block, Note):
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(mrkdwn(block.text), 3000)}]}
            )
        elif isinstance(block, Divider):
            blocks.append({"type": "divider"})
        elif isinstance(block, Actions):
            if block.buttons:
                blocks.append(_actions(block))
        elif isinstance(block, Form):
            # A form outside a modal: a button that opens it as a modal.
            blocks += _sections(f"*{data(block.title)}*")
            button = open_form_button(block)
            if button is not None:
                blocks.append({"type": "actions", "elements": [button]})
    return blocks[:limit]


def fallback_text(message: Message) -> str:
    """The notification text (``text`` argument), escaped like the blocks."""
    source = message.text
    if not source:
        for b in message.blocks:
            if isinstance(b, Header | Section | Note):
                source = b.text
                break
            if isinstance(b, Form):
                source = b.title
                break
    return _clip(mrkdwn(source), FALLBACK_MAX) if source else " "


def render_message(message: Message) -> dict[str, Any]:
    """Arguments for ``chat.postMessage`` / ``chat.postEphemeral`` / ``chat.update``."""
    return {"text": fallback_text(message), "blocks": render_blocks(message)}


def render_home(message: Message) -> dict[str, Any]:
    """An App Home view for ``views.publish``."""
    return {"type": "home", "blocks": render_blocks(message, limit=VIEW_BLOCKS_MAX)}


def _input(field: Input) -> dict[str, Any]:
    element: dict[str, Any]
    if field.type in ("text", "multiline"):
        element = {"type": "plain_text_input", "action_id": field.id, "multiline": field.type == "multiline"}
        if field.max_length:
            element["max_length"] = min(field.max_length, 3000)
        if field.initial:
            element["initial_value"] = plain(field.initial)
    elif field.type == "select":
        options = [{"text": plain_text(o.label, 75), "value": o.value[:150]} for o in field.options[:100]]
        element = {"type": "static_select", "action_id": field.id, "options": options}
        initial = next((o for o in options if o["value"] == field.initial), None)
        if initial is not None:
            element["initial_option"] = initial
    else:  # checkbox
        option = {"text": plain_text(field.label, 75), "value": "true"}
        element = {"type": "checkboxes", "action_id": field.id, "options": [option]}
        if field.initial in ("true", "1", "yes"):
            element["initial_options"] = [option]
    if field.placeholder and field.type != "checkbox":
        element["placeholder"] = plain_text(field.placeholder, 150)
    return {
        "type": "input",
        "block_id": field.id,
        "label": plain_text(field.label, 2000),
        "optional": not field.required,
        "element": element,
    }


def render_modal(form: Form, *, intro: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A modal view for ``views.open``: ``callback_id`` is the form's action id."""
    return {
        "type": "modal",
        "callback_id": form.action_id[:255],
        "title": plain_text(form.title, VIEW_TITLE_MAX),
        "submit": plain_text(form.submit_label, VIEW_TITLE_MAX),
        "private_metadata": form.private_metadata[:PRIVATE_METADATA_MAX],
        "blocks": [*(intro or []), *(_input(f) for f in form.inputs)][:VIEW_BLOCKS_MAX],
    }


def info_view(message: Message, *, title: str = "Starling") -> dict[str, Any]:
    """A modal that only shows ``message`` (a receipt, a refusal): what replaces a submitted form."""
    blocks = render_blocks(message) or [{"type": "section", "text": {"type": "mrkdwn", "text": "✓"}}]
    return {
        "type": "modal",
        "title": plain_text(title, VIEW_TITLE_MAX),
        "close": plain_text("OK", VIEW_TITLE_MAX),
        "blocks": blocks[:VIEW_BLOCKS_MAX],
    }


def pending_view(title: str = "Starling") -> dict[str, Any]:
    """What a submitted form shows until its answer replaces it (``response_action: update``)."""
    return {
        "type": "modal",
        "title": plain_text(title, VIEW_TITLE_MAX),
        "close": plain_text("OK", VIEW_TITLE_MAX),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "⏳"}}],
    }


def form_of(message: Message) -> Form | None:
    return next((b for b in message.blocks if isinstance(b, Form)), None)


def modal_view(message: Message) -> dict[str, Any] | None:
    """The modal for a message whose target is ``modal``: its form, with any other blocks shown above it."""
    form = form_of(message)
    if form is None:
        return None
    rest = message.model_copy(update={"blocks": [b for b in message.blocks if not isinstance(b, Form)]})
    return render_modal(form, intro=render_blocks(rest))


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """``view.state.values`` of a submitted modal → ``{input id: value}`` (checkbox: "true" or "")."""
    out: dict[str, str] = {}
    state_of = view.get("state")
    values = state_of.get("values") if isinstance(state_of, dict) else None
    for block in values.values() if isinstance(values, dict) else ():
        for action_id, state in block.items() if isinstance(block, dict) else ():
            if not isinstance(state, dict):
                continue
            kind = state.get("type")
            if kind == "static_select" or kind == "radio_buttons":
                selected = state.get("selected_option")
                out[action_id] = str(selected.get("value") or "") if isinstance(selected, dict) else ""
            elif kind == "checkboxes":
                out[action_id] = "true" if state.get("selected_options") else ""
            else:
                value = state.get("value")
                out[action_id] = "" if value is None else str(value)
    return out


# --- forms opened from a button ------------------------------------------------------------------------


def encode_form(form: Form) -> str:
    raw = json.dumps(form.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_form(value: str) -> Form | None:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(value.encode("ascii")))
        return Form.model_validate_json(raw)
    except (ValueError, zlib.error):
        return None


def open_form_button(form: Form) -> dict[str, Any] | None:
    """A button that opens ``form`` as a modal (None if the form is too large for a button value)."""
    value = encode_form(form)
    if len(value) > BUTTON_VALUE_MAX:
        return None
    return {
        "type": "button",
        "style": "primary",
        "text": plain_text("📝 " + form.title, BUTTON_TEXT_MAX),
        "action_id": OPEN_FORM_ACTION,
        "value": value,
    }
