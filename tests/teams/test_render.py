"""Adaptive Cards from the neutral model, and activity text → neutral text."""

from __future__ import annotations

import json
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
    Option,
    Section,
    bar_rows,
    user_text,
)
from bot.teams.activity import card_action, invoke_action, neutral_text
from bot.teams.render import escape_text, plain_text, render_card
from tests.teams.conftest import ANNA, BOT_ID, MAX

NAMES = {ANNA: "Anna Schmidt", MAX: "Max Mustermann"}


def card_json(message: Message, *, mentions: bool = False) -> str:
    return json.dumps(render_card(message, NAMES, mentions=mentions), ensure_ascii=False)


def test_user_text_cannot_mention_link_format_or_inject_html() -> None:
    evil = "<at>Anna Schmidt</at> [click](https://evil.example) *bold* _it_ <b>x</b> &amp; <@" + ANNA + ">"
    msg = Message(blocks=[Section(text=f"{{giver}} says: <@{MAX}> " + user_text(evil))])
    card = render_card(msg, NAMES, mentions=True)
    text = card["body"][0]["text"]
    # Our own mention is real ...
    assert "<at>Max Mustermann</at>" in text
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == [MAX]
    # ... the typed one is not: no literal <at>, no markdown link, no emphasis, no tags, no entity.
    assert "<at>Anna" not in text and "<b>" not in text and "&amp;" not in text
    assert "[click](" not in text and "\\[click\\](https://evil.example)" in text
    assert "\\*bold\\*" in text and "\\_it\\_" in text
    assert f"<@{ANNA}>" not in text


def test_escape_keeps_what_people_see() -> None:
    assert escape_text("Müller & Söhne") == "Müller &\u200b Söhne"
    assert (
        escape_text("- keine Liste\n1. keine Zahl\n# kein Titel") == "\\- keine Liste\n1\\. keine Zahl\n\\# kein Titel"
    )
    assert escape_text("a\\b") == "a\\\\b"


def test_mentions_are_plain_names_where_they_should_not_ping() -> None:
    msg = Message(blocks=[Section(text=f"<@{ANNA}> hat dir gedankt")])
    card = render_card(msg, NAMES, mentions=False)
    assert card["body"][0]["text"] == "Anna Schmidt hat dir gedankt"
    assert "entities" not in card["msteams"]
    assert plain_text(msg, NAMES) == "Anna Schmidt hat dir gedankt"


def test_blocks_render_natively() -> None:
    msg = Message(
        blocks=[
            Header(text="Deine *Kudos*"),
            Section(text="Zeile eins\nZeile zwei\n> " + user_text("ein Zitat")),
            Divider(),
            Fields(items=[("Erhalten", "12"), ("Gegeben", "3")]),
            Note(text="Tippe `hilfe`"),
        ]
    )
    body = render_card(msg, NAMES)["body"]
    assert body[0] == {
        "type": "TextBlock",
        "text": "Deine **Kudos**",
        "wrap": True,
        "size": "Large",
        "weight": "Bolder",
    }
    assert body[1]["text"] == "Zeile eins\n\nZeile zwei"
    assert body[2]["type"] == "Container" and body[2]["style"] == "emphasis"
    assert body[2]["items"][0]["text"] == "ein Zitat"
    assert body[3]["type"] == "FactSet" and body[3]["separator"] is True
    assert body[3]["facts"] == [{"title": "Erhalten", "value": "12"}, {"title": "Gegeben", "value": "3"}]
    assert body[4]["text"] == "Tippe **hilfe**" and body[4]["size"] == "Small" and body[4]["isSubtle"]


def bar_widths(container: dict[str, Any]) -> list[int]:
    widths = []
    for row in container["items"]:
        if row["type"] != "ColumnSet":
            continue
        bar = row["columns"][2]["items"][0]["columns"]
        widths.append(bar[0]["width"] if bar[0].get("style") else 0)
    return widths


