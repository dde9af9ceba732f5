"""The fact sheet says what the gates do: built from the same switches, policies and person columns."""

from __future__ import annotations

import pytest

from handlers.privacy import build_sheet
from storage import privacy as store
from tests.kit import BotHarness, Clock


async def sheet(bot: BotHarness, lang: str = "de") -> str:
    ws = bot.workspace_id
    async with bot.app.sessions() as s:
        workspace = await s.get(store.Workspace, ws)
        assert workspace is not None
        return await build_sheet(s, workspace=workspace, settings=bot.settings, lang=lang, now=bot.clock.now)


@pytest.mark.parametrize(
    ("key", "profile", "expected"),
    [
        (None, "standard", "aus (kein Sprachmodell eingerichtet)"),
        ("sk-test", "works-council", "ausgeschaltet: es wird nichts gesendet"),
        ("sk-test", "standard", "Auftragsverarbeiter (Vertrag nach Art. 28 DSGVO nötig)"),
    ],
)
async def test_sheet_names_the_model_recipient_exactly_when_texts_go_out(
    db_url: str, clock: Clock, key: str | None, profile: str, expected: str
) -> None:
    settings = {"openai_api_key": key, "openai_base_url": "https://api.example-llm.eu/v1"} if key else {}
    bot = await BotHarness(db_url, clock, **settings).start()
    try:
        await bot.say(f"privacy profile {profile}", as_="max")
        text = await sheet(bot)
        gate_allows = await bot.app.services.model.allowed(bot.workspace_id)
    finally:
        await bot.close()
    assert expected in text
    assert ("Sprachmodell-Anbieter, Auftragsverarbeiter" in text) == gate_allows
    assert "Unterauftragsverarbeiter" not in text and "Empfänger personenbezogener Daten" in text


async def test_sheet_lists_every_person_column_and_the_real_retention(bot: BotHarness) -> None:
    await bot.say("privacy retention 6", as_="max")
    text = await sheet(bot)
    for table in store.all_tables():
        for column in store.person_columns(table):
            row = next((line for line in text.splitlines() if line.startswith(f"| `{table.name}` |")), "")
            assert column in row, (table.name, column)
    assert "solange die Person Starling nutzt" not in text
    assert "frühestens nach 24 Monaten" in text  # the audit floor
    assert "nicht zustellbare nach 7 Tagen" in text
    assert "gelöscht nach 2 Tagen" in text  # dedupe keys
    assert "Ausgeschiedene" in text
    # the overview's roll-up is history computed from the kudos, not configuration
    for table in ("kudos_week", "kudos_person"):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{table}` |"))
        assert "aus `kudos` berechnet und mit diesen Zeilen gelöscht (nach 6 Monaten" in row, row
