"""The difference attack: read the team totals, move one person to another team, read again, and learn her
figures as the difference. Played over the console and the web pages, on SQLite and PostgreSQL, and it fails:
a kudos counts for the departments its giver and receiver had when it was given, so a move changes no past
total, and a team reached by moving people in shows nothing of the few who were in it.
"""

from __future__ import annotations

import re

from bot.core.events import Actor, CommandEvent, Platform
from tests.kit import BotHarness
from tests.webapp.conftest import WORKSPACE, WebBed

VERTRIEB = ("anna", "ben", "clara", "deniz", "emma")
SUPPORT = ("felix", "greta", "hanna", "ida", "jonas")


async def move(bot: BotHarness, person: str, dept: str) -> None:
    out = await bot.say(f"starling department @{person} {dept}", as_="max")
    assert f"Abteilung {dept}" in out, out


async def two_teams_of_five(bot: BotHarness) -> None:
    """Vertrieb and Support with five people each, in the works-council profile, and this week's kudos:
    Anna receives more than anyone and gives to all of Support. (A week of its own, after the demo's history:
    its few receivers of this week would be a remainder too small to show beside the two teams.)"""
    bot.clock.advance(days=14)
    for newcomer in ("hanna", "ida", "jonas"):
        assert "Deine Kudos" in await bot.say("kudos stats", as_=newcomer)
    for dept, people in (("Vertrieb", VERTRIEB), ("Support", SUPPORT)):
        for person in people:
            await move(bot, person, dept)
    assert "Betriebsrat" in await bot.say("privacy profile works-council", as_="max")
    gifts = [
        ("max", "@anna @ben @clara @deniz @emma danke für den ruhigen Kundentag"),
        ("ben", "@felix @greta @hanna @ida @jonas danke, dass ihr die Hotline übernommen habt"),
        ("anna", "@felix @greta @hanna @ida @jonas danke für die schnelle Übergabe"),
        ("felix", "@anna danke, dass du den Kunden zurückgerufen hast"),
        ("greta", "@anna danke, dass du den Kunden zurückgerufen hast"),
        ("hanna", "@anna danke für die Erklärung der Rechnung"),
    ]
    for giver, text in gifts:
        out = await bot.say(f"kudos {text}", as_=giver)
        assert "verschickt" in out, out


BOARDS = (
    "leaderboard week",
    "leaderboard week given",
    "leaderboard all",
    "leaderboard all given",
    "leaderboard week dept:Vertrieb",
    "leaderboard week dept:Support",
    "leaderboard week given dept:Support",
    "kudos leaderboard month",
)


async def read_boards(bot: BotHarness) -> dict[tuple[str, str], str]:
    return {(who, line): await bot.say(line, as_=who) for who in ("max", "ben") for line in BOARDS}


async def test_moving_a_person_reveals_nothing_on_the_team_boards(anybot: BotHarness) -> None:
    bot = anybot
    await two_teams_of_five(bot)
    before = await read_boards(bot)
    week = before[("max", "leaderboard week")]
    # the attacker sees both teams' totals (10 people behind them); Anna's share is in Vertrieb's
    assert re.search(r"Vertrieb\s+█+\s+8 Punkte", week), week
    assert re.search(r"Support\s+█+\s+10 Punkte", week), week

    # Anna moves to Support: nothing of the past changes, so no difference is her figure.
    await move(bot, "anna", "Support")
    assert await read_boards(bot) == before

    # She moves on to a team of her own, and Vertrieb keeps only four people today: still nothing changes
    # (Vertrieb was five people when the kudos were given, and the one-person team shows nothing).
    await move(bot, "anna", "Projekt")
    assert await read_boards(bot) == before

    # The move takes effect for what comes after it: next week her kudos count for Projekt, where she is
    # alone, so no team shows them (and Support's four receivers are too few).
    bot.clock.advance(days=7)
    out = await bot.say("kudos @anna @felix @greta @hanna @ida danke für die Vertretung im Urlaub", as_="ben")
    assert "verschickt" in out, out
    week = await bot.say("leaderboard week", as_="max")
    assert "Noch kein Team" in week and "Projekt" not in week, week
    # Back in Support, she is one of its five receivers. But Support's total beside the overall total (the
    # digest shows it) would give away what is left over, her own point in Projekt: Support stays hidden too.
    await move(bot, "anna", "Support")
    out = await bot.say("kudos @anna @felix @greta @hanna @ida danke für die Hilfe beim Inventurtag", as_="max")
    assert "verschickt" in out, out
    week = await bot.say("leaderboard week", as_="max")
    assert "Support" not in week and "1 weiteres Team wird nicht gezeigt" in week, week
    # Once what is left over stands for five people, Support's total shows.
    out = await bot.say("kudos @ben @deniz @emma @max danke für die ruhige Inventur", as_="clara")
    assert "verschickt" in out, out
    week = await bot.say("leaderboard week", as_="max")
    assert re.search(r"Support\s+█+\s+9 Punkte", week) and "Projekt" not in week, week
    assert "weiteres Team" not in week, week


