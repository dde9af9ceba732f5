from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from storage.privacy import AuditEntry
from tests.kit import BotHarness


async def test_my_data_cli_exports_and_is_audited(
    bot: BotHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.say("kudos @anna danke für die Hilfe beim schwierigen Kunden #kundenfokus", as_="max")
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    out = tmp_path / "anna.json"
    code = await asyncio.to_thread(
        main, ["my-data", "--workspace", bot.workspace_id, "--user", "anna", "--out", str(out)]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["user_id"] == "anna"
    assert any(r["reason"] == "danke für die Hilfe beim schwierigen Kunden" for r in data["tables"]["kudos"])
    assert [m["display_name"] for m in data["tables"]["member"]] == ["Anna Schmidt"]
    async with bot.app.sessions() as s:
        audit = (await s.execute(select(AuditEntry).where(AuditEntry.subject_id == "anna"))).scalars().all()
    assert [(a.actor_id, a.action) for a in audit] == [("cli", "privacy.export_lookup")]


async def test_privacy_sheet_cli_names_hosting_llm_and_subprocessors(
    bot: BotHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.say("privacy profile works-council", as_="max")
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    monkeypatch.setenv("STARLING_SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("STARLING_OPENAI_BASE_URL", "https://llm.example.eu/v1")
    out = tmp_path / "sheet.md"
    assert await asyncio.to_thread(main, ["privacy-sheet", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "# Starling: Datenschutz-Faktenblatt" in text and "# Starling: privacy fact sheet" in text
    assert "Slack (Salesforce)" in text and "Microsoft" not in text
    assert "llm.example.eu (Language model (LLM): off)" in text
    assert "llm.example.eu: language model" not in text  # not a sub-processor while switched off
    assert "Data is deleted after: 12 months" in text
