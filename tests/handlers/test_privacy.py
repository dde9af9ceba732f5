from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, func, or_, select

from bot.console.demo import COLLEAGUES
from storage import privacy as store
from storage import teams
from storage import web as web_sessions
from storage.db import transaction
from storage.models import Kudos
from storage.prompts import PromptDraftRequest
from tests.handlers.suggestion_kit import press
from tests.kit import BotHarness, Clock

AAD_ID = "9f1c-aad-7"
PERSONAL_CHAT = "a:1personal-chat-7"
ATTACHMENT_RE = re.compile(r"📎 (\S+): (\S+)")


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
    raise AssertionError(f"no attachment {name_part!r} in:\n{out}")


async def kudos_count(bot: BotHarness) -> int:
    async with bot.app.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Kudos))).scalar_one())


PEOPLE_NAMES = [name for _uid, name, _dept, _admin in COLLEAGUES]


def names_in(out: str) -> list[str]:
    found = []
    for full in PEOPLE_NAMES:
        for part in full.split():
            if re.search(rf"(?<!\w){re.escape(part)}(?!\w)", out):
                found.append(part)
    return found


# --- feature switches ---------------------------------------------------------------------------------


async def test_switched_off_features_are_refused_and_write_nothing(bot: BotHarness) -> None:
    assert "ausgeschaltet" not in await bot.say("leaderboard", as_="anna")
    for feature in ("kudos", "leaderboards", "personal_stats"):
        out = await bot.say(f"privacy feature {feature} off", as_="max")
        assert "ausgeschaltet" in out
    before = await kudos_count(bot)
    out = await bot.say("kudos @ben danke für die schnelle Hilfe beim Kunden #kundenfokus", as_="anna")
    assert "(privat) Die Funktion „Kudos“ ist in diesem Workspace ausgeschaltet." in out
    assert "→" not in out
    assert await kudos_count(bot) == before
    assert "(privat) Die Funktion „Ranglisten“ ist in diesem Workspace ausgeschaltet." in await bot.say(
        "leaderboard", as_="anna"
    )
    assert "Die Funktion „Persönliche Statistik“ ist in diesem Workspace ausgeschaltet." in await bot.say(
        "stats", as_="anna"
    )
    await bot.say("starling language en", as_="anna")
    assert "Leaderboards is switched off in this workspace." in await bot.say("leaderboard", as_="anna")
    await bot.say("privacy feature kudos on", as_="max")
    out = await bot.say("kudos @ben thanks for the quick help with the customer", as_="anna")
    assert "Kudos sent to" in out
    assert await kudos_count(bot) == before + 1


async def test_feature_switch_is_admin_only_and_validated(bot: BotHarness) -> None:
    out = await bot.say("privacy feature leaderboards off", as_="anna")
    assert "(privat)" in out and "Admins" in out
    assert "Anna Schmidt" in await bot.say("leaderboard all", as_="anna")
    out = await bot.say("privacy feature rankings off", as_="max")
    assert "`rankings` kenne ich nicht" in out and "leaderboards" in out
    out = await bot.say("privacy feature leaderboards maybe", as_="max")
    assert "privacy feature <name> on|off" in out


async def test_reaction_kudos_switch(bot: BotHarness) -> None:
    from bot.core.events import Actor, Conversation, Platform, ReactionEvent

    await bot.say("privacy feature reaction-kudos off", as_="max")
    before = await kudos_count(bot)
    event = ReactionEvent(
        actor=Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="anna"),
        conversation=Conversation(id="general", kind="channel"),
        emoji="star",
        added=True,
        message_id="m-1",
        item_author_id="ben",
    )
    out = await bot.app.dispatch(event)
    assert [m.fallback() for m in out] == ["Die Funktion „Kudos per Reaktion“ ist in diesem Workspace ausgeschaltet."]
    assert await kudos_count(bot) == before


# --- works-council profile ----------------------------------------------------------------------------


async def move(bot: BotHarness, dept: str, *people: str) -> None:
    for p in people:
        out = await bot.say(f"starling department @{p} {dept}", as_="max")
        assert "Abteilung" in out, out


