"""Route order, declining, declared subcommands and the feature gate, through ``Router.dispatch``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.commands import Arg, ArgError, parse_args
from bot.core.events import ActionEvent, Actor, CommandEvent, Conversation, MessageEvent, Platform
from bot.core.messages import Message
from bot.core.router import Context, Priority, Router
from bot.core.services import Services
from bot.settings import Settings
from storage.db import create_engine_for, session_factory

WS = "console:routes-test"
ACTOR = Actor(platform=Platform.CONSOLE, workspace_id=WS, user_id="anna")


@pytest.fixture
async def services(db_url: str) -> AsyncIterator[Services]:
    engine = create_engine_for(db_url)
    yield Services(settings=Settings(database_url=db_url, _env_file=None), sessions=session_factory(engine))  # type: ignore[call-arg]
    await engine.dispose()


def said(text: str, *, thread: str | None = None, addressed: bool = False) -> MessageEvent:
    return MessageEvent(
        actor=ACTOR,
        conversation=Conversation(id="c1", thread_id=thread),
        text=text,
        thread_id=thread,
        addressed=addressed,
    )


def command(name: str, text: str = "") -> CommandEvent:
    return CommandEvent(actor=ACTOR, name=name, text=text)


def fallbacks(out: list[Message]) -> list[str]:
    return [m.fallback() for m in out]


async def test_higher_priority_runs_first_and_a_decline_passes_on(services: Services) -> None:
    router = Router()
    seen: list[str] = []

    @router.message(lambda ev: ":" in ev.text, feature="pattern")
    async def pattern(ctx: Context) -> None:
        seen.append("pattern")
        ctx.ephemeral("pattern")

    @router.message(lambda ev: bool(ev.thread_id), feature="thread", priority=Priority.THREAD)
    async def thread(ctx: Context) -> None:
        seen.append("thread")
        ctx.ephemeral("half-written")  # dropped when the handler declines
        assert isinstance(ctx.event, MessageEvent)
        if ctx.event.thread_id != "known":
            ctx.decline()
        ctx.ephemeral("answer")

    # registered after the pattern, but tried before it
    assert fallbacks(await router.dispatch(said("Wie X sagte: ja", thread="known"), services)) == [
        "half-written",
        "answer",
    ]
    assert seen == ["thread"]
    seen.clear()
    assert fallbacks(await router.dispatch(said("Wie X sagte: ja", thread="other"), services)) == ["pattern"]
    assert seen == ["thread", "pattern"]
    seen.clear()
    assert await router.dispatch(said("nichts", thread="other"), services) == []  # declined, nothing else matches
    assert seen == ["thread"]


async def test_addressed_messages_meet_thread_routes_before_commands(services: Services) -> None:
    router = Router()

    @router.message(lambda ev: ev.thread_id == "known", feature="t", priority=Priority.THREAD, addressed=True)
    async def answer(ctx: Context) -> None:
        ctx.ephemeral("answer")

    @router.command("hilfe", feature="help")
    async def help_(ctx: Context) -> None:
        ctx.ephemeral("help")

    @router.command("kudos", feature="kudos", in_threads=True)
    async def kudos(ctx: Context) -> None:
        ctx.ephemeral(f"kudos {ctx.event.text}" if isinstance(ctx.event, CommandEvent) else "?")

    assert fallbacks(await router.dispatch(said("hilfe bitte", thread="known", addressed=True), services)) == ["answer"]
    assert fallbacks(await router.dispatch(said("hilfe", thread="other", addressed=True), services)) == ["help"]
    # the explicit command word in a thread, addressed or not
    for addressed in (True, False):
        out = await router.dispatch(said("kudos @ben danke", thread="known", addressed=addressed), services)
        assert fallbacks(out) == ["kudos @ben danke"]


def test_arguments_are_read_by_shape() -> None:
    args = (
        Arg.period(optional=True),
        Arg.choice("direction", {"given": "given", "gegeben": "given"}, optional=True),
        Arg.value(optional=True),
        Arg.keyed("department", ("dept", "abteilung"), optional=True),
    )
    assert parse_args(args, "#Kundenfokus gegeben Monat abteilung:Support") == {
        "value": "kundenfokus",
        "direction": "given",
        "period": "month",
        "department": "Support",
    }
    assert parse_args(args, "") == {}
    with pytest.raises(ArgError) as err:
        parse_args(args, "week sometimes")
    assert err.value.word == "sometimes"
    typed = (Arg.number("id"), Arg.user(optional=True), Arg.channel(optional=True), Arg.text("note", optional=True))
    assert parse_args(typed, "#12 <@U1> <#C9|team> Gute Idee | machen wir") == {
        "id": 12,
        "user": "U1",
        "channel": "C9",
        "note": "Gute Idee | machen wir",
    }
    with pytest.raises(ArgError) as missing:
        parse_args(typed, "<@U1>")
    assert missing.value.word is None


async def test_subcommands_dispatch_parse_and_suggest(services: Services) -> None:
    router = Router()
    tool = router.command("tool", feature="tool", default="status")

    @tool.sub("status", de="zustand")
    async def status(ctx: Context) -> None:
        ctx.ephemeral("status")

    @tool.sub("pause", de="pausieren", args=(Arg.number("days"),), admin=False)
    async def pause(ctx: Context) -> None:
        ctx.ephemeral(f"pause {ctx.params['days']}")

    assert fallbacks(await router.dispatch(command("tool"), services)) == ["status"]
    assert fallbacks(await router.dispatch(command("tool", "Zustand"), services)) == ["status"]
    assert fallbacks(await router.dispatch(command("tool", "pausieren 3"), services)) == ["pause 3"]
    out = fallbacks(await router.dispatch(command("tool", "pausiern 3"), services))
    assert out == ["`tool pausiern` kenne ich nicht. Meintest du `tool pausieren`?"]
    out = fallbacks(await router.dispatch(command("tool", "pause"), services))
    assert out == ["Da fehlt noch etwas. So geht's: `tool pausieren Nummer`"]
    out = fallbacks(await router.dispatch(command("tool", "pause drei"), services))
    assert out == ["`drei` verstehe ich hier nicht. So geht's: `tool pausieren Nummer`"]
    # every command with subcommands answers help, generated from the declarations
    help_text = fallbacks(await router.dispatch(command("tool", "hilfe"), services))[0]
    assert help_text.startswith("Hilfe: `tool`")


async def test_the_gate_decides_for_every_kind_of_registration(services: Services) -> None:
    off = {"kudos", "boards"}

    async def gate(session: AsyncSession, workspace_id: str, feature: str) -> bool:
        assert workspace_id == WS
        return feature not in off

    router = Router(gate=gate)
    kudos = router.command("kudos", feature="kudos")

    @kudos.sub("board", feature="boards")
    async def board(ctx: Context) -> None:
        ctx.ephemeral("board")

    @kudos.sub("stats", feature="stats")
    async def stats(ctx: Context) -> None:
        ctx.ephemeral("stats")

    @kudos.fallback
    async def give(ctx: Context) -> None:
        ctx.ephemeral("given")

    @router.message(lambda ev: ":" in ev.text, feature="kudos")
    async def emoji(ctx: Context) -> None:
        ctx.ephemeral("emoji")

    @router.action("vote", feature="boards")
    async def vote(ctx: Context) -> None:
        ctx.ephemeral("voted")

    assert fallbacks(await router.dispatch(command("kudos", "stats"), services)) == ["stats"]
    refused = fallbacks(await router.dispatch(command("kudos", "board"), services))
    assert refused == ["boards ist in diesem Workspace ausgeschaltet."]
    assert fallbacks(await router.dispatch(command("kudos", "@ben danke"), services)) == [
        "Kudos ist in diesem Workspace ausgeschaltet."  # named from the privacy catalog
    ]
    assert await router.dispatch(said("@ben :star: danke"), services) == []  # a switched-off route is passed over
    assert fallbacks(await router.dispatch(ActionEvent(actor=ACTOR, action_id="vote:1"), services)) == [
        "boards ist in diesem Workspace ausgeschaltet."
    ]
    off.clear()
    assert fallbacks(await router.dispatch(said("@ben :star: danke"), services)) == ["emoji"]
    assert fallbacks(await router.dispatch(command("kudos", "board"), services)) == ["board"]
