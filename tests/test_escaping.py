"""Escaping at one place: every value from a person or a directory is made inert by each platform's renderer,
in every kind of block and every field, marked with ``user_text`` or (for fields that are always data) not."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.console.render import render as console_render
from bot.core.messages import (
    Actions,
    Bar,
    BarList,
    Button,
    Divider,
    Fields,
    Form,
    Header,
    Input,
    Message,
    Note,
    Option,
    Section,
    user_text,
)
from bot.slack.render import fallback_text, modal_view, render_home, render_message
from bot.teams.proactive import message_activity
from bot.teams.render import plain_text, render_card

HOSTILE = "<!channel> <!here> @here <@UEVIL> <#CEVIL> *Eve* _x_ ~y~ `z` <http://evil.example|klick> [x](javascript:alert(1)) <at>Eve</at> <b>b</b> &amp; \x1b[2J"
EVIL_ID = "UEVIL"


def hostile_message(mark: bool) -> Message:
    """Every block kind, with the hostile value in every field; ``mark``: wrapped with user_text where
    handlers wrap it (text blocks), raw in the fields that are always data."""
    v = user_text(HOSTILE) if mark else HOSTILE
    u = user_text(HOSTILE)
    return Message(
        text=f"Kudos von {u}",
        blocks=[
            Header(text=f"Board {u}"),
            Section(text=f"*Ours* <@UMAX> danke {u}\n> {u}"),
            Fields(items=[(f"Abteilung {u}", u), ("Name", u)]),
            BarList(title=f"Werte {u}", rows=[Bar(label=v, value=3, display=v, rank=1, highlight=True)]),
            Note(text=f"von {u}"),
            Divider(),
            Actions(buttons=[Button(label=v, action_id="a", value="1")]),
            Form(
                title=v,
                action_id="f",
                submit_label=v,
                inputs=[
                    Input(id="t", label=v, placeholder=v, initial=v),
                    Input(id="s", label=v, type="select", options=[Option(value="x", label=v)]),
                    Input(id="c", label=v, type="checkbox", required=False),
                ],
            ),
        ],
    )


def slack_texts(payload: Any) -> list[str]:
    """Every string Slack would parse as mrkdwn (``plain_text`` objects are never parsed)."""
    out: list[str] = []

    def walk(node: Any, parse: bool) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    if parse and kind != "plain_text":
                        out.append(value)
                else:
                    walk(value, parse)
        elif isinstance(node, list):
            for item in node:
                walk(item, parse)

    walk(payload, True)
    return out


@pytest.mark.parametrize("mark", [True, False], ids=["marked", "unmarked_data_fields"])
def test_slack_never_pings_links_or_formats_what_a_person_typed(mark: bool) -> None:
    message = hostile_message(mark)
    rendered = [render_message(message), render_home(message)]
    view = modal_view(message.model_copy(update={"blocks": [b for b in message.blocks if isinstance(b, Form)]}))
    rendered.append(view)
    texts = [fallback_text(message)] + [t for r in rendered for t in slack_texts(r)]
    joined = "\n".join(texts)
    assert "<@UMAX>" in joined  # our own mention stays a mention
    for text in texts:
        assert "<!" not in text and "<@UEVIL" not in text and "<http" not in text and "<#CEVIL" not in text, text
        assert not re.search(r"(?<![\w\u200b])@(here|channel)\b", text), text
        for marker in ("*Eve*", "_x_", "~y~", "`z`"):
            assert marker not in text, (marker, text)
    # plain_text objects are never parsed by Slack: the value may appear there as typed
    assert all("\ue000" not in json.dumps(r) and "\ue001" not in json.dumps(r) for r in rendered)


@pytest.mark.parametrize("mark", [True, False], ids=["marked", "unmarked_data_fields"])
@pytest.mark.parametrize("mentions", [True, False])
def test_teams_never_mentions_links_formats_or_tags_what_a_person_typed(mark: bool, mentions: bool) -> None:
    message = hostile_message(mark)
    names = {"UMAX": HOSTILE}  # a directory name as hostile as the rest
    card = render_card(message, names, mentions=mentions)
    activity = message_activity(message, names, mentions=mentions)
    blob = json.dumps(card, ensure_ascii=False)
    assert "\ue000" not in blob and "\ue001" not in blob
    markdown: list[str] = []  # TextBlock and FactSet texts: rendered as markdown by Teams
    plain: list[str] = [plain_text(message, names), activity.summary or "", activity.text or ""]

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, value in node.items():
                if k == "entities" or (k == "value" and str(node.get("type", "")).startswith("Input.")):
                    continue  # mention entities are checked below; an input's value is what the box holds
                if isinstance(value, str) and (
                    (node.get("type") == "TextBlock" and k == "text") or (k in ("title", "value") and key == "facts")
                ):
                    markdown.append(value)
                elif isinstance(value, str):
                    plain.append(value)
                else:
                    walk(value, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(card)
    for text in markdown + plain:
        assert "<at>Eve" not in text and "<b>" not in text, text
        assert not re.search(r"(?<!\\)\]\(", text), text  # a live markdown link: ](  not escaped or broken
    for text in markdown:
        assert "**Eve**" not in text and "*Eve*" not in text.replace("\\*", ""), text
        assert "_x_" not in text.replace("\\_", ""), text
    entities = card["msteams"].get("entities", [])
    assert [e["mentioned"]["id"] for e in entities] == (["UMAX"] if mentions else [])
    assert all("<at>" + "Eve" not in e["text"] for e in entities)


def test_the_terminal_shows_typed_text_without_control_characters() -> None:
    message = hostile_message(True)
    out = console_render(message, lambda uid: f"name\x1b]0;x\x07{uid}")
    assert "\x1b" not in out and "\x07" not in out
    assert "<!channel>" in out  # shown as typed: a terminal cannot ping
