"""Customer voice: quotes from a CSV file (CLI) and from a help desk (webhook), scrubbed before storage,
and prompts built around them; the workspace's own prompts from a file."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from bot.cli import main
from bot.console.adapter import WORKSPACE
from bot.feedback_webhook import handle_feedback
from bot.scheduler import run_tick
from storage.prompts import CustomerFeedback, CustomPrompt, PromptPost
from tests.kit import BotHarness, Clock

TOKEN = "hd-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The command line configures logging for the process; put the test's back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


async def cli(argv: list[str]) -> int:
    """The ``starling`` command line, in its own thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, argv)


async def feedback(bot: BotHarness) -> list[CustomerFeedback]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(CustomerFeedback).order_by(CustomerFeedback.id))).scalars().all())


async def test_import_feedback_cli_scrubs_and_skips_duplicates(
    bot: BotHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    csv_file = tmp_path / "tickets.csv"
    csv_file.write_text(
        "\ufeffID;Kommentar;Art\n"
        "T-1;Ich warte seit drei Wochen, ruft mich an: 0171 1234567!;Beschwerde\n"
        "T-2;Super Beratung, danke an das Team! Meine Mail: anna.kunde@example.org;Lob\n"
        "T-3;ok;\n",
        encoding="utf-8",
    )
    assert await cli(["import-feedback", str(csv_file)]) == 0
    assert "2 quotes imported into console:local (2 personal details removed, 0 already there, 1 too short)" in (
        capsys.readouterr().out
    )
    rows = await feedback(bot)
    assert [(r.text, r.kind, r.external_id, r.source) for r in rows] == [
        ("Ich warte seit drei Wochen, ruft mich an: [phone]!", "complaint", "T-1", "csv"),
        ("Super Beratung, danke an das Team! Meine Mail: [email]", "praise", "T-2", "csv"),
    ]
    assert await cli(["import-feedback", str(csv_file)]) == 0
    assert "0 quotes imported" in capsys.readouterr().out and len(await feedback(bot)) == 2

    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\nAnna,5\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="text column"):
        await cli(["import-feedback", str(bad)])
    with pytest.raises(SystemExit, match="no workspace 'slack:T0'"):
        await cli(["import-feedback", str(csv_file), "--workspace", "slack:T0"])


async def test_import_prompts_cli(
    bot: BotHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STARLING_DATABASE_URL", db_url)
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "prompts:\n"
        "  - {category: internal, de: 'Wie erlebt die IT unsere Tickets?', en: 'How does IT see our tickets?'}\n"
        "  - {category: goals, de: 'Was soll man nach einem Anruf bei uns fühlen?', en: 'How should a call with us feel?'}\n",
        encoding="utf-8",
    )
    assert await cli(["import-prompts", str(pack)]) == 0
    assert "2 prompts added to console:local" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("prompts:\n  - {category: internal, de: 'Gut so?', en: ''}\n  - {category: x, de: 'y'}\n")
    with pytest.raises(SystemExit, match="prompt #1"):
        await cli(["import-prompts", str(broken)])
    async with bot.app.sessions() as s:
        rows = (await s.execute(select(CustomPrompt))).scalars().all()
    assert [(r.category, r.source, r.status) for r in rows] == [
        ("internal", "file", "active"),
        ("goals", "file", "active"),
    ]


