"""The works-council profile shows no per-person figure on any surface, differences included.

An admin and a colleague walk every surface that shows figures (leaderboards, stats, the digest and the
leaderboard post, suggestion stats with their median, the goodwill budget, the pulse, the privacy status,
the App Home, an admin's export of a colleague; the web overview and its CSVs) with ``privacy min-group 8``.
No line names a person next to a figure; groups below eight are hidden and every text says eight; a median
over one approver is hidden; and after a move that leaves a team one short of the minimum, every surface
reads exactly as before, so no difference is anyone's figure. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

from bot.console.demo import COLLEAGUES
from bot.core.events import Actor, AppOpenedEvent, CommandEvent, Platform
from tests.kit import BotHarness
from tests.webapp.conftest import WORKSPACE, WebBed

NEWCOMERS = ("hanna", "ida", "jonas", "karl", "lena", "mia", "nora", "otto", "paul")
VERTRIEB = ("anna", "ben", "clara", "deniz", "emma", "hanna", "ida", "jonas")  # eight
SUPPORT = ("felix", "greta", "karl", "lena", "mia", "nora", "otto", "paul")  # eight
NAMES = [part for _uid, name, _dept, _admin in COLLEAGUES for part in name.split()] + [n.title() for n in NEWCOMERS]
DATES = re.compile(r"\b\d{1,2}\.\d{1,2}\.(\d{4})?|\b\d{1,2}:\d{2}\b|\b\d{4}-\d{2}-\d{2}\b")
SMALLER_MINIMUM = re.compile(r"(mindestens|weniger als|fewer than|at least) 5\b|\b5 Personen", re.I)

SURFACES = (
    "leaderboard week",
    "leaderboard week given",
    "leaderboard month",
    "leaderboard all",
    "leaderboard all #teamwork",
    "leaderboard week dept:Vertrieb",
    "leaderboard week dept:Support",
    "leaderboard week given dept:Vertrieb",
    "kudos stats",
    "digest preview",
    "digest leaderboard preview #general week",
    "suggest stats",
    "goodwill show",
    "pulse status",
    "privacy",
    "privacy export @ben",
)


def person_figures(out: str) -> list[str]:
    """Lines that name a person and carry a number ("Max." abbreviates maximal, not Max Weber; a date or a
    time, as in the audit log's "18.11.2026 10:30 Max Weber privacy.profile", is no figure)."""
    return [
        line
        for line in out.splitlines()
        if re.search(r"\d", DATES.sub(" ", line)) and any(re.search(rf"(?<!\w){name}(?![\w.])", line) for name in NAMES)
    ]


async def home(bot: BotHarness, who: str) -> str:
    bot.console.user = who
    actor = await bot.console._actor()
    start = len(bot.output)
    await bot.console.send_event(AppOpenedEvent(actor=actor))
    return "\n".join(bot.output[start:])


async def walk(bot: BotHarness) -> dict[tuple[str, str], str]:
    out = {}
    for who in ("max", "anna"):  # an admin and a colleague
        for line in SURFACES:
            out[(who, line)] = await bot.say(line, as_=who)
        out[(who, "App Home")] = await home(bot, who)
    return out


async def seventeen_people_in_two_teams(bot: BotHarness) -> None:
    """Vertrieb and Support with eight people each (and Max), the works-council profile with a minimum
    group of eight, and a week of kudos: eight people of Vertrieb and seven of Support receive, and Max (what
    Vertrieb's total leaves over of the digest's overall total stands for Support's seven and Max: eight)."""
    bot.clock.advance(days=14)  # a week of its own, after the demo's history
    for person in NEWCOMERS:
        assert "Deine Kudos" in await bot.say("kudos stats", as_=person)
    for dept, people in (("Vertrieb", VERTRIEB), ("Support", SUPPORT)):
        for person in people:
            assert dept in await bot.say(f"starling department @{person} {dept}", as_="max")
    assert "Betriebsrat" in await bot.say("privacy profile works-council", as_="max")
    assert "min-group = 8" in await bot.say("privacy min-group 8", as_="max")
    for giver, text in (
        ("max", "@anna @ben @clara @deniz @emma danke für den ruhigen Kundentag #kundenfokus"),
        ("felix", "@hanna @ida @jonas danke für die saubere Übergabe #teamwork"),
        ("ben", "@felix @greta @karl @lena @mia danke, dass ihr die Hotline übernommen habt #teamwork"),
        ("anna", "@nora @otto @max danke für die Hilfe beim Rückruf #kundenfokus"),
    ):
        assert "verschickt" in await bot.say(f"kudos {text}", as_=giver)
    # one suggestion, decided by one approver: the median decision time is that person's figure
    out = await bot.say("suggest Das Reisekostenformular hat zwölf Seiten, eine würde reichen", as_="anna")
    number = re.search(r"Vorschlag #(\d+)", out)
    assert number, out
    assert "genehmigt" in await bot.say(f"suggest approve {number.group(1)} gute Idee, machen wir", as_="max")
    # two people of a named team log goodwill cases; the admin is not in that team
    await bot.say("goodwill budget #general 1000 EUR per year, per case 100", as_="max")
    assert "@Anna Schmidt" in await bot.say("goodwill team #general @anna @ben", as_="max")
    assert "nach Regel" in await bot.say("goodwill 20 EUR Versand erstattet #kundenfokus", as_="anna")
    assert "nach Regel" in await bot.say("goodwill 30 EUR Gutschein für die lange Wartezeit", as_="ben")
    # a pulse with one answer, and a daily prompt with one answer in #general
    assert "gestartet" in await bot.say("pulse start #general", as_="max")
    assert "angekommen" in await bot.say("pulse answer Kunden, die gern wiederkommen", as_="ben")
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    assert "gepostet" in await bot.say("prompt now", as_="max")
    assert "Danke" in await bot.say("prompt answer Ich würde zuerst den Kunden anrufen und fragen", as_="anna")
    bot.clock.advance(hours=1)  # the figures of a moment that has passed


async def test_no_surface_shows_a_persons_figure_in_the_works_council_profile(anybot: BotHarness) -> None:
    bot = anybot
    await seventeen_people_in_two_teams(bot)
    before = await walk(bot)
    for key, out in before.items():
        assert person_figures(out) == [], (key, out)
        assert not SMALLER_MINIMUM.search(out), (key, out)

    # Boards: teams only; Vertrieb's eight receivers make a total, Support's seven do not, and it says eight.
    week = before[("anna", "leaderboard week")]
    assert re.search(r"Vertrieb\s+█+\s+8 Punkte", week) and "Support" not in week, week
    assert "2 Teams mit weniger als 8 Personen" in week and "weiteres Team" not in week, week
    assert "mindestens 8 nötig" in before[("max", "leaderboard week given")]
    # Digest and leaderboard post: counts, no names; prompt channels and goodwill below eight people hidden.
    digest = before[("max", "digest preview")]
    assert "Namen werden nicht gezeigt" in digest and "weniger als 8 Personen geantwortet" in digest, digest
    assert "sobald mindestens 8 Personen" in digest and "50 EUR" not in digest, digest
    assert "nur Teamzahlen" in before[("max", "digest leaderboard preview #general week")]
    # The median decision time of one approver is hidden, in the digest and in `suggest stats`.
    stats = before[("max", "suggest stats")]
    assert re.search(r"Entschieden\s+1", stats) and re.search(r"Median bis zur Entscheidung\s+—", stats), stats
    assert re.search(r"Median bis zur Entscheidung\s+—", digest), digest
    # Goodwill: the admin, not in the team, sees no amount of two people; the team's own people share the
    # budget and see where it stands.
    assert "50 EUR" not in before[("max", "goodwill show")] and "mindestens 8" in before[("max", "goodwill show")]
    assert "50 EUR" in before[("anna", "goodwill show")]
    # An admin cannot export a colleague; everyone's own figures are their own (stats, App Home).
    assert "Admins können keine Daten einzelner Personen exportieren" in before[("max", "privacy export @ben")]
    assert "📎" not in before[("max", "privacy export @ben")]
    assert "Mindestgruppengröße für Zahlen" in before[("max", "privacy")] and re.search(
        r"Mindestgruppengröße für Zahlen\s+8", before[("max", "privacy")]
    )

    # Differences: Emma moves from Vertrieb to Support (Vertrieb keeps seven people today, one short of the
    # minimum). Every surface reads exactly as before: no difference of two readings is her figure.
    assert "Support" in await bot.say("starling department @emma Support", as_="max")
    after = await walk(bot)
    assert {k: v for k, v in after.items() if v != before[k]} == {}


# --- the web pages ---------------------------------------------------------------------------------


async def admin_says(web: WebBed, name: str, text: str) -> None:
    event = CommandEvent(
        actor=Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, user_id="max", is_admin=True),
        name=name,
        text=text,
    )
    await web.bed.starling.dispatch(event)


