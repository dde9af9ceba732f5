"""Translations: complete in German and English, same placeholders, both forms of address, safe formatting."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.core.i18n import CATALOG_DIRS, ROOT, Translator, load_catalog, placeholders, translator_for
from bot.core.messages import plain

DE, EN = load_catalog("de"), load_catalog("en")
CODE_DIRS = ("bot", "handlers")
# Literal keys in ctx.t("a.b"), t("a.b"), UserError("a.b", …) and ….plural("a.b", n); computed keys are not seen.
KEY = r"""\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']"""
KEY_USE = re.compile(r"(?:\bt|\.t|UserError)" + KEY)
PLURAL_USE = re.compile(r"\.plural" + KEY)
HELP_KEY_USE = re.compile(r"""(?:help_key|label_key)\s*=\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")


def variants(entry: Any) -> dict[str, str]:
    """The texts of one entry: {"": text} or {"du": …, "sie": …}."""
    return {k: str(v) for k, v in entry.items()} if isinstance(entry, dict) else {"": str(entry)}


def code_sources() -> dict[str, str]:
    files = [p for d in CODE_DIRS for pattern in ("*.py", "*.html") for p in sorted((ROOT / d).rglob(pattern))]
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files}


def test_every_key_exists_in_both_languages() -> None:
    assert sorted(set(DE) - set(EN)) == []
    assert sorted(set(EN) - set(DE)) == []


def test_both_languages_use_the_same_placeholders() -> None:
    wrong = []
    for key, en in EN.items():
        want = set().union(*(placeholders(t) for t in variants(en).values()))
        for tone, text in variants(DE[key]).items():
            if placeholders(text) != want:
                wrong.append((key, tone or "-", sorted(placeholders(text)), sorted(want)))
    assert wrong == []


def test_german_forms_of_address_come_in_pairs() -> None:
    """A German entry with a "du" text also has a "sie" text, and the other way round."""
    for lang, catalog in (("de", DE), ("en", EN)):
        for key, entry in catalog.items():
            if isinstance(entry, dict):
                assert lang == "de", f"{key}: only German has forms of address"
                assert set(entry) == {"du", "sie"}, f"{key}: {sorted(entry)}"
                assert entry["du"] != entry["sie"], f"{key}: du and sie read the same"


def test_catalog_files_pair_up_and_dictionaries_only_split_forms_of_address() -> None:
    for base in CATALOG_DIRS:
        de = sorted(p.name for p in (base / "de").glob("*.yaml"))
        en = sorted(p.name for p in (base / "en").glob("*.yaml"))
        assert de == en, base
        for name in de:
            for lang in ("de", "en"):
                data = yaml.safe_load((base / lang / name).read_text(encoding="utf-8"))
                assert isinstance(data, dict), f"{lang}/{name}"


def test_plural_entries_have_one_and_other_with_the_count() -> None:
    stems = {key for src in code_sources().values() for key in PLURAL_USE.findall(src)}
    assert "kudos.points" in stems
    for catalog in (DE, EN):
        for stem in stems:
            for form in ("one", "other"):
                assert "n" in placeholders(str(catalog[f"{stem}.{form}"])), f"{stem}.{form}"


def test_placeholders_are_plain_names() -> None:
    """No positional, attribute or format-spec fields: formatting can never raise."""
    for key, entry in [*DE.items(), *EN.items()]:
        for text in variants(entry).values():
            for _, name, spec, conv in string.Formatter().parse(text):
                if name is not None:
                    assert name.isidentifier() and not spec and not conv, (key, text)


def test_every_key_the_code_uses_exists() -> None:
    sources = code_sources()
    used = {
        (path, key)
        for path, src in sources.items()
        for pattern in (KEY_USE, HELP_KEY_USE)
        for key in pattern.findall(src)
        if not key.endswith("_")  # the literal start of a computed key (``"web.settings.tone_" ~ tone``)
    }
    used |= {
        (path, f"{key}.{form}")
        for path, src in sources.items()
        for key in PLURAL_USE.findall(src)
        for form in ("one", "other")
    }
    assert ("handlers/digests/__init__.py", "digests.help.sub.off") in used
    assert ("bot/webapp/templates/overview.html", "web.overview.off") in used
    assert ("handlers/kudos.py", "kudos.err.self") in used and ("handlers/kudos.py", "kudos.points.one") in used
    missing = [
        (path, key, lang) for path, key in sorted(used) for lang, cat in (("de", DE), ("en", EN)) if key not in cat
    ]
    assert missing == []


# --- formatting ------------------------------------------------------------------------------------------

values = st.text(max_size=30)


@pytest.mark.parametrize("lang,tone", [("de", "du"), ("de", "sie"), ("en", "du")])
@given(data=st.data())
def test_any_values_format_into_every_entry(lang: str, tone: str, data: st.DataObject) -> None:
    t = Translator(lang, tone)
    key = data.draw(st.sampled_from(sorted(EN)))
    names = sorted(placeholders(t.raw(key)))
    params = {n: data.draw(values) for n in names}
    text = t(key, **params)
    for value in params.values():
        assert value in text  # values are inserted verbatim, never interpreted ("{n}" in a name stays)
    if lang == "de" and isinstance(DE[key], dict):
        assert t.raw(key) == DE[key][tone]


@given(n=st.integers(min_value=-5, max_value=10**6))
def test_plural_picks_the_form_by_count(n: int) -> None:
    de, en = Translator("de").plural("kudos.points", n), Translator("en").plural("kudos.points", n)
    assert de == (f"{n} Punkt" if n == 1 else f"{n} Punkte")
    assert en == (f"{n} point" if n == 1 else f"{n} points")


@given(items=st.lists(st.text(min_size=1, max_size=8), max_size=5))
def test_join_keeps_every_item_in_order(items: list[str]) -> None:
    joined = Translator("de").join(items)
    pos = 0
    for item in items:
        found = joined.find(item, pos)
        assert found >= 0
        pos = found + len(item)
    if len(items) >= 2:
        assert " und " in joined and Translator("en").join(items).count(" and ") >= 1


def test_missing_parameter_stays_visible_instead_of_crashing() -> None:
    text = Translator("en")("kudos.confirm", recipients="@anna")
    assert plain(text) == "Kudos sent to @anna. You have {left} of {budget} left today."


def test_the_persons_language_wins_then_the_workspaces() -> None:
    assert translator_for("en-GB", "de").lang == "en"
    assert translator_for(None, "de-AT").lang == "de"
    assert translator_for("fr", "de").lang == "de"  # an unsupported language falls through
    assert translator_for(None, None).lang == "en"
    assert translator_for(None, "de", tone="sie")("core.admin_only") == "Das können nur Workspace-Admins ändern."
    assert translator_for(None, "de", tone="sie")("kudos.optin_done") == "Sie erscheinen wieder in Ranglisten."
