"""Shared helpers for the kudos tests: a team without history, database snapshots, events, board parsing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bot.console.adapter import WORKSPACE
from bot.console.demo import COLLEAGUES
from bot.core.events import Actor, CommandEvent, Conversation, Event, Platform
from storage import core
from storage.db import transaction
from storage.models import BudgetDay, Kudos, OutboxMessage, Workspace
from tests.kit import BotHarness, Clock


async def team_harness(db_url: str, clock: Clock) -> BotHarness:
    """The demo colleagues (departments, max as admin) but no kudos history."""
    bot = BotHarness(db_url, clock)
    async with transaction(bot.app.sessions) as s:
        await core.ensure_workspace(
            s, workspace_id=WORKSPACE, platform="console", locale="de", timezone="Europe/Berlin", name="Console"
        )
        for uid, name, dept, admin in COLLEAGUES:
            await core.upsert_member(
                s,
                workspace_id=WORKSPACE,
                user_id=uid,
                display_name=name,
                handle=uid,
                department=dept,
                is_admin=admin,
            )
    await bot.start(demo=False)
    return bot


async def add_member(bot: BotHarness, user_id: str, **info: Any) -> None:
    async with transaction(bot.app.sessions) as s:
        await core.upsert_member(s, workspace_id=bot.workspace_id, user_id=user_id, **info)


@dataclass(frozen=True)
class Snapshot:
    """What a refused request must leave untouched."""

    kudos: int
    points: int
    budget_spent: int
    outbox: int


async def snapshot(bot: BotHarness) -> Snapshot:
    ws = bot.workspace_id
    async with bot.app.sessions() as s:
        kudos = (await s.execute(select(func.count()).select_from(Kudos).where(Kudos.workspace_id == ws))).scalar_one()
        points = (
            await s.execute(select(func.coalesce(func.sum(Kudos.points), 0)).where(Kudos.workspace_id == ws))
        ).scalar_one()
        spent = (
            await s.execute(select(func.coalesce(func.sum(BudgetDay.spent), 0)).where(BudgetDay.workspace_id == ws))
        ).scalar_one()
        outbox = (
            await s.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.workspace_id == ws))
        ).scalar_one()
    return Snapshot(int(kudos), int(points), int(spent), int(outbox))


async def kudos_rows(bot: BotHarness, **where: Any) -> list[Kudos]:
    stmt = select(Kudos).where(Kudos.workspace_id == bot.workspace_id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Kudos, key) == value)
    async with bot.app.sessions() as s:
        return list((await s.execute(stmt.order_by(Kudos.id))).scalars().all())


async def budget_spent(bot: BotHarness, user_id: str) -> dict[str, int]:
    """Points spent per local day (ISO date) by one giver."""
    async with bot.app.sessions() as s:
        rows = (
            await s.execute(
                select(BudgetDay).where(BudgetDay.workspace_id == bot.workspace_id, BudgetDay.user_id == user_id)
            )
        ).scalars()
        return {r.day.isoformat(): r.spent for r in rows if r.spent}


async def workspace(bot: BotHarness) -> Workspace:
    async with bot.app.sessions() as s:
        ws = await s.get(Workspace, bot.workspace_id)
        assert ws is not None
        return ws


def assert_only_you(out: str, *expected: str) -> None:
    """Exactly one message, visible only to the actor, containing every expected text; nothing delivered."""
    marker = "(only you)" if out.startswith("(only you) ") else "(privat)"  # the console's words, en or de
    assert out.startswith(marker + " "), out
    assert out.count(marker) == 1, out
    assert "→" not in out, out
    for text in expected:
        assert text in out, f"{text!r} not in {out!r}"


async def refused(bot: BotHarness, line: str, *expected: str, as_: str | None = None) -> str:
    """Say ``line``; assert a private refusal and that nothing at all was written."""
    before = await snapshot(bot)
    out = await bot.say(line, as_=as_)
    assert_only_you(out, *expected)
    assert await snapshot(bot) == before
    return out


def actor(user_id: str, **info: Any) -> Actor:
    """A console actor; the display name stays as the directory knows it."""
    return Actor(platform=Platform.CONSOLE, workspace_id=WORKSPACE, user_id=user_id, **info)


def command(user_id: str, text: str, *, name: str = "kudos", event_id: str | None = None, **info: Any) -> CommandEvent:
    """A ``/kudos …`` command as a platform adapter would hand it over (mentions as ``<@id>`` tokens)."""
    return CommandEvent(
        actor=actor(user_id, **info),
        conversation=Conversation(id="general", kind="channel"),
        name=name,
        text=text,
        event_id=event_id or f"Ev{uuid.uuid4().hex[:10]}",
    )


async def send(bot: BotHarness, event: Event) -> str:
    """Dispatch a neutral event through the console (real router, outbox drained); what the terminal showed."""
    start = len(bot.output)
    await bot.console.send_event(event)
    return "\n".join(bot.output[start:])


BAR_LINE = re.compile(r"^\s*(\d+)\. (.+?)\s+█+\s+(\d+) (?:Punkte?|points?)( ◀)?$")


def board(out: str) -> list[tuple[int, str, int]]:
    """(rank, name, points) rows of a rendered leaderboard."""
    rows = []
    for line in out.splitlines():
        m = BAR_LINE.match(line)
        if m:
            rows.append((int(m.group(1)), m.group(2).strip(), int(m.group(3))))
    return rows
