"""What the router keeps about the actor: a language chosen in Starling and an admin role granted in it
survive the platform telling otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.events import Actor, CommandEvent, Platform
from bot.core.router import Router
from bot.core.services import PersonInfo, Services
from bot.settings import Settings
from handlers import register_all
from storage import core
from storage.db import create_engine_for, session_factory
from storage.types import utcnow
from tests.kit import Clock

WS = "slack:TLANG"


class StaticDirectory:
    """A platform directory that always answers the same facts (like users.info would)."""

    def __init__(self, **facts: PersonInfo) -> None:
        self.facts = facts
        self.calls = 0

    async def fetch(self, workspace_id: str, user_id: str) -> PersonInfo | None:
        self.calls += 1
        return self.facts.get(user_id)


@pytest.fixture
async def services(any_db_url: str) -> AsyncIterator[Services]:
    engine = create_engine_for(any_db_url)
    yield Services(settings=Settings(database_url=any_db_url, _env_file=None), sessions=session_factory(engine))  # type: ignore[call-arg]
    await engine.dispose()


def command(user: str, name: str, text: str = "", *, locale: str | None = "de-DE") -> CommandEvent:
    actor = Actor(platform=Platform.SLACK, workspace_id=WS, user_id=user, display_name=user.title(), locale=locale)
    return CommandEvent(actor=actor, name=name, text=text)


async def test_a_language_chosen_in_starling_wins_over_the_platform_locale(services: Services) -> None:
    router = register_all(Router())
    first = await router.dispatch(command("UANNA", "stats"), services)
    assert "Deine Kudos" in first[0].fallback()
    chosen = await router.dispatch(command("UANNA", "starling", "language en"), services)
    assert "speak English" in chosen[0].fallback()
    # Slack keeps sending the account's German locale with every event: the person's choice stays.
    again = await router.dispatch(command("UANNA", "stats"), services)
    assert "Your kudos" in again[0].fallback()


async def test_an_admin_granted_in_starling_stays_admin_after_a_directory_refresh(
    services: Services, clock: Clock
) -> None:
    clock.set(utcnow())  # member rows carry the wall-clock time of their last refresh
    services.clock = clock
    directory = StaticDirectory(UBEN=PersonInfo(user_id="UBEN", display_name="Ben", is_admin=False))
    services.directories["slack"] = directory
    router = register_all(Router())
    async with services.sessions() as s, s.begin():
        await core.ensure_workspace(s, workspace_id=WS, platform="slack", locale="en", timezone="Europe/Berlin")
        await core.upsert_member(s, workspace_id=WS, user_id="UMAX", display_name="Max", is_admin=True)
    out = await router.dispatch(command("UMAX", "starling", "admin <@UBEN>", locale=None), services)
    assert directory.calls == 1
    assert "is now a Starling admin" in out[0].fallback()
    # The next day a kudos to Ben refreshes him from the platform, which knows nothing of Starling roles (rows
    # keep only the day they were seen: "13 hours later" was the next day only when the test ran after 11:00 UTC).
    clock.advance(days=1)
    await router.dispatch(
        command("UMAX", "kudos", "<@UBEN> thanks for the quick customer callback", locale=None), services
    )
    assert directory.calls == 2
    settings = await router.dispatch(command("UBEN", "starling", "set budget 7", locale=None), services)
    assert "Saved: Daily kudos budget is now 7." in settings[0].fallback()
