"""The built-in prompt library (``library.yaml`` in this package) and prompt files admins import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

LANGS = ("de", "en")
MAX_PROMPT_LENGTH = 600
MIN_PROMPT_LENGTH = 10


@dataclass(frozen=True)
class LibraryPrompt:
    id: str
    category: str
    de: str
    en: str
    tags: tuple[str, ...] = ()
    de_sie: str = ""  # the German text in "Sie" (empty: the prompt does not address the reader)

    def text(self, lang: str, tone: str = "du") -> str:
        if lang != "de":
            return self.en
        return self.de_sie if tone == "sie" and self.de_sie else self.de


@dataclass(frozen=True)
class QuoteTemplate:
    id: str
    de: str
    en: str
    de_sie: str = ""

    def render(self, lang: str, quote: str, tone: str = "du") -> str:
        text = (self.de_sie if tone == "sie" and self.de_sie else self.de) if lang == "de" else self.en
        return text.replace("{quote}", quote)


@dataclass(frozen=True)
class Library:
    categories: dict[str, dict[str, str]]
    prompts: tuple[LibraryPrompt, ...]
    quote_templates: tuple[QuoteTemplate, ...] = field(default=())

    def category_label(self, key: str, lang: str) -> str:
        labels = self.categories.get(key)
        return labels.get(lang, key) if labels else key

    def by_id(self) -> dict[str, LibraryPrompt]:
        return {p.id: p for p in self.prompts}


class LibraryError(ValueError):
    """A prompt file that cannot be used; the message says where."""


def parse_library(data: Any) -> Library:
    if not isinstance(data, dict):
        raise LibraryError("the library must be a mapping")
    categories = {str(k): {lang: str(v[lang]) for lang in LANGS} for k, v in (data.get("categories") or {}).items()}
    prompts: list[LibraryPrompt] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("prompts") or []):
        pid = str(raw.get("id") or "")
        if not pid or pid in seen:
            raise LibraryError(f"prompt #{i + 1}: missing or repeated id {pid!r}")
        seen.add(pid)
        if raw.get("category") not in categories:
            raise LibraryError(f"prompt {pid}: unknown category {raw.get('category')!r}")
        texts = {lang: str(raw.get(lang) or "").strip() for lang in LANGS}
        if not all(texts.values()):
            raise LibraryError(f"prompt {pid}: needs both German and English")
        prompts.append(
            LibraryPrompt(
                pid,
                str(raw["category"]),
                texts["de"],
                texts["en"],
                tuple(raw.get("tags") or ()),
                str(raw.get("de_sie") or "").strip(),
            )
        )
    templates = []
    for raw in data.get("quote_templates") or []:
        texts = {lang: str(raw.get(lang) or "") for lang in LANGS}
        if not all("{quote}" in t for t in texts.values()):
            raise LibraryError(f"quote template {raw.get('id')}: both languages need a {{quote}} placeholder")
        templates.append(QuoteTemplate(str(raw["id"]), texts["de"], texts["en"], str(raw.get("de_sie") or "")))
    return Library(categories, tuple(prompts), tuple(templates))


@lru_cache(maxsize=1)
def library() -> Library:
    """The built-in library, shipped as data inside the package."""
    text = resources.files(__package__).joinpath("library.yaml").read_text(encoding="utf-8")
    return parse_library(yaml.safe_load(text))


def category_key(word: str) -> str | None:
    """A category by key or by its German or English name (case-insensitive)."""
    low = word.strip().lower().lstrip("#")
    for key, labels in library().categories.items():
        if low == key or low in (labels["de"].lower(), labels["en"].lower()):
            return key
    return None


@dataclass
class PromptRow:
    category: str
    de: str
    en: str
    tags: list[str]


def prompt_row(raw: dict[str, Any], where: str) -> PromptRow:
    category = category_key(str(raw.get("category") or ""))
    if category is None:
        known = ", ".join(library().categories)
        raise LibraryError(f"{where}: unknown category {raw.get('category')!r} (known: {known})")
    de = str(raw.get("de") or "").strip()
    en = str(raw.get("en") or "").strip()
    if not de and not en:
        raise LibraryError(f"{where}: needs a German (de) or English (en) text")
    de, en = de or en, en or de
    for text in (de, en):
        if not MIN_PROMPT_LENGTH <= len(text) <= MAX_PROMPT_LENGTH:
            raise LibraryError(f"{where}: a prompt is {MIN_PROMPT_LENGTH} to {MAX_PROMPT_LENGTH} characters long")
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(";", ",").split(",") if t.strip()]
    return PromptRow(category, de, en, [str(t) for t in tags])


def parse_prompt_file(name: str, content: str) -> list[PromptRow]:
    """Prompts from a YAML file (a ``prompts:`` list like the library's, or a bare list) or a CSV file
    with the columns ``category``, ``de``, ``en`` and optional ``tags``. All rows are checked first."""
    rows: list[PromptRow] = []
    if name.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
        if not reader.fieldnames or "category" not in [f.strip().lower() for f in reader.fieldnames]:
            raise LibraryError("the CSV file needs a header row with category, de, en (and optional tags)")
        for n, raw in enumerate(reader, start=2):
            clean = {str(k).strip().lower(): (v or "") for k, v in raw.items() if k is not None}
            rows.append(prompt_row(clean, f"line {n}"))
        return rows
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as err:
        raise LibraryError(f"not valid YAML: {err}") from None
    items = data.get("prompts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise LibraryError("the YAML file needs a list of prompts (or a 'prompts:' list)")
    for n, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            raise LibraryError(f"prompt #{n}: expected category, de and en")
        rows.append(prompt_row(raw, f"prompt #{n}"))
    return rows
