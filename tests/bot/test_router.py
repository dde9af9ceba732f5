"""The router's middleware: unknown commands, refusals roll back, failures leave nothing, deadlocks are retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.core.events import Actor, CommandEvent, Platform
from bot.core.messages import Message
from bot.core.router import Context, Router, UserError
from bot.core.services import Services
from bot.settings import Settings
from storage import core
from storage.db import create_engine_for, session_factory
from storage.models import Member, ProcessedEvent
from tests.kit import BotHarness

WS = "console:router-test"


def event(user: str, name: str, *, event_id: str | None = None) -> CommandEvent:
    return CommandEvent(
        actor=Actor(platform=Platform.CONSOLE, workspace_id=WS, user_id=user), name=name, event_id=event_id
    )


@pytest.fixture
async def services(db_url: str) -> AsyncIterator[Services]:
    engine = create_engine_for(db_url)
    yield Services(settings=Settings(database_url=db_url, _env_file=None), sessions=session_factory(engine))  # type: ignore[call-arg]
    await engine.dispose()


@pytest.fixture
async def pg_services(pg_url: str) -> AsyncIterator[Services]:
    engine = create_engine_for(pg_url)
    yield Services(settings=Settings(database_url=pg_url, _env_file=None), sessions=session_factory(engine))  # type: ignore[call-arg]
    await engine.dispose()


async def members(services: Services) -> list[str]:
    async with services.sessions() as s:
        rows = await s.execute(select(Member.user_id).where(Member.workspace_id == WS).order_by(Member.user_id))
        return list(rows.scalars())


def texts(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.target.kind, m.fallback()) for m in messages]


# --- unknown commands -----------------------------------------------------------------------------------


async def test_unknown_command_suggests_the_closest(bot: BotHarness) -> None:
    out = await bot.say("leaderbord week", as_="anna")
    assert out.startswith("(only you) Den Befehl `leaderbord` kenne ich nicht. Meintest du `leaderboard`?")
    assert "Tippe `hilfe`, um alles zu sehen" in out


async def test_unknown_command_in_english(bot: BotHarness) -> None:
    await bot.say("starling language en", as_="anna")
    out = await bot.say("leaderbord", as_="anna")
    assert out.startswith("(only you) I don't know the command `leaderbord`. Did you mean `leaderboard`?")


async def test_unknown_command_far_from_everything(bot: BotHarness) -> None:
    out = await bot.say("xylophon", as_="anna")
    assert out.startswith("(only you) Den Befehl `xylophon` kenne ich nicht.") and "Meintest" not in out


# --- refusals and failures ----------------------------------------------------------------------------------


async def test_user_error_rolls_back_the_handlers_writes(services: Services) -> None:
    router = Router()

    @router.command("join", feature="test")
    async def join(ctx: Context) -> None:
        await core.upsert_member(ctx.session, workspace_id=ctx.workspace.id, user_id="written-then-refused")
        raise UserError("core.admin_only")

    out = await router.dispatch(event("ana", "join", event_id="E1"), services)
    assert texts(out) == [("ephemeral", "Das können nur Workspace-Admins ändern.")]
    assert await members(services) == ["ana"]  # the actor is known, the handler's write is gone
    # The refusal was the answer to this event: a platform retry gets nothing more.
    assert await router.dispatch(event("ana", "join", event_id="E1"), services) == []


async def test_a_crash_leaves_nothing_and_the_retry_of_the_event_works(services: Services) -> None:
    router = Router()
    calls: list[int] = []

    @router.command("flaky", feature="test")
    async def flaky(ctx: Context) -> None:
        calls.append(1)
        await core.upsert_member(ctx.session, workspace_id=ctx.workspace.id, user_id="half-written")
        if len(calls) == 1:
            raise RuntimeError("the platform timed out")
        ctx.ephemeral("ok")

    out = await router.dispatch(event("ana", "flaky", event_id="E2"), services)
    assert texts(out) == [
        (
            "ephemeral",
            "Entschuldige, bei uns ist etwas schiefgegangen. Es wurde nichts gespeichert; versuch es gleich noch einmal.",
        )
    ]
    assert await members(services) == []
    async with services.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(ProcessedEvent))).scalar_one() == 0
    assert texts(await router.dispatch(event("ana", "flaky", event_id="E2"), services)) == [("ephemeral", "ok")]
    assert await members(services) == ["ana", "half-written"]


async def test_deadlocked_transaction_is_run_again(pg_services: Services) -> None:
    """Two requests lock the same two rows in opposite order: PostgreSQL aborts one, the router re-runs it."""
    router = Router()
    runs: list[str] = []
    arrived = {"ana": asyncio.Event(), "ben": asyncio.Event()}

    @router.command("swap", feature="test")
    async def swap(ctx: Context) -> None:
        me = ctx.actor.user_id
        other = "ben" if me == "ana" else "ana"
        runs.append(me)
        first, second = (f"row-{me}", f"row-{other}")
        await core.upsert_member(ctx.session, workspace_id=ctx.workspace.id, user_id=first, display_name=me)
        arrived[me].set()
        await arrived[other].wait()  # both hold their first row now
        await core.upsert_member(ctx.session, workspace_id=ctx.workspace.id, user_id=second, display_name=me)
        ctx.ephemeral(f"{me} done")

    async with pg_services.sessions() as s, s.begin():  # the workspace and the two rows exist
        await core.ensure_workspace(s, workspace_id=WS, platform="console", locale="de", timezone="UTC")
        for uid in ("row-ana", "row-ben"):
            await core.upsert_member(s, workspace_id=WS, user_id=uid)
    results = await asyncio.gather(
        router.dispatch(event("ana", "swap"), pg_services), router.dispatch(event("ben", "swap"), pg_services)
    )
    assert [texts(r) for r in results] == [[("ephemeral", "ana done")], [("ephemeral", "ben done")]]
    assert sorted(runs) in (["ana", "ana", "ben"], ["ana", "ben", "ben"])  # exactly one of them ran twice
