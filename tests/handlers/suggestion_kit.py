"""Helpers for the suggestion box tests: fill the form, press buttons, run a scheduler tick, read rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core.events import ActionEvent, Conversation
from bot.scheduler import run_tick
from storage.suggestions import Suggestion, SuggestionEvent, SuggestionFollower, SuggestionVote
from tests.kit import BotHarness

TRAVEL = {
    "title": "Reisekosten: drei Unterschriften für kleine Beträge",
    "problem": "Für jede Reisekostenabrechnung brauche ich drei Unterschriften, auch bei 20 Euro.",
    "proposal": "Bis 100 Euro reicht eine Unterschrift der Teamleitung.",
    "category": "approval",
}
LEAVE = {
    "title": "Urlaubsantrag auf Papier",
    "problem": "Der Urlaubsantrag muss ausgedruckt, unterschrieben und eingescannt werden.",
    "proposal": "Urlaub im HR-System digital beantragen.",
    "category": "form",
}


async def fill_form(
    bot: BotHarness,
    who: str,
    *,
    title: str,
    problem: str,
    proposal: str,
    category: str,
    department: str = "",
    customers: bool = False,
    anonymous: bool = False,
) -> str:
    """Open the form with ``suggest`` and answer it prompt by prompt; returns what the last answer showed."""
    out = await bot.say("suggest", as_=who)
    assert "Vorschlag einreichen" in out or "Submit a suggestion" in out, out
    answers = [title, problem, proposal, category, department, "y" if customers else "n", "y" if anonymous else "n"]
    for answer in answers:
        out = await bot.say(answer, as_=who)
    return out


async def press(bot: BotHarness, action_id: str, *, as_: str, value: str = "") -> str:
    """A button press as it arrives from a card in a channel or DM (the console cannot click those)."""
    bot.console.user = as_
    start = len(bot.output)
    actor = await bot.console._actor()
    await bot.console.send_event(
        ActionEvent(
            actor=actor,
            conversation=Conversation(id=bot.console.channel, kind="channel"),
            action_id=action_id,
            value=value or action_id.rsplit(":", 1)[-1],
        )
    )
    return "\n".join(bot.output[start:])


async def click(bot: BotHarness, label: str, *, as_: str) -> str:
    """Press the button labelled ``label`` on the last message the console showed."""
    labels = [b[0] for b in bot.console.buttons]
    matches = [i for i, text in enumerate(labels) if label in text]
    assert matches, f"no button {label!r} in {labels}"
    return await bot.say(f"/click {matches[0] + 1}", as_=as_)


async def tick(bot: BotHarness) -> str:
    """One scheduler tick at the test clock's time, then deliver the outbox; returns what was shown."""
    start = len(bot.output)
    await run_tick(bot.app.router, bot.app.services, bot.clock.now)
    await bot.app.outbox.drain()
    return "\n".join(bot.output[start:])


async def suggestions(bot: BotHarness) -> list[Suggestion]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(Suggestion).order_by(Suggestion.id))).scalars().all())  # type: ignore[arg-type]


async def one(bot: BotHarness, sid: int) -> Suggestion:
    async with bot.app.sessions() as s:
        row = await s.get(Suggestion, sid)
        assert row is not None
        return row


async def trail(bot: BotHarness, sid: int) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    """(kind, actor, from, to, note) of every audit row of a suggestion, in order."""
    async with bot.app.sessions() as s:
        rows = (
            await s.execute(
                select(SuggestionEvent)
                .where(SuggestionEvent.suggestion_id == sid)  # type: ignore[arg-type]
                .order_by(SuggestionEvent.at, SuggestionEvent.id)  # type: ignore[arg-type]
            )
        ).scalars()
        return [(e.kind, e.actor_id, e.from_status, e.to_status, e.note) for e in rows]


async def supporters(bot: BotHarness, sid: int) -> tuple[set[str], set[str]]:
    async with bot.app.sessions() as s:
        votes = (await s.execute(select(SuggestionVote.user_id).where(SuggestionVote.suggestion_id == sid))).scalars()
        follows = (
            await s.execute(select(SuggestionFollower.user_id).where(SuggestionFollower.suggestion_id == sid))
        ).scalars()
        return set(votes), set(follows)


def dm_blocks(out: str, user: str) -> str:
    """The text of every DM to ``user`` in a console output."""
    parts = out.split("→ ")
    return "\n".join(p for p in parts if p.startswith(f"DM to @{user}:"))


def only(values: list[Any]) -> Any:
    assert len(values) == 1, values
    return values[0]
