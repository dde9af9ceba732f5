"""Leaderboards (periods, direction, value, department, ties, opt-out, own rank) and personal stats."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.handlers.kudos_helpers import assert_only_you, board, refused, team_harness
from tests.kit import BotHarness, Clock

NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture
async def team(db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    bot = await team_harness(db_url, clock)
    yield bot
    await bot.close()


async def give_at(bot: BotHarness, when: datetime, giver: str, line: str) -> None:
    bot.clock.set(when)
    out = await bot.say(line, as_=giver)
    assert "verschickt" in out or "sent to" in out, out
    bot.clock.set(NOW)


@pytest.fixture
async def history(team: BotHarness) -> BotHarness:
    """Ben thanked one person in each period: last year, this year, quarter, month and week."""
    for when, who, tag in [
        (datetime(2025, 6, 10, 10, tzinfo=UTC), "felix", "teamwork"),
        (datetime(2026, 2, 10, 10, tzinfo=UTC), "anna", "kundenfokus"),
        (datetime(2026, 10, 6, 10, tzinfo=UTC), "clara", "kundenfokus"),
        (datetime(2026, 11, 3, 10, tzinfo=UTC), "deniz", "teamwork"),
        (datetime(2026, 11, 17, 10, tzinfo=UTC), "emma", "kundenfokus"),
    ]:
        await give_at(team, when, "ben", f"kudos @{who} danke für die Unterstützung #{tag}")
    return team


@pytest.mark.parametrize(
    ("period", "names"),
    [
        ("week", ["Emma Hofer"]),
        ("month", ["Deniz Yilmaz", "Emma Hofer"]),
        ("quarter", ["Clara Fischer", "Deniz Yilmaz", "Emma Hofer"]),
        ("year", ["Anna Schmidt", "Clara Fischer", "Deniz Yilmaz", "Emma Hofer"]),
        ("all", ["Anna Schmidt", "Clara Fischer", "Deniz Yilmaz", "Emma Hofer", "Felix Brunner"]),
    ],
)
async def test_leaderboard_periods(history: BotHarness, period: str, names: list[str]) -> None:
    out = await history.say(f"leaderboard {period}", as_="max")
    assert board(out) == [(1, n, 1) for n in names]  # a tie: everyone shares rank 1


async def test_leaderboard_period_words_in_german(history: BotHarness) -> None:
    assert board(await history.say("rangliste quartal", as_="max")) == board(
        await history.say("leaderboard quarter", as_="max")
    )
    out = await history.say("kudos rangliste woche", as_="max")
    assert out.startswith("Am meisten gelobt, diese Woche") and board(out) == [(1, "Emma Hofer", 1)]


async def test_leaderboard_given(history: BotHarness) -> None:
    out = await history.say("leaderboard all given", as_="max")
    assert out.startswith("Am großzügigsten, insgesamt")
    assert board(out) == [(1, "Ben Müller", 5)]
    assert board(await history.say("leaderboard week gegeben", as_="max")) == [(1, "Ben Müller", 1)]


async def test_leaderboard_by_value(history: BotHarness) -> None:
    out = await history.say("leaderboard all #teamwork", as_="max")
    assert "insgesamt · #teamwork" in out
    assert board(out) == [(1, "Deniz Yilmaz", 1), (1, "Felix Brunner", 1)]
    assert board(await history.say("leaderboard year #customerfocus", as_="max")) == [
        (1, "Anna Schmidt", 1),
        (1, "Clara Fischer", 1),
        (1, "Emma Hofer", 1),
    ]


async def test_leaderboard_by_department(history: BotHarness) -> None:
    out = await history.say("leaderboard all dept:IT", as_="max")
    assert "insgesamt · IT" in out
    assert board(out) == [(1, "Clara Fischer", 1), (1, "Deniz Yilmaz", 1)]
    assert board(await history.say("leaderboard all dept:buchhaltung", as_="max")) == [
        (1, "Emma Hofer", 1),
        (1, "Felix Brunner", 1),
    ]


async def test_ties_share_a_rank_and_own_rank_is_shown(team: BotHarness) -> None:
    for who in ("anna", "anna", "ben", "ben", "clara"):
        await team.say(f"kudos @{who} danke für die Unterstützung", as_="max")
    out = await team.say("leaderboard week", as_="clara")
    assert board(out) == [(1, "Anna Schmidt", 2), (1, "Ben Müller", 2), (2, "Clara Fischer", 1)]
    assert re.search(r"Clara Fischer .* 1 Punkt ◀$", out, re.M)
    assert "Dein Platz: 2 (1 Punkt)." in out
    assert "Dein Platz: 1 (2 Punkte)." in await team.say("leaderboard week", as_="ben")
    # Someone with no kudos sees the board but no rank of their own.
    greta = await team.say("leaderboard week", as_="greta")
    assert len(board(greta)) == 3 and "Dein Platz" not in greta


async def test_own_rank_follows_the_board_filters(history: BotHarness) -> None:
    # Max (Kundenservice) is not on the IT board, so no rank; Clara (IT) is.
    assert "Dein Platz" not in await history.say("leaderboard all dept:IT", as_="max")
    assert "Dein Platz: 1 (1 Punkt)." in await history.say("leaderboard all dept:IT", as_="clara")
    assert "Dein Platz" not in await history.say("leaderboard all #teamwork", as_="clara")


async def test_week_starts_at_monday_midnight_in_the_workspace_time_zone(team: BotHarness) -> None:
    await give_at(team, datetime(2026, 11, 15, 22, 30, tzinfo=UTC), "max", "kudos @anna danke für den Sonntagsdienst")
    await give_at(team, datetime(2026, 11, 15, 23, 30, tzinfo=UTC), "max", "kudos @ben danke für den Nachtdienst heute")
    # 22:30 UTC on Sunday is still Sunday in Berlin; 23:30 UTC is Monday 00:30, this week.
    assert board(await team.say("leaderboard week", as_="max")) == [(1, "Ben Müller", 1)]


async def test_opted_out_people_never_appear(history: BotHarness) -> None:
    out = await history.say("kudos optout", as_="deniz")
    assert_only_you(out, "Du erscheinst nicht mehr in Ranglisten")
    await history.say("kudos @greta danke für die schnelle Einrichtung", as_="deniz")
    for args in ("month", "all", "all #teamwork", "all dept:IT", "all given", "week given"):
        out = await history.say(f"leaderboard {args}", as_="max")
        assert "Deniz" not in out, (args, out)
    assert board(await history.say("leaderboard week given", as_="max")) == [(1, "Ben Müller", 1)]
    own = await history.say("leaderboard all", as_="deniz")
    assert "Deniz" not in own and "Du hast dich von Ranglisten abgemeldet" in own
    # Opting in again brings him back.
    assert_only_you(await history.say("kudos optin", as_="deniz"), "Du erscheinst wieder in Ranglisten")
    assert (1, "Deniz Yilmaz", 1) in board(await history.say("leaderboard month", as_="max"))
    assert "Dein Platz: 1 (1 Punkt)." in await history.say("leaderboard week given", as_="deniz")


async def test_empty_board_invites_to_start(team: BotHarness) -> None:
    out = await team.say("leaderboard week", as_="max")
    assert "In diesem Zeitraum gibt es noch keine Kudos" in out and board(out) == []


async def test_leaderboard_in_english(history: BotHarness) -> None:
    await history.say("starling language en", as_="emma")
    out = await history.say("leaderboard week", as_="emma")
    assert out.startswith("Most recognised, this week")
    assert board(out) == [(1, "Emma Hofer", 1)] and "Your rank: #1 (1 point)." in out


async def test_leaderboard_unknown_argument_refused(history: BotHarness) -> None:
    await refused(history, "leaderboard fortnight", "`fortnight` verstehe ich nicht", as_="max")
    await refused(history, "leaderboard all #kundenfokuss", "Meintest du #kundenfokus?", as_="max")


# --- personal stats ----------------------------------------------------------------------------------------


def field(out: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s{{2,}}(.+)$", out, re.M)
    assert m, f"{label!r} not in {out!r}"
    return m.group(1).strip()


async def test_personal_stats(team: BotHarness) -> None:
    await team.say("kudos @anna danke für die schnelle Lösung #kundenfokus", as_="max")
    await team.say("kudos @anna danke für die Vertretung gestern #kundenfokus", as_="ben")
    await team.say("kudos @anna danke für die Hilfe beim Zugang #teamwork", as_="clara")  # IT → Kundenservice
    await team.say("kudos @anna danke für den Kaffee heute früh", as_="max")
    await team.say("kudos @ben danke fürs Einspringen heute früh", as_="anna")
    out = await team.say("kudos stats", as_="anna")
    assert_only_you(out, "Deine Kudos")
    assert field(out, "Erhalten") == "4"
    assert field(out, "davon teamübergreifend") == "1"
    assert field(out, "Gegeben") == "1"
    assert field(out, "Budget heute") == "4 von 5"
    assert field(out, "Wochen in Folge Kudos gegeben") == "1 Woche"
    by_value = re.findall(r"^\s+(Kundenfokus|Teamwork|kein Wert)\s+█+\s+(\d+)$", out, re.M)
    assert by_value == [("Kundenfokus", "2"), ("Teamwork", "1"), ("kein Wert", "1")]


async def test_giving_streak_counts_consecutive_weeks(team: BotHarness) -> None:
    for day in (4, 11):
        await give_at(team, datetime(2026, 11, day, 10, tzinfo=UTC), "anna", "kudos @ben danke für die Übergabe heute")
    # This week nothing yet: last week still counts, the streak is 2.
    assert field(await team.say("stats", as_="anna"), "Wochen in Folge Kudos gegeben") == "2 Wochen"
    await team.say("kudos @ben danke für die Übergabe heute", as_="anna")
    assert field(await team.say("stats", as_="anna"), "Wochen in Folge Kudos gegeben") == "3 Wochen"
    team.clock.set(datetime(2026, 12, 2, 10, tzinfo=UTC))  # a week without kudos in between
    assert field(await team.say("stats", as_="anna"), "Wochen in Folge Kudos gegeben") == "0 Wochen"


async def test_stats_in_english(team: BotHarness) -> None:
    await team.say("starling language en", as_="ben")
    await team.say("kudos @anna @clara thanks for covering my shift #teamwork", as_="ben")
    out = await team.say("kudos stats", as_="ben")
    assert_only_you(out, "Your kudos")
    assert field(out, "Given") == "2"
    assert field(out, "Budget today") == "3 of 5"
    assert field(out, "Giving streak") == "1 week"
