"""The suggestion box speaks German and English: the same keys and placeholders in both."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.core.i18n import ROOT, _flatten, placeholders


def catalog(lang: str) -> dict[str, object]:
    data = yaml.safe_load(Path(ROOT, "handlers", "locales", lang, "suggestions.yaml").read_text(encoding="utf-8"))
    flat: dict[str, object] = {}
    _flatten("", data, flat)
    return flat


def variants(entry: object) -> list[str]:
    if isinstance(entry, dict):
        assert set(entry) == {"du", "sie"}, entry
        return [str(v) for v in entry.values()]
    return [str(entry)]


def test_german_and_english_have_the_same_keys_and_placeholders() -> None:
    de, en = catalog("de"), catalog("en")
    assert set(de) == set(en)
    for key, entry in en.items():
        (english,) = variants(entry)
        for german in variants(de[key]):
            assert placeholders(german) == placeholders(english), key
