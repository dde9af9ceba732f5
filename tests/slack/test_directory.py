"""The Slack user directory: users.info with the locale, cached for a while."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.slack.client import SlackDirectory, make_client
from tests.fakes import Recorded
from tests.slack.wire import TEAM, TOKEN, SlackWire, Testbed


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_users_info_is_read_with_locale_and_cached_until_the_ttl(fake: SlackWire) -> None:
    fake.add_user("UOWN", "olga", real_name="Olga Owner", is_owner=True, locale="en-US", tz="Europe/Zurich")
    ticks = Ticks()
    directory = SlackDirectory(make_client(TOKEN, fake.api_url), ttl=600, clock=ticks)
    info = await directory.fetch("slack:T1", "UOWN")
    assert info is not None
    assert (info.display_name, info.handle, info.locale, info.timezone) == ("olga", "olga", "en-US", "Europe/Zurich")
    assert info.is_admin and not info.is_bot
    (call,) = fake.calls("users.info")
    assert fake.payload(call)["include_locale"] in (True, "true", "1")

    await directory.fetch("slack:T1", "UOWN")
    ticks.now += 599
    await directory.fetch("slack:T1", "UOWN")
    assert len(fake.calls("users.info")) == 1
    fake.users["UOWN"]["profile"]["display_name"] = "Olga O."
    ticks.now += 2
    refreshed = await directory.fetch("slack:T1", "UOWN")
    assert refreshed is not None and refreshed.display_name == "Olga O."
    assert len(fake.calls("users.info")) == 2


async def test_unknown_deactivated_and_bot_users(fake: SlackWire) -> None:
    fake.add_user("UGONE", "gone", deleted=True)
    directory = SlackDirectory(make_client(TOKEN, fake.api_url))
    assert await directory.fetch("slack:T1", "UNOBODY") is None
    assert await directory.fetch("slack:T1", "UGONE") is None
    bot = await directory.fetch("slack:T1", "UOTHERBOT")
    assert bot is not None and bot.is_bot


async def test_a_slow_directory_answer_holds_no_database_lock(testbed: Testbed, fake: SlackWire) -> None:
    """Someone new is looked up in Slack's directory with no transaction open: while ``users.info``
    for them hangs, the SQLite write lock is free and another kudos is stored."""
    fake.add_user("UNEU", "neu", real_name="Nora Neu", display_name="Nora Neu", team_id=TEAM)
    await testbed.command("<@UANNA|anna> danke fürs Aufwärmen #teamwork", user="UBEN")  # the workspace exists
    await testbed.settle()
    slow = "users.info for UNEU"

    def looks_up_neu(rec: Recorded) -> bool:
        return rec.op == "users.info" and fake.payload(rec).get("user") == "UNEU"

    looks_up_neu.__name__ = slow
    fake.delay_next(60, looks_up_neu)
    assert (await testbed.command("<@UNEU|neu> danke für den Start #kundenfokus", user="UMAX"))[0] == 200
    (pending,) = await fake.wait_for(looks_up_neu, include_pending=True, timeout=60)

    path = testbed.settings.database_url.split(":///", 1)[1]

    # The outbox worker's short transactions may hold the lock for milliseconds; a transaction waiting on the
    # held users.info would hold it for the whole minute.
    def take_the_write_lock() -> None:
        probe = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # "database is locked" if a transaction waited on Slack
            probe.execute("ROLLBACK")
        finally:
            probe.close()

    # In a thread: a blocking probe on the event loop would stop the very worker whose lock it waits for.
    await asyncio.to_thread(take_the_write_lock)
    assert (await testbed.command("<@UANNA|anna> danke für die Übergabe #teamwork", user="UCLARA"))[0] == 200
    deadline = asyncio.get_running_loop().time() + 30
    while not any(r.giver_id == "UCLARA" for r in await testbed.kudos_rows()):
        assert asyncio.get_running_loop().time() < deadline, "the second kudos waited for the slow lookup"
        await asyncio.sleep(0.02)
    assert not pending.done  # Slack has still not answered about UNEU