@pytest.fixture
async def hook_bot(db_url: str, clock: Clock) -> BotHarness:
    bot = BotHarness(db_url, clock, feedback_webhook_token=TOKEN)
    await bot.start()
    yield bot  # type: ignore[misc]
    await bot.close()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_webhook_needs_the_token_and_stores_scrubbed_quotes_once(hook_bot: BotHarness) -> None:
    bot = hook_bot
    body = json.dumps(
        {
            "workspace": WORKSPACE,
            "items": [{"id": "zd-1", "text": "Meine IBAN DE89 3704 0044 0532 0130 00 wurde doppelt belastet."}],
        }
    ).encode()
    assert (await handle_feedback(bot.app, body, {}))[0] == 401
    assert (await handle_feedback(bot.app, body, auth("wrong-token")))[0] == 401
    assert (await handle_feedback(bot.app, body, {"authorization": f"Basic {TOKEN}"}))[0] == 401
    status, answer = await handle_feedback(bot.app, body, {"authorization": f"bearer {TOKEN}"})
    assert (status, answer["stored"], answer["redactions"]) == (200, 1, 1)
    status, answer = await handle_feedback(bot.app, body, auth())  # the help desk retries
    assert (status, answer["stored"], answer["duplicates"]) == (200, 0, 1)
    single = json.dumps({"text": "Niemand hat zurückgerufen.", "kind": "complaint"}).encode()
    assert (await handle_feedback(bot.app, single, auth()))[0] == 200  # one workspace: it may be left out
    assert [(r.text, r.source) for r in await feedback(bot)] == [
        ("Meine IBAN [IBAN] wurde doppelt belastet.", "webhook"),
        ("Niemand hat zurückgerufen.", "webhook"),
    ]
    assert await handle_feedback(bot.app, b"{not json", auth()) == (400, {"ok": False, "error": "invalid_json"})
    assert (await handle_feedback(bot.app, json.dumps({"items": [{"id": 1}]}).encode(), auth()))[0] == 400
    unknown = json.dumps({"workspace": "slack:T0", "text": "Hallo, wo bleibt meine Lieferung?"}).encode()
    assert (await handle_feedback(bot.app, unknown, auth()))[0] == 404
    assert (await handle_feedback(bot.app, b"x" * (300 * 1024), auth()))[0] == 413
    assert len(await feedback(bot)) == 2


async def test_webhook_is_off_without_a_token(bot: BotHarness) -> None:
    assert (await handle_feedback(bot.app, b"{}", auth()))[0] == 404


async def test_every_third_prompt_is_built_around_a_real_quote(bot: BotHarness) -> None:
    await bot.say("prompt zitat Ich habe fünfmal angerufen und jedes Mal jemand anderen erreicht. max@example.com")
    await bot.say("prompt subscribe 09:30 täglich Europe/Berlin")
    start = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    shown = []
    for day in range(6):
        first = len(bot.output)
        bot.clock.set(start + timedelta(days=day))
        await run_tick(bot.app.router, bot.app.services, bot.clock())
        await bot.app.outbox.drain()
        shown.append("\n".join(bot.output[first:]))
    async with bot.app.sessions() as s:
        posts = (await s.execute(select(PromptPost).order_by(PromptPost.day))).scalars().all()
    assert [p.feedback_id is not None for p in posts] == [False, False, True, False, False, False]
    quote = posts[2]
    assert (
        quote.category == "voice"
        and "Ich habe fünfmal angerufen und jedes Mal jemand anderen erreicht. [email]" in quote.text
    )
    assert "fünfmal angerufen" in shown[2] and "max@example.com" not in shown[2]
    # with customer voice deselected, quotes stay out
    await bot.say("prompt kategorien perspective")
    await bot.say("prompt zitat Die App stürzt bei jeder Zahlung ab, das nervt.")
    for day in range(6, 9):
        await run_tick(bot.app.router, bot.app.services, start + timedelta(days=day))
    async with bot.app.sessions() as s:
        later = (await s.execute(select(PromptPost).where(PromptPost.day > posts[-1].day))).scalars().all()
    assert len(later) == 3 and all(p.category == "perspective" for p in later)


async def test_a_channel_with_only_customer_voice_gets_a_quote_every_day_while_there_are_quotes(
    bot: BotHarness,
) -> None:
    await bot.say("prompt zitat Warum muss ich meine Kundennummer dreimal nennen?")
    await bot.say("prompt zitat Der Techniker kam pünktlich und hat alles erklärt, danke!")
    await bot.say("prompt subscribe 09:30 täglich Europe/Berlin")
    await bot.say("prompt kategorien kundenstimme")
    start = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    for day in range(3):
        await run_tick(bot.app.router, bot.app.services, start + timedelta(days=day))
    async with bot.app.sessions() as s:
        posts = (await s.execute(select(PromptPost).order_by(PromptPost.day))).scalars().all()
    assert [p.category for p in posts[:2]] == ["voice", "voice"]
    assert "Kundennummer dreimal" in posts[0].text and "Techniker kam pünktlich" in posts[1].text
    assert posts[2].feedback_id is None  # quotes used up: the library fills in
