"""Escaping at one place: every value from a person or a directory is made inert by each platform's renderer,
in every kind of block and every field, marked with ``user_text`` or (for fields that are always data) not.

The translator makes every value it fills into a template data, so every message a handler builds from a
template is covered by construction: the last tests render every template that takes a value, in both
languages and both forms of address, with the hostile value in every placeholder and in every kind of block,
on Slack and on Teams."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.console.render import render as console_render
from bot.core.i18n import LANGUAGES, Translator, load_catalog, placeholders
from bot.core.messages import (
    Actions,
    Bar,
    BarList,
    Button,
    Divider,
    Fields,
    Fold,
    Form,
    Header,
    Input,
    Markup,
    Message,
    Note,
    Option,
    Section,
    channel_link,
    fold_messages,
    mention,
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


def slack_live(message: Message) -> list[str]:
    """What a hostile value made live in ``message`` on Slack (empty: nothing), and whether <@UMAX> stayed live."""
    rendered = [render_message(message), render_home(message)]
    forms = [b for b in message.blocks if isinstance(b, Form)]
    if forms:
        rendered.append(modal_view(message.model_copy(update={"blocks": forms})))
    texts = [fallback_text(message)] + [t for r in rendered for t in slack_texts(r)]
    found: list[str] = []
    for text in texts:
        for token in ("<!", "<@UEVIL", "<http", "<#CEVIL", "*Eve*", "_x_", "~y~", "`z`"):
            if token in text:
                found.append(f"{token} in {text!r}")
        if re.search(r"(?<![\w\u200b\u200d])@(here|channel)\b", text):
            found.append(f"@here in {text!r}")
    for r in rendered:  # plain_text objects are never parsed by Slack: the value may appear there as typed
        if "\ue000" in json.dumps(r) or "\ue001" in json.dumps(r):
            found.append("a user-text marker left in the payload")
    if "\n".join(texts).count("<@UMAX>") == 0 and "<@UMAX>" in message.model_dump_json():
        found.append("our own <@UMAX> mention is not live")
    return found


@pytest.mark.parametrize("mark", [True, False], ids=["marked", "unmarked_data_fields"])
def test_slack_never_pings_links_or_formats_what_a_person_typed(mark: bool) -> None:
    message = hostile_message(mark)
    assert slack_live(message) == []
    assert "<@UMAX>" in render_message(message)["blocks"][1]["text"]["text"]  # our own mention stays a mention


def teams_live(
    message: Message, names: dict[str, str], *, mentions: bool, meant: frozenset[str] = frozenset({"UMAX"})
) -> list[str]:
    """What a hostile value made live in ``message`` on Teams: in card markdown (TextBlocks, facts) no mention,
    tag, link or emphasis; in plain-text properties (summary, fallbackText, titles, labels) no tag, link or
    emphasis either, in case a client renders them anyway."""
    card = render_card(message, names, mentions=mentions)
    activity = message_activity(message, names, mentions=mentions)
    found: list[str] = []
    blob = json.dumps(card, ensure_ascii=False)
    if "\ue000" in blob or "\ue001" in blob:
        found.append("a user-text marker left in the card")
    markdown: list[str] = []  # TextBlock and FactSet texts: rendered as markdown by Teams
    plain: list[str] = [plain_text(message, names), activity.summary or "", activity.text or ""]

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, value in node.items():
                if k in ("entities", "type", "$schema", "action_id", "verb", "id") or (
                    k == "value" and (str(node.get("type", "")).startswith("Input.") or key == "data")
                ):
                    continue  # mention entities are checked below; ids and what an input box holds are no text
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
        for token in ("<at>Eve", "<b>", "<!channel>", "&amp;"):
            if token in text:
                found.append(f"{token} in {text!r}")
        if re.search(r"(?<!\\)\]\(", text):  # a live markdown link: ](  not escaped or broken
            found.append(f"link in {text!r}")
    for text in markdown:
        bare = text.replace("\\*", "").replace("\\_", "").replace("\\~", "").replace("\\`", "")
        for token in ("**Eve**", "*Eve*", "_x_", "~y~", "`z`"):
            if token in bare:
                found.append(f"{token} in {text!r}")
    for text in plain:
        for token in ("*Eve*", "_x_", "~y~", "`z`"):
            if token in text:
                found.append(f"{token} in plain {text!r}")
    entities = card["msteams"].get("entities", [])
    if any(e["mentioned"]["id"] not in meant for e in entities):
        found.append(f"a mention entity of a value: {entities}")
    if any("<at>" + "Eve" in e["text"] for e in entities):
        found.append("a hostile name inside a mention tag")
    if mentions and "<@UMAX>" in message.model_dump_json() and not entities:
        found.append("our own <@UMAX> mention is not live")
    return found


@pytest.mark.parametrize("mark", [True, False], ids=["marked", "unmarked_data_fields"])
@pytest.mark.parametrize("mentions", [True, False])
def test_teams_never_mentions_links_formats_or_tags_what_a_person_typed(mark: bool, mentions: bool) -> None:
    message = hostile_message(mark)
    names = {"UMAX": HOSTILE}  # a directory name as hostile as the rest
    assert teams_live(message, names, mentions=mentions) == []
    entities = render_card(message, names, mentions=mentions)["msteams"].get("entities", [])
    assert [e["mentioned"]["id"] for e in entities] == (["UMAX"] if mentions else [])


def test_the_terminal_shows_typed_text_without_control_characters() -> None:
    message = hostile_message(True)
    out = console_render(message, lambda uid: f"name\x1b]0;x\x07{uid}")
    assert "\x1b" not in out and "\x07" not in out
    assert "<!channel>" in out  # shown as typed: a terminal cannot ping


# --- every template, every block kind ------------------------------------------------------------------


def templated_message(t: Translator, key: str) -> Message:
    """The template ``key`` with the hostile value in every placeholder, in every kind of block and field that
    handlers fill from templates, next to our own mention of UMAX."""
    text = t(key, **{name: HOSTILE for name in placeholders(t.raw(key))})
    own = t("core.and") + mention("UMAX")
    return Message(
        text=text,
        blocks=[
            Header(text=text),
            Section(text=f"*{own}* {text}\n> {text}\n• {text}"),
            Fields(items=[(text, text), (own, text)]),
            BarList(title=text, rows=[Bar(label=text, value=2, display=text, rank=1, highlight=True)]),
            Note(text=text),
            Divider(),
            Actions(buttons=[Button(label=text, action_id="a", value="1")]),
            Form(
                title=text,
                action_id="f",
                submit_label=text,
                inputs=[
                    Input(id="t", label=text, placeholder=text, initial=text),
                    Input(id="s", label=text, type="select", options=[Option(value="x", label=text)]),
                    Input(id="c", label=text, type="checkbox", required=False),
                ],
            ),
        ],
        fold=Fold(key="k", line=text, header=text + " {n}"),
    )


def templates_with_values(lang: str, tone: str) -> list[str]:
    t = Translator(lang, tone)
    return sorted(key for key in load_catalog(lang) if placeholders(t.raw(key)))


@pytest.mark.parametrize("tone", ["du", "sie"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_renders_every_value_inert_in_every_block_on_slack_and_teams(lang: str, tone: str) -> None:
    t = Translator(lang, tone)
    keys = templates_with_values(lang, tone)
    assert len(keys) > 300  # every template that takes a value, not a sample
    names = {"UMAX": HOSTILE, "UEVIL": HOSTILE}  # directory names as hostile as the values
    live: dict[str, list[str]] = {}
    for key in keys:
        message = templated_message(t, key)
        folded, taken = fold_messages([message, message.model_copy()])
        assert taken == 2
        found = slack_live(message) + teams_live(message, names, mentions=True)
        found += teams_live(message, names, mentions=False)  # a private chat: mentions shown as names
        found += slack_live(folded) + teams_live(folded, names, mentions=True)  # the folded post
        if found:
            live[key] = found
    assert live == {}, f"{len(live)} templates made a value live, e.g. {next(iter(live.items()), None)}"


def test_a_template_keeps_its_own_markup_and_the_mentions_and_channels_the_bot_means() -> None:
    t = Translator("en")
    text = t("core.bad_arg", arg=HOSTILE, usage=Markup("kudos @name"))
    assert isinstance(text, Markup)
    slack = render_message(Message(blocks=[Section(text=text)]))["blocks"][0]["text"]["text"]
    assert "`kudos @name`" in slack and "<!channel>" not in slack and "&lt;!channel&gt;" in slack
    card = render_card(Message(blocks=[Section(text=t("core.bad_arg", arg="#wert", usage=Markup("kudos")))]), {})
    assert card["body"][0]["text"] == "I can't read **\\#wert** here. This is how it goes: **kudos**"  # code → bold
    joined = t.join([mention("UMAX"), channel_link("CTEAM"), "<@UEVIL>"])
    slack = render_message(Message(blocks=[Section(text=joined)]))["blocks"][0]["text"]["text"]
    assert "<@UMAX>" in slack and "<#CTEAM>" in slack and "<@UEVIL>" not in slack
    card = render_card(Message(blocks=[Section(text=joined)]), {"UMAX": "Max"}, mentions=True)
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == ["UMAX"]
    assert mention("<!channel>") == user_text("<!channel>")  # not an id: shown as data, mentions no one
    assert channel_link("C1> <!here") == user_text("C1> <!here")
    # Pages and documents fill values in as they are (they escape for HTML or Markdown themselves).
    assert Translator("en", marked=False)("core.bad_arg", arg="<b>", usage="u") == t.raw("core.bad_arg").format(
        arg="<b>", usage="u"
    )


# --- how handlers build text -----------------------------------------------------------------------------


def _own_markup_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals that write a ``<@…>`` mention or ``<#…>`` channel by hand (docstrings, regular
    expressions and ``startswith`` tests, which read such tokens, are not text a handler sends)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # a docstring
        if isinstance(node, ast.Call):
            func = node.func
            reads = isinstance(func, ast.Attribute) and (
                (isinstance(func.value, ast.Name) and func.value.id == "re") or func.attr == "startswith"
            )
            if reads:
                skip.update(id(n) for arg in node.args for n in ast.walk(arg))
    found = []
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) and id(node) not in skip else None
        if isinstance(text, str) and ("<@" in text or "<#" in text):
            found.append((node.lineno, text))
    return found


def _markup_of_values(tree: ast.AST) -> list[tuple[int, str]]:
    """``Markup(x)`` where ``x`` is not a literal: a value declared our own markup by hand."""
    return [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Markup"
        and not all(isinstance(arg, ast.Constant) for arg in node.args)
    ]


def test_handlers_write_mentions_and_channels_only_through_mention_and_channel_link() -> None:
    """What makes a value live on a platform is our own markup; in handlers it comes only from templates,
    :func:`mention`, :func:`channel_link` and ``Markup`` of a literal, never from a hand-written token or a
    value declared markup."""
    handlers = Path(__file__).resolve().parents[1] / "handlers"
    by_hand: list[str] = []
    declared: list[str] = []
    for path in sorted(handlers.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(handlers.parent)
        by_hand += [f"{name}:{line}: {text!r}" for line, text in _own_markup_literals(tree)]
        declared += [f"{name}:{line}: {text}" for line, text in _markup_of_values(tree)]
    assert by_hand == []
    assert declared == []


def test_a_hostile_pulse_question_is_inert_in_the_invitation_and_its_notification_text() -> None:
    """A message a handler composes without a template (the question a person typed, after the title)."""
    from datetime import UTC, datetime

    from handlers.pulse.flow import invitation
    from storage.models import Workspace
    from storage.pulse import Pulse

    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ws = Workspace(id="slack:T1", name="Acme", timezone="Europe/Berlin")
    pulse = Pulse(
        id=7, workspace_id=ws.id, channel_id="CTEAM", question=HOSTILE, created_by="UMAX", opened_at=when, deadline=when
    )
    for lang in LANGUAGES:
        message = invitation(Translator(lang), ws, pulse, starter=False)
        assert slack_live(message) == [] and teams_live(message, {}, mentions=True) == []
        assert "Eve" in fallback_text(message)


# --- text a handler builds with an f-string ------------------------------------------------------------------

BLOCK_KINDS = {"Section", "Header", "Note", "Fields", "Message", "Button", "Option", "Fold", "Bar", "BarList", "Input"}
TEXT_ARGUMENTS = {"text", "title", "line", "header", "label", "placeholder", "items", "hint", "submit"}
MARKUP_CALLS = {"user_text", "mention", "channel_link"}  # our own markup, or a value marked as data
TEXT_CALLS = {"t", "wt", "raw", "plural"}  # a translator: its template is ours, every value it fills is data
NUMBER_CALLS = {"int", "len", "round", "percent"}


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _ours(expr: ast.AST, names: set[str]) -> bool:
    """Whether ``expr`` can only be our own text, a value marked as data, or a number."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Call):
        return _called(expr) in MARKUP_CALLS | TEXT_CALLS | NUMBER_CALLS
    if isinstance(expr, ast.Name):
        return expr.id in names
    if isinstance(expr, ast.IfExp):
        return _ours(expr.body, names) and _ours(expr.orelse, names)
    if isinstance(expr, ast.BinOp) and not isinstance(expr.op, ast.Mod):
        return _ours(expr.left, names) and _ours(expr.right, names)
    if isinstance(expr, ast.UnaryOp):
        return _ours(expr.operand, names)
    if isinstance(expr, ast.JoinedStr):
        return all(_filled_ours(v, names) for v in expr.values)
    return False