# --- the web overview -------------------------------------------------------------------------------


async def web_move(web: WebBed, person: str, dept: str) -> None:
    event = CommandEvent(
        actor=Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, user_id="max", is_admin=True),
        name="starling",
        text=f"department <@{person}> {dept}",
    )
    await web.bed.starling.dispatch(event)


CHARTS = ("weeks", "values", "graph", "cross", "prompts", "funnel", "goodwill")


async def figures(web: WebBed, token: str, team: str) -> dict[str, str]:
    """Every chart of the overview as its CSV, for the workspace (``team=""``) or one team."""
    out = {}
    for chart in CHARTS:
        status, text, _ = await web.get(f"/app/overview.csv?chart={chart}&team={team}", token)
        assert status == 200, text
        out[chart] = text
    return out


def data_rows(csv_text: str) -> list[str]:
    return csv_text.strip().splitlines()[1:]


async def test_moving_a_person_reveals_nothing_on_the_overview(web_any: WebBed) -> None:
    web = web_any
    token = await web.sign_in("max")
    assert token
    # The demo: Kundenservice (Max, Anna, Ben), IT (Clara, Deniz, Greta), Buchhaltung (Emma, Felix).
    teams = ("", "Kundenservice", "IT", "Buchhaltung")
    before = {team: await figures(web, token, team) for team in teams}
    assert data_rows(before["Kundenservice"]["weeks"]) and data_rows(before["IT"]["weeks"])
    assert len(data_rows(before[""]["graph"])) >= 3

    # Anna moves from Kundenservice to IT; Felix leaves Buchhaltung, which keeps one person today.
    await web_move(web, "anna", "IT")
    await web_move(web, "felix", "IT")
    web.bed.clock.advance(days=1)  # tomorrow: no cached page stands in for a fresh reading
    token = await web.sign_in("max")
    assert token
    after = {team: await figures(web, token, team) for team in teams[:3]}
    assert after == {team: before[team] for team in teams[:3]}
    # the team that fell below the minimum shows nothing (no figure to subtract from the one before)
    _, body, _ = await web.get("/app/overview?team=Buchhaltung", token)
    assert "weniger als 2 Personen" in body and "<svg" not in body
    assert all(data_rows(text) == [] for text in (await figures(web, token, "Buchhaltung")).values())

    # Two people form a new team: its head count reaches the minimum today, but nobody gave or received
    # kudos in it, so it shows nothing of anyone's past.
    await web_move(web, "ben", "Projekt")
    await web_move(web, "clara", "Projekt")
    web.bed.clock.advance(days=1)
    token = await web.sign_in("max")
    assert token
    _, body, _ = await web.get("/app/overview?team=Projekt", token)
    assert "weniger als 2 Personen" in body and "<svg" not in body
    assert all(data_rows(text) == [] for text in (await figures(web, token, "Projekt")).values())
    assert await figures(web, token, "") == before[""]


