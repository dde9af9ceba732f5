"""The goodwill budget in the console: budgets, cases settled by rule or by an approver, the ledger, the CSV
for finance, the digest, kudos for customer moments, privacy, and every friendly refusal."""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.events import ActionEvent, Actor, CommandEvent, Conversation, Platform
from bot.scheduler import run_tick
from storage.goodwill import GoodwillCase, GoodwillEntry, GoodwillPeriod
from storage.models import Kudos
from tests.handlers.suggestion_kit import press
from tests.kit import BotHarness, Clock

ATTACHMENT_RE = re.compile(r"📎 (\S+): (\S+)")
BUDGET = "goodwill budget #general 1000 EUR per year, per case 100"


@pytest.fixture
async def anybot(any_db_url: str, clock: Clock) -> AsyncIterator[BotHarness]:
    harness = BotHarness(any_db_url, clock)
    await harness.start()
    yield harness
    await harness.close()


def attachment(out: str, name_part: str) -> Path:
    for name, path in ATTACHMENT_RE.findall(out):
        if name_part in name:
            return Path(path)
    raise AssertionError(f"no attachment {name_part!r} in {out}")


async def rows(bot: BotHarness, model: type) -> list:  # type: ignore[type-arg]
    async with bot.app.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def count(bot: BotHarness, model: type) -> int:
    async with bot.app.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize(
    ("lang", "tone", "spent_text", "approved", "case_line", "confirmed"),
    [
        (
            "de",
            "du",
            "230 von 1.000 EUR ausgegeben",
            "Du hörst von mir",
            "Für den Kulanzfall #1 (80 EUR)",
            "nach Regel",
        ),
        (
            "de",
            "sie",
            "230 von 1.000 EUR ausgegeben",
            "Sie hören von mir",
            "Für den Kulanzfall #1 (80 EUR)",
            "nach Regel",
        ),
        ("en", "du", "230 of 1,000 EUR spent", "You'll hear from me", "For goodwill case #1 (80 EUR)", "by rule"),
    ],
)
async def test_the_whole_story_in_the_console(
    anybot: BotHarness, lang: str, tone: str, spent_text: str, approved: str, case_line: str, confirmed: str
) -> None:
    bot = anybot
    dm = "→ DM an" if lang == "de" else "→ DM to"  # the console's words follow the reader's language
    await bot.say(f"starling set language {lang}", as_="max")
    await bot.say(f"starling set tone {tone}", as_="max")
    assert "1" in await bot.say(BUDGET, as_="max")

    out = await bot.say(
        "goodwill 80 EUR Ersatzteil kam 3 Wochen zu spät, Versand erstattet #kundenfokus ref:T-4711", as_="anna"
    )
    assert "#1" in out and confirmed in out and "920 EUR" in out and out.startswith(("(privat)", "(only you)"))

    out = await bot.say("goodwill 150 EUR Neues Gerät statt Reparatur #kundenfokus", as_="anna")
    assert "#2" in out and "Max Weber" in out and approved in out  # who decides, by when
    assert f"{dm} @max" in out and "[" in out  # the decision card with its buttons
    out = await press(bot, "goodwill:approve:2", as_="max")
    assert "#2" in out and f"{dm} @anna" in out

    out = await bot.say("goodwill", as_="anna")
    assert spent_text in out and "█" in out

    out = await bot.say("goodwill export", as_="max")
    lines = list(csv.DictReader(attachment(out, "goodwill").read_text(encoding="utf-8").splitlines()))
    assert [(r["case"], r["amount"], r["currency"], r["approved_by"], r["reference"]) for r in lines] == [
        ("1", "80.00", "EUR", "rule", "T-4711"),
        ("2", "150.00", "EUR", "Max Weber", ""),
    ]

    out = await bot.say("kudos @anna danke für die schnelle Kulanz beim Ersatzteil goodwill:1 #kundenfokus", as_="ben")
    assert out.count(case_line) == 2  # the celebration and the DM
    (k,) = [k for k in await rows(bot, Kudos) if k.moment_kind]
    assert (k.moment_kind, k.moment_id) == ("goodwill", 1)

    out = await bot.say("digest preview #general", as_="max")
    assert re.search(r"(Kulanzfall|Goodwill case) #1", out)
    assert re.search(r"1 (Kudos an einen Kulanzfall|kudos went to a goodwill case)", out)
    # One person's cases would be one person's spend: the figures wait for the minimum group.
    assert re.search(r"(sobald mindestens 5 Personen|once at least 5 people)", out)
    assert not re.search(r"2 (Kulanzfälle|goodwill cases)", out)
    await bot.say("privacy min-group 1", as_="max")
    out = await bot.say("digest preview #general", as_="max")
    assert re.search(r"2 (Kulanzfälle|goodwill cases)", out) and "1.000 EUR" in out.replace("1,000", "1.000")