def test_bars_are_proportional_and_the_reader_is_highlighted() -> None:
    rows = bar_rows([("Anna", 10), ("Ben", 5), ("Clara", 5), ("Deniz", 0)], highlight="Ben")
    container = render_card(Message(blocks=[BarList(title="Top", rows=rows)]), NAMES)["body"][0]
    assert container["items"][0]["text"] == "Top"
    assert bar_widths(container) == [100, 50, 50, 0]
    ranks = [r["columns"][0]["items"][0]["text"] for r in container["items"][1:]]
    assert ranks == ["1.", "2.", "2.", "3."]
    ben = container["items"][2]
    assert ben["columns"][1]["items"][0]["weight"] == "Bolder"
    assert ben["columns"][2]["items"][0]["columns"][0]["style"] == "good"


def test_buttons_are_execute_actions_with_a_submit_fallback() -> None:
    msg = Message(
        blocks=[Actions(buttons=[Button(label="Genehmigen", action_id="sugg:approve", value="42", style="primary")])]
    )
    action = render_card(msg, NAMES)["body"][0]["actions"][0]
    assert action["type"] == "Action.Execute" and action["verb"] == "sugg:approve"
    assert action["data"] == {"action_id": "sugg:approve", "value": "42"} and action["style"] == "positive"
    assert action["fallback"]["type"] == "Action.Submit" and action["fallback"]["data"] == action["data"]
    parsed = card_action(action["data"])
    assert parsed is not None and (parsed.action_id, parsed.value) == ("sugg:approve", "42")


def test_forms_render_inputs_and_round_trip_their_values() -> None:
    form = Form(
        title="Vorschlag",
        action_id="suggest:submit",
        submit_label="Absenden",
        private_metadata="ctx-1",
        inputs=[
            Input(id="title", label="Titel", max_length=80),
            Input(id="body", label="Beschreibung", type="multiline", required=False, placeholder="Was nervt?"),
            Input(id="area", label="Bereich", type="select", options=[Option(value="it", label="IT")]),
            Input(id="anon", label="Anonym", type="checkbox", required=False),
        ],
    )
    container = render_card(Message(blocks=[form]), NAMES)["body"][0]
    title, body, area, anon, actions = container["items"][1:]
    assert (title["type"], title["id"], title["isRequired"], title["maxLength"]) == ("Input.Text", "f.title", True, 80)
    assert body["isMultiline"] and body["placeholder"] == "Was nervt?" and not body["isRequired"]
    assert area["type"] == "Input.ChoiceSet" and area["choices"] == [{"title": "IT", "value": "it"}]
    assert anon["type"] == "Input.Toggle" and anon["valueOn"] == "true"
    submit = actions["actions"][0]
    assert submit["verb"] == "suggest:submit" and submit["associatedInputs"] == "auto"

    # What Teams sends back on submit: the action data merged with the input values.
    sent = {**submit["data"], "f.title": "Reisekosten digital", "f.area": "it", "f.anon": "true", "f.body": ""}
    parsed = invoke_action({"value": {"action": {"type": "Action.Execute", "verb": submit["verb"], "data": sent}}})
    assert parsed is not None and parsed.is_form and parsed.value == "ctx-1" and parsed.missing == []
    assert parsed.form == {"title": "Reisekosten digital", "area": "it", "anon": "true", "body": ""}
    sent["f.title"] = ""
    assert card_action(sent).missing == ["Titel"]  # type: ignore[union-attr]


def test_neutral_text_takes_recipients_from_entities_only() -> None:
    activity = {
        "text": f"<at>Starling</at> kudos <at>Anna</at> danke &amp; <@{MAX}> <!channel> <p>gut</p>",
        "recipient": {"id": BOT_ID, "name": "Starling"},
        "entities": [
            {"type": "mention", "text": "<at>Starling</at>", "mentioned": {"id": BOT_ID, "name": "Starling"}},
            {"type": "mention", "text": "<at>Anna</at>", "mentioned": {"id": ANNA, "name": "Anna"}},
        ],
    }
    parsed = neutral_text(activity)
    assert parsed.bot_mentioned
    assert parsed.text == f"kudos <@{ANNA}> danke & <\u200b@{MAX}> <\u200b!channel> gut"
    assert [m.user_id for m in parsed.mentions] == [ANNA]