def _filled_ours(part: ast.AST, names: set[str]) -> bool:
    if not isinstance(part, ast.FormattedValue):
        return True
    return part.format_spec is not None or _ours(part.value, names)  # a format spec formats a number (:02d, :.1f)


def f_strings_filling_values_into_blocks(root: Path) -> list[str]:
    """Every f-string that is (part of) a block's text in ``root`` and fills in something that is not our own text,
    a value marked with ``user_text``, a mention, a channel link or a number: such a value reaches the renderer as
    our markup, so a display name or a typed word in it would ping, link or format."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned: dict[str, list[ast.AST | None]] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    assigned.setdefault(node.targets[0].id, []).append(node.value)
                elif isinstance(node, ast.arg):
                    assigned.setdefault(node.arg, []).append(None)  # a parameter: anything
            names: set[str] = set()
            for _ in range(3):  # names assigned from names assigned from ...
                names = {k for k, vs in assigned.items() if all(v is not None and _ours(v, names) for v in vs)}
            for node in ast.walk(fn):
                if not (isinstance(node, ast.Call) and _called(node) in BLOCK_KINDS):
                    continue
                todo: list[ast.AST] = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_ARGUMENTS)]
                while todo:
                    part = todo.pop()
                    if isinstance(part, ast.JoinedStr):
                        if not all(_filled_ours(v, names) for v in part.values):
                            found.append(f"{path.relative_to(root.parent)}:{part.lineno}: {ast.unparse(part)}")
                    elif isinstance(part, ast.BinOp | ast.IfExp | ast.List | ast.Tuple | ast.BoolOp):
                        todo.extend(ast.iter_child_nodes(part))  # not into calls: a call's arguments are its own
    return sorted(set(found))


def test_handlers_fill_only_marked_values_into_the_f_strings_of_their_blocks() -> None:
    handlers = Path(__file__).resolve().parents[1] / "handlers"
    assert f_strings_filling_values_into_blocks(handlers) == []


def test_the_f_string_check_finds_a_display_name_filled_in_unmarked(tmp_path: Path) -> None:
    """The check above can fail: a name from the directory in an f-string of a block's text is found, the same
    name marked with ``user_text`` (or a number, or a template's output) is not."""
    module = tmp_path / "handlers" / "example.py"
    module.parent.mkdir()
    module.write_text(
        "def blocks(ctx, member, n):\n"
        "    title = ctx.t('x.title')\n"
        "    name = member.display_name\n"
        "    return [\n"
        "        Section(text=f'*{title}* {user_text(member.display_name)} {n:d}'),\n"
        "        Section(text=f'Danke, {member.display_name}!'),\n"
        "        Note(text=ctx.t('x.intro') + f' ({name})'),\n"
        "    ]\n",
        encoding="utf-8",
    )
    assert f_strings_filling_values_into_blocks(module.parent) == [
        "handlers/example.py:6: f'Danke, {member.display_name}!'",
        "handlers/example.py:7: f' ({name})'",
    ]
