"""Removes personal data from customer quotes before they are stored or sent to a language model:
e-mail addresses, IBANs, card-like numbers, phone numbers, links that carry tokens, surnames after a
salutation ("Frau Meier", "Herrn Dr. Schulz") and the names of the workspace's own people.

It errs on the side of removing: a long order number may be masked as a card number, never the other
way round. Dates, times, amounts and short numbers stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.core.scrub import Scrubbed
from bot.core.scrub import scrub as scrub_contacts

MASKS = {
    "email": "[email]",
    "iban": "[IBAN]",
    "card": "[card]",
    "phone": "[phone]",
    "link": "[link]",
    "name": "[Name]",
}
# A salutation and optional academic titles; the capitalised words after it (up to three, with a "von"
# or "van" between) are a name.
NAME_WORD = r"[A-ZÄÖÜ][\w'’]*(?:-[A-ZÄÖÜ][\w'’]*)*"
SALUTATION = re.compile(
    r"\b(?P<salutation>(?:Frau|Herrn?|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?|Miss)\s+"
    r"(?:(?:Dr|Prof|Dipl\.-Ing|Mag)\.\s*)*)"
    rf"(?P<name>(?:(?:von|van|de|zu|vom|van der|von der)\s+)?{NAME_WORD}(?:\s+(?:(?:von|van|de|zu)\s+)?{NAME_WORD}){{0,2}})"
)
NOT_NAMES = {"Kunde", "Kundin", "Kollege", "Kollegin", "Service", "Support", "Team", "Dr", "Prof"}
# Capitalised words that end a name rather than continue it (pronouns, articles, common nouns after a name).
NAME_STOP = {
    "Sie",
    "Ihr",
    "Ihre",
    "Ihnen",
    "Er",
    "Der",
    "Die",
    "Das",
    "Den",
    "Dem",
    "Und",
    "Oder",
    "Aber",
    "Vielen",
    "Danke",
    "Dank",
    "Bitte",
    "Heute",
    "Gestern",
    "Morgen",
    "Team",
    "Kundenservice",
    "Support",
    "The",
    "And",
}


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for people's names: each full name and each of its parts of three letters or more, as
    whole, capitalised words (so "Max" is masked, "max. 5 Tage" is not)."""
    words: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if len(name) >= 3:
            words.add(name)
        words |= {part for part in name.split() if len(part) >= 3 and part[:1].isupper()}
    if not words:
        return None
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w\-])(?:{alternation})(?![\w\-])")


def scrub(text: str, names: re.Pattern[str] | None = None) -> Scrubbed:
    """The text with personal data replaced by ``[email]``, ``[IBAN]``, ``[card]``, ``[phone]``, ``[link]``
    and ``[Name]`` (surnames after a salutation; with ``names``, see :func:`names_pattern`, those names)."""
    base = scrub_contacts(text)  # e-mail, IBAN, card, phone and token links, as everywhere
    found, out = base.found, base.text

    def mask(kind: str) -> str:
        found[kind] += 1
        return MASKS[kind]

    def salutation(m: re.Match[str]) -> str:
        words = m.group("name").split()
        kept: list[str] = []
        for word in words:
            if word in NAME_STOP:
                break
            kept.append(word)
        if not kept or kept[-1] in ("von", "van", "de", "zu", "vom", "der") or kept[0] in NOT_NAMES:
            return m.group(0)
        rest = m.group("name")[len(" ".join(kept)) :] if m.group("name").startswith(" ".join(kept)) else ""
        return m.group("salutation") + mask("name") + rest

    out = SALUTATION.sub(salutation, out)
    if names is not None:
        out = names.sub(lambda m: mask("name"), out)
    return Scrubbed(out, found)