async def test_limits_rule_count_and_what_is_left(bot: BotHarness) -> None:
    await bot.say("goodwill budget #general 300 EUR per quarter, 2 cases", as_="max")
    assert "nach Regel" in await bot.say("goodwill 100 EUR Versand erstattet", as_="anna")
    assert "nach Regel" in await bot.say("goodwill 100 EUR Gutschein für Wartezeit", as_="ben")
    out = await bot.say("goodwill 50 EUR dritter Fall im Quartal", as_="anna")
    assert "geht an" in out and "2 Fälle pro Periode" in out
    await bot.say("goodwill budget #general 300 EUR per quarter", as_="max")
    out = await bot.say("goodwill 150 EUR mehr als übrig", as_="anna")
    assert "geht an" in out and "nur noch 100 EUR im Budget" in out
    assert "Q4 2026" in await bot.say("goodwill", as_="anna")


async def test_decline_needs_a_reason_and_tells_the_person(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    await bot.say("goodwill 150 EUR Neues Gerät statt Reparatur", as_="anna")
    out = await press(bot, "goodwill:decline:1", as_="max")
    assert "Begründung" in out  # the reason form opened
    out = await bot.say("Reparatur reicht hier", as_="max")
    assert "abgelehnt" in out and "→ DM an @anna" in out and "Reparatur reicht hier" in out
    assert await count(bot, GoodwillEntry) == 0
    out = await press(bot, "goodwill:approve:1", as_="max")
    assert "bereits abgelehnt" in out  # a later click changes nothing
    assert "nur die Entscheidenden" in await bot.say("goodwill approve 1", as_="ben")


async def test_a_double_click_and_a_retry_count_once(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    form = {"amount": "40", "story": "Versandkosten erstattet", "category": "kundenfokus", "reference": ""}
    actor = Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="anna")
    conv = Conversation(id="general", kind="channel")
    for n in range(2):  # two submissions of the same opened form (a double click): two event ids
        ev = ActionEvent(
            actor=actor,
            conversation=conv,
            action_id="goodwill:new",
            value="|tok123",
            form=form,
            is_form=True,
            event_id=f"sub{n}",
        )
        await bot.console.send_event(ev)
    cmd = CommandEvent(
        actor=actor, conversation=conv, name="goodwill", text="30 EUR Gutschein", message_id="m1", event_id="e1"
    )
    for event_id in ("e1", "e1", "e2"):  # the platform's retry (same event id), then a redelivery under a new id
        await bot.console.send_event(cmd.model_copy(update={"event_id": event_id}))
    assert sorted(c.amount for c in await rows(bot, GoodwillCase)) == [3000, 4000]
    (period,) = await rows(bot, GoodwillPeriod)
    assert period.spent == 7000


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("goodwill Versand erstattet", "Wie viel?"),
        ("goodwill -20 EUR Versand erstattet", "nicht negativ"),
        ("goodwill 0 EUR Versand erstattet", "größer als null"),
        ("goodwill 20000000 EUR Versand erstattet", "mehr als jeder Kulanzfall"),
        ("goodwill 20 XYZ Versand erstattet", "Die Währung XYZ kenne ich nicht"),
        ("goodwill 20 CHF Versand erstattet", "bucht Kulanz in EUR"),
        ("goodwill 20,505 EUR Versand erstattet", "mehr Nachkommastellen als EUR erlaubt"),
        ("goodwill 20 EUR", "was du für den Kunden getan hast"),
        ("goodwill 20 EUR Versand ref:anna@example.com", "Ticketnummer"),
    ],
)
async def test_bad_input_gets_a_friendly_private_reply_and_books_nothing(
    bot: BotHarness, line: str, expected: str
) -> None:
    await bot.say(BUDGET, as_="max")
    out = await bot.say(line, as_="anna")
    assert expected in out and out.startswith("(privat)"), out
    assert await count(bot, GoodwillCase) == 0


