"""The overview's figures follow the chat's aggregate rules (minimum group, teams never persons)."""

from __future__ import annotations

import re

from bot.core.events import Actor, CommandEvent, Platform
from tests.webapp.conftest import WORKSPACE, WebBed


async def min_group(web: WebBed, n: int) -> None:
    event = CommandEvent(
        actor=Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, user_id="max", is_admin=True),
        name="privacy",
        text=f"min-group {n}",
    )
    await web.bed.starling.dispatch(event)


def rows(body: str, table: str) -> list[str]:
    found = re.search(rf'<table id="{table}-table">.*?<tbody>(.*?)</tbody>', body, re.S)
    return re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S) if found else []


async def test_every_figure_needs_the_minimum_group(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    _, body, _ = await web.get("/app/overview", token)
    assert len(rows(body, "goodwill")) == 2 and "360 EUR" in body
    assert len(rows(body, "graph")) >= 3
    # three people logged the service desk's cases, two the IT's: at 3, IT's spend is its people's own, and so
    # is the total minus the service desk's spend: no team's spend is shown beside the total
    await min_group(web, 3)
    _, body, _ = await web.get("/app/overview", token)
    assert rows(body, "goodwill") == [] and "360 EUR" in body
    assert "Die Ausgaben pro Team werden nicht gezeigt" in body
    assert "1 Team mit weniger als 3 erfassenden Personen" in body
    # a team smaller than the minimum shows nothing at all; the workspace still does
    _, body, _ = await web.get("/app/overview?team=Buchhaltung", token)
    assert "weniger als 3 Personen" in body and "<svg" not in body
    # five people logged cases: at 6 there is no goodwill amount, and no arrow between departments
    await min_group(web, 6)
    _, body, _ = await web.get("/app/overview", token)
    assert "360 EUR" not in body and "Kulanzfälle erfasst" in body
    assert rows(body, "graph") == [] and "Noch keine Verbindung" in body
    # nothing on the page or in the CSV names a person
    for person in ("Anna", "Ben Müller", "Clara", "Deniz"):
        assert person not in body
    _, csv_text, _ = await web.get("/app/overview.csv?chart=graph", token)
    assert csv_text.strip() == "Von,An,Kudos"


async def test_the_pulse_trend_shows_only_pulses_with_the_minimum_group_as_chart_table_and_csv(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    _, body, _ = await web.get("/app/overview", token)
    shown = rows(body, "pulse")  # the demo: three pulses of #kundenservice, one of IT with 3 answers
    assert len(shown) == 4 and 'aria-labelledby="pulse-t pulse-d"' in body
    service = [r for r in shown if "#kundenservice" in r]
    assert [re.findall(r"<td>(.*?)</td>", r)[1:3] for r in service] == [["34", "—"], ["58", "+24"], ["76", "+18"]]
    assert "Stare" in service[-1] and "Spatzen" in service[0]
    _, csv_text, _ = await web.get("/app/overview.csv?chart=pulse", token)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "Abgeschlossen am,Team,Ausrichtung (0–100),Veränderung,Antworten,Schwarm" and len(lines) == 5
    # a team's view shows the pulses that asked that team
    _, body, _ = await web.get("/app/overview?team=IT", token)
    assert len(rows(body, "pulse")) == 1 and "IT" in rows(body, "pulse")[0]
    # IT's pulse had 3 answers: under a minimum of 4 it is only counted; the others still show
    await min_group(web, 4)
    _, body, _ = await web.get("/app/overview", token)
    assert len(rows(body, "pulse")) == 3 and "1 Puls mit weniger als 4 Antworten" in body
    _, csv_text, _ = await web.get("/app/overview.csv?chart=pulse", token)
    assert len(csv_text.strip().splitlines()) == 4 and "IT" not in csv_text
    # in the viewer's language
    status, _, _ = await web.post("/app/language", token, {"lang": "en", "csrf": await web.csrf(token)})
    assert status == 303
    _, body, _ = await web.get("/app/overview", token)
    assert "Service-goal pulse" in body and "1 pulse with fewer than 4 answers is not shown" in body
