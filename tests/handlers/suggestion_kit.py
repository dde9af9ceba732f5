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
    """Open the form with ``suggest`` and submit it with these values, as Slack or Teams send a form (the
    console's own prompting, which asks a bad field again, is tested in tests/bot/test_console.py); returns
    what the submission showed."""
    out = await bot.say("suggest", as_=who)
    assert "Vorschlag einreichen" in out or "Submit a suggestion" in out, out
    form = bot.console._form
    assert form is not None
    bot.console._form = None
    values = {
        "title": title,
        "problem": problem,
        "proposal": proposal,
        "category": category,
        "department": department,
        "customers": "true" if customers else "",
        "anonymous": "true" if anonymous else "",
    }
    ids = [field.id for field in form.inputs]
    assert set(values) >= set(ids), ids
    start = len(bot.output)
    await bot.console.send_event(
        ActionEvent(
            actor=await bot.console._actor(),
            conversation=Conversation(id=bot.console.channel, kind="channel"),
            action_id=form.action_id,
            value=form.private_metadata,
            form={k: values[k] for k in ids},
            is_form=True,
        )
    )
    return "\n".join(bot.output[start:])


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
    """Press the latest button labelled ``label`` the console showed (buttons are numbered across messages)."""
    labels = [b[0] for b in bot.console.buttons]
    matches = [i for i, text in enumerate(labels) if label in text]
    assert matches, f"no button {label!r} in {labels}"
    return await bot.say(f"/click {matches[-1] + 1}", as_=as_)


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
    return "\n".join(p for p in parts if p.startswith((f"DM an @{user}:", f"DM to @{user}:")))


def only(values: list[Any]) -> Any:
    assert len(values) == 1, values
    return values[0]