async def test_an_erased_person_counts_as_nobody_behind_a_team_total(anybot: BotHarness) -> None:
    """Erasure gives each of her kudos its own tombstone id; counted as people, one erased person would
    pass for three and lift a team of four over the minimum of five."""
    bot = anybot
    bot.clock.advance(days=14)  # a week without the demo's history
    assert "Betriebsrat" in await bot.say("privacy profile works-council", as_="max")
    for person in ("anna", "ben", "clara", "emma"):
        await move(bot, person, "Vertrieb")
    for giver, text in (
        ("max", "@anna @ben @clara @emma danke für den ruhigen Kundentag"),
        ("felix", "@emma danke, dass du den Kunden zurückgerufen hast"),
        ("greta", "@emma danke für die Erklärung der Rechnung"),
    ):
        assert "verschickt" in await bot.say(f"kudos {text}", as_=giver)
    before = {line: await bot.say(line, as_="max") for line in ("leaderboard week", "leaderboard all")}
    assert "Vertrieb" not in before["leaderboard week"], before
    out = await bot.say("privacy forget-me confirm", as_="emma")
    assert "Gelöscht" in out, out
    after = {line: await bot.say(line, as_="max") for line in ("leaderboard week", "leaderboard all")}
    assert after == before


async def test_an_erased_person_counts_as_nobody_behind_a_digest(anybot: BotHarness) -> None:
    """Three people's kudos are too few for the digest and the leaderboard post; after one of them is
    erased, her four kudos must not pass for four people."""
    bot = anybot
    bot.clock.advance(days=14)
    assert "Betriebsrat" in await bot.say("privacy profile works-council", as_="max")
    for giver, text in (
        ("emma", "@anna @ben danke für die Hilfe beim Jahresabschluss"),
        ("anna", "@emma danke für die Erklärung der Rechnung"),
        ("ben", "@emma danke, dass du den Kunden zurückgerufen hast"),
    ):
        assert "verschickt" in await bot.say(f"kudos {text}", as_=giver)
    surfaces = ("digest preview", "digest leaderboard preview #general week")
    for moment in ("before", "after"):
        if moment == "after":
            assert "Gelöscht" in await bot.say("privacy forget-me confirm", as_="emma")
        for line in surfaces:
            out = await bot.say(line, as_="max")
            assert "weniger als 5" in out.lower() and "Vergebene Kudos" not in out, (moment, line, out)


async def test_an_erased_person_has_no_place_on_a_board_or_in_a_ranking(anybot: BotHarness) -> None:
    """In the standard profile boards name people: an erased person's kudos stay in the totals, but none of
    their tombstone ids takes a place (and moves nobody's rank)."""
    bot = anybot
    assert "Gelöscht" in await bot.say("privacy forget-me confirm", as_="emma")
    for line in ("leaderboard all", "leaderboard all given", "leaderboard week", "digest preview"):
        out = await bot.say(line, as_="max")
        assert "former-" not in out and "Emma" not in out, (line, out)
    assert "Max Weber" in await bot.say("leaderboard all", as_="max")


async def test_the_values_mix_leaves_no_small_rest_beside_the_total(anybot: BotHarness) -> None:
    """The digest shows the week's kudos and the points per value; a value given between two people is hidden,
    but the total minus the shown values would be exactly their points. So the shown value joins the rest."""
    bot = anybot
    bot.clock.advance(days=14)  # a week of its own, after the demo's history
    for giver, text in (
        ("max", "@anna @ben @clara @deniz danke für die ruhige Übergabe #teamwork"),
        ("emma", "@felix danke, dass du die Rechnung für den Kunden geklärt hast #kundenfokus"),
    ):
        assert "verschickt" in await bot.say(f"kudos {text}", as_=giver)
    digest = await bot.say("digest preview", as_="max")
    assert re.search(r"Vergebene Kudos\s+5", digest), digest
    assert "Teamwork" not in digest and "Kundenfokus" not in digest, digest
    assert re.search(r"weitere Werte\S*\s+█+\s+5 Punkte", digest), digest
    assert "Betriebsrat" in await bot.say("privacy profile works-council", as_="max")
    post = await bot.say("digest leaderboard preview #general week", as_="max")
    assert re.search(r"Vergebene Kudos\s+5", post) and "Teamwork" not in post and "Kundenfokus" not in post, post