async def test_works_council_profile_shows_no_person_and_no_small_group(anybot: BotHarness) -> None:
    bot = anybot
    await move(bot, "Vertrieb", "anna", "ben", "clara", "deniz", "emma")
    await bot.say("kudos @anna @ben @clara @deniz @emma danke für den tollen Kundentag", as_="max")
    standard = await bot.say("leaderboard all", as_="max")
    assert "Anna Schmidt" in standard  # the standard profile lists people

    out = await bot.say("privacy profile works-council", as_="max")
    assert "Betriebsrat" in out and "5" in out and "12" in out

    surfaces = [
        "leaderboard all",
        "leaderboard",
        "leaderboard week",
        "leaderboard all given",
        "leaderboard all #teamwork",
        "leaderboard all dept:Vertrieb",
        "leaderboard all dept:IT",
        "kudos leaderboard all",
    ]
    for who in ("max", "greta"):  # an admin; someone in a team of one
        for line in surfaces:
            shown = await bot.say(line, as_=who)
            assert names_in(shown) == [], (who, line, shown)
            for small in ("Kundenservice", "IT", "Buchhaltung"):
                assert not re.search(rf"^\s*\d*\.?\s*{small}\b", shown, re.M), (line, shown)
    board = await bot.say("leaderboard all", as_="anna")
    assert re.search(r"Vertrieb\s+█+\s+\d+ Punkte", board), board
    assert "3 Teams mit weniger als 5 Personen werden nicht gezeigt." in board

    # A move changes no past total (the board reads the same); in the next week four people are not enough.
    await move(bot, "Buchhaltung", "emma")
    assert await bot.say("leaderboard all", as_="anna") == board
    bot.clock.advance(days=7)
    await bot.say("kudos @anna @ben @clara @deniz danke für die ruhige Übergabe am Montag", as_="max")
    board = await bot.say("leaderboard week", as_="anna")
    assert "Vertrieb" not in board
    assert "Noch kein Team hat genug Personen" in board


async def test_works_council_people_boards_are_opt_in(bot: BotHarness) -> None:
    await bot.say("privacy profile works-council", as_="max")
    out = await bot.say("privacy boards people", as_="max")
    assert "nur wer sich mit `kudos optin` angemeldet hat" in out
    board = await bot.say("leaderboard all", as_="ben")
    assert names_in(board) == []
    await bot.say("kudos optin", as_="anna")
    board = await bot.say("leaderboard all", as_="ben")
    assert names_in(board) == ["Anna", "Schmidt"]


async def test_works_council_limits_and_llm_default(bot: BotHarness) -> None:
    async with bot.app.sessions() as s:
        assert await store.feature_enabled(s, bot.workspace_id, "llm") is True
    await bot.say("privacy profile works-council", as_="max")
    async with bot.app.sessions() as s:
        assert await store.feature_enabled(s, bot.workspace_id, "llm") is False
        assert await store.min_group_size(s, bot.workspace_id) == 5
        assert await store.person_figures_visible(s, bot.workspace_id) is False
    assert "von 5 bis 50" in await bot.say("privacy min-group 4", as_="max")
    assert "von 1 bis 12" in await bot.say("privacy retention 24", as_="max")
    await bot.say("privacy feature llm on", as_="max")
    async with bot.app.sessions() as s:
        assert await store.feature_enabled(s, bot.workspace_id, "llm") is True
    status = await bot.say("privacy", as_="anna")
    assert "Betriebsrat" in status and "12 Monaten" in status and "nur Team-Summen" in status


def test_min_group_rule() -> None:
    assert store.min_group_ok(5, 5)
    assert not store.min_group_ok(4, 5)
    assert not store.min_group_ok(0, 0)


# --- audit log ----------------------------------------------------------------------------------------


async def test_audit_log_records_admin_actions_and_is_readable_by_works_council(bot: BotHarness) -> None:
    await bot.say("starling set budget 7", as_="max")
    await bot.say("privacy feature digests off", as_="max")
    await bot.say("privacy export @ben", as_="max")
    out = await bot.say("privacy audit", as_="anna")
    assert "Das dürfen nur Admins und der Betriebsrat lesen." in out
    await bot.say("privacy works-council @anna", as_="max")
    out = await bot.say("privacy audit", as_="anna")
    assert "admin.set" in out and "budget" in out
    assert "privacy.feature" in out and "digests" in out
    assert "privacy.export_lookup → @Ben Müller" in out
    assert "privacy.works_council_role → @Anna Schmidt" in out


# --- export -------------------------------------------------------------------------------------------


