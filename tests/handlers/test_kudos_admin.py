"""Admin settings that shape kudos (role-checked), help in both languages, and whose language wins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from storage import core
from tests.handlers.kudos_helpers import (
    assert_only_you,
    budget_spent,
    command,
    refused,
    send,
    snapshot,
    team_harness,
    workspace,
)
from tests.kit import BotHarness, Clock

REASON = "danke für die Hilfe beim Kundentermin"


@pytest.fixture
async def team(db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    bot = await team_harness(db_url, clock)
    yield bot
    await bot.close()


async def settings_of(bot: BotHarness) -> tuple[object, ...]:
    ws = await workspace(bot)
    async with bot.app.sessions() as s:
        values = [v.tag for v in await core.list_values(s, workspace_id=bot.workspace_id)]
        ben = await core.get_member(s, workspace_id=bot.workspace_id, user_id="ben")
    assert ben is not None
    return (
        ws.daily_budget,
        ws.min_reason_length,
        ws.locale,
        ws.timezone,
        ws.tone,
        ws.pair_daily_cap,
        ws.kudos_emoji,
        tuple(values),
        ben.department,
        ben.is_admin,
    )


@pytest.mark.parametrize(
    "line",
    [
        "starling set budget 3",
        "starling set min-reason 3",
        "starling set language en",
        "starling set timezone UTC",
        "starling set tone sie",
        "starling set pair-cap 10",
        "starling values add #qualitaet Qualität / Quality",
        "starling values remove #teamwork",
        "starling department @ben IT",
        "starling admin @ben",
    ],
)
async def test_admin_commands_refuse_non_admins(team: BotHarness, line: str) -> None:
    before = await settings_of(team)
    await refused(team, line, "Das können nur Workspace-Admins ändern.", as_="anna")
    assert await settings_of(team) == before


async def test_admin_refusal_in_english(team: BotHarness) -> None:
    await team.say("starling language en", as_="anna")
    await refused(team, "starling set budget 3", "Only workspace admins can change this.", as_="anna")


async def test_everyone_may_read_settings_and_values(team: BotHarness) -> None:
    out = await team.say("starling settings", as_="anna")
    assert_only_you(out, "Starling-Einstellungen", "Tägliches Kudos-Budget", "#kundenfokus")
    assert "#teamwork — Teamwork / Teamwork" in await team.say("starling values", as_="anna")


async def test_admin_sets_values(team: BotHarness) -> None:
    out = await team.say("starling values add #qualitaet Qualität / Quality", as_="max")
    assert_only_you(out, "Wert #qualitaet hinzugefügt.")
    out = await team.say(f"kudos @anna {REASON} #qualitaet", as_="max")
    assert "Wert: Qualität" in out
    await team.say("starling language en", as_="ben")
    out = await team.say(f"kudos @ben {REASON} #qualitaet", as_="anna")
    assert "→ DM to @ben:\n@Anna Schmidt gave you kudos (+1):" in out and "  · Value: Quality" in out
    assert_only_you(await team.say("starling values remove #teamwork", as_="max"), "Wert #teamwork entfernt.")
    await refused(team, f"kudos @ben {REASON} #teamwork", "#teamwork ist keiner unserer Werte", as_="max")
    await refused(team, "starling values add #qualitaet Doppelt", "#qualitaet gibt es schon.", as_="max")


async def test_admin_sets_budget(team: BotHarness) -> None:
    assert_only_you(
        await team.say("starling set budget 2", as_="max"), "Gespeichert: Tägliches Kudos-Budget ist jetzt 2."
    )
    assert "noch 1 von 2 Punkten" in await team.say(f"kudos @anna {REASON}", as_="max")
    assert "noch 0 von 2 Punkten" in await team.say(f"kudos @ben {REASON}", as_="max")
    await refused(team, f"kudos @clara {REASON}", "Tagesbudget von 2 Punkten ist für heute aufgebraucht", as_="max")
    await team.say("starling set budget 1", as_="max")
    assert "noch 0 von 1 Punkt." in await team.say(f"kudos @anna {REASON}", as_="ben")


async def test_admin_setting_out_of_range_refused(team: BotHarness) -> None:
    before = await settings_of(team)
    await refused(team, "starling set budget 0", "budget muss eine ganze Zahl von 1 bis 100 sein", as_="max")
    await refused(team, "starling set min-reason viele", "min-reason muss eine ganze Zahl von 0 bis 200", as_="max")
    await refused(team, "starling set timezone Mars/Olympus", "Die Zeitzone `Mars/Olympus` kenne ich nicht", as_="max")
    await refused(team, "starling set language fr", "Bitte wähle `de` oder `en`.", as_="max")
    await refused(team, "starling set tone ihr", "Bitte wähle `du` oder `sie`.", as_="max")
    await refused(team, "starling set emoji <@anna> *x*", "ist kein Emoji-Name", as_="max")
    assert await settings_of(team) == before


async def test_admin_sets_the_kudos_emoji_by_its_name(team: BotHarness) -> None:
    assert_only_you(
        await team.say("starling set emoji :Taco:", as_="max"), "Gespeichert: Kudos-Emoji ist jetzt :taco:."
    )
    assert (await workspace(team)).kudos_emoji == "taco"
    assert "verschickt" in await team.say(f"@anna :taco: {REASON}", as_="max")


async def test_admin_sets_min_reason_length(team: BotHarness) -> None:
    await team.say("starling set min-reason 5", as_="max")
    assert "verschickt" in await team.say("kudos @anna super!", as_="max")
    await refused(team, "kudos @anna top", "mindestens 5 Zeichen", as_="max")


async def test_admin_sets_workspace_language(team: BotHarness) -> None:
    await team.say("starling language de", as_="ben")  # Ben chose German for himself
    assert_only_you(await team.say("starling set language en", as_="max"), "Gespeichert: Sprache ist jetzt Englisch.")
    assert "Kudos sent to @Ben Müller. You have 4 of 5 points left today." in await team.say(
        f"kudos @ben {REASON}", as_="anna"
    )
    out = await team.say(f"kudos @anna {REASON}", as_="ben")
    assert "Kudos an @Anna Schmidt verschickt." in out
    # Each recipient is told in their own language.
    assert "→ DM to @anna:\n@Ben Müller gave you kudos (+1):" in out


async def test_admin_sets_workspace_time_zone(team: BotHarness) -> None:
    assert_only_you(await team.say("starling set timezone UTC", as_="max"), "Gespeichert: Zeitzone ist jetzt UTC.")
    team.clock.set(datetime(2026, 11, 18, 22, 30, tzinfo=UTC))
    for who in ("anna", "ben", "clara", "deniz", "emma"):
        await team.say(f"kudos @{who} {REASON}", as_="max")
    team.clock.set(datetime(2026, 11, 18, 23, 30, tzinfo=UTC))  # the 19th in Berlin, but the workspace runs on UTC
    await refused(team, f"kudos @felix {REASON}", "aufgebraucht", as_="max")
    team.clock.set(datetime(2026, 11, 19, 0, 0, 1, tzinfo=UTC))
    assert "noch 4 von 5 Punkten" in await team.say(f"kudos @felix {REASON}", as_="max")
    assert await budget_spent(team, "max") == {"2026-11-18": 5, "2026-11-19": 1}


async def test_admin_sets_tone_and_german_text_changes_form_of_address(team: BotHarness) -> None:
    assert "Du hast heute noch 4 von 5 Punkten." in await team.say(f"kudos @anna {REASON}", as_="max")
    assert_only_you(await team.say("starling set tone sie", as_="max"), "Gespeichert: Anrede ist jetzt Sie (förmlich).")
    out = await team.say(f"kudos @ben {REASON}", as_="max")
    assert "Sie haben heute noch 3 von 5 Punkten." in out
    assert "Mit `kudos undo` nehmen Sie es innerhalb von 5 Minuten zurück." in out
    assert "@Max Weber hat Ihnen Kudos gegeben" in out
    await refused(team, "kudos @max danke für meine eigene Arbeit", "Kudos an sich selbst zählen nicht", as_="max")
    assert "Ihre Kudos" in await team.say("kudos stats", as_="max")
    await team.say("starling set tone du", as_="max")
    assert "Du hast heute noch 2 von 5 Punkten." in await team.say(f"kudos @clara {REASON}", as_="max")


async def test_admin_sets_departments_for_cross_team(team: BotHarness) -> None:
    await team.say("starling department @anna IT", as_="max")
    out = await team.say(f"kudos @anna {REASON}", as_="max")
    assert "teamübergreifende Anerkennung" in out


# --- help and unknown input ------------------------------------------------------------------------------


async def test_help_in_german(team: BotHarness) -> None:
    for word in ("help", "hilfe"):
        out = await team.say(word, as_="anna")
        assert_only_you(
            out,
            "Was Starling kann",
            "kudos — Kudos geben, Ranglisten und eigene Statistik sehen",
            "leaderboard — leaderboard [week|month|quarter|year|all] [given] [#wert] [dept:Name]",
            "stats — deine Kudos, dein Restbudget und deine Serie",
            "starling — Einstellungen (Admins), eigene Sprache",
            "help — diese Übersicht",
        )
    out = await team.say("kudos help", as_="anna")
    assert_only_you(out, "So funktionieren Kudos", "Du hast 5 Punkte am Tag", "#kundenfokus (Kundenfokus)")
    # what only admins may do is listed for admins only
    out = await team.say("starling help", as_="anna")
    assert_only_you(out, "`starling sprache [Text]`: deine eigene Sprache")
    assert "setze" not in out
    out = await team.say("starling hilfe", as_="max")
    assert_only_you(out, "`starling setze [Text]`: `budget 5`", "(Admins)")


async def test_help_in_english(team: BotHarness) -> None:
    await team.say("starling language en", as_="anna")
    out = await team.say("help", as_="anna")
    assert_only_you(
        out,
        "What Starling can do",
        "kudos — give kudos, see leaderboards and your stats",
        "stats — your kudos, budget left and giving streak",
        "starling — settings (admins), your language",
        "help — this overview",
    )
    out = await team.say("kudos", as_="anna")
    assert_only_you(out, "How kudos work", "You have 5 points a day", "#kundenfokus (Customer focus)")
    assert_only_you(await team.say("starling help", as_="anna"), "`starling language [text]`: your own language")


async def test_unknown_command_suggests_the_closest(team: BotHarness) -> None:
    before = await snapshot(team)
    out = await team.say("leaderbord week", as_="anna")
    assert_only_you(out, "Den Befehl `leaderbord` kenne ich nicht. Meintest du `leaderboard`?", "Tippe `hilfe`")
    await team.say("starling language en", as_="anna")
    out = await team.say("stast", as_="anna")
    assert_only_you(out, "I don't know the command `stast`. Did you mean `stats`", "Type `help`")
    after = await snapshot(team)
    assert (after.kudos, after.budget_spent, after.outbox) == (before.kudos, before.budget_spent, before.outbox)


# --- whose language ------------------------------------------------------------------------------------------


async def test_english_user_locale_wins_over_german_workspace(team: BotHarness) -> None:
    out = await send(team, command("ben", f"<@anna> {REASON}", locale="en-GB"))
    assert "(only you) Kudos sent to @Anna Schmidt. You have 4 of 5 points left today." in out
    # The channel post speaks the workspace's language, whoever gave the kudos.
    assert "→ #general:\nKudos!\n======\n@Ben Müller sagt Danke an @Anna Schmidt (+1):" in out
    # Anna has no locale of her own: her DM follows the workspace (German).
    assert "→ DM an @anna:\n@Ben Müller hat dir Kudos gegeben (+1):" in out
    out = await send(team, command("clara", f"<@ben> {REASON}"))
    assert "Kudos an @Ben Müller verschickt" in out
    assert "→ DM to @ben:\n@Clara Fischer gave you kudos (+1):" in out


async def test_german_user_locale_wins_over_english_workspace(team: BotHarness) -> None:
    await team.say("starling set language en", as_="max")
    out = await send(team, command("ben", f"<@anna> {REASON}", locale="de-AT"))
    assert "(privat) Kudos an @Anna Schmidt verschickt. Du hast heute noch 4 von 5 Punkten." in out


async def test_own_language_choice_sticks(team: BotHarness) -> None:
    assert_only_you(await team.say("starling language en", as_="anna"), "From now on I'll speak English with you.")
    assert "Kudos sent to @Ben Müller" in await team.say(f"kudos @ben {REASON}", as_="anna")
    assert_only_you(await team.say("starling language de", as_="anna"), "Ab jetzt spreche ich Deutsch mit dir.")
    assert "Kudos an @Ben Müller verschickt" in await team.say(f"kudos @ben {REASON}", as_="anna")


async def test_a_change_made_on_one_replica_is_seen_by_the_next_event_on_another(db_url: str, clock: Clock) -> None:
    """Values, feature switches and privacy settings are cached per process; a change on another web
    replica (another process on the same database) applies to the very next event everywhere."""
    first = await team_harness(db_url, clock)
    second = BotHarness(db_url, clock)
    await second.start(demo=False)
    try:
        assert "Wert: Teamwork" in await first.say(f"kudos @anna {REASON} #teamwork", as_="ben")  # cache filled
        assert_only_you(await second.say("starling values remove #teamwork", as_="max"), "Wert #teamwork entfernt.")
        await refused(first, f"kudos @clara {REASON} #teamwork", "#teamwork ist keiner unserer Werte", as_="ben")

        assert "verschickt" in await first.say(f"kudos @clara {REASON}", as_="ben")
        await second.say("privacy feature kudos off", as_="max")
        out = await first.say(f"kudos @anna {REASON}", as_="clara")
        assert_only_you(out, "Die Funktion „Kudos“ ist in diesem Workspace ausgeschaltet.")
        await second.say("privacy feature kudos on", as_="max")
        assert "verschickt" in await first.say(f"kudos @anna {REASON}", as_="clara")
    finally:
        await second.close()
        await first.close()
