"""Every kudos rule: the friendly, localized refusal only the giver sees, and nothing written."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.events import MessageDeletedEvent, MessageEvent, ReactionEvent
from tests.handlers.kudos_helpers import (
    actor,
    add_member,
    assert_only_you,
    budget_spent,
    command,
    kudos_rows,
    refused,
    send,
    snapshot,
    team_harness,
)
from tests.kit import BotHarness, Clock

REASON = "danke für die Hilfe beim Kundentermin"


@pytest.fixture
async def team(db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    bot = await team_harness(db_url, clock)
    yield bot
    await bot.close()


@pytest.fixture(params=["de", "en"])
async def lang(request: pytest.FixtureRequest, team: BotHarness) -> str:
    """The giver max reads German (the workspace default) or English (his own choice)."""
    if request.param == "en":
        assert "From now on I'll speak English" in await team.say("starling language en", as_="max")
    return str(request.param)


def pick(lang: str, de: str, en: str) -> str:
    return de if lang == "de" else en


async def give(bot: BotHarness, line: str, as_: str = "max") -> str:
    out = await bot.say(line, as_=as_)
    assert ("(privat) Kudos" in out or "(only you) Kudos" in out) and ("verschickt" in out or "sent to" in out), out
    return out


# --- refusals ------------------------------------------------------------------------------------------


async def test_no_recipient_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        f"kudos {REASON} #kundenfokus",
        pick(lang, "Wem möchtest du danken? Erwähne die Person", "Whom would you like to thank? Mention them"),
        as_="max",
    )


async def test_self_kudos_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        "kudos @max danke für meine eigene tolle Arbeit",
        pick(lang, "Kudos an dich selbst zählen nicht", "Kudos to yourself don't count"),
        as_="max",
    )


async def test_self_among_several_recipients_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        f"kudos @anna @max {REASON}",
        pick(lang, "Kudos an dich selbst zählen nicht", "Kudos to yourself don't count"),
        as_="max",
    )


async def test_kudos_to_a_bot_refused(team: BotHarness, lang: str) -> None:
    await add_member(team, "deploybot", display_name="Deploy Bot", handle="deploybot", is_bot=True)
    await refused(
        team,
        "kudos @deploybot danke fürs schnelle Deployment",
        pick(lang, "Deploy Bot ist ein Bot und kann keine Kudos bekommen", "Deploy Bot is a bot and can't receive"),
        as_="max",
    )


async def test_unknown_user_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        f"kudos @zoe {REASON}",
        pick(lang, "Diese Person (zoe) finde ich in diesem Workspace nicht", "I can't find that person (zoe)"),
        as_="max",
    )


async def test_unknown_user_among_known_ones_writes_nothing(team: BotHarness, lang: str) -> None:
    await refused(team, f"kudos @anna @zoe {REASON}", "zoe", as_="max")


async def test_reason_too_short_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        "kudos @anna danke! #teamwork",
        pick(lang, "Grund mit mindestens 10 Zeichen", "a reason of at least 10 characters"),
        as_="max",
    )


async def test_missing_reason_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team, "kudos @anna #teamwork", pick(lang, "mindestens 10 Zeichen", "at least 10 characters"), as_="max"
    )


async def test_min_reason_length_is_configurable(team: BotHarness) -> None:
    assert "Gespeichert: Mindestlänge der Begründung ist jetzt 40." in await team.say(
        "starling set min-reason 40", as_="max"
    )
    await refused(team, f"kudos @anna {REASON}", "mindestens 40 Zeichen", as_="max")
    await team.say("starling set min-reason 0", as_="max")
    await give(team, "kudos @anna #teamwork")
    assert [(r.receiver_id, r.reason, r.value_tag) for r in await kudos_rows(team)] == [("anna", "", "teamwork")]


async def test_too_many_recipients_refused(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        f"kudos @anna @ben @clara @deniz @emma @felix {REASON}",
        pick(lang, "mehr als 5 Personen auf einmal", "more than 5 people at once"),
        as_="max",
    )


async def test_as_many_recipients_as_allowed_is_fine(team: BotHarness) -> None:
    await give(team, f"kudos @anna @ben @clara @deniz @emma {REASON}")
    assert sorted(r.receiver_id for r in await kudos_rows(team)) == ["anna", "ben", "clara", "deniz", "emma"]


async def test_text_too_long_refused(team: BotHarness, lang: str) -> None:
    line = "kudos @anna " + "sehr " * 120 + "hilfreich"
    await refused(
        team,
        line,
        pick(lang, "Kudos dürfen höchstens 500 haben", "kudos can have at most 500"),
        as_="max",
    )


async def test_daily_budget_spent_refused(team: BotHarness, lang: str) -> None:
    for who in ("anna", "ben", "clara", "deniz"):
        await give(team, f"kudos @{who} {REASON}")
    last = await give(team, f"kudos @emma {REASON}")
    assert pick(lang, "Du hast heute noch 0 von 5 Punkten.", "You have 0 of 5 points left today.") in last
    await refused(
        team,
        f"kudos @felix {REASON}",
        pick(
            lang, "Dein Tagesbudget von 5 Punkten ist für heute aufgebraucht", "Your daily budget of 5 points is spent"
        ),
        as_="max",
    )
    assert await budget_spent(team, "max") == {"2026-11-18": 5}


async def test_budget_not_enough_for_a_kudos_to_several(team: BotHarness, lang: str) -> None:
    for who in ("anna", "ben", "clara", "deniz"):
        await give(team, f"kudos @{who} {REASON}")
    await refused(
        team,
        f"kudos @emma @felix {REASON}",
        pick(
            lang,
            "Diese Kudos kosten 2 Punkte, du hast heute noch 1 Punkt.",
            "these kudos cost 2 points and you have 1 point left today",
        ),
        as_="max",
    )


async def test_pair_daily_cap_refused(team: BotHarness, lang: str) -> None:
    for _ in range(3):
        await give(team, f"kudos @anna {REASON}")
    await refused(
        team,
        f"kudos @anna {REASON}",
        pick(
            lang,
            "An Anna Schmidt kannst du höchstens 3 Punkte am Tag geben, heute waren es schon 3 Punkte.",
            "You can give Anna Schmidt at most 3 points a day, and you've given 3 points today.",
        ),
        as_="max",
    )
    # Someone else still can be thanked, and the cap is per giver.
    await give(team, f"kudos @ben {REASON}")
    await give(team, f"kudos @anna {REASON}", as_="ben")


async def test_unknown_value_tag_gets_closest_value(team: BotHarness, lang: str) -> None:
    await refused(
        team,
        f"kudos @anna {REASON} #kundenfokuss",
        "#kundenfokuss",
        pick(lang, "Meintest du #kundenfokus?", "Did you mean #kundenfokus?"),
        "#kundenfokus, #teamwork, #verantwortung, #einfachmachen, #internerservice",
        as_="max",
    )


async def test_unknown_value_hint_knows_english_aliases(team: BotHarness, lang: str) -> None:
    await refused(
        team, f"kudos @anna {REASON} #custmerfocus", pick(lang, "Meintest du", "Did you mean") + " #customerfocus?"
    )


async def test_unknown_value_far_from_all_values_gets_the_list(team: BotHarness, lang: str) -> None:
    out = await refused(
        team,
        f"kudos @anna {REASON} #xyzzy",
        pick(lang, "#xyzzy ist keiner unserer Werte", "#xyzzy isn't one of our values"),
        "#kundenfokus",
        as_="max",
    )
    assert "Meintest" not in out and "Did you mean" not in out


async def test_value_alias_counts_as_the_value(team: BotHarness) -> None:
    out = await give(team, f"kudos @anna {REASON} #customerfocus")
    assert "Wert: Kundenfokus" in out
    assert [r.value_tag for r in await kudos_rows(team)] == ["kundenfokus"]


# --- undo ----------------------------------------------------------------------------------------------


async def test_undo_within_window_restores_budget(team: BotHarness, lang: str) -> None:
    before = await snapshot(team)
    await give(team, f"kudos @anna @ben {REASON}")
    team.clock.advance(minutes=4)
    out = await team.say("kudos undo", as_="max")
    assert_only_you(
        out,
        pick(
            lang,
            "Die Kudos für @Anna Schmidt und @Ben Müller sind zurückgenommen. Du hast heute noch 5 Punkte.",
            "the kudos for @Anna Schmidt and @Ben Müller is withdrawn. You have 5 points left today.",
        ),
    )
    after = await snapshot(team)
    assert (after.kudos, after.budget_spent) == (before.kudos, before.budget_spent)
    # The giver can spend the whole budget again.
    last = await give(team, "kudos @clara @deniz @emma @felix @greta " + REASON)
    assert pick(lang, "noch 0 von 5 Punkten", "0 of 5 points left") in last


async def test_undo_takes_back_only_the_last_kudos(team: BotHarness) -> None:
    for _ in range(4):
        await give(team, f"kudos @anna {REASON}" if _ < 3 else f"kudos @ben {REASON}")
    out = await team.say("kudos undo", as_="max")
    assert_only_you(out, "Die Kudos für @Ben Müller sind zurückgenommen. Du hast heute noch 2 Punkte.")
    out = await team.say("kudos undo", as_="max")
    assert_only_you(out, "Die Kudos für @Anna Schmidt sind zurückgenommen. Du hast heute noch 3 Punkte.")
    assert [r.receiver_id for r in await kudos_rows(team)] == ["anna", "anna"]


async def test_undo_reports_singular_point(team: BotHarness) -> None:
    await give(team, f"kudos @anna @ben @clara @deniz {REASON}")
    await give(team, f"kudos @emma {REASON}")
    out = await team.say("kudos undo", as_="max")
    assert "Du hast heute noch 1 Punkt." in out


async def test_undo_after_window_refused(team: BotHarness, lang: str) -> None:
    await give(team, f"kudos @anna {REASON}")
    team.clock.advance(minutes=5, seconds=1)
    await refused(
        team,
        "kudos undo",
        pick(
            lang,
            "Es gibt nichts zurückzunehmen: Nur deine eigenen Kudos der letzten 5 Minuten",
            "There's nothing to undo: only your own kudos from the last 5 minutes",
        ),
        as_="max",
    )


async def test_undo_never_touches_someone_elses_kudos(team: BotHarness) -> None:
    await give(team, f"kudos @anna {REASON}")
    await refused(team, "kudos undo", "Es gibt nichts zurückzunehmen", as_="ben")


# --- budget day: the giver's local midnight -------------------------------------------------------------


async def spend_all(bot: BotHarness) -> None:
    for who in ("anna", "ben", "clara", "deniz", "emma"):
        await give(bot, f"kudos @{who} {REASON}")


async def test_budget_renews_at_local_midnight_in_berlin(team: BotHarness) -> None:
    team.clock.set(datetime(2026, 11, 18, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
    await spend_all(team)
    await refused(team, f"kudos @felix {REASON}", "aufgebraucht", as_="max")
    team.clock.set(datetime(2026, 11, 18, 23, 0, 1, tzinfo=UTC))  # 00:00:01 in Berlin, still the 18th in UTC
    out = await give(team, f"kudos @felix {REASON}")
    assert "noch 4 von 5 Punkten" in out
    assert await budget_spent(team, "max") == {"2026-11-18": 5, "2026-11-19": 1}


async def test_budget_day_follows_the_givers_own_time_zone(team: BotHarness) -> None:
    """A giver whose platform profile says UTC gets new points at midnight UTC, not Berlin's."""

    async def give_utc(text: str) -> str:
        return await send(team, command("max", text, timezone="UTC"))

    team.clock.set(datetime(2026, 11, 18, 22, 30, tzinfo=UTC))
    for who in ("anna", "ben", "clara", "deniz", "emma"):
        assert "verschickt" in await give_utc(f"<@{who}> {REASON}")
    team.clock.set(datetime(2026, 11, 18, 23, 30, tzinfo=UTC))  # the 19th in Berlin, still the 18th in UTC
    before = await snapshot(team)
    assert_only_you(await give_utc(f"<@felix> {REASON}"), "aufgebraucht")
    assert await snapshot(team) == before
    team.clock.set(datetime(2026, 11, 19, 0, 0, 1, tzinfo=UTC))
    assert "noch 4 von 5 Punkten" in await give_utc(f"<@felix> {REASON}")
    assert await budget_spent(team, "max") == {"2026-11-18": 5, "2026-11-19": 1}


