"""The suggestion box in the console: submitting, the similar-suggestion hint, deciding, notifications."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Kudos
from storage.suggestions import Suggestion, SuggestionDraft
from tests.handlers.suggestion_kit import (
    LEAVE,
    TRAVEL,
    click,
    dm_blocks,
    fill_form,
    one,
    press,
    suggestions,
    supporters,
    tick,
    trail,
)
from tests.kit import BotHarness


def line_with(out: str, start: str) -> str:
    """The first line of ``out`` that starts with ``start`` (field rows of a card)."""
    return next(line for line in out.splitlines() if line.strip().startswith(start))


async def count(bot: BotHarness, model: type) -> int:
    async with bot.app.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


# --- submitting ---------------------------------------------------------------------------------------


async def test_form_submission_reaches_reviewers_and_confirms(bot: BotHarness) -> None:
    out = await fill_form(bot, "anna", **TRAVEL, department="Buchhaltung", customers=True)
    assert "(only you) Danke! Vorschlag #1" in out
    # No approvers configured: the workspace admin (max) gets the review card by DM.
    card = dm_blocks(out, "max")
    assert "Vorschlag #1" in card and "drei Unterschriften" in card
    assert "Freigabe / Unterschriften" in line_with(card, "Kategorie") and "Buchhaltung" in line_with(card, "Abteilung")
    assert "@Anna Schmidt" in line_with(card, "Eingereicht von")
    assert "[Genehmigen]" in card and "[Ablehnen]" in card and "[Rückfrage]" in card and "[Duplikat markieren]" in card
    assert "Bitte bis 02.12.2026 entscheiden" in card
    s = (await suggestions(bot))[0]
    assert (s.author_id, s.category, s.department, s.affects_customers, s.anonymous, s.status) == (
        "anna",
        "approval",
        "Buchhaltung",
        True,
        False,
        "submitted",
    )
    assert await trail(bot, 1) == [("status", "anna", None, "submitted", None)]


async def open_to_last_field(bot: BotHarness, who: str) -> str:
    out = await bot.say("suggest", as_=who)
    for answer in (*TRAVEL.values(), "", "n"):
        out = await bot.say(answer, as_=who)
    return out  # the prompt of the last field: "submit anonymously" with the notice


async def test_form_says_it_is_not_a_whistleblowing_channel_and_names_the_reporting_channel(bot: BotHarness) -> None:
    prompt = await open_to_last_field(bot, "anna")
    assert "Anonym einreichen" in prompt and "KEIN Hinweisgebersystem" in prompt and "Meldestelle:" not in prompt
    await bot.say("n", as_="anna")
    refused = await bot.say("suggest reporting https://meldestelle.example.de", as_="anna")
    assert "(only you) Das können nur Workspace-Admins ändern." in refused
    saved = await bot.say("suggest reporting Vertraulich melden: https://meldestelle.example.de", as_="max")
    assert "Gespeichert: Das Formular nennt jetzt die Meldestelle." in saved
    prompt = await open_to_last_field(bot, "anna")
    assert "KEIN Hinweisgebersystem" in prompt
    assert "Meldestelle: Vertraulich melden: https://meldestelle.example.de" in prompt
    await bot.say("n", as_="anna")
    await bot.say("starling language en", as_="ben")
    prompt = await open_to_last_field(bot, "ben")
    assert "NOT a whistleblowing channel" in prompt and "Reporting channel: Vertraulich melden" in prompt


async def test_empty_and_invalid_form_fields_are_refused_and_nothing_is_written(bot: BotHarness) -> None:
    cases = [
        ({**TRAVEL, "title": ""}, "Bitte füll „Titel“ aus"),
        ({**TRAVEL, "problem": ""}, "Bitte füll „Was bremst dich"),
        ({**TRAVEL, "proposal": ""}, "Bitte füll „Was schlägst du vor?“ aus"),
        ({**TRAVEL, "category": "kaffee"}, "Bitte wähl eine Kategorie"),
        ({**TRAVEL, "title": "x" * 121}, "höchstens 120 Zeichen"),
    ]
    for fields, expected in cases:
        out = await fill_form(bot, "anna", **fields)
        assert "(only you)" in out and expected in out, out
    out = await fill_form(bot, "anna", **TRAVEL, department="Marketing")
    assert "Die Abteilung „Marketing“ kenne ich nicht" in out
    assert await count(bot, Suggestion) == 0
    assert "→ DM" not in out


async def test_quick_path_and_its_refusals(bot: BotHarness) -> None:
    short = await bot.say("suggest zu viel", as_="ben")
    assert "mindestens 10 Zeichen" in short
    out = await bot.say("suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="ben")
    assert "Danke! Vorschlag #1" in out and "→ DM to @max" in out
    s = (await suggestions(bot))[0]
    assert s.title.startswith("Kunden warten auf Rückruf") and s.category == "other" and s.author_id == "ben"
    # "list" followed by free text is a quick suggestion, not a broken list command.
    out = await bot.say("suggest list of approvals for small purchases is far too long", as_="ben")
    assert "Vorschlag #2" in out


async def test_similar_suggestions_are_offered_before_submitting(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    await fill_form(bot, "emma", **LEAVE)
    out = await bot.say("suggest Drei Unterschriften für Reisekosten abschaffen, das dauert Wochen", as_="ben")
    assert "Es gibt schon ähnliche Vorschläge" in out
    assert "#1 Reisekosten: drei Unterschriften" in out and "Urlaubsantrag" not in out
    assert await count(bot, Suggestion) == 2  # held back, not yet created
    voted = await click(bot, "Für #1 stimmen", as_="ben")
    assert "Deine Stimme für #1 zählt (jetzt 1 Stimme)" in voted and "Dein Entwurf ist verworfen" in voted
    assert await count(bot, Suggestion) == 2 and await count(bot, SuggestionDraft) == 0

    # Submitting anyway creates it; a second click on the same button changes nothing.
    hint = await bot.say("suggest Drei Unterschriften für Reisekosten abschaffen, das dauert Wochen", as_="ben")
    assert "ähnliche Vorschläge" in hint
    buttons = list(bot.console.buttons)
    created = await click(bot, "Meinen trotzdem einreichen", as_="ben")
    assert "Danke! Vorschlag #3" in created
    bot.console.buttons = buttons
    again = await click(bot, "Meinen trotzdem einreichen", as_="ben")
    assert "Dieser Entwurf ist nicht mehr da" in again
    assert await count(bot, Suggestion) == 3

    hint = await bot.say("suggest Urlaubsanträge auf Papier kosten Zeit, bitte digital", as_="felix")
    assert "#2 Urlaubsantrag auf Papier" in hint
    discarded = await click(bot, "Meinen verwerfen", as_="felix")
    assert "Dein Entwurf ist verworfen" in discarded
    assert await count(bot, Suggestion) == 3 and await count(bot, SuggestionDraft) == 0

    # A draft left alone is purged after a day.
    await bot.say("suggest Urlaubsanträge auf Papier kosten Zeit, bitte digital", as_="greta")
    assert await count(bot, SuggestionDraft) == 1
    bot.clock.advance(hours=23)
    await tick(bot)
    assert await count(bot, SuggestionDraft) == 1
    bot.clock.advance(hours=1, minutes=1)
    await tick(bot)
    assert await count(bot, SuggestionDraft) == 0


async def test_unrelated_suggestion_gets_no_hint(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    out = await bot.say("suggest Die Kaffeemaschine im zweiten Stock ist ständig kaputt", as_="ben")
    assert "ähnliche" not in out and "Danke! Vorschlag #2" in out


# --- approvers and routing -----------------------------------------------------------------------------


async def test_approvers_are_set_by_admins_and_route_review_cards(bot: BotHarness) -> None:
    refused = await bot.say("suggest approvers @clara", as_="anna")
    assert "(only you) Das können nur Workspace-Admins ändern." in refused
    assert "Entscheidende für alle Vorschläge: @Clara Fischer" in await bot.say("suggest approvers @clara", as_="max")
    out = await bot.say("suggest approvers dept:Buchhaltung @emma", as_="max")
    assert "Entscheidende für die Abteilung Buchhaltung: @Emma Hofer" in out
    shown = await bot.say("suggest approvers", as_="anna")  # everyone may see who decides
    assert "@Clara Fischer" in line_with(shown, "Entscheidende (alle)")
    assert "@Emma Hofer" in line_with(shown, "Entscheidende für Buchhaltung")

    out = await fill_form(bot, "anna", **TRAVEL, department="Buchhaltung")
    assert "→ DM to @emma" in out and "→ DM to @clara" in out and "→ DM to @max" not in out
    out = await fill_form(bot, "ben", **LEAVE)
    assert "→ DM to @clara" in out and "→ DM to @emma" not in out

    # The department approver decides her department's suggestions, not others'.
    assert "genehmigt" in await bot.say("suggest approve 1", as_="emma")
    assert "nur die dafür Entscheidenden" in await bot.say("suggest approve 2", as_="emma")

    assert "#verbesserungen" in await bot.say("suggest review-channel #verbesserungen", as_="max")
    out = await bot.say(
        "suggest Kunden warten auf Rückruf, weil jedes Ticket erst freigegeben werden muss", as_="deniz"
    )
    assert "→ #verbesserungen:" in out and "→ DM" not in out
    assert "keine eigenen Entscheidenden mehr" in await bot.say("suggest approvers dept:Buchhaltung none", as_="max")
    out = await bot.say("suggest approvers dept:Customer Service @ben @anna", as_="max")
    assert "die Abteilung Customer Service: @Ben Müller und @Anna Schmidt" in out
    assert "@Ben Müller" in line_with(
        await bot.say("suggest settings", as_="deniz"), "Entscheidende für Customer Service"
    )
    assert "So geht's" in await bot.say("suggest approvers dept:IT", as_="max")
    assert "(nobody) finde ich in diesem Workspace nicht" in await bot.say("suggest approvers @nobody", as_="max")


async def test_non_approver_cannot_decide_and_nothing_changes(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    for verb in ("approve", "decline", "ask", "duplicate"):
        out = await press(bot, f"suggest:{verb}:1", as_="ben")
        assert "(only you) Über #1 können nur die dafür Entscheidenden entscheiden" in out, out
    # Admins are not approvers once approvers are configured.
    assert "nur die dafür Entscheidenden" in await press(bot, "suggest:approve:1", as_="max")
    assert "nur die dafür Entscheidenden" in await bot.say("suggest done 1", as_="anna")
    assert (await one(bot, 1)).status == "submitted"
    assert len(await trail(bot, 1)) == 1
    # A person who is not an approver sees no decision buttons.
    shown = await bot.say("suggest show 1", as_="ben")
    assert "Abstimmen" in shown and "Genehmigen" not in shown


# --- the lifecycle -------------------------------------------------------------------------------------


async def test_approve_start_done_with_audit_trail_and_notifications_in_each_language(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await bot.say("starling language en", as_="emma")
    await fill_form(bot, "anna", **TRAVEL)
    await bot.say("suggest vote 1", as_="ben")
    assert "Du folgst jetzt #1" in await bot.say("suggest follow 1", as_="felix")
    assert "Suggestion #1" in await bot.say("suggest show 1", as_="emma")
    assert "You now follow #1" in await click(bot, "Follow", as_="emma")

    shown = await bot.say("suggest show 1", as_="clara")
    assert "[1] Abstimmen" in shown and "Genehmigen" in shown
    bot.clock.advance(hours=26)
    out = await click(bot, "Genehmigen", as_="clara")
    assert "genehmigt von @Clara Fischer am 19.11.2026" in out
    assert "] In Umsetzung" in out and "] Umgesetzt" in out  # the updated card offers the next steps
    assert "Vorschlag #1 Reisekosten: drei Unterschriften für kleine Beträge ist jetzt genehmigt" in dm_blocks(
        out, "anna"
    )
    assert "Du hast diesen Vorschlag eingereicht" in dm_blocks(out, "anna")
    assert "ist jetzt genehmigt (@Clara Fischer)" in dm_blocks(out, "ben")
    assert "ist jetzt genehmigt" in dm_blocks(out, "felix")
    assert "Suggestion #1" in dm_blocks(out, "emma") and "is now approved (@Clara Fischer)" in dm_blocks(out, "emma")
    assert "DM to @clara" not in out  # the decider is not told of her own decision

    out = await bot.say("suggest start 1 Die Richtlinie wird angepasst", as_="clara")
    assert "jetzt in Umsetzung" in out and "Die Richtlinie wird angepasst" in dm_blocks(out, "ben")
    assert "is now in progress" in dm_blocks(out, "emma")

    shown = await bot.say("suggest show 1", as_="clara")
    out = await click(bot, "Umgesetzt", as_="clara")
    assert "umgesetzt" in dm_blocks(out, "anna")
    assert "[Danke sagen]" in dm_blocks(out, "ben") and "[Thank the submitter]" in dm_blocks(out, "emma")
    assert "Danke sagen" not in dm_blocks(out, "anna")

    rows = await trail(bot, 1)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("status", "anna", None, "submitted"),
        ("status", "clara", "submitted", "approved"),
        ("status", "clara", "approved", "in_progress"),
        ("status", "clara", "in_progress", "done"),
    ]
    assert rows[2][4] == "Die Richtlinie wird angepasst"
    s = await one(bot, 1)
    assert s.decided_by == "clara" and s.decided_at is not None and s.done_at is not None
    history = await bot.say("suggest show 1", as_="ben")
    assert "19.11.2026: genehmigt (@Clara Fischer)" in history and "umgesetzt (@Clara Fischer)" in history


async def test_second_click_on_a_decided_card_is_harmless_and_shows_the_decision(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara @greta", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    await bot.say("suggest vote 1", as_="ben")
    first = await press(bot, "suggest:approve:1", as_="clara")
    assert "genehmigt von @Clara Fischer" in first and "DM to @ben" in first
    for verb in ("approve", "decline", "duplicate", "ask"):
        out = await press(bot, f"suggest:{verb}:1", as_="greta")
        assert "genehmigt von @Clara Fischer" in out  # the card is redrawn with the decision
        assert "(only you) Vorschlag #1 ist bereits genehmigt (von @Clara Fischer)" in out
        assert "→ DM" not in out and "== " not in out  # nobody is notified again, no form opens
    assert len(await trail(bot, 1)) == 2
    assert "bereits genehmigt" in await bot.say("suggest approve 1", as_="clara")
    # Start twice: the second is harmless too.
    await bot.say("suggest start 1", as_="clara")
    assert "bereits in Umsetzung" in await bot.say("suggest start 1", as_="greta")
    assert len(await trail(bot, 1)) == 3


async def test_decline_requires_a_reason_and_tells_everyone_why(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    await bot.say("suggest vote 1", as_="ben")
    form = await press(bot, "suggest:decline:1", as_="clara")
    assert "== Ablehnen: Begründung ==" in form
    out = await bot.say("", as_="clara")
    assert "Bitte gib eine Begründung an" in out and (await one(bot, 1)).status == "submitted"
    assert "Bitte gib eine Begründung an" in await bot.say("suggest decline 1", as_="clara")
    assert "höchstens 2000 Zeichen" in await bot.say("suggest decline 1 " + "zu lang " * 300, as_="clara")
    await press(bot, "suggest:decline:1", as_="clara")
    out = await bot.say("Die Revision verlangt das Vier-Augen-Prinzip.", as_="clara")
    assert "Vorschlag #1 ist abgelehnt" in out
    for person in ("anna", "ben"):
        dm = dm_blocks(out, person)
        assert "ist jetzt abgelehnt (@Clara Fischer)" in dm and "Vier-Augen-Prinzip" in dm
    s = await one(bot, 1)
    assert (s.status, s.decision_note, s.decided_by) == (
        "declined",
        "Die Revision verlangt das Vier-Augen-Prinzip.",
        "clara",
    )
    assert (await trail(bot, 1))[-1] == (
        "status",
        "clara",
        "submitted",
        "declined",
        "Die Revision verlangt das Vier-Augen-Prinzip.",
    )
    assert "abgelehnt, dafür kann nicht mehr abgestimmt werden" in await bot.say("suggest vote 1", as_="deniz")


async def test_decline_posts_the_decision_to_the_review_channel(bot: BotHarness) -> None:
    await bot.say("suggest review-channel #verbesserungen", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    await press(bot, "suggest:decline:1", as_="max")
    out = await bot.say("Passt nicht zur Richtlinie.", as_="max")
    assert "→ #verbesserungen:" in out and "abgelehnt von @Max Weber" in out


async def test_ask_for_details_puts_it_in_review_and_the_answer_reaches_the_approver(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    await press(bot, "suggest:ask:1", as_="clara")
    assert "Bitte schreib deine Frage" in await bot.say("", as_="clara")
    await press(bot, "suggest:ask:1", as_="clara")
    out = await bot.say("Um wie viele Abrechnungen im Monat geht es?", as_="clara")
    assert "Deine Rückfrage zu #1 ist an die einreichende Person geschickt" in out
    dm = dm_blocks(out, "anna")
    assert "@Clara Fischer hat eine Rückfrage zu deinem Vorschlag #1" in dm and "Abrechnungen im Monat" in dm
    assert "[Antworten]" in dm
    assert (await one(bot, 1)).status == "in_review"
    assert (await trail(bot, 1))[-1] == (
        "question",
        "clara",
        "submitted",
        "in_review",
        "Um wie viele Abrechnungen im Monat geht es?",
    )

    assert "Nur die einreichende Person von #1" in await bot.say("suggest reply 1 Etwa 200.", as_="ben")
    assert "Nur die einreichende Person" in await press(bot, "suggest:reply:1", as_="ben")
    form = await press(bot, "suggest:reply:1", as_="anna")
    assert "== Rückfrage beantworten ==" in form
    out = await bot.say("Etwa 200 im Monat, meist unter 50 Euro.", as_="anna")
    assert "Deine Antwort zu #1 ist weitergegeben" in out
    assert "@Anna Schmidt hat deine Rückfrage zu #1" in dm_blocks(out, "clara") and "unter 50 Euro" in out
    # In review it can still be decided.
    assert "genehmigt" in await bot.say("suggest approve 1", as_="clara")
    history = await bot.say("suggest show 1", as_="ben")
    assert "Rückfrage von @Clara Fischer: Um wie viele" in history and "Antwort von @Anna Schmidt: Etwa 200" in history
    await fill_form(bot, "anna", **LEAVE)
    assert "Zu #2 gibt es keine Rückfrage" in await bot.say("suggest reply 2 Noch eine Idee", as_="anna")


async def test_review_command_and_unknown_ids(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    assert "jetzt in Prüfung" in await bot.say("suggest review 1", as_="max")
    assert "bereits in Prüfung" in await bot.say("suggest review 1", as_="max")
    assert "Einen Vorschlag #99 gibt es hier nicht" in await bot.say("suggest show 99", as_="ben")
    assert "Bitte gib die Nummer des Vorschlags an: `suggest zeige Nummer`" in await bot.say("suggest show", as_="ben")
    assert "Bitte gib deinen Belegcode an" in await bot.say("suggest status", as_="ben")
    assert "Einen Vorschlag #99 gibt es hier nicht" in await press(bot, "suggest:approve:99", as_="max")
    assert "Einen Vorschlag #99 gibt es hier nicht" in await press(bot, "suggest:vote:99", as_="ben")
    assert "Einen Vorschlag #99 gibt es hier nicht" in await bot.say("suggest done 99", as_="max")
    assert "Diesen Belegcode kenne ich nicht" in await bot.say("suggest status ABCDE-FGHJK", as_="ben")
    assert "Diesen Belegcode kenne ich nicht" in await bot.say("suggest reply ABCDE-FGHJK hallo", as_="ben")
    assert "Dieser Knopf gilt nicht mehr" in await press(bot, "suggest:bogus:1", as_="ben")
    assert "`lala` verstehe ich nicht" in await bot.say("suggest list lala", as_="ben")


# --- duplicates and votes -----------------------------------------------------------------------------


async def test_duplicate_moves_votes_and_followers_counting_people_once(bot: BotHarness) -> None:
    await bot.say("suggest approvers @clara", as_="max")
    await fill_form(bot, "anna", **TRAVEL)
    await fill_form(bot, "emma", **LEAVE)  # stands in for a duplicate: the reviewer decides what is one
    for who in ("ben", "deniz"):
        await bot.say("suggest vote 1", as_=who)
    for who in ("ben", "felix"):
        await bot.say("suggest vote 2", as_=who)
    await bot.say("suggest follow 2", as_="greta")

    form = await press(bot, "suggest:duplicate:2", as_="clara")
    assert "== Als Duplikat markieren ==" in form
    await bot.say("1", as_="clara")
    assert "Bitte gib eine Begründung an" in await bot.say("", as_="clara")
    await press(bot, "suggest:duplicate:2", as_="clara")
    await bot.say("", as_="clara")
    assert "Nummer des ursprünglichen Vorschlags" in await bot.say("gleiches Thema", as_="clara")
    await press(bot, "suggest:duplicate:2", as_="clara")
    await bot.say("2", as_="clara")
    assert "kein Duplikat von sich selbst" in await bot.say("gleiches Thema", as_="clara")
    await press(bot, "suggest:duplicate:2", as_="clara")
    await bot.say("77", as_="clara")
    assert "Einen Vorschlag #77 gibt es hier nicht" in await bot.say("gleiches Thema", as_="clara")
    assert (await one(bot, 2)).status == "submitted"

    await press(bot, "suggest:duplicate:2", as_="clara")
    await bot.say("#1", as_="clara")
    out = await bot.say("Gleiches Grundproblem: zu viele Unterschriften.", as_="clara")
    assert "als Duplikat von #1 markiert" in out
    for person in ("emma", "ben", "felix", "greta"):
        assert "ist jetzt Duplikat" in dm_blocks(out, person), person
    assert "zum Original #1 umgezogen" in dm_blocks(out, "felix")
    votes, follows = await supporters(bot, 1)
    assert votes == {"ben", "deniz", "felix"}  # ben voted on both: counted once
    assert follows == {"greta", "emma"}  # the duplicate's submitter follows the original
    assert await supporters(bot, 2) == (set(), set())
    s = await one(bot, 2)
    assert (s.status, s.duplicate_of_id, s.decided_by) == ("duplicate", 1, "clara")
    assert "bitte stimm für das Original #1" in (await bot.say("suggest vote 2", as_="deniz")).replace("Bitte", "bitte")
    # A duplicate of a duplicate points to the real original.
    await fill_form(
        bot, "ben", title="Kantine", problem="Die Kantine schließt zu früh.", proposal="Länger offen.", category="rule"
    )
    out = await bot.say("suggest duplicate 3 2 gleiches Thema", as_="clara")
    assert "#2 ist selbst ein Duplikat von #1" in out
    shown = await bot.say("suggest show 1", as_="ben")
    assert line_with(shown, "Stimmen").split()[-1] == "3"


async def test_one_vote_per_person(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    await bot.say("suggest show 1", as_="ben")
    assert "Deine Stimme für #1 zählt (jetzt 1 Stimme)" in await click(bot, "Abstimmen", as_="ben")
    again = await press(bot, "suggest:vote:1", as_="ben")
    assert "(only you) Du hast schon für #1 gestimmt: eine Stimme pro Person." in again
    assert "Du hast schon für #1 gestimmt" in await bot.say("suggest vote 1", as_="ben")
    assert await supporters(bot, 1) == ({"ben"}, set())


async def test_list_and_mine(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    await fill_form(bot, "ben", **LEAVE)
    await bot.say("suggest vote 2", as_="clara")
    await bot.say("suggest approve 2", as_="max")
    assert "#1 Reisekosten" in (listed := await bot.say("suggest list", as_="deniz")) and "#2" not in listed
    assert "#2 Urlaubsantrag auf Papier (genehmigt, 1 Stimme)" in await bot.say("suggest list approved", as_="deniz")
    assert "Hier ist noch nichts" in await bot.say("suggest list done", as_="deniz")
    mine = await bot.say("suggest list mine", as_="anna")
    assert "#1 Reisekosten" in mine and "#2" not in mine and "Anonyme Vorschläge stehen nie unter deinem Namen" in mine


async def test_help_and_settings(bot: BotHarness) -> None:
    assert "kein Hinweisgebersystem" in await bot.say("suggest help", as_="anna")
    assert "suggest" in await bot.say("help", as_="anna")
    out = await bot.say("suggest settings", as_="anna")
    assert "keine: die Workspace-Admins entscheiden" in out and "14 Tage" in out
    assert "1 bis 90" in await bot.say("suggest deadline 0", as_="max")
    assert "Gespeichert: deadline = 7" in await bot.say("suggest deadline 7", as_="max")
    assert "7 Tage" in await bot.say("suggest settings", as_="anna")
    assert "nur Workspace-Admins" in await bot.say("suggest deadline 7", as_="anna")
    assert "Bitte einen Kanal erwähnen" in await bot.say("suggest review-channel", as_="max")


# --- kudos for an implemented suggestion ---------------------------------------------------------------


async def test_thank_the_submitter_gives_kudos_through_the_kudos_feature(bot: BotHarness) -> None:
    await fill_form(bot, "anna", **TRAVEL)
    assert "noch nicht umgesetzt" in await press(bot, "suggest:thank:1", as_="ben")
    await bot.say("suggest approve 1", as_="max")
    await bot.say("suggest done 1 Neue Richtlinie gilt ab Montag", as_="max")
    async with bot.app.sessions() as s:
        before = (
            await s.execute(select(func.count()).select_from(Kudos).where(Kudos.receiver_id == "anna"))
        ).scalar_one()
    await bot.say("suggest show 1", as_="ben")
    out = await click(bot, "Danke sagen", as_="ben")
    assert "Kudos an @Anna Schmidt verschickt" in out and "→ DM to @anna" in out
    async with bot.app.sessions() as s:
        rows = (
            (await s.execute(select(Kudos).where(Kudos.receiver_id == "anna").order_by(Kudos.id.desc())))
            .scalars()
            .all()
        )  # type: ignore[union-attr]
    assert len(rows) == before + 1
    assert rows[0].giver_id == "ben" and rows[0].source == "suggestion" and "Vorschlag Nr. 1" in rows[0].reason
    # The submitter cannot thank herself (the kudos feature's own rule).
    await bot.say("suggest show 1", as_="anna")
    assert "Kudos an dich selbst zählen nicht" in await click(bot, "Danke sagen", as_="anna")


async def test_handoff_from_a_prompt_answer_opens_the_form_prefilled(bot: BotHarness) -> None:
    from bot.core.events import ActionEvent, Actor, Conversation, Platform
    from bot.core.messages import Form

    actor = Actor(platform=Platform.CONSOLE, workspace_id=bot.workspace_id, user_id="anna", display_name="Anna")
    text = "Kunden müssen ihre Adresse dreimal angeben."
    msgs = await bot.app.dispatch(
        ActionEvent(actor=actor, conversation=Conversation(id="general"), action_id="suggest:from_answer", value=text)
    )
    form = next(b for m in msgs if m.target.kind == "modal" for b in m.blocks if isinstance(b, Form))
    assert form.action_id == "suggest:new"
    assert {i.id: i.initial for i in form.inputs}["problem"] == text
    msgs = await bot.app.dispatch(
        ActionEvent(actor=actor, conversation=Conversation(id="general"), action_id="suggest:from_answer", value="4711")
    )
    form = next(b for m in msgs if m.target.kind == "modal" for b in m.blocks if isinstance(b, Form))
    assert {i.id: i.initial for i in form.inputs}["problem"] is None
