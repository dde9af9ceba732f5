"""Removes personal data from customer quotes before they are stored or sent to a language model:
e-mail addresses, IBANs, card-like numbers, phone numbers, links that carry tokens, surnames after a
salutation ("Frau Meier", "Herrn Dr. Schulz") and the names of the workspace's own people.

It errs on the side of removing: a long order number may be masked as a card number, never the other
way round. Dates, times, amounts and short numbers stay.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'„“”»«]+", re.IGNORECASE)
# IBAN: country code, two check digits, 11 to 30 more characters, optionally grouped in fours.
IBAN = re.compile(r"\b(?i:[A-Z]{2})\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# 13 to 19 digits, optionally grouped by single spaces or dashes: card-like numbers.
CARD = re.compile(r"(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d,]|\.\d)")
# International (+49 / 0049) or national (leading 0) numbers with at least 7 digits.
PHONE = re.compile(
    r"(?<![\w+.,/])(?:(?:\+|00)\d{1,3}[ \-/]?(?:\(0\)[ \-/]?)?|\(?0\d{1,5}\)?[ \-/]?)\d(?:[ \-/]?\d){4,12}(?![\d.,]\d|\w)"
)
SECRET_KEYS = re.compile(
    r"token|key|sig|signature|secret|auth|code|session|sid|pass|pwd|password|jwt|hash|otp|ticket", re.IGNORECASE
)
LONG_ID = re.compile(r"[A-Za-z0-9_\-]{20,}")

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


@dataclass
class Scrubbed:
    text: str
    found: Counter[str] = field(default_factory=Counter)

    @property
    def redactions(self) -> int:
        return sum(self.found.values())


def _has_token(url: str) -> bool:
    raw = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(raw)
    except ValueError:
        return True
    if parts.username or parts.password:
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if SECRET_KEYS.search(key) or LONG_ID.fullmatch(value or ""):
            return True
    if parts.fragment and ("=" in parts.fragment or LONG_ID.search(parts.fragment)):
        return True
    return any(LONG_ID.fullmatch(seg) and any(c.isdigit() for c in seg) for seg in parts.path.split("/"))


def _looks_like_iban(match: str) -> bool:
    compact = match.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[4:].isalnum():
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1 or sum(c.isdigit() for c in compact[4:]) >= 10


def scrub(text: str, names: re.Pattern[str] | None = None) -> Scrubbed:
    """The text with personal data replaced by ``[email]``, ``[IBAN]``, ``[card]``, ``[phone]``, ``[link]``
    and ``[Name]`` (surnames after a salutation; with ``names``, see :func:`names_pattern`, those names)."""
    found: Counter[str] = Counter()

    def mask(kind: str) -> str:
        found[kind] += 1
        return MASKS[kind]

    def url(m: re.Match[str]) -> str:
        trail = ""
        value = m.group(0)
        while value and value[-1] in ".,;:!?)]}":
            trail = value[-1] + trail
            value = value[:-1]
        return (mask("link") + trail) if _has_token(value) else m.group(0)

    out = URL.sub(url, text)
    out = EMAIL.sub(lambda m: mask("email"), out)
    out = IBAN.sub(lambda m: mask("iban") if _looks_like_iban(m.group(0)) else m.group(0), out)
    out = PHONE.sub(lambda m: mask("phone"), out)
    out = CARD.sub(lambda m: mask("card"), out)

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
