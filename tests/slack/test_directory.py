"""The Slack user directory: users.info with the locale, cached for a while."""

from __future__ import annotations

from bot.slack.client import SlackDirectory, make_client
from tests.slack.wire import TOKEN, SlackWire


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
