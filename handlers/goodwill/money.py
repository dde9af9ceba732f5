"""Money as integers in a currency's minor units: parsing what people type, and showing it back.

``80``, ``80,50``, ``80.50``, ``80.-``, ``1'000`` and ``CHF 80`` / ``80 CHF`` / ``80 €`` are understood; a
float is never involved. Each currency has its own number of decimals (ISO 4217): EUR 2, JPY 0, KWD 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.i18n import Translator
from bot.core.router import UserError

# ISO 4217 codes Starling books in, with their minor units.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "CHF": 2,
    "USD": 2,
    "GBP": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "TRY": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "SGD": 2,
    "HKD": 2,
    "CNY": 2,
    "INR": 2,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "fr.": "CHF", "sfr.": "CHF", "fr": "CHF"}
MAX_MAJOR = 10_000_000  # more than this in one line is a typo, not a budget

NUMBER = r"[+\-−]?\d[\d'’_]*(?:[.,]\d+|[.,][-–])?"
_AMOUNT = re.compile(rf"^(?P<num>{NUMBER})$")
_SPLIT = re.compile(rf"^(?P<num>{NUMBER})(?P<cur>[A-Za-z€$£¥]{{1,4}}\.?)$|^(?P<cur2>[€$£¥])(?P<num2>{NUMBER})$")


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str


def known(code: str) -> bool:
    return code.upper() in MINOR_UNITS


def currency_code(word: str) -> str | None:
    """``EUR``, ``eur``, ``€``, ``Fr.`` → the ISO code; None if the word is no currency Starling knows."""
    w = word.strip()
    if w.lower() in SYMBOLS:
        return SYMBOLS[w.lower()]
    return w.upper() if w.upper() in MINOR_UNITS else None


def looks_like_currency(word: str) -> bool:
    """Three capital letters (``XYZ``): meant as a currency code, known or not."""
    return bool(re.fullmatch(r"[A-Z]{3}", word))


def parse_number(raw: str, code: str) -> int:
    """The amount in minor units; friendly refusals for negatives, zero, too many decimals and absurd sums."""
    m = _AMOUNT.match(raw.strip())
    if m is None:
        raise UserError("goodwill.err.no_amount")
    text = m.group("num").replace("−", "-")
    if text.startswith("-"):
        raise UserError("goodwill.err.negative")
    text = text.lstrip("+").replace("'", "").replace("’", "").replace("_", "")
    text = re.sub(r"[.,][-–]$", "", text)
    whole, _, frac = text.replace(",", ".").partition(".")
    digits = MINOR_UNITS[code]
    if len(frac) > digits:
        raise UserError(
            "goodwill.err.decimals",
            amount=raw,
            currency=code,
            digits=digits,
        )
    if int(whole or "0") > MAX_MAJOR:
        raise UserError("goodwill.err.absurd", amount=raw, max=f"{MAX_MAJOR:,}".replace(",", "'"))
    minor = int(whole or "0") * 10**digits + int((frac or "0").ljust(digits, "0") or "0") if digits else int(whole)
    if minor <= 0:
        raise UserError("goodwill.err.zero")
    return minor


def split_amount(words: list[str]) -> tuple[str | None, str | None, int]:
    """The amount and currency at the start of ``words``: (number text, currency word, words used)."""
    if not words:
        return None, None, 0
    first = words[0]
    m = _SPLIT.match(first)
    if m and m.group("num"):
        return m.group("num"), m.group("cur"), 1
    if m and m.group("num2"):
        return m.group("num2"), m.group("cur2"), 1
    if _AMOUNT.match(first):
        nxt = words[1] if len(words) > 1 else ""
        if nxt and (currency_code(nxt) or looks_like_currency(nxt)):
            return first, nxt, 2
        return first, None, 1
    if (currency_code(first) or looks_like_currency(first)) and len(words) > 1 and _AMOUNT.match(words[1]):
        return words[1], first, 2
    return None, None, 0


def fmt(t: Translator, minor: int, code: str) -> str:
    """``1,000 EUR`` / ``1.000 EUR``; cents only when there are some: ``80.50 EUR`` / ``80,50 EUR``."""
    digits = MINOR_UNITS.get(code, 2)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits) if digits else (abs(minor), 0)
    thousands, decimal = (".", ",") if t.lang == "de" else (",", ".")
    body = f"{whole:,}".replace(",", thousands)
    if digits and frac:
        body += decimal + str(frac).rjust(digits, "0")
    return f"{sign}{body} {code}"


def plain(minor: int, code: str) -> str:
    """For a CSV: ``80.00``, ``-150.00``, ``1200`` (yen): a dot and every decimal, no grouping."""
    digits = MINOR_UNITS.get(code, 2)
    sign = "-" if minor < 0 else ""
    if not digits:
        return f"{sign}{abs(minor)}"
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{str(frac).rjust(digits, '0')}"