async def make_data_everywhere(bot: BotHarness, who: str = "anna") -> None:
    """Rows about ``who`` in every table that can hold a person's id."""
    await bot.say(f"starling admin @{who}", as_="max")  # audit_log (subject)
    await bot.say(f"privacy works-council @{who}", as_="max")  # privacy_role
    assert "general" in await bot.say("digest subscribe <#general>", as_=who)  # schedule.created_by
    await bot.say("privacy feature digests off", as_=who)  # feature_switch.changed_by, audit_log (actor)
    await bot.say(f"kudos @{who} danke für die Hilfe beim schwierigen Kunden #kundenfokus", as_="max")  # DM
    await bot.say("kudos @ben danke, dass du für mich eingesprungen bist #teamwork", as_=who)  # budget_day
    await bot.say("kudos @clara danke, dass du mit Anna Schmidt den Kunden gerettet hast", as_="ben")
    # prompts: subscription and custom prompt (created_by), an answer (author_id), a highlight (user_id)
    assert "Impuls" in await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_=who)
    assert "gepostet" in await bot.say("prompt now", as_=who)
    await bot.say("prompt add #internal Wie würde der Kunde das sehen? | How would the customer see it?", as_=who)
    assert "Danke für" in await bot.say("prompt answer Ich würde zuerst den Kunden anrufen und fragen", as_=who)
    answers = await bot.say("prompt answers", as_=who)
    assert "Hervorgehoben" in await bot.click(answers, "Hervorheben", as_=who)
    # suggestions: approver, author, vote, follower, decision (actor_id, decided_by)
    assert "Entscheidende für" in await bot.say(f"suggest approvers @{who} @max", as_="max")
    out = await bot.say("suggest Das Reisekostenformular hat zwölf Seiten, eine würde reichen", as_=who)
    own = re.search(r"Vorschlag #(\d+)", out)
    assert own, out
    out = await bot.say("suggest Urlaubsanträge brauchen drei Unterschriften, eine würde reichen", as_="ben")
    other = re.search(r"Vorschlag #(\d+)", out)
    assert other, out
    assert "zählt" in await bot.say(f"suggest vote {other.group(1)}", as_=who)
    assert "folgst" in await bot.say(f"suggest follow {other.group(1)}", as_=who)
    assert "genehmigt" in await bot.say(f"suggest approve {other.group(1)} gute Idee, machen wir", as_=who)
    # pulse: a pulse started (created_by), who was asked (user_id), a named answer (author_id), a goal set
    assert "gestartet" in await bot.say("pulse start #general", as_=who)
    assert "Mit deinem Namen" in await bot.say("pulse answer --named Zufriedene Kunden, die wiederkommen", as_=who)
    assert "Fixstern" in await bot.say("goal set #general Zufriedene Kunden, die wiederkommen", as_=who)
    # goodwill: a team member, a case (author_id), a decision (decided_by), a highlight (user_id)
    await bot.say("goodwill budget #general 1000 EUR per year, per case 100", as_="max")
    await bot.say(f"goodwill team #general @{who} @ben", as_="max")
    assert "nach Regel" in await bot.say("goodwill 20 EUR Versand erstattet #kundenfokus", as_=who)
    out = await bot.say("goodwill 150 EUR Gerät statt Reparatur getauscht", as_="ben")
    case = re.search(r"Kulanzfall #(\d+)", out)
    assert case, out
    assert "genehmigt" in await bot.say(f"goodwill approve {case.group(1)}", as_=who)
    assert "markiert" in await press(bot, f"goodwill:highlight:{case.group(1)}", as_=who)
    # Teams: what the adapter stores for a person (identity and personal chat); a queued draft request
    # (the model is not configured in this harness, so the row is written as the command would)
    async with transaction(bot.app.sessions) as s:
        s.add(PromptDraftRequest(workspace_id=bot.workspace_id, requested_by=who, created_at=bot.clock.now))
        await teams.save_user(s, workspace_id=bot.workspace_id, user_id=who, aad_object_id=AAD_ID)
        await teams.save_conversation(
            s,
            workspace_id=bot.workspace_id,
            conversation_id=PERSONAL_CHAT,
            kind="personal",
            service_url="https://smba.example/emea/",
            bot_id="28:bot",
            user_id=who,
        )
        # a signed-in web session
        await web_sessions.create(
            s,
            kind="session",
            now=bot.clock.now,
            lifetime=timedelta(hours=8),
            workspace_id=bot.workspace_id,
            user_id=who,
        )
        # files offered in Teams, waiting for consent: the person's own, and another person's that names them
        for owner, text in ((who, f"{who}: alles über {who}"), ("ben", "Kudos von Anna Schmidt"), ("clara", "x")):
            await teams.offer_file(
                s,
                workspace_id=bot.workspace_id,
                user_id=owner,
                outbox_id=None,
                position=0,
                filename=f"starling-data-{owner}.json",
                mime="application/json",
                content=text.encode(),
                now=bot.clock.now,
            )


