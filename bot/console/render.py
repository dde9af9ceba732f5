"""Plain-text rendering of the neutral message model for the terminal."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.core.events import MENTION_RE
from bot.core.messages import (
    Actions,
    BarList,
    Divider,
    Fields,
    Form,
    Header,
    Message,
    Note,
    Section,
    render_markup,
)

BAR_WIDTH = 20
_STAR = "\ue002"  # a typed star while our own bold markup is taken off
_BOLD = re.compile(r"\*(\S[^*\n]*?)\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(s: str) -> str:
    """Text from a person or a directory for the terminal: control characters (escape sequences, bidi
    overrides) shown as ``\\xNN`` instead of acting on the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256 else "\ufffd", s)


def render(
    message: Message, name_of: Callable[[str], str], *, buttons: list[tuple[str, str, str]] | None = None
) -> str:
    """Render for a terminal; ``buttons`` collects (label, action_id, value) so the console can click them."""

    def own(s: str) -> str:
        return MENTION_RE.sub(lambda m: "@" + terminal_safe(name_of(m.group(1))).replace("*", _STAR), s)

    def text(s: str) -> str:
        # Our own mentions become @names and our *bold* plain words; what a person typed is shown as typed
        # (the terminal cannot ping), its stars kept, without control characters (no escape sequences).
        shown = render_markup(s, escape=lambda u: terminal_safe(u).replace("*", _STAR), markup=own)
        return _BOLD.sub(r"\1", shown).replace(_STAR, "*")

    lines: list[str] = []
    for block in message.blocks:
        if isinstance(block, Header):
            title = text(block.text)
            lines += [title, "=" * min(len(title), 60)]
        elif isinstance(block, Section):
            lines.append(text(block.text))
        elif isinstance(block, Fields):
            width = max((len(text(k)) for k, _ in block.items), default=0)
            lines += [f"{text(k).ljust(width)}  {text(v)}" for k, v in block.items]
        elif isinstance(block, BarList):
            if block.title:
                lines.append(text(block.title))
            top = max((r.value for r in block.rows), default=0) or 1
            label_w = max((len(text(r.label)) for r in block.rows), default=0)
            for r in block.rows:
                bar = "█" * max(1, round(BAR_WIDTH * r.value / top)) if r.value else ""
                rank = f"{r.rank:>2}. " if r.rank is not None else "    "
                mark = " ◀" if r.highlight else ""
                shown = text(r.display) if r.display else _num(r.value)
                lines.append(f"{rank}{text(r.label).ljust(label_w)}  {bar.ljust(BAR_WIDTH)}  {shown}{mark}")
        elif isinstance(block, Note):
            lines.append("  · " + text(block.text))
        elif isinstance(block, Divider):
            lines.append("-" * 40)
        elif isinstance(block, Actions):
            labels = []
            for b in block.buttons:
                if buttons is not None:
                    buttons.append((b.label, b.action_id, b.value))
                    labels.append(f"[{len(buttons)}] {text(b.label)}")
                else:
                    labels.append(f"[{text(b.label)}]")
            lines.append("   ".join(labels) + ("   (/click N)" if buttons is not None else ""))
        elif isinstance(block, Form):
            lines.append(f"[{text(block.title)}]")
    out = "\n".join(lines)
    return out if out else terminal_safe(message.fallback())


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"
