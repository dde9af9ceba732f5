"""Help is generated from the declarations: in German and in English, ``help <command>`` lists exactly
the subcommands the command declares (in the reader's language), and each of them dispatches to its handler."""

from __future__ import annotations

import re

import pytest

from bot.core.commands import Command
from bot.core.i18n import translator_for
from tests.kit import BotHarness

UNKNOWN = ("kenne ich nicht", "I don't know")


def with_subs(bot: BotHarness) -> list[Command]:
    return [c for c in bot.app.router.commands.values() if c.subs and not c.hidden]


def listed(out: str, command: str) -> list[str]:
    """The subcommand words of the ``• `command word …`` lines of a help answer."""
    return re.findall(rf"^• `{re.escape(command)} ([^\s`]+)", out, flags=re.MULTILINE)


def fallback_word(command: Command, lang: str) -> list[str]:
    """The line for words that are no subcommand (``kudos @Person …``), if the command has one."""
    if command.fallback_handler is None or not command.fallback_usage_key:
        return []
    return [translator_for(lang)(command.fallback_usage_key).split()[1]]


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_help_lists_exactly_the_declared_subcommands(bot: BotHarness, lang: str) -> None:
    await bot.say(f"starling language {lang}", as_="max")  # max is an admin: every subcommand is his to use
    t = translator_for(lang)
    commands = with_subs(bot)
    assert {c.name for c in commands} >= {"kudos"}
    for command in commands:
        out = await bot.say(f"{t('core.help.word')} {command.name}", as_="max")
        declared = [s.word_for(t) for s in command.subs if not s.hidden] + fallback_word(command, lang)
        assert sorted(listed(out, command.name)) == sorted(declared), out
        shown = {"digest": ("[aus|vorschau]", "[off|preview]"), "kudos": ("[gegeben|erhalten]", "[given|received]")}
        if command.name in shown:  # a choice of words is shown in the reader's language
            assert shown[command.name][lang == "en"] in out, out
        # ``<command> help`` is the same text
        assert await bot.say(f"{command.name} {t('core.help.word')}", as_="max") == out


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_every_listed_subcommand_reaches_its_handler(bot: BotHarness, lang: str) -> None:
    await bot.say(f"starling language {lang}", as_="max")
    t = translator_for(lang)
    for command in with_subs(bot):
        out = await bot.say(f"{t('core.help.word')} {command.name}", as_="max")
        for word in listed(out, command.name):
            if word in fallback_word(command, lang):
                continue
            sub = command.resolve(word)
            assert sub is not None, (command.name, word)
            reply = await bot.say(f"{command.name} {word}", as_="max")
            assert reply and not any(u in reply for u in UNKNOWN), (command.name, word, reply)


async def test_a_mistyped_subcommand_gets_did_you_mean(bot: BotHarness) -> None:
    out = await bot.say("kudos ranglste", as_="anna")
    assert out.startswith("(privat) ") and "Meintest du `kudos rangliste`?" in out
    await bot.say("starling language en", as_="anna")
    out = await bot.say("kudos leaderbord", as_="anna")
    assert "Did you mean `kudos leaderboard`?" in out


async def test_help_for_an_unknown_command(bot: BotHarness) -> None:
    assert "Einen Befehl `xylophon` gibt es nicht" in await bot.say("hilfe xylophon", as_="anna")
    # a command without subcommands shows its own line
    assert "`stats`: deine Kudos, dein Restbudget und deine Serie" in await bot.say("hilfe statistik", as_="anna")


async def test_help_leaves_out_what_is_switched_off(bot: BotHarness) -> None:
    assert "`kudos rangliste" in await bot.say("hilfe kudos", as_="anna")
    await bot.say("privacy feature leaderboards off", as_="max")
    out = await bot.say("hilfe kudos", as_="anna")
    assert "`kudos rangliste" not in out and "`kudos statistik`" in out
    assert "leaderboard —" not in await bot.say("hilfe", as_="anna")
    await bot.say("privacy feature digests off", as_="max")
    assert "digest —" not in await bot.say("hilfe", as_="anna")
    assert "ist in diesem Workspace ausgeschaltet" in await bot.say("hilfe digest", as_="anna")


async def test_typed_arguments_are_checked_before_the_handler(bot: BotHarness) -> None:
    # a person is a mention, an id a number; what does not fit gets the feature's own explanation
    assert "Bitte erwähne die Person" in await bot.say("starling abteilung Support", as_="max")
    assert "Nummer des Impulses" in await bot.say("prompt freigeben zwölf", as_="max")
    out = await bot.say("hilfe starling", as_="max")
    assert "`starling abteilung @Person [Abteilung]`" in out and "`starling admin @Person`" in out
    assert "`prompt freigeben Nummer`" in await bot.say("hilfe prompt", as_="max")
