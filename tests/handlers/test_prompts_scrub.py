from __future__ import annotations

import pytest

from handlers.prompts.scrub import scrub


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Schreiben Sie an max.mustermann+shop@example.co.uk bitte.", "Schreiben Sie an [email] bitte.", "email"),
        (
            "Meine IBAN ist DE89 3704 0044 0532 0130 00, bitte erstatten.",
            "Meine IBAN ist [IBAN], bitte erstatten.",
            "iban",
        ),
        ("IBAN: DE89370400440532013000.", "IBAN: [IBAN].", "iban"),
        ("iban de89 3704 0044 0532 0130 00", "iban [IBAN]", "iban"),
        ("AT61 1904 3002 3457 3201 und CH93 0076 2011 6238 5295 7", "[IBAN] und [IBAN]", "iban"),
        ("Karte 4111 1111 1111 1111 wurde doppelt belastet", "Karte [card] wurde doppelt belastet", "card"),
        ("card 4111-1111-1111-1111.", "card [card].", "card"),
        ("Kundennummer 1234567890123 gesperrt", "Kundennummer [card] gesperrt", "card"),
        ("Ruf mich an: 0171 1234567!", "Ruf mich an: [phone]!", "phone"),
        ("Tel. +49 (0)30 123456-78 oder 030/1234567", "Tel. [phone] oder [phone]", "phone"),
        ("Zürich: +41 44 668 18 00", "Zürich: [phone]", "phone"),
        ("Hotline 0800 123 456 hilft nicht", "Hotline [phone] hilft nicht", "phone"),
        ("0049 89 1234567 ist meine Nummer", "[phone] ist meine Nummer", "phone"),
        (
            "Link: https://portal.example.com/reset?token=abc123def456&user=5 geht nicht.",
            "Link: [link] geht nicht.",
            "link",
        ),
        ("Siehe https://example.com/d/8f14e45fceea167a5a36dedd4bea2543/file", "Siehe [link]", "link"),
        ("https://user:secret@example.com/x", "[link]", "link"),
        ("www.shop.example/order#access_token=eyJhbGciOi", "[link]", "link"),
    ],
)
def test_personal_data_is_removed(text: str, expected: str, kind: str) -> None:
    result = scrub(text)
    assert result.text == expected
    assert result.found[kind] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Am 12.03.2024 um 09:30 habe ich 1.234,56 € bezahlt.",
        "Bestellnummer 4711, Version 2.3.1, seit 2019 Kunde, PLZ 80331 München, 01067 Dresden",
        "Rechnung 2024-0042 vom 3. Mai, 20 Minuten in der Warteschleife!",
        "Ihre Hilfeseite https://example.com/hilfe/rechnung war gut.",
        "Ich habe 3 Mal angerufen und 45 € Mahngebühr bezahlt.",
        "ABCD EFGH IJKL MNOP und DE12 ABCD EFGH IJKL",
    ],
)
def test_ordinary_text_stays(text: str) -> None:
    result = scrub(text)
    assert result.text == text
    assert result.redactions == 0


def test_an_email_inside_a_harmless_link_is_still_removed() -> None:
    result = scrub("https://shop.example/faq?ref=a@b.de und kunde@example.org")
    assert "a@b.de" not in result.text and "kunde@example.org" not in result.text
    assert result.found["email"] == 2


def test_counts_every_removal() -> None:
    result = scrub("max@example.com, 0171 1234567, DE89 3704 0044 0532 0130 00, 4111 1111 1111 1111")
    assert result.text == "[email], [phone], [IBAN], [card]"
    assert result.redactions == 4