def person_clause(table: Any, uid: str) -> Any:
    conditional = store.CONDITIONAL_PERSON_COLUMNS.get(table.name)
    conds = [table.c[c] == uid for c in store.person_columns(table) if not conditional or c != conditional[0]]
    if conditional:
        column, kind_column, kind = conditional
        conds.append(and_(table.c[column] == uid, table.c[kind_column] == kind))
    return or_(*conds)


async def test_export_contains_every_row_about_the_caller(anybot: BotHarness) -> None:
    bot = anybot
    await make_data_everywhere(bot)
    about_anna = {}
    async with bot.app.sessions() as s:
        for table in store.all_tables():
            if store.person_columns(table):
                about_anna[table] = (
                    (await s.execute(select(table).where(person_clause(table, "anna")))).mappings().all()
                )
    out = await bot.say("privacy export", as_="anna")
    assert "(privat) Erledigt" in out and "→ DM an @anna" in out
    data = json.loads(attachment(out, "starling-data-anna").read_text(encoding="utf-8"))
    assert data["user_id"] == "anna"
    exported = data["tables"]
    for table, rows in about_anna.items():
        assert rows, f"the test made no {table.name} row about anna: extend make_data_everywhere"
        pk = [c.name for c in table.primary_key.columns]
        got = {tuple(str(r[k]) for k in pk) for r in exported.get(table.name, [])}
        for row in rows:
            assert tuple(str(row[k]) for k in pk) in got, (table.name, dict(row))
    # A file waiting in Teams is listed without its bytes (it is an earlier export itself).
    (offer,) = exported["teams_pending_file"]
    assert offer["filename"] == "starling-data-anna.json" and offer["size"] > 0 and "content" not in offer
    # Other people's rows are not in it.
    assert all(
        "anna" in json.dumps(r) or "Anna" in json.dumps(r, ensure_ascii=False) for rs in exported.values() for r in rs
    )


# --- erasure ------------------------------------------------------------------------------------------


async def scan_everything(bot: BotHarness) -> list[tuple[str, str, str]]:
    """Every cell of every table, as text."""
    cells = []
    async with bot.app.sessions() as s:
        for table in store.all_tables():
            for row in (await s.execute(select(table))).mappings().all():
                for key, value in row.items():
                    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
                    cells.append((table.name, key, text))
    return cells


async def received(bot: BotHarness, uid: str) -> int:
    async with bot.app.sessions() as s:
        stmt = select(func.coalesce(func.sum(Kudos.points), 0)).where(Kudos.receiver_id == uid)
        return int((await s.execute(stmt)).scalar_one())


async def test_forget_me_leaves_nothing_identifying(anybot: BotHarness) -> None:
    bot = anybot
    await make_data_everywhere(bot)
    pattern = re.compile(r"(?<![\w])(anna|schmidt)(?![\w])", re.I)
    assert any(pattern.search(text) for _t, _c, text in await scan_everything(bot))
    ben_before, clara_before = await received(bot, "ben"), await received(bot, "clara")
    total_before = await kudos_count(bot)

    out = await bot.say("privacy forget-me", as_="anna")
    assert "nicht rückgängig" in out and re.search(r"\[\d+\] Endgültig löschen", out)
    assert any(pattern.search(text) for _t, _c, text in await scan_everything(bot))  # nothing happened yet
    out = await bot.click(out, "Endgültig löschen", as_="anna")
    # An honest answer: what went, what stays unlinked, and why.
    assert "Erledigt. Gelöscht:" in out and "ohne Bezug zu dir" in out and "Anonyme Beiträge" in out

    leftovers = [
        (t, c, text)
        for t, c, text in await scan_everything(bot)
        if pattern.search(text) or AAD_ID in text or PERSONAL_CHAT in text
    ]
    assert leftovers == []
    async with bot.app.sessions() as s:  # files waiting in Teams: hers and those naming her are gone
        files = (await s.execute(select(teams.TeamsPendingFile.user_id))).scalars().all()
    assert files == ["clara"]
    assert await kudos_count(bot) == total_before
    assert await received(bot, "ben") == ben_before
    assert await received(bot, "clara") == clara_before
    board = await bot.say("leaderboard all", as_="ben")
    assert "Anna" not in board
    audit = await bot.say("privacy audit", as_="max")
    assert "privacy.forget_me" in audit
    reason = await bot.say("privacy export", as_="clara")
    data = json.loads(attachment(reason, "starling-data-clara").read_text(encoding="utf-8"))
    reasons = [r["reason"] for r in data["tables"]["kudos"] if r["giver_id"] == "ben"]
    assert "danke, dass du mit ehemalige Kollegin / ehemaliger Kollege den Kunden gerettet hast" in reasons


