"""Translations: every user-facing string in German and English.

Catalogs are YAML files, one per feature and language: ``bot/core/locales/<lang>/*.yaml`` and
``handlers/locales/<lang>/*.yaml``. A German entry may be a mapping ``{du: ..., sie: ...}`` for the
workspace's chosen form of address. Placeholders use ``{name}``; a test checks both languages have
the same keys and placeholders.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("de", "en")
ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIRS = (ROOT / "bot" / "core" / "locales", ROOT / "handlers" / "locales")


def normalize_locale(value: str | None) -> str | None:
    """``de-DE``, ``de_AT``, ``en-GB`` → ``de`` / ``en``; anything else → None."""
    if not value:
        return None
    lang = value.replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else None


def _flatten(prefix: str, data: Any, out: dict[str, Any]) -> None:
    if isinstance(data, dict) and not ({"du", "sie"} >= set(data) and data):
        for k, v in data.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = data


@lru_cache(maxsize=4)
def load_catalog(lang: str, dirs: tuple[Path, ...] = CATALOG_DIRS) -> dict[str, Any]:
    catalog: dict[str, Any] = {}
    for base in dirs:
        folder = base / lang
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            flat: dict[str, Any] = {}
            _flatten("", data, flat)
            dupes = set(flat) & set(catalog)
            if dupes:
                raise ValueError(f"duplicate translation keys in {path}: {sorted(dupes)[:5]}")
            catalog.update(flat)
    return catalog


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """Looks up ``key`` in one language and form of address."""

    def __init__(self, lang: str = "de", tone: str = "du") -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self.tone = tone if tone in ("du", "sie") else "du"

    def raw(self, key: str) -> str:
        entry = load_catalog(self.lang).get(key)
        if entry is None:
            entry = load_catalog("en").get(key, key)
        if isinstance(entry, dict):
            entry = entry.get(self.tone) or entry.get("du") or next(iter(entry.values()))
        return str(entry)

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.raw(key).format_map(_SafeDict(params))

    def has(self, key: str) -> bool:
        return key in load_catalog(self.lang)

    def plural(self, key: str, n: int, /, **params: Any) -> str:
        """``key.one`` / ``key.other`` by count."""
        return self(f"{key}.{'one' if n == 1 else 'other'}", n=n, **params)

    def join(self, items: Iterable[str]) -> str:
        """ "a, b and c" / "a, b und c"."""
        xs = list(items)
        if len(xs) <= 1:
            return "".join(xs)
        return ", ".join(xs[:-1]) + self("core.and") + xs[-1]


def translator_for(*locales: str | None, tone: str = "du") -> Translator:
    """The first usable locale wins: the person's own, then the workspace's."""
    for loc in locales:
        lang = normalize_locale(loc)
        if lang:
            return Translator(lang, tone)
    return Translator("en", tone)
