"""The terminal adapter: @handles become mentions, the console commands, and the demo as a newcomer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from bot.console.adapter import HANDLE_RE, handles_in, replace_handles
from bot.core.events import mention_ids
from tests.kit import BotHarness

handles = st.from_regex(r"[a-z](?:[a-z0-9._\-]{0,10}[a-z0-9])?", fullmatch=True)
plain_words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Z", "Cc"), blacklist_characters="@<>"),
    min_size=1,
    max_size=10,
).filter(lambda w: not any(c.isspace() for c in w))
punctuation = st.sampled_from(["", ".", ",", "!", "?", ":", ";", ")", "-", "..."])


@given(text=st.text(max_size=200))
def test_any_line_converts_without_surprises(text: str) -> None:
    found = handles_in(text)
    assert len(set(found)) == len(found)
    ids = {h: f"id{i}" for i, h in enumerate(found)}
    out = replace_handles(text, ids)
    assert HANDLE_RE.search(out) is None or all(h not in ids for h in HANDLE_RE.findall(out))
    assert replace_handles(text, {}) == text  # unknown handles stay as typed


@given(text=st.text(alphabet=st.characters(blacklist_characters="@"), max_size=200))
def test_a_line_without_at_signs_is_unchanged(text: str) -> None:
    assert handles_in(text) == [] and replace_handles(text, {"anna": "U1"}) == text


@given(
    parts=st.lists(
        st.one_of(
            st.tuples(st.just("word"), plain_words, st.just("")), st.tuples(st.just("handle"), handles, punctuation)
        ),
        max_size=15,
    )
)
@example(parts=[("word", "danke", ""), ("handle", "anna", "."), ("handle", "ben.k", ","), ("handle", "anna", "!")])
def test_handles_become_mention_tokens(parts: list[tuple[str, str, str]]) -> None:
    typed = " ".join(v if k == "word" else f"@{v}{p}" for k, v, p in parts)
    ids = {h: f"U{h.upper().replace('.', '_')}" for k, h, _ in parts if k == "handle"}
    expected = " ".join(v if k == "word" else f"<@{ids[v]}>{p}" for k, v, p in parts)
    assert replace_handles(typed, {h: ids[h] for h in handles_in(typed)}) == expected
    assert mention_ids(expected) == list(dict.fromkeys(ids[v] for k, v, _ in parts if k == "handle"))


def test_email_addresses_and_typed_mentions_are_not_handles() -> None:
    assert handles_in("schreib an max@firma.de oder <@anna>, @@ben") == []
    assert handles_in("danke @anna.schmidt-2. und @ben!") == ["anna.schmidt-2", "ben"]


# --- the console on the real router and database -----------------------------------------------------------


async def test_handle_at_the_end_of_a_sentence(bot: BotHarness) -> None:
    out = await bot.say("kudos danke für die Hilfe beim Kundentermin, @anna.", as_="max")
    assert "(only you) Kudos an @Anna Schmidt verschickt." in out


async def test_handle_by_display_name_case_and_unknown_handle(bot: BotHarness) -> None:
    assert "Kudos an @Ben Müller verschickt" in await bot.say("kudos @BEN danke für die Hilfe beim Umzug", as_="max")
    out = await bot.say("kudos @zoe danke für die Hilfe beim Umzug", as_="max")
    assert out.startswith("(only you) Diese Person (zoe) finde ich in diesem Workspace nicht.")


async def test_switching_people_and_listing_them(bot: BotHarness) -> None:
    assert await bot.say("/as @anna") == "(you are now @anna)"
    assert "Kudos an @Max Weber verschickt" in await bot.say("kudos @max danke für die schnelle Freigabe")
    who = await bot.say("/who")
    assert "@greta  Greta Keller" in who and len(who.splitlines()) == 8
    assert await bot.say("/channel kudos") == "(now in #kudos)"
    assert "→ #kudos:" in await bot.say("kudos @ben danke für die schnelle Freigabe")
    assert "/click N" in await bot.say("/help")


# --- the demo, as the README runs it -----------------------------------------------------------------------


def run_console(tmp_path: Path, *args: str, lines: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("starling")
    assert script.exists(), f"the console script is installed next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_", "SLACK_", "Microsoft", "OPENAI_"))}
    env["STARLING_DATABASE_URL"] = f"sqlite:///{tmp_path / 'starling.db'}"
    return subprocess.run(
        [str(script), *args], input=lines, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


def test_console_demo_shows_the_kudos_and_a_leaderboard_with_anna(tmp_path: Path) -> None:
    lines = "kudos @anna danke für die Hilfe beim Kundentermin #kundenfokus\nleaderboard week\nexit\n"
    done = run_console(tmp_path, "console", "--demo", lines=lines)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(demo colleagues loaded: max, anna, ben, clara, deniz, emma, felix, greta)" in out
    assert "(only you) Kudos an @Anna Schmidt verschickt. Du hast heute noch 4 von 5 Punkten." in out
    assert "→ #general:\nKudos!\n======\n@Max Weber sagt Danke an @Anna Schmidt (je +1):" in out
    assert "> danke für die Hilfe beim Kundentermin\n  · Wert: Kundenfokus" in out
    assert "→ DM to @anna:" in out
    board = out.split("Am meisten gelobt, diese Woche", 1)[1]
    assert re.search(r"^\s*\d+\. Anna Schmidt\s+█+\s+\d+ Punkte?$", board, re.M), board
    assert "Traceback" not in done.stderr
