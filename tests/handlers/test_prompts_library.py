from __future__ import annotations

import re

import pytest
import yaml

from handlers.prompts.library import LibraryError, library, parse_library, parse_prompt_file

REQUIRED_CATEGORIES = {"perspective", "journey", "friction", "internal", "goals", "latitude"}


def test_library_has_150_bilingual_prompts_each_with_category() -> None:
    lib = library()
    assert len(lib.prompts) >= 150
    assert set(lib.categories) >= REQUIRED_CATEGORIES
    for p in lib.prompts:
        assert p.category in lib.categories, p.id
        assert len(p.de.strip()) >= 20 and len(p.en.strip()) >= 20, p.id
        assert p.de != p.en, p.id
        assert p.tags, p.id
    assert len({p.id for p in lib.prompts}) == len(lib.prompts)
    # every category is well represented, with labels in both languages
    for key, labels in lib.categories.items():
        assert sum(1 for p in lib.prompts if p.category == key) >= 20, key
        assert labels["de"] and labels["en"]


GERMAN = set(
    [
        "du",
        "dein",
        "deine",
        "dir",
        "dich",
        "wir",
        "uns",
        "unser",
        "unsere",
        "und",
        "der",
        "die",
        "das",
        "ist",
        "nicht",
        "was",
        "wie",
        "wer",
        "ein",
        "eine",
        "einen",
        "mit",
        "für",
        "am",
        "im",
        "zu",
        "auf",
        "bei",
    ]
)
ENGLISH = set(
    [
        "you",
        "your",
        "we",
        "us",
        "our",
        "the",
        "and",
        "is",
        "what",
        "how",
        "who",
        "a",
        "an",
        "to",
        "of",
        "do",
        "does",
        "with",
        "for",
        "at",
        "in",
        "on",
        "when",
    ]
)


def test_german_and_english_texts_are_in_their_language() -> None:
    for p in library().prompts:
        de = set(re.findall(r"\w+", p.de.lower()))
        en = set(re.findall(r"\w+", p.en.lower()))
        assert len(de & GERMAN) > len(de & ENGLISH), p.id
        assert len(en & ENGLISH) > len(en & GERMAN), p.id


def test_quote_templates_wrap_a_quote_in_both_languages() -> None:
    templates = library().quote_templates
    assert len(templates) >= 10
    for t in templates:
        text = t.render("de", "Ich warte seit drei Wochen.")
        assert "Ich warte seit drei Wochen." in text and "{quote}" not in text
        assert "Ich warte" in t.render("en", "Ich warte seit drei Wochen.")


def test_library_checks_reject_a_prompt_missing_a_language() -> None:
    data = {
        "categories": {"perspective": {"de": "Perspektive", "en": "Perspective"}},
        "prompts": [{"id": "x-1", "category": "perspective", "de": "Stell dir vor …", "en": ""}],
    }
    with pytest.raises(LibraryError, match="both German and English"):
        parse_library(data)
    data["prompts"] = [{"id": "x-1", "category": "nope", "de": "a", "en": "b"}]
    with pytest.raises(LibraryError, match="unknown category"):
        parse_library(data)


def test_prompt_file_yaml_and_csv() -> None:
    content = yaml.safe_dump(
        {
            "prompts": [
                {
                    "category": "internal",
                    "de": "Wie erlebt die IT unsere Tickets?",
                    "en": "How does IT see our tickets?",
                },
                {
                    "category": "Service-Ziele",
                    "de": "Was soll ein Kunde nach dem Gespräch fühlen?",
                    "tags": "goal, feeling",
                },
            ]
        },
        allow_unicode=True,
    )
    rows = parse_prompt_file("pack.yaml", content)
    assert [r.category for r in rows] == ["internal", "goals"]
    assert rows[1].en == rows[1].de  # one language given: used for both
    assert rows[1].tags == ["goal", "feeling"]
    csv_rows = parse_prompt_file(
        "pack.csv", "category,de,en\ninternal,Wer wartet heute auf dich?,Who is waiting for you today?\n"
    )
    assert csv_rows[0].en == "Who is waiting for you today?"
    with pytest.raises(LibraryError, match="line 2: unknown category"):
        parse_prompt_file("pack.csv", "category,de,en\nfoo,Wer wartet heute auf dich?,Who waits?\n")
    with pytest.raises(LibraryError, match="header row"):
        parse_prompt_file("pack.csv", "text\nhello there\n")


def test_prompt_messages_exist_in_german_and_english_with_the_same_placeholders() -> None:
    from bot.core.i18n import CATALOG_DIRS, load_catalog, placeholders

    de = {k: v for k, v in load_catalog("de", CATALOG_DIRS).items() if k.startswith("prompts.")}
    en = {k: v for k, v in load_catalog("en", CATALOG_DIRS).items() if k.startswith("prompts.")}
    assert len(de) > 80 and set(de) == set(en)
    for key, en_text in en.items():
        variants = de[key].values() if isinstance(de[key], dict) else [de[key]]
        for de_text in variants:
            assert placeholders(str(de_text)) == placeholders(str(en_text)), key