CHARTS = ("weeks", "values", "graph", "cross", "prompts", "funnel", "goodwill")


async def test_the_web_overview_shows_no_persons_figure_in_the_works_council_profile(web_any: WebBed) -> None:
    web = web_any
    await admin_says(web, "privacy", "profile works-council")
    await admin_says(web, "privacy", "min-group 8")
    token = await web.sign_in("max")
    assert token
    pages = {}
    for team in ("", "Kundenservice", "IT", "Buchhaltung"):
        _, pages[team], _ = await web.get(f"/app/overview?team={team}", token)
        for chart in CHARTS:
            _, pages[f"{team}:{chart}"], _ = await web.get(f"/app/overview.csv?chart={chart}&team={team}", token)
    for path in ("/app/suggestions", "/app/privacy"):
        _, pages[path], _ = await web.get(path, token)
    # an admin's look-up of a colleague on the privacy page is the chat's export, refused in this profile
    csrf = await web.csrf(token, "/app/privacy")
    status, pages["lookup"], _ = await web.post(
        "/app/privacy/lookup", token, {"csrf": csrf, "person": "ben", "nonce": "wc1"}
    )
    assert status == 200 and "Admins können keine Daten einzelner Personen exportieren" in pages["lookup"]
    assert "starling-data-ben" not in pages["lookup"]
    for key, body in pages.items():
        text = re.sub(r"<[^>]+>", " ", body)
        assert person_figures(text) == [], key
        assert not SMALLER_MINIMUM.search(text), (key, text[:2000])
    # the demo's eight people make the workspace; no team of three and no arrow between teams is shown
    for team in ("Kundenservice", "IT", "Buchhaltung"):
        assert "weniger als 8 Personen" in pages[team] and "<svg" not in pages[team], team
        assert all(len(pages[f"{team}:{chart}"].strip().splitlines()) == 1 for chart in CHARTS), team
    assert pages[":graph"].strip().splitlines() == ["Von,An,Kudos"]
    # the demo's suggestions were decided by fewer than eight approvers: their median is hidden, saying eight
    assert (
        "Der Median der Entscheidungszeit wird nicht gezeigt: Weniger als 8 Personen haben entschieden." in (pages[""])
    )
