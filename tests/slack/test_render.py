"""Block Kit rendering of the neutral message model, and escaping of what people typed."""

from __future__ import annotations

import json
import re

import pytest

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
from bot.slack.render import (
    OPEN_FORM_ACTION,
    ZWJ,
    decode_form,
    escape_user,
    form_values,
    modal_view,
    mrkdwn,
    render_blocks,
    render_home,
    render_message,
    strip_action_suffix,
)

# Slack parses these only inside unescaped < >; what remains must never contain them.
LIVE_TOKEN = re.compile(r"<[@#!]|<https?:|<mailto:")


@pytest.mark.parametrize(
    "typed",
    [
        "<!channel> bitte alle lesen",
        "<!here>",
        "<!everyone> Achtung",
        "<!subteam^S123|@support>",
        "<@U0FORGED> bekommt auch was",
        "<@U0FORGED|max>",
        "<#C0SECRET|geheim>",
        "<https://evil.example/login|Passwort zurücksetzen>",
        "<http://evil.example>",
        "<mailto:ceo@example.com|CEO>",
    ],
)
def test_user_text_never_pings_or_links(typed: str) -> None:
    out = mrkdwn("Danke: " + user_text(typed))
    assert not LIVE_TOKEN.search(out), out
    assert "&lt;" in out and "&gt;" in out


@pytest.mark.parametrize("word", ["@here", "@channel", "@everyone", "@Here", "@CHANNEL"])
def test_broadcast_words_are_neutralised(word: str) -> None:
    out = escape_user(f"hey {word} schaut mal")
    assert word not in out
    assert "@" + ZWJ + word[1:] in out


def test_ampersands_are_escaped_once() -> None:
    assert escape_user("Q&A & <b>") == "Q&amp;A &amp; &lt;b&gt;"


def test_own_markup_keeps_mentions_and_channels_but_escapes_other_brackets() -> None:
    text = "*Kudos!* <@UANNA> in <#C123|general>: use `starling set <setting> <value>` & more"
    out = mrkdwn(text)
    assert "<@UANNA>" in out and "<#C123|general>" in out
    assert "&lt;setting&gt;" in out and "&amp; more" in out


def test_mentions_from_our_markup_survive_next_to_escaped_user_text() -> None:
    out = mrkdwn("<@UMAX> sagt Danke an <@UANNA>:\n> " + user_text("<@UBEN> <!channel> & Co"))
    assert out.startswith("<@UMAX> sagt Danke an <@UANNA>:")
    assert "&lt;@UBEN&gt; &lt;!channel&gt; &amp; Co" in out


def test_fallback_text_is_escaped_too() -> None:
    msg = Message(blocks=[Section(text="x")], text="Neu: " + user_text("<!channel> @here"))
    rendered = render_message(msg)
    assert not LIVE_TOKEN.search(rendered["text"])
    assert "@here" not in rendered["text"]


def test_every_block_kind_renders_to_block_kit() -> None:
    msg = Message(
        blocks=[
            Header(text="Rangliste"),
            Section(text="*fett* und _kursiv_"),
            Fields(items=[("Erhalten", "12"), ("Gegeben", "3")]),
            BarList(
                title="Nach Wert",
                rows=[
                    Bar(label="Anna", value=10, rank=1, highlight=True, display="10 Punkte"),
                    Bar(label="Ben", value=5, rank=2),
                ],
            ),
            Note(text="Stand: heute"),
            Divider(),
            Actions(
                buttons=[
                    Button(label="Ja", action_id="vote", value="1", style="primary"),
                    Button(label="Nein", action_id="vote", value="0", style="danger"),
                ]
            ),
        ]
    )
    blocks = render_blocks(msg)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context", "divider", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Rangliste", "emoji": True}
    assert blocks[1]["text"] == {"type": "mrkdwn", "text": "*fett* und _kursiv_"}
    assert blocks[2]["fields"][0] == {"type": "mrkdwn", "text": "*Erhalten*\n12"}
    bars = blocks[3]["text"]["text"].split("\n")
    assert bars[0] == "*Nach Wert*"
    assert bars[1].startswith("1. *Anna*") and bars[1].endswith("◀") and "10 Punkte" in bars[1]
    assert bars[1].count("█") == 12 and bars[2].count("█") == 6
    buttons = blocks[6]["elements"]
    assert [b["style"] for b in buttons] == ["primary", "danger"]
    assert [b["value"] for b in buttons] == ["1", "0"]
    # Slack needs unique action ids in one block; the suffix is removed again on the way in.
    assert buttons[0]["action_id"] == "vote" and buttons[1]["action_id"] != "vote"
    assert strip_action_suffix(buttons[1]["action_id"]) == "vote"