# --- emoji messages, reactions, deleted messages ----------------------------------------------------------


def channel_message(user_id: str, text: str, message_id: str, **kw: object) -> MessageEvent:
    return MessageEvent(
        actor=actor(user_id),
        text=text,
        message_id=message_id,
        event_id=f"Ev-{message_id}",
        addressed=False,
        **kw,  # type: ignore[arg-type]
    )


async def test_emoji_message_gives_one_point_per_emoji(team: BotHarness) -> None:
    out = await send(team, channel_message("max", "<@anna> :star: :star: danke für die schnelle Hilfe", "m1"))
    assert "(privat) Kudos an @Anna Schmidt verschickt. Du hast heute noch 3 von 5 Punkten." in out
    assert "→ DM an @anna:" in out and "(+2)" in out
    assert "→ #" not in out  # the message itself is already public; no kudos channel configured
    rows = await kudos_rows(team)
    assert [(r.giver_id, r.receiver_id, r.points, r.source, r.reason) for r in rows] == [
        ("max", "anna", 2, "message", "danke für die schnelle Hilfe")
    ]
    assert await budget_spent(team, "max") == {"2026-11-18": 2}


async def test_message_without_the_kudos_emoji_is_no_kudos(team: BotHarness) -> None:
    before = await snapshot(team)
    for i, text in enumerate(
        [
            "<@anna> danke für die schnelle Hilfe :tada:",
            "<@anna> :star2: danke für die schnelle Hilfe",
            ":star: danke an alle für die schnelle Hilfe",
        ]
    ):
        assert await send(team, channel_message("max", text, f"m{i}")) == ""
    assert await snapshot(team) == before


