"""The warm Slack directory: ``users.list`` (paged) at start, ``team_join``/``user_change`` events as they come,
``users.info`` only for someone the list does not know. Over the real wire: signed requests to the ``serve``
web app, the fake Slack Web API recording every call."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.slack.client import SlackDirectory, make_client
from storage.models import Member
from tests.kit import Clock
from tests.slack.wire import CHANNEL, TEAM, TOKEN, SlackWire, Testbed, event_body, visible_text

REASON = "danke für die schnelle Hilfe beim Kundentermin #kundenfokus"


async def members(bed: Testbed) -> dict[str, Member]:
    async with bed.starling.sessions() as session:
        return {m.user_id: m for m in (await session.execute(select(Member))).scalars().all()}


async def until(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.02)


def user_event(fake: SlackWire, kind: str, uid: str) -> dict[str, Any]:
    user = dict(fake.users[uid])
    user["profile"] = dict(user["profile"])
    return {"type": kind, "user": user, "event_ts": "1700000000.000200"}


def users_info_about(fake: SlackWire, uid: str) -> int:
    return sum(1 for rec in fake.calls("users.info") if fake.payload(rec).get("user") == uid)


async def test_users_list_is_read_page_by_page_with_the_locale(fake: SlackWire) -> None:
    for i in range(45):
        fake.add_user(f"UP{i:03d}", f"p{i}", display_name=f"Person {i}", locale="en-GB" if i % 2 else "de-AT")
    fake.add_user("ULEFT", "left", real_name="Lena Left", deleted=True)
    directory = SlackDirectory(make_client(TOKEN, fake.api_url), page_size=20)
    assert await directory.warm_up() == len(fake.users)
    pages = fake.calls("users.list")
    assert len(pages) == -(-len(fake.users) // 20)  # every page, one call each
    assert [fake.payload(p).get("cursor") or "" for p in pages][0] == ""
    assert all(fake.payload(p).get("cursor") for p in pages[1:])  # each next page asked for by its cursor
    assert all(fake.payload(p)["include_locale"] in (True, "true", "1") for p in pages)
    found, person = directory.known("slack:T1", "UP007")
    assert found and person is not None and (person.display_name, person.locale) == ("Person 7", "en-GB")
    assert directory.known("slack:T1", "ULEFT") == (True, None)  # deactivated: known as gone
    assert await directory.fetch("slack:T1", "UP008") is not None
    assert fake.calls("users.info") == []


async def test_a_known_person_is_never_looked_up_one_by_one(testbed: Testbed, fake: SlackWire) -> None:
    assert (await testbed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200
    assert (await testbed.command(f"<@UCLARA|clara> {REASON}", user="UMAX"))[0] == 200
    await testbed.settle()
    assert {r.receiver_id for r in await testbed.kudos_rows()} == {"UANNA", "UCLARA"}
    assert fake.calls("users.info") == []
    known = await members(testbed)
    assert known["UANNA"].display_name == "Anna Schmidt" and known["UBEN"].locale == "de-DE"


async def test_someone_the_list_does_not_know_is_asked_about_once(testbed: Testbed, fake: SlackWire) -> None:
    fake.add_user("ULATE", "lea", real_name="Lea Spät", display_name="Lea Spät", locale="en-US", team_id=TEAM)
    for text in (f"<@ULATE|lea> {REASON}", f"<@ULATE|lea> nochmal {REASON}"):
        assert (await testbed.command(text, user="UMAX"))[0] == 200
        await testbed.settle()
    assert len(await testbed.kudos_rows()) == 2
    assert users_info_about(fake, "ULATE") == 1
    assert (await members(testbed))["ULATE"].locale == "en-US"


async def test_a_newcomer_from_team_join_is_known_without_a_lookup(testbed: Testbed, fake: SlackWire) -> None:
    fake.add_user("UNEU", "nora", real_name="Nora Neu", display_name="Nora Neu", locale="de-DE", team_id=TEAM)
    assert (await testbed.event(user_event(fake, "team_join", "UNEU")))[0] == 200
    await testbed.settle()
    assert (await testbed.command(f"<@UNEU|nora> {REASON}", user="UMAX"))[0] == 200
    await testbed.settle()
    assert [r.receiver_id for r in await testbed.kudos_rows()] == ["UNEU"]
    assert users_info_about(fake, "UNEU") == 0
    await testbed.delivered(3)
    assert any("willkommen" in visible_text(dm).lower() for dm in fake.dms("UNEU"))


async def test_a_renamed_person_is_shown_with_the_new_name_at_once(testbed: Testbed, fake: SlackWire) -> None:
    assert (await testbed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200
    await testbed.settle()
    fake.users["UANNA"]["profile"]["display_name"] = "Anna Berger"
    assert (await testbed.event(user_event(fake, "user_change", "UANNA")))[0] == 200

    async def renamed() -> bool:
        return (await members(testbed))["UANNA"].display_name == "Anna Berger"

    await until(renamed, "the user_change never reached Anna's row")
    assert (await testbed.command("leaderboard", user="UBEN"))[0] == 200
    await testbed.settle()
    board = "\n".join(fake.texts("chat.postMessage", channel=CHANNEL))  # the board is answered in the channel
    assert "Anna Berger" in board and "Anna Schmidt" not in board
    assert fake.calls("users.info") == []


async def test_the_directory_adds_nobody_to_the_database(testbed: Testbed, fake: SlackWire) -> None:
    """Listed, changed or left: only people who take part get a row; an erased person is not brought back."""
    assert set(await members(testbed)) == set()  # the list was read at start: nobody stored for it
    fake.users["UCLARA"]["profile"]["display_name"] = "Clara F."
    assert (await testbed.event(user_event(fake, "user_change", "UCLARA")))[0] == 200
    assert (await testbed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200
    await testbed.settle()
    assert set(await members(testbed)) == {"UANNA", "UBEN"}

    # Anna has herself forgotten; her later name change and the next users.list bring no row back.
    assert (await testbed.command("forget-me confirm", command="/privacy", user="UANNA"))[0] == 200
    await testbed.settle()
    assert "UANNA" not in await members(testbed)
    fake.users["UANNA"]["profile"]["display_name"] = "Anna B."
    assert (await testbed.event(user_event(fake, "user_change", "UANNA")))[0] == 200
    await testbed.settle()  # the user_change has been handled
    await testbed.slack.directory.warm_up()
    assert set(await members(testbed)) == {"UBEN"}


async def test_a_person_who_left_is_not_a_recipient(testbed: Testbed, fake: SlackWire) -> None:
    fake.users["UCLARA"]["deleted"] = True
    assert (await testbed.event(user_event(fake, "user_change", "UCLARA")))[0] == 200
    assert (await testbed.command(f"<@UCLARA|clara> {REASON}", user="UMAX"))[0] == 200
    await testbed.settle()
    assert await testbed.kudos_rows() == []
    refusals = "\n".join(fake.texts("chat.postEphemeral", channel=CHANNEL, user="UMAX"))
    assert "UCLARA" in refusals or "clara" in refusals.lower()
    assert "UCLARA" not in await members(testbed)
    assert fake.calls("users.info") == []


async def test_without_the_list_every_person_is_looked_up(fake: SlackWire, db_url: str, clock: Clock) -> None:
    bed = await Testbed(fake, db_url, clock, slack_directory_refresh_seconds=0).start()
    try:
        assert (await bed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200
        await bed.settle()
        assert fake.calls("users.list") == []
        assert users_info_about(fake, "UANNA") == 1 and users_info_about(fake, "UBEN") == 1
    finally:
        await bed.close()


def test_event_body_shape_is_the_one_slack_sends() -> None:
    body = event_body({"type": "user_change", "user": {"id": "UX"}})
    assert body["type"] == "event_callback" and body["event"]["type"] == "user_change"


async def test_a_value_an_admin_adds_or_removes_counts_with_the_next_kudos(testbed: Testbed, fake: SlackWire) -> None:
    """Company values are kept in memory per workspace; an admin's change reaches the very next kudos."""
    assert (await testbed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200  # the values are cached
    await testbed.settle()
    add = "values add #qualitaet Qualität / Quality"
    assert (await testbed.command(add, command="/starling", user="UMAX"))[0] == 200
    await testbed.settle()
    text = "<@UCLARA|clara> danke für die saubere Übergabe #qualitaet"
    assert (await testbed.command(text, user="UBEN"))[0] == 200
    await testbed.settle()
    assert [r.value_tag for r in await testbed.kudos_rows()] == ["kundenfokus", "qualitaet"]

    assert (await testbed.command("values remove #qualitaet", command="/starling", user="UMAX"))[0] == 200
    await testbed.settle()
    assert (await testbed.command(text.replace("saubere", "schnelle"), user="UBEN"))[0] == 200
    await testbed.settle()
    assert len(await testbed.kudos_rows()) == 2
    refusal = "\n".join(fake.texts("chat.postEphemeral", channel=CHANNEL, user="UBEN"))
    assert "#qualitaet" in refusal


async def test_a_user_change_with_facts_that_are_not_text_breaks_nobodys_next_kudos(
    testbed: Testbed, fake: SlackWire
) -> None:
    """A signed ``user_change`` whose locale is a list (a malformed or hostile payload that passes the edge's shape
    check): the fact counts as not given, and the person's next kudos is stored as any other (it was lost: the
    directory handed the list to the member row's upsert)."""
    event = user_event(fake, "user_change", "UBEN")
    event["user"]["locale"] = ["de-DE", "<!here|here>"]
    assert (await testbed.event(event))[0] == 200
    assert (await testbed.command(f"<@UANNA|anna> {REASON}", user="UBEN"))[0] == 200
    await testbed.settle()
    assert [(r.giver_id, r.receiver_id) for r in await testbed.kudos_rows()] == [("UBEN", "UANNA")]
    ben = (await members(testbed))["UBEN"]
    assert ben.locale is None or isinstance(ben.locale, str)
