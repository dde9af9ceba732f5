from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Kudos
from tests.kit import BotHarness


async def count_kudos(bot: BotHarness) -> int:
    async with bot.app.sessions() as s:
        return int(
            (await s.execute(select(func.count()).select_from(Kudos).where(Kudos.giver_id == "max"))).scalar_one()
        )


async def test_give_kudos_posts_celebration_dm_and_confirms(bot: BotHarness) -> None:
    before = await count_kudos(bot)
    out = await bot.say("kudos @anna danke für die Hilfe beim Kundentermin #kundenfokus")
    assert "Kudos an @Anna Schmidt verschickt" in out
    assert "noch 4 von 5 Punkten" in out
    assert "→ #general" in out and "Wert: Kundenfokus" in out
    assert "→ DM an @anna" in out
    assert await count_kudos(bot) == before + 1
    board = await bot.say("leaderboard week")
    assert "Anna Schmidt" in board


async def test_self_kudos_refused_nothing_written(bot: BotHarness) -> None:
    before = await count_kudos(bot)
    out = await bot.say("kudos @max danke für meine eigene tolle Arbeit")
    assert "(privat)" in out and "Kudos an dich selbst zählen nicht" in out
    assert await count_kudos(bot) == before