async def test_emoji_message_from_a_bot_is_no_kudos(team: BotHarness) -> None:
    await add_member(team, "deploybot", display_name="Deploy Bot", is_bot=True)
    before = await snapshot(team)
    assert await send(team, channel_message("deploybot", "<@anna> :star: Deployment erfolgreich", "m7")) == ""
    assert await snapshot(team) == before


async def test_emoji_message_breaking_a_rule_is_refused_privately(team: BotHarness) -> None:
    before = await snapshot(team)
    out = await send(team, channel_message("max", "<@anna> :star: danke", "m2"))
    assert_only_you(out, "mindestens 10 Zeichen")
    out = await send(team, channel_message("max", "<@anna> :star: :star: :star: :star: danke für alles heute", "m3"))
    assert_only_you(out, "An Anna Schmidt kannst du höchstens 3 Punkte am Tag geben, heute waren es schon 0 Punkte.")
    assert await snapshot(team) == before


async def test_deleting_a_kudos_message_reverses_its_kudos(team: BotHarness) -> None:
    before = await snapshot(team)
    await send(team, channel_message("max", "<@anna> <@ben> :star: danke fürs Einspringen", "m5"))
    await send(team, channel_message("ben", "<@anna> :star: danke für die Übergabe heute", "m6"))
    assert (await snapshot(team)).kudos == before.kudos + 3
    deleted = MessageDeletedEvent(actor=actor("max"), message_id="m5", event_id="Ev-del-m5")
    assert await send(team, deleted) == ""
    rows = await kudos_rows(team)
    assert [(r.giver_id, r.receiver_id) for r in rows] == [("ben", "anna")]
    assert await budget_spent(team, "max") == {}
    assert await budget_spent(team, "ben") == {"2026-11-18": 1}