async def test_forget_me_by_text_confirmation(bot: BotHarness) -> None:
    out = await bot.say("privacy forget-me confirm", as_="felix")
    assert "Erledigt. Gelöscht:" in out
    assert not [x for x in await scan_everything(bot) if re.search(r"(?<!\w)(felix|brunner)(?!\w)", x[2], re.I)]


async def test_admin_erases_a_leaver_and_it_is_audited(bot: BotHarness) -> None:
    assert "Admins" in await bot.say("privacy forget @ben confirm", as_="anna")
    assert await received(bot, "ben") > 0
    out = await bot.say("privacy forget @ben", as_="max")
    assert re.search(r"\[\d+\] Endgültig löschen", out)
    out = await bot.click(out, "Endgültig löschen", as_="max")
    assert "Erledigt. Gelöscht:" in out and "mit dir als Auslöser" in out
    assert await received(bot, "ben") == 0
    assert not [x for x in await scan_everything(bot) if re.search(r"(?<!\w)(ben|müller)(?!\w)", x[2], re.I)]
    audit = await bot.say("privacy audit", as_="max")
    # The auditor stays named; the erased person is a tombstone that links to nothing else.
    assert re.search(r"@Max Weber privacy\.forget → @former-[0-9a-f]{16}", audit), audit


async def test_cancel_erases_nothing(bot: BotHarness) -> None:
    asked = await bot.say("privacy forget-me", as_="emma")
    out = await bot.click(asked, "Abbrechen", as_="emma")
    assert "Abgebrochen" in out
    assert any("Emma Hofer" in x[2] for x in await scan_everything(bot))


# --- fact sheet ---------------------------------------------------------------------------------------


async def test_privacy_sheet_in_chat_reflects_configuration(bot: BotHarness) -> None:
    assert "Admins" in await bot.say("privacy sheet", as_="anna")
    await bot.say("privacy profile works-council", as_="max")
    await bot.say("privacy feature suggestions off", as_="max")
    out = await bot.say("privacy sheet", as_="max")
    de = attachment(out, "privacy-de").read_text(encoding="utf-8")
    en = attachment(out, "privacy-en").read_text(encoding="utf-8")
    assert "# Starling: Datenschutz-Faktenblatt" in de and "# Starling: privacy fact sheet" in en
    assert "Datenschutzprofil: Betriebsrat" in de
    assert "| Vorschlagsbriefkasten | aus |" in de and "| Suggestion box | off |" in en
    assert "Data is deleted after: 12 months" in en and "Minimum group size for figures: 5" in en
    assert "| `kudos` | core | giver_id, receiver_id | deleted after 12 months |" in en
    assert "SQLite" in en and "none configured" in en and "none (terminal only)" in en
    for table in store.all_tables():
        assert f"`{table.name}`" in en


async def test_delivered_export_file_is_not_kept_in_the_queue(bot: BotHarness) -> None:
    out = await bot.say("privacy export", as_="anna")
    assert attachment(out, "starling-data-anna").exists()
    async with bot.app.sessions() as s:
        from storage.models import OutboxMessage

        rows = (await s.execute(select(OutboxMessage).where(OutboxMessage.target_id == "anna"))).scalars().all()
    exports = [r for r in rows if "Datensätze" in json.dumps(r.payload, ensure_ascii=False)]
    assert len(exports) == 1 and exports[0].status == "sent"
    assert exports[0].payload["attachments"] == []


