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
    assert "(privat) Kudos an @Anna Schmidt verschickt." in out


async def test_handle_by_display_name_case_and_unknown_handle(bot: BotHarness) -> None:
    assert "Kudos an @Ben Müller verschickt" in await bot.say("kudos @BEN danke für die Hilfe beim Umzug", as_="max")
    out = await bot.say("kudos @zoe danke für die Hilfe beim Umzug", as_="max")
    assert out.startswith("(privat) Diese Person (zoe) finde ich in diesem Workspace nicht.")


async def test_switching_people_and_listing_them(bot: BotHarness) -> None:
    assert await bot.say("/as @anna") == "(du bist jetzt @anna)"
    assert "Kudos an @Max Weber verschickt" in await bot.say("kudos @max danke für die schnelle Freigabe")
    who = await bot.say("/who")
    assert "@greta  Greta Keller" in who and len(who.splitlines()) == 8
    assert await bot.say("/channel kudos") == "(jetzt in #kudos)"
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
    assert "(Demo-Kolleginnen und -Kollegen geladen: max, anna, ben, clara, deniz, emma, felix, greta)" in out
    # The first screen, in German: who you are (the admin), an example to type and how to leave.
    assert "du bist @max (Admin) im Kanal #general" in out
    assert "Probier:  kudos @anna danke für die Hilfe beim Kundentermin #kundenfokus" in out
    assert "Beenden mit exit oder Strg-D." in out
    assert "(privat) Kudos an @Anna Schmidt verschickt. Du hast heute noch 4 von 5 Punkten." in out
    assert "→ #general:\nKudos!\n======\n@Max Weber sagt Danke an @Anna Schmidt (+1):" in out
    assert "> danke für die Hilfe beim Kundentermin\n  · Wert: Kundenfokus" in out
    assert "→ DM an @anna:" in out
    board = out.split("Am meisten gelobt, diese Woche", 1)[1]
    assert re.search(r"^\s*\d+\. Anna Schmidt\s+█+\s+\d+ Punkte?$", board, re.M), board
    assert "Traceback" not in done.stderr


# --- everything can be tried in the console ---------------------------------------------------------------


async def test_as_knows_only_people_of_the_workspace_and_both_commands_explain_themselves(bot: BotHarness) -> None:
    out = await bot.say("/as @nobody", as_="max")
    assert out.startswith("(@nobody gibt es hier nicht; bekannt sind: @anna, @ben,") and bot.console.user == "max"
    assert (await bot.say("/as")).startswith("(so geht's: /as @name, mit einer dieser Personen: @anna,")
    assert await bot.say("/channel") == "(so geht's: /channel name, z. B. /channel team; du bist in #general)"
    assert await bot.say("/as Anna Schmidt") == "(du bist jetzt @anna)"
    who = await bot.say("/who")
    assert "@nobody" not in who


async def test_every_button_shown_so_far_can_be_pressed(bot: BotHarness) -> None:
    await bot.say("suggest Reisekostenformular auf eine Seite kürzen", as_="anna")
    await bot.say("suggest Urlaubsantrag ohne Ausdruck", as_="ben")
    out = await bot.say("suggest list", as_="max")
    numbered = re.findall(r"\[(\d+)\] ([^\[\]\n]+?)(?=\s{3}|\s*\(|$)", "\n".join(bot.output), flags=re.M)
    assert len(bot.console.buttons) >= 2 and numbered, out
    first = bot.console.buttons[0]
    await bot.say("kudos @anna danke für die Hilfe beim Kundentermin #kundenfokus", as_="max")  # more output
    pressed = await bot.say("/click 1", as_="max")  # a button printed several messages ago still works
    assert "(diesen Knopf gibt es nicht" not in pressed, (first, pressed)
    assert (await bot.say(f"/click {len(bot.console.buttons) + 1}")).startswith("(diesen Knopf gibt es nicht")


async def test_emoji_kudos_reactions_and_deleting_a_message(bot: BotHarness) -> None:
    said = await bot.say("@anna :star: danke für die Hilfe beim Kundentermin", as_="max")
    assert said.startswith("(1) @max in #general: @anna :star: danke")
    assert "Kudos an @Anna Schmidt verschickt" in said and "→ DM an @anna:" in said
    rows = await kudos_rows(bot)
    assert [(k.giver_id, k.receiver_id, k.source) for k in rows] == [("max", "anna", "message")]

    await bot.say("/delete 1", as_="ben")
    assert len(await kudos_rows(bot)) == 1  # only your own message can be deleted
    assert await bot.say("/delete 1", as_="max") == "(Nachricht (1) gelöscht)"
    assert await kudos_rows(bot) == []

    line = await bot.say("/say Das Kundenproblem ist gelöst", as_="clara")
    assert line.startswith("(2) @clara in #general: Das Kundenproblem ist gelöst")
    reacted = await bot.say("/react 2 :star:", as_="ben")
    assert "→ DM an @clara:" in reacted and "Reaktion" in reacted
    assert [(k.giver_id, k.receiver_id, k.source) for k in await kudos_rows(bot)] == [("ben", "clara", "reaction")]
    await bot.say("/unreact 2 :star:", as_="ben")
    assert await kudos_rows(bot) == []
    assert (await bot.say("/react 9 :star:")).startswith("(diese Nachricht gibt es nicht")
    assert (await bot.say("/react 2")).startswith("(so geht's: /react N :star:")