async def test_a_budget_by_a_non_admin_and_a_case_from_outside_the_team_are_refused(bot: BotHarness) -> None:
    out = await bot.say("goodwill budget #general 1000 EUR per year", as_="anna")
    assert "legen die Admins" in out and out.startswith("(privat)")
    await bot.say("goodwill budget dept:Kundenservice 1000 EUR per year, per case 100", as_="max")
    out = await bot.say("goodwill 20 EUR Versand erstattet", as_="clara")  # IT, not Kundenservice
    assert "gehörst nicht zu Kundenservice" in out
    assert "nach Regel" in await bot.say("goodwill 20 EUR Versand erstattet", as_="anna")
    await bot.say("goodwill budget #general 500 EUR per month", as_="max")
    await bot.say("goodwill team #general @ben", as_="max")
    assert "gehörst nicht zu" in await bot.say("goodwill 20 EUR Versand erstattet #general", as_="anna")
    await bot.say("/channel random", as_="anna")
    assert "gehörst nicht zu" in await bot.say("goodwill 20 EUR Versand erstattet #general", as_="anna")
    assert "nach Regel" in await bot.say("goodwill 20 EUR Versand erstattet #general", as_="ben")


async def test_names_email_phone_and_iban_are_removed_and_the_person_is_told(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    out = await bot.say(
        "goodwill 20 EUR Frau Kowalski bekam Ersatz, Rückruf an +49 170 1234567, kowalski@example.com, "
        "Erstattung auf DE89 3704 0044 0532 0130 00 #kundenfokus",
        as_="anna",
    )
    assert "1 Namen" in out and "1 E-Mail-Adresse" in out and "1 Telefonnummer" in out and "1 IBAN" in out
    (case,) = await rows(bot, GoodwillCase)
    assert "Kowalski" not in case.story and "1234567" not in case.story and "DE89" not in case.story
    assert "[name]" in case.story and "[IBAN]" in case.story


async def test_reversal_is_an_entry_and_returns_the_amount(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    await bot.say("goodwill 80 EUR Versand erstattet", as_="anna")
    assert "Begründung" in await bot.say("goodwill storno 1", as_="max")
    assert "storniert" in await bot.say("goodwill storno 1 doppelt gebucht", as_="max")
    assert "nur genehmigte" in await bot.say("goodwill storno 1 nochmal", as_="max")
    entries = await rows(bot, GoodwillEntry)
    assert [(e.kind, e.amount, e.note) for e in entries] == [
        ("spend", 8000, None),
        ("reversal", -8000, "doppelt gebucht"),
    ]
    assert "0 von 1.000 EUR" in await bot.say("goodwill", as_="anna")
    out = await bot.say("goodwill export 2026", as_="max")
    text = attachment(out, "goodwill").read_text(encoding="utf-8")
    assert "reversal,-80.00,EUR" in text


async def test_the_80_percent_warning_reaches_the_admins_once(bot: BotHarness) -> None:
    await bot.say("goodwill budget #general 100 EUR per month", as_="max")
    out = await bot.say("goodwill 50 EUR Versand erstattet", as_="anna")
    assert "→ DM an @max" not in out
    out = await bot.say("goodwill 30 EUR Gutschein", as_="anna")
    assert "→ DM an @max" in out and "80 %" in out
    out = await bot.say("goodwill 10 EUR Gutschein", as_="ben")
    assert "→ DM an @max" not in out


async def test_story_lines_buttons_and_highlights_in_the_digest(bot: BotHarness) -> None:
    await bot.say("goodwill budget #general 1000 EUR per year, per case 100, stories", as_="max")
    await bot.say("privacy min-group 2", as_="max")
    await bot.say("goodwill 20 EUR Gutschein für Wartezeit", as_="ben")
    out = await bot.say("goodwill 60 EUR Paket kam zu spät, Versand erstattet #kundenfokus", as_="anna")
    assert "→ #general" in out and "Anna Schmidt" in out
    out = await press(bot, "goodwill:highlight:2", as_="ben")
    assert "markiert" in out
    out = await press(bot, "goodwill:kudos:2", as_="ben")
    assert "Für den Kulanzfall #2 (60 EUR)" in out
    out = await bot.say("digest preview #general", as_="max")
    assert "Paket kam zu spät, Versand erstattet" in out and "hervorgehoben" in out
    out = await bot.say("stats", as_="anna")
    assert "Erhalten für Kundenmomente" in out and "Kulanzfälle" in out


async def test_works_council_cases_show_no_person_and_the_export_no_names(bot: BotHarness) -> None:
    await bot.say("privacy profile works-council", as_="max")
    await bot.say("goodwill budget #general 1000 EUR per year, per case 100, stories", as_="max")
    out = await bot.say("goodwill 60 EUR Versand erstattet", as_="anna")
    assert "→ #general" in out and "das Team hat einen Kundenfall" in out and "Anna" not in out.split("→ #general")[1]
    assert "Danke sagen" not in out
    out = await bot.say("goodwill 150 EUR Gerät getauscht", as_="anna")
    card = out.split("→ DM an @max")[1]
    assert "Anna" not in card and "Erfasst von" not in card
    await bot.say("goodwill approve 2", as_="max")
    out = await bot.say("goodwill export", as_="max")
    text = attachment(out, "goodwill").read_text(encoding="utf-8")
    assert "Max Weber" not in text and ",approver," in text


async def test_forget_me_leaves_the_case_for_the_ledger_with_an_unlinked_tombstone(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    await bot.say("goodwill 80 EUR Versand erstattet", as_="anna")
    assert "Gelöscht:" in await bot.say("privacy forget-me confirm", as_="anna")
    (case,) = await rows(bot, GoodwillCase)
    assert case.author_id is not None and case.author_id.startswith("former-")
    assert [e.amount for e in await rows(bot, GoodwillEntry)] == [8000]


async def test_the_feature_switch_turns_goodwill_off(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    await bot.say("privacy feature goodwill off", as_="max")
    assert "ausgeschaltet" in await bot.say("goodwill 20 EUR Versand erstattet", as_="anna")
    assert await count(bot, GoodwillCase) == 0


async def test_yen_has_no_decimals(bot: BotHarness) -> None:
    await bot.say("goodwill budget #general 100000 JPY per year, per case 5000", as_="max")
    assert "mehr Nachkommastellen als JPY erlaubt (0)" in await bot.say("goodwill 500,5 JPY Versand", as_="anna")
    assert "3.000 JPY" in await bot.say("goodwill 3000 JPY Versand erstattet", as_="anna")
    (case,) = await rows(bot, GoodwillCase)
    assert case.amount == 3000


async def test_the_prompt_answer_kudos_button_links_by_id(bot: BotHarness) -> None:
    from storage.prompts import PromptAnswer, PromptPost

    async with bot.app.sessions() as session:
        post = PromptPost(
            workspace_id=bot.workspace_id,
            channel_id="general",
            day=bot.clock.now.date(),
            prompt_key="k",
            category="c",
            text="Wie erlebt der Kunde…?",
            dedupe_key="k",
        )
        session.add(post)
        await session.flush()
        answer = PromptAnswer(
            workspace_id=bot.workspace_id,
            post_id=post.id or 0,
            channel_id="general",
            author_id="anna",
            text="Er wartet zu lange auf Rückruf.",
        )
        session.add(answer)
        await session.commit()
        answer_id = answer.id
    out = await press(bot, "prompt:kudos", value=str(answer_id), as_="ben")
    assert "Für eine Antwort auf den Kundenimpuls" in out
    (k,) = [k for k in await rows(bot, Kudos) if k.moment_kind]
    assert (k.moment_kind, k.moment_id, k.receiver_id) == ("answer", answer_id, "anna")


async def test_overspend_never_happens_with_50_cases_at_once(anybot: BotHarness) -> None:
    bot = anybot
    await bot.say("goodwill budget #general 1000 EUR per year, per case 100", as_="max")
    actor = await bot.console._actor()
    conv = Conversation(id="general", kind="channel")
    people = ["anna", "ben", "clara", "deniz", "emma"]

    async def one(n: int) -> None:
        who = actor.model_copy(update={"user_id": people[n % len(people)], "is_admin": False})
        ev = CommandEvent(
            actor=who,
            conversation=conv,
            name="goodwill",
            text=f"30 EUR Fall Nummer {n}",
            message_id=f"m{n}",
            event_id=f"e{n}",
        )
        await bot.app.dispatch(ev)

    await asyncio.gather(*(one(n) for n in range(50)))
    cases = await rows(bot, GoodwillCase)
    assert len(cases) == 50
    by_rule = [c for c in cases if c.by_rule]
    assert len(by_rule) == 33  # 33 × 30 = 990 ≤ 1000 < 34 × 30
    assert all(c.status == "pending" for c in cases if not c.by_rule)
    (period,) = await rows(bot, GoodwillPeriod)
    assert period.spent == 990_00
    assert sum(e.amount for e in await rows(bot, GoodwillEntry)) == 990_00


async def test_the_ledger_job_deletes_only_what_the_bookkeeping_period_allows(bot: BotHarness, clock: Clock) -> None:
    await bot.say(BUDGET, as_="max")
    await bot.say("goodwill 80 EUR Versand erstattet", as_="anna")
    clock.advance(days=365 * 10)  # November 2036: the 2026 booking is kept through 2036
    await run_tick(bot.app.router, bot.app.services, clock.now)
    assert await count(bot, GoodwillEntry) == 1
    clock.advance(days=60)  # January 2037
    await run_tick(bot.app.router, bot.app.services, clock.now)
    assert await count(bot, GoodwillEntry) == 0 and await count(bot, GoodwillCase) == 0


async def test_the_fact_sheet_says_what_goodwill_keeps_and_why(bot: BotHarness) -> None:
    out = await bot.say("privacy sheet", as_="max")
    german = attachment(out, "privacy-de").read_text(encoding="utf-8")
    assert "**Kulanzbudget**" in german and "10 Jahre ab Ende des Buchungsjahres" in german
    assert "unverknüpften Platzhalter" in german and "`goodwill_entry`" in german
    english = attachment(out, "privacy-en").read_text(encoding="utf-8")
    assert "unlinked tombstone" in english
    await bot.say("privacy feature goodwill off", as_="max")
    out = await bot.say("privacy sheet", as_="max")
    assert "**Kulanzbudget**" not in attachment(out, "privacy-de").read_text(encoding="utf-8")


async def test_a_kudos_can_point_at_a_customer_quote_and_an_unknown_moment_is_refused(bot: BotHarness) -> None:
    from storage.prompts import CustomerFeedback

    async with bot.app.sessions() as session:
        quote = CustomerFeedback(workspace_id=bot.workspace_id, text="Endlich hat jemand zurückgerufen!")
        session.add(quote)
        await session.commit()
        quote_id = quote.id
    out = await bot.say(f"kudos @anna danke fürs Zurückrufen zitat:{quote_id} #kundenfokus", as_="ben")
    assert "Für ein Kundenzitat: Endlich hat jemand zurückgerufen!" in out
    out = await bot.say("kudos @anna danke für den tollen Fall kulanz:99 #kundenfokus", as_="ben")
    assert "Kulanzfall #99 finde ich hier nicht" in out and out.startswith("(privat)")
    assert [(k.moment_kind, k.moment_id) for k in await rows(bot, Kudos) if k.moment_kind] == [("quote", quote_id)]


async def test_the_form_logs_a_case(bot: BotHarness) -> None:
    await bot.say(BUDGET, as_="max")
    out = await bot.say("goodwill formular", as_="anna")
    assert "Kulanzfall erfassen" in out
    for answer in ("45,50", "Gutschein wegen langer Wartezeit an der Hotline", "kundenfokus"):
        await bot.say(answer, as_="anna")
    out = await bot.say("T-815", as_="anna")
    assert "#1 über 45,50 EUR" in out and "nach Regel" in out
    (case,) = await rows(bot, GoodwillCase)
    assert (case.amount, case.category, case.reference) == (4550, "kundenfokus", "T-815")


async def test_approvers_are_reminded_of_cases_past_the_deadline_once_a_day(bot: BotHarness, clock: Clock) -> None:
    from tests.handlers.suggestion_kit import tick

    await bot.say(BUDGET, as_="max")
    await bot.say("goodwill 150 EUR Neues Gerät statt Reparatur", as_="anna")
    await bot.say("goodwill 120 EUR Ersatzgerät geschickt", as_="ben")
    assert "warten auf eine Entscheidung" not in await tick(bot)  # not yet due
    clock.advance(days=15)  # Thursday 3 December, 10:30 in Berlin: two weeks have passed
    out = await tick(bot)
    assert out.count("→ DM an @max") == 1 and "Kulanzfälle warten auf eine Entscheidung" in out
    assert "#1 · 150 EUR" in out and "#2 · 120 EUR" in out
    assert "warten auf eine Entscheidung" not in await tick(bot)  # once a day
    await bot.say("goodwill approve 1", as_="max")
    await bot.say("goodwill decline 2 Reparatur reicht", as_="max")
    clock.advance(days=1)
    assert "warten auf eine Entscheidung" not in await tick(bot)
