"""Translations: every user-facing string in German and English.

Catalogs are YAML files, one per feature and language: ``bot/core/locales/<lang>/*.yaml`` and
``handlers/locales/<lang>/*.yaml``. A German entry may be a mapping ``{du: ..., sie: ...}`` for the
workspace's chosen form of address. Placeholders use ``{name}``; a test checks both languages have
the same keys and placeholders.

Every value filled into a placeholder is data: it is wrapped with :func:`bot.core.messages.user_text`, so each
platform's renderer escapes it, unless it is :class:`bot.core.messages.Markup` (another translation, a
:func:`~bot.core.messages.mention` or :func:`~bot.core.messages.channel_link`). Numbers go in as they are
(format specs keep working). The template's own markup stays markup. Pages and documents that are not chat
messages use a translator made with ``marked=False``, which fills values in as they are.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from functools import lru_cache
from numbers import Number
from pathlib import Path
from typing import Any

import yaml

from bot.core.messages import Markup, user_text

LANGUAGES = ("de", "en")
ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIRS = (ROOT / "bot" / "core" / "locales", ROOT / "handlers" / "locales")


def normalize_locale(value: str | None) -> str | None:
    """``de-DE``, ``de_AT``, ``en-GB`` → ``de`` / ``en``; anything else → None."""
    if not value:
        return None
    lang = value.replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else None


class _CatalogLoader(yaml.SafeLoader):
    """YAML as people write catalogs: ``off:``, ``on:``, ``yes:`` and ``no:`` are words (a subcommand's ``off``),
    not the booleans YAML 1.1 makes of them; only true/false are booleans (as in YAML 1.2)."""


_BOOL = "tag:yaml.org,2002:bool"
_CatalogLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CatalogLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


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
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CatalogLoader) or {}
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


def as_data(value: Any) -> Any:
    """A value for a chat template: our own markup and numbers as they are, anything else marked as data."""
    kind = type(value)
    if kind is Markup or kind is int or kind is float:
        return value
    if kind is str:
        return user_text(value)
    if isinstance(value, Markup) or (isinstance(value, Number) and not isinstance(value, bool)):
        return value
    return user_text(str(value))


class Translator:
    """Looks up ``key`` in one language and form of address.

    With ``marked`` (chat messages, the default) every value is data and the result is
    :class:`~bot.core.messages.Markup`; without it (web pages, documents) values are filled in as they are."""

    def __init__(self, lang: str = "de", tone: str = "du", *, marked: bool = True) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self.tone = tone if tone in ("du", "sie") else "du"
        self.marked = marked

    def raw(self, key: str) -> str:
        entry = load_catalog(self.lang).get(key)
        if entry is None:
            entry = load_catalog("en").get(key, key)
        if isinstance(entry, dict):
            entry = entry.get(self.tone) or entry.get("du") or next(iter(entry.values()))
        return str(entry)

    def __call__(self, key: str, /, **params: Any) -> str:
        if not self.marked:
            return self.raw(key).format_map(_SafeDict(params))
        filled = {name: as_data(value) for name, value in params.items()}
        return Markup(self.raw(key).format_map(_SafeDict(filled)))

    def has(self, key: str) -> bool:
        return key in load_catalog(self.lang)

    def plural(self, key: str, n: int, /, **params: Any) -> str:
        """``key.one`` / ``key.other`` by count."""
        return self(f"{key}.{'one' if n == 1 else 'other'}", n=n, **params)

    def join(self, items: Iterable[str]) -> str:
        """ "a, b and c" / "a, b und c"."""
        xs = [str(as_data(x)) for x in items] if self.marked else list(items)
        joined = "".join(xs) if len(xs) <= 1 else ", ".join(xs[:-1]) + self("core.and") + xs[-1]
        return Markup(joined) if self.marked else joined


def translator_for(*locales: str | None, tone: str = "du", marked: bool = True) -> Translator:
    """The first usable locale wins: the person's own, then the workspace's."""
    for loc in locales:
        lang = normalize_locale(loc)
        if lang:
            return Translator(lang, tone, marked=marked)
    return Translator("en", tone, marked=marked)