async def test_prompt_switches(bot: BotHarness) -> None:
    await bot.say("prompt subscribe 09:30 mon-fri Europe/Berlin", as_="max")
    await bot.say("privacy feature prompts off", as_="max")
    assert "(privat) Die Funktion „Tägliche Impulsfragen“ ist in diesem Workspace ausgeschaltet." in await bot.say(
        "prompt now", as_="max"
    )
    await bot.say("privacy feature prompts on", as_="max")
    assert "gepostet" in await bot.say("prompt now", as_="max")
    await bot.say("privacy feature prompt-answers off", as_="max")
    out = await bot.say("prompt answer Ich würde zuerst den Kunden anrufen und fragen", as_="anna")
    assert "Die Funktion „Antworten auf Impulsfragen“ ist in diesem Workspace ausgeschaltet." in out and "→" not in out
    await bot.say("privacy feature feedback-import off", as_="max")
    out = await bot.say("prompt quote Die Wartezeit am Telefon war viel zu lang", as_="max")
    assert "Die Funktion „Import von Kundenfeedback“ ist in diesem Workspace ausgeschaltet." in out


async def test_language_model_follows_the_llm_switch(bot: BotHarness) -> None:
    class Model:
        async def complete(self, system: str, prompt: str, *, max_tokens: int = 400) -> str | None:
            return None

        async def embed(self, texts: Any) -> list[list[float]] | None:
            return None

    bot.app.services.llm = Model()
    assert "kein Sprachmodell" not in await bot.say("prompt draft 3", as_="max")
    await bot.say("privacy profile works-council", as_="max")  # the LLM is off until switched on
    assert "kein Sprachmodell" in await bot.say("prompt draft 3", as_="max")
    await bot.say("privacy feature llm on", as_="max")
    assert "kein Sprachmodell" not in await bot.say("prompt draft 3", as_="max")


async def test_suggestion_switches_and_approver_audit(bot: BotHarness) -> None:
    await bot.say("suggest approvers @max", as_="max")
    out = await bot.say("suggest Urlaubsanträge brauchen drei Unterschriften, eine würde reichen", as_="ben")
    sid = re.search(r"Vorschlag #(\d+)", out)
    assert sid, out
    await bot.say("privacy feature votes off", as_="max")
    assert "Die Funktion „Abstimmungen über Vorschläge“ ist in diesem Workspace ausgeschaltet." in await bot.say(
        f"suggest vote {sid.group(1)}", as_="anna"
    )
    assert "genehmigt" in await bot.say(f"suggest approve {sid.group(1)} gute Idee, machen wir", as_="max")
    assert re.search(
        rf"@Max Weber suggestions\.approve \(id={sid.group(1)}\)", await bot.say("privacy audit", as_="max")
    )
    await bot.say("privacy feature suggestions off", as_="max")
    out = await bot.say("suggest Noch ein Formular weniger wäre schön für alle", as_="anna")
    assert (
        "(privat) Die Funktion „Vorschlagsbriefkasten“ ist in diesem Workspace ausgeschaltet." in out and "→" not in out
    )


async def test_works_council_hides_a_few_approvers_decision_time(bot: BotHarness) -> None:
    await bot.say("suggest approvers @max", as_="max")
    out = await bot.say("suggest Urlaubsanträge brauchen drei Unterschriften, eine würde reichen", as_="ben")
    sid = re.search(r"Vorschlag #(\d+)", out)
    assert sid, out
    bot.clock.advance(hours=36)
    await bot.say(f"suggest approve {sid.group(1)} gute Idee", as_="max")
    bot.clock.advance(minutes=1)
    assert "36 Stunden" in await bot.say("suggest stats", as_="anna")
    await bot.say("privacy profile works-council", as_="max")
    stats = await bot.say("suggest stats", as_="max")
    assert "36 Stunden" not in stats and re.search(r"Median bis zur Entscheidung\s+—", stats), stats


async def test_home_tab_hides_personal_stats_when_switched_off(bot: BotHarness) -> None:
    from bot.core.events import Actor, AppOpenedEvent, Platform

    def home() -> AppOpenedEvent:
        return AppOpenedEvent(actor=Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="anna"))

    stats_title = "Deine Kudos"
    shown = " ".join(b.model_dump_json() for m in await bot.app.dispatch(home()) for b in m.blocks)
    assert stats_title in shown
    await bot.say("privacy feature personal-stats off", as_="max")
    shown = " ".join(b.model_dump_json() for m in await bot.app.dispatch(home()) for b in m.blocks)
    assert stats_title not in shown and "Kudos" in shown
