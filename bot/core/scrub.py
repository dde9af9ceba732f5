"""Removes personal data from customer quotes before they are stored or sent to a language model:
e-mail addresses, IBANs, card-like numbers, phone numbers and links that carry tokens.

It errs on the side of removing: a long order number may be masked as a card number, never the other
way round. Dates, times, amounts and short numbers stay.
"""

from __future__ import annotations

import re
from collections import Counter
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

MASKS = {"email": "[email]", "iban": "[IBAN]", "card": "[card]", "phone": "[phone]", "link": "[link]", "name": "[name]"}


@dataclass
class Scrubbed:
    text: str
    found: Counter[str] = field(default_factory=Counter)

    @property
    def redactions(self) -> int:
        return sum(self.found.values())


def has_token(url: str) -> bool:
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


def looks_like_iban(match: str) -> bool:
    compact = match.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[4:].isalnum():
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1 or sum(c.isdigit() for c in compact[4:]) >= 10


def scrub(text: str) -> Scrubbed:
    """The text with personal data replaced by ``[email]``, ``[IBAN]``, ``[card]``, ``[phone]``, ``[link]``."""
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
        return (mask("link") + trail) if has_token(value) else m.group(0)

    out = URL.sub(url, text)
    out = EMAIL.sub(lambda m: mask("email"), out)
    out = IBAN.sub(lambda m: mask("iban") if looks_like_iban(m.group(0)) else m.group(0), out)
    out = PHONE.sub(lambda m: mask("phone"), out)
    out = CARD.sub(lambda m: mask("card"), out)
    return Scrubbed(out, found)


# Names: a title or salutation followed by a capitalised word ("Herr Huber", "Frau Dr. Berger"), a mention
# (`<@U123>`), and every part of a known person's name (the workspace's members).
TITLED = re.compile(
    r"\b(?:Herrn?|Frau|Hr\.|Fr\.|Dr\.|Prof\.|Mr\.?|Mrs\.?|Ms\.?|Miss|Kollege|Kollegin)"
    r"(?:\s+(?:Dr\.|Prof\.))?\s+[A-ZÄÖÜ][\w\-]+(?:\s+[A-ZÄÖÜ][\w\-]+)?"
)
MENTION = re.compile(r"<@[^>\s]+>|<at>[^<]*</at>")
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w\-]*")


def name_parts(names: list[str]) -> frozenset[str]:
    """The words of people's names (3+ letters, capitalised): what :func:`scrub_names` masks."""
    return frozenset(p for n in names for p in WORD.findall(n or "") if len(p) >= 3 and p[0].isupper())


def scrub_names(text: str, names: frozenset[str] = frozenset()) -> Scrubbed:
    """Names replaced by ``[name]``: titled names, mentions, and any word that is part of a known name,
    including inflected forms (``Hubers``, ``Bergers``)."""
    found: Counter[str] = Counter()

    def mask(_m: re.Match[str]) -> str:
        found["name"] += 1
        return "[name]"

    out = MENTION.sub(mask, text)
    out = TITLED.sub(mask, out)

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        base = w[:-1] if w.endswith("s") and w[:-1] in names else w
        if base in names or (w.endswith("'s") and w[:-2] in names):
            found["name"] += 1
            return "[name]"
        return w

    if names:
        out = WORD.sub(word, out)
    return Scrubbed(out, found)


def scrub_for_model(text: str, names: frozenset[str] = frozenset()) -> str:
    """What may leave for a language model: no names, phone numbers, e-mail addresses, IBANs, cards, links."""
    return scrub(scrub_names(text, names).text).text