def reaction(user_id: str, *, added: bool, author: str, emoji: str = "star", n: int = 1) -> ReactionEvent:
    return ReactionEvent(
        actor=actor(user_id),
        emoji=emoji,
        added=added,
        message_id="1700000000.000100",
        item_author_id=author,
        event_id=f"Ev-react-{user_id}-{added}-{n}",
    )


async def test_reaction_gives_and_removing_it_takes_back(team: BotHarness) -> None:
    out = await send(team, reaction("ben", added=True, author="anna"))
    assert "→ DM an @anna:" in out and "hat dir mit einer Reaktion auf deine Nachricht einen Kudos-Punkt gegeben" in out
    rows = await kudos_rows(team)
    assert [(r.giver_id, r.receiver_id, r.points, r.source) for r in rows] == [("ben", "anna", 1, "reaction")]
    assert await budget_spent(team, "ben") == {"2026-11-18": 1}
    assert await send(team, reaction("ben", added=False, author="anna")) == ""
    assert await kudos_rows(team) == []
    assert await budget_spent(team, "ben") == {}


async def test_reaction_with_another_emoji_is_no_kudos(team: BotHarness) -> None:
    before = await snapshot(team)
    assert await send(team, reaction("ben", added=True, author="anna", emoji="tada")) == ""
    assert await snapshot(team) == before


