"""Whatever message a value ends up in: a session through the real router and handlers (the console adapter),
where the people's display names and departments from the directory, a value label, a suggestion, a goal, a
pulse question, a goodwill story, a prompt answer and typed subcommands are all hostile. Every message the
handlers produce on the way (replies, DMs, channel posts, cards, forms) is rendered for Slack and for Teams and
must show no live mention, link, tag or formatting from a value."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.core.messages import Message
from storage.models import Member
from tests.handlers.suggestion_kit import fill_form, press, tick
from tests.kit import BotHarness, Clock
from tests.test_escaping import slack_live, teams_live

# No <@…> or <#…> in what is typed: the console reads those as the mentions and channels they are. Names and
# departments come from the directory, where they may hold anything.
TYPED = "<!channel> @here *Eve* _x_ ~y~ `z` <http://evil.example|klick> [x](javascript:alert(1)) <at>Eve</at> <b>b</b>"
PEOPLE = frozenset({"max", "anna", "ben", "clara", "deniz", "emma", "felix", "greta"})  # the console's colleagues
NAME = "<!channel> <@UEVIL> <#CEVIL> *Eve* [x](javascript:alert(1)) <at>Eve</at> <b>b</b>"


async def test_a_session_with_hostile_values_everywhere_shows_none_of_them_live(bot: BotHarness, clock: Clock) -> None:
    seen: list[Message] = []
    render = bot.console._render

    def recording(message: Message, names: dict[str, str]) -> str:
        seen.append(message)
        return render(message, names)

    bot.console._render = recording  # type: ignore[method-assign]
    async with bot.app.sessions() as session:
        for member in (await session.execute(select(Member))).scalars():
            if member.user_id in ("anna", "ben"):
                member.display_name = NAME + " " + member.user_id
                member.department = "Kundenservice " + NAME
        await session.commit()

    steps: list[tuple[str, str]] = [
        ("max", f"starling values add #evil {TYPED} / {TYPED}"),
        ("max", "starling values list"),
        ("anna", "kudos @ben danke für die schnelle Hilfe beim Kunden #evil"),
        ("ben", f"kudos @anna danke für die Hilfe {TYPED} #kundenfokus"),
        ("max", "leaderboard month"),
        ("max", "leaderboard all given"),
        ("max", f"leaderboard all dept:{TYPED}"),
        ("max", f"starling department @clara {TYPED}"),
        ("max", f"goal set #general {TYPED}"),
        ("max", "goal show"),
        ("max", f"pulse start #general {TYPED}"),
        ("anna", f"pulse answer {TYPED}"),
        ("max", "goodwill budget #general 1000 EUR per year, per case 100"),
        ("anna", f"goodwill 80 EUR {TYPED}"),
        ("anna", f"goodwill 150 EUR {TYPED}"),
        ("max", f"digest {TYPED}"),
        ("max", f"{TYPED}"),
        ("max", "digest preview #general"),
        ("max", "digest leaderboard vorschau #general"),
    ]
    for who, line in steps:
        await bot.say(line, as_=who)
    await fill_form(bot, "anna", title=TYPED, problem=TYPED, proposal=TYPED, category="form", department=TYPED)
    await fill_form(bot, "ben", title=TYPED, problem=TYPED, proposal=TYPED, category="form")
    await tick(bot)
    await press(bot, "suggest:start:2", as_="max")
    await bot.say("suggest list", as_="max")
    await bot.say("suggest show 2", as_="anna")
    clock.advance(days=8)
    await tick(bot)

    assert len(seen) >= 30, len(seen)
    shown = "\n".join(m.model_dump_json() for m in seen)
    assert "Eve" in shown and "klick" in shown  # the values did reach the messages
    names: dict[str, Any] = {"anna": NAME, "ben": NAME, "max": "Max Weber", "UEVIL": NAME}
    live = {}
    for i, message in enumerate(seen):
        found = slack_live(message) + teams_live(message, names, mentions=False)
        found += teams_live(message, names, mentions=True, meant=PEOPLE)
        if found:
            live[i] = (message.fallback()[:120], found[:3])
    assert live == {}