async def say_as(web: WebBed, user: str, name: str, text: str) -> None:
    event = CommandEvent(
        actor=Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, user_id=user, is_admin=user == "max"),
        name=name,
        text=text,
    )
    await web.bed.starling.dispatch(event)


async def test_the_overviews_values_leave_no_small_rest_beside_the_weeks_total(web_any: WebBed) -> None:
    """The overview shows the weeks' points and the points per value; a value only one person received is
    hidden, but the total minus the shown values would be exactly his points. So the shown value hides too."""
    web = web_any
    web.bed.clock.advance(days=42)  # four weeks of their own, after the demo's history
    await say_as(web, "max", "privacy", "min-group 3")
    await say_as(web, "max", "kudos", "<@anna> <@ben> <@clara> danke für die ruhige Übergabe #teamwork")
    await say_as(web, "emma", "kudos", "<@felix> danke, dass du die Rechnung geklärt hast #kundenfokus")
    token = await web.sign_in("max")
    assert token
    _, weeks, _ = await web.get("/app/overview.csv?chart=weeks&period=4w", token)
    assert sum(int(line.split(",")[2]) for line in data_rows(weeks)) == 4, weeks
    _, values, _ = await web.get("/app/overview.csv?chart=values&period=4w", token)
    assert data_rows(values) == [], values


async def test_a_teams_page_leaves_no_small_rest_beside_the_workspaces(web_any: WebBed) -> None:
    """The workspace's page minus a team's page is the kudos among everyone else: when that is two people,
    the team's page stays hidden."""
    web = web_any
    web.bed.clock.advance(days=42)
    await say_as(web, "max", "privacy", "min-group 3")
    await say_as(web, "max", "kudos", "<@anna> <@ben> danke für die ruhige Übergabe #teamwork")
    await say_as(web, "anna", "kudos", "<@max> danke für die Hilfe am Telefon #teamwork")
    await say_as(web, "emma", "kudos", "<@felix> danke, dass du die Rechnung geklärt hast #kundenfokus")
    token = await web.sign_in("max")
    assert token
    _, weeks, _ = await web.get("/app/overview.csv?chart=weeks&period=4w", token)
    assert sum(int(line.split(",")[1]) for line in data_rows(weeks)) == 4, weeks
    # Kundenservice (Max, Anna, Ben) gave and received three kudos among three people: enough on its own,
    # but beside the workspace's four it would show Emma's one kudos to Felix.
    _, page, _ = await web.get("/app/overview?period=4w&team=Kundenservice", token)
    assert "weniger als 3 Personen" in page and "<svg" not in page
    _, team_weeks, _ = await web.get("/app/overview.csv?chart=weeks&period=4w&team=Kundenservice", token)
    assert data_rows(team_weeks) == []


async def test_the_department_graph_leaves_no_small_rest_beside_the_weeks_total(web_any: WebBed) -> None:
    """An arrow is shown when enough people give and receive along it; the weeks' total minus the shown
    arrows is what the hidden ones carry. When that is one person's kudos to another, no arrow shows."""
    web = web_any
    web.bed.clock.advance(days=42)
    await say_as(web, "max", "privacy", "min-group 3")
    for giver in ("max", "anna", "ben"):  # Kundenservice → IT: three givers, three receivers
        await say_as(web, giver, "kudos", "<@clara> <@deniz> <@greta> danke für die schnelle Hilfe #teamwork")
    await say_as(web, "emma", "kudos", "<@felix> danke, dass du die Rechnung geklärt hast #teamwork")
    token = await web.sign_in("max")
    assert token
    _, weeks, _ = await web.get("/app/overview.csv?chart=weeks&period=4w", token)
    assert sum(int(line.split(",")[1]) for line in data_rows(weeks)) == 10, weeks
    _, graph, _ = await web.get("/app/overview.csv?chart=graph&period=4w", token)
    assert data_rows(graph) == [], graph  # 10 − 9 would be Emma's one kudos to Felix