async def test_reaction_on_own_message_refused(team: BotHarness) -> None:
    before = await snapshot(team)
    assert_only_you(await send(team, reaction("anna", added=True, author="anna")), "Kudos an dich selbst zählen nicht")
    assert await snapshot(team) == before


async def test_reaction_when_budget_is_spent_refused(team: BotHarness) -> None:
    await spend_all(team)
    before = await snapshot(team)
    assert_only_you(await send(team, reaction("max", added=True, author="felix")), "aufgebraucht")
    assert await snapshot(team) == before


# --- cross-team ------------------------------------------------------------------------------------------


async def test_kudos_across_departments_is_flagged_cross_team(team: BotHarness) -> None:
    out = await give(team, f"kudos @clara {REASON} #internerservice")  # Kundenservice → IT
    assert "→ #general:" in out and "Wert: Interner Service  ·  teamübergreifende Anerkennung" in out
    same = await give(team, f"kudos @anna {REASON}")  # Kundenservice → Kundenservice
    assert "teamübergreifend" not in same
    rows = await kudos_rows(team)
    assert [(r.receiver_id, r.cross_team) for r in rows] == [("clara", True), ("anna", False)]
    stats = await team.say("kudos stats", as_="clara")
    assert re.search(r"davon teamübergreifend +1\n", stats), stats


# --- retries ----------------------------------------------------------------------------------------------


async def test_same_event_id_twice_counts_once(team: BotHarness) -> None:
    event = command("max", f"<@anna> {REASON}", event_id="Ev0RETRY1")
    first = await send(team, event)
    assert "verschickt" in first and "→ DM an @anna" in first
    assert await send(team, event) == ""
    assert len(await kudos_rows(team)) == 1
    assert await budget_spent(team, "max") == {"2026-11-18": 1}


async def test_retried_reaction_and_emoji_message_count_once(team: BotHarness) -> None:
    msg = channel_message("max", "<@anna> :star: danke für die schnelle Hilfe", "m9")
    react = reaction("ben", added=True, author="anna")
    for _ in range(2):
        await send(team, msg)
        await send(team, react)
    assert sorted((r.giver_id, r.source) for r in await kudos_rows(team)) == [("ben", "reaction"), ("max", "message")]