def test_long_sections_are_split_and_fields_chunked() -> None:
    long_text = "\n".join(f"Zeile {i} " + "x" * 90 for i in range(80))
    blocks = render_blocks(Message(blocks=[Section(text=long_text), Fields(items=[(str(i), "v") for i in range(23)])]))
    sections = [b for b in blocks if "text" in b]
    assert len(sections) >= 3 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert "\n".join(b["text"]["text"] for b in sections) == long_text
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 10, 3]


def test_too_many_blocks_are_cut_to_slacks_limit() -> None:
    msg = Message(blocks=[Divider()] * 120)
    assert len(render_blocks(msg)) == 50
    assert len(render_home(msg)["blocks"]) == 100


def test_form_renders_as_a_modal_with_inputs() -> None:
    form = Form(
        title="Vorschlag einreichen (Bürokratieabbau)",
        action_id="suggest:submit",
        submit_label="Absenden",
        private_metadata="draft-7",
        inputs=[
            Input(id="title", label="Titel", max_length=120, placeholder="Kurz und klar"),
            Input(id="body", label="Beschreibung", type="multiline", required=False),
            Input(
                id="area",
                label="Bereich",
                type="select",
                options=[Option(value="it", label="IT"), Option(value="hr", label="HR")],
                initial="hr",
            ),
            Input(id="anon", label="Anonym einreichen", type="checkbox", required=False),
        ],
    )
    view = modal_view(Message(blocks=[Section(text="Was kostet uns Zeit?"), form]))
    assert view is not None
    assert view["type"] == "modal" and view["callback_id"] == "suggest:submit"
    assert view["private_metadata"] == "draft-7"
    assert len(view["title"]["text"]) <= 24 and view["submit"]["text"] == "Absenden"
    intro, *inputs = view["blocks"]
    assert intro["type"] == "section"
    assert [(b["block_id"], b["element"]["type"], b["optional"]) for b in inputs] == [
        ("title", "plain_text_input", False),
        ("body", "plain_text_input", True),
        ("area", "static_select", False),
        ("anon", "checkboxes", True),
    ]
    assert inputs[0]["element"]["max_length"] == 120 and inputs[1]["element"]["multiline"] is True
    assert inputs[2]["element"]["initial_option"]["value"] == "hr"


def test_submitted_values_come_back_by_input_id() -> None:
    view = {
        "state": {
            "values": {
                "title": {"title": {"type": "plain_text_input", "value": "Reisekosten digital"}},
                "body": {"body": {"type": "plain_text_input", "value": None}},
                "area": {"area": {"type": "static_select", "selected_option": {"value": "hr", "text": {}}}},
                "anon": {"anon": {"type": "checkboxes", "selected_options": [{"value": "true"}]}},
                "anon2": {"anon2": {"type": "checkboxes", "selected_options": []}},
            }
        }
    }
    assert form_values(view) == {"title": "Reisekosten digital", "body": "", "area": "hr", "anon": "true", "anon2": ""}


def test_a_form_outside_a_modal_becomes_an_open_button() -> None:
    form = Form(title="Feedback", action_id="fb", submit_label="OK", inputs=[Input(id="t", label="Text")])
    blocks = render_blocks(Message(blocks=[form]))
    button = blocks[-1]["elements"][0]
    assert button["action_id"] == OPEN_FORM_ACTION
    assert decode_form(button["value"]) == form
    assert decode_form("not a form") is None


def test_render_is_json_serialisable() -> None:
    json.dumps(render_message(Message(blocks=[Header(text=user_text("<x>"))])))
