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
    # three people logged the service desk's cases, two the IT's: at 3, IT's spend is its people's own
    await min_group(web, 3)
    _, body, _ = await web.get("/app/overview", token)
    assert [r for r in rows(body, "goodwill") if "Kundenservice" in r] and not [
        r for r in rows(body, "goodwill") if ">IT<" in r
    ]
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