async def test_the_bots_own_hint_with_a_full_name_pasted_back(bot: BotHarness) -> None:
    await bot.say("kudos @Anna Schmidt danke für die schnelle Hilfe #kundenfokus", as_="max")
    rows = await kudos_rows(bot)
    assert [(k.receiver_id, k.reason) for k in rows] == [("anna", "danke für die schnelle Hilfe")]


async def test_channel_names_are_readable(bot: BotHarness) -> None:
    out = await bot.say("digest subscribe #team mon 09:00", as_="max")
    assert "#team" in out and "<#" not in out


async def test_a_form_keeps_valid_answers_takes_labels_and_can_be_cancelled(bot: BotHarness) -> None:
    opened = await bot.say("suggest", as_="anna")
    assert "/cancel bricht ab" in opened
    await bot.say("Genehmigung für Bürobedarf abschaffen")
    await bot.say("Jede Bestellung braucht drei Unterschriften")
    await bot.say("Bis 100 Euro ohne Unterschrift")
    again = await bot.say("Blumenkohl")  # not a category: asked again, nothing typed so far is lost
    assert again.startswith("(bitte eine dieser Möglichkeiten: Prozess, Formular,")
    await bot.say("Formular")  # the label, as shown, is taken
    await bot.say("")  # department: optional
    await bot.say("n")  # affects customers directly
    done = await bot.say("n")  # anonymous
    assert "Vorschlag #1" in done, done
    async with bot.app.sessions() as session:
        from sqlmodel import select

        from storage.suggestions import Suggestion

        row = (await session.execute(select(Suggestion))).scalars().one()
    assert row.category == "form" and row.title == "Genehmigung für Bürobedarf abschaffen"

    await bot.say("suggest", as_="anna")
    assert (await bot.say("/help")).startswith("(Formular:")
    assert await bot.say("/cancel") == "(Formular abgebrochen, nichts gespeichert)"
    assert "Kudos an" in await bot.say("kudos @ben danke für die Hilfe beim Umzug", as_="anna")


async def kudos_rows(bot: BotHarness) -> list:
    from sqlmodel import select

    from storage.models import Kudos

    async with bot.app.sessions() as session:
        return list((await session.execute(select(Kudos).where(Kudos.created_at >= bot.clock()))).scalars().all())


def test_terminal_line_editing_history_and_clear_screen(tmp_path: Path) -> None:
    """At a real terminal (a pty): the up arrow recalls the last line, left/right edit it, Ctrl-L clears the
    screen; no escape code reaches Starling as text."""
    import pty
    import select
    import time

    script = Path(sys.executable).with_name("starling")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_", "SLACK_", "Microsoft", "OPENAI_"))}
    env.update(STARLING_DATABASE_URL=f"sqlite:///{tmp_path / 'starling.db'}", TERM="xterm")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(script), "console"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    seen = b""

    def until(text: bytes, timeout: float = 120.0, count: int = 1) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while seen.count(text) < count:
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                seen += os.read(master, 65536)

    try:
        until(b"> ")
        os.write(master, b"hilfe\r")
        until(b"Was Starling kann")
        until(b"\n> ")  # the prompt again: readline is reading
        mark = len(seen)
        os.write(master, b"\x1b[A\r")  # up arrow: the same line again
        until(b"Was Starling kann", count=2)
        until(b"\n> ", count=2)
        assert b"hilfe" in seen[mark:]  # the recalled line, shown as typed
        os.write(master, b"\x0c")  # Ctrl-L
        until(b"\x1b[H")  # the terminal's clear-screen sequence, sent by readline
        os.write(master, b"exit\r")
        assert proc.wait(timeout=60) == 0
        assert b"kenne ich nicht" not in seen  # no escape code was sent to Starling as a command
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


async def test_suggest_list_with_a_status_and_mine_lists_and_files_nothing(bot: BotHarness) -> None:
    await bot.say("suggest Reisekostenformular auf eine Seite kürzen", as_="anna")
    await bot.say("suggest Urlaubsantrag ohne Ausdruck", as_="ben")
    out = await bot.say("suggest list open mine", as_="anna")
    assert "Reisekostenformular" in out and "Urlaubsantrag" not in out and "→" not in out
    assert "Vorschlag #3" not in out
    from sqlmodel import select

    from storage.suggestions import Suggestion

    async with bot.app.sessions() as session:
        titles = [s.title for s in (await session.execute(select(Suggestion))).scalars().all()]
    assert len(titles) == 2 and "list open mine" not in " ".join(titles)
    assert "Urlaubsantrag" in await bot.say("suggest list offen", as_="anna")
    assert (await bot.say("suggest list blau mine", as_="anna")).startswith("(privat)")
