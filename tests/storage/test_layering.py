"""The layers stay apart: features and storage never import platform SDKs; storage imports no bot or feature code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "aiohttp", "openai")
# The check the project's definition of done names, line by line:
#   grep -rE "^\s*(from|import) (slack_bolt|slack_sdk|botbuilder|aiohttp|openai)" handlers storage
GREP = re.compile(r"^\s*(from|import) (slack_bolt|slack_sdk|botbuilder|aiohttp|openai)")


def python_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert files, folders
    return files


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` names, anywhere in the file (also inside functions)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_grep_finds_no_platform_import_in_handlers_or_storage() -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in python_files("handlers", "storage")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if GREP.match(line)
    ]
    assert hits == []


def test_handlers_and_storage_import_no_platform_sdk() -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{n} imports {m}"
        for p in python_files("handlers", "storage")
        for n, m in imported_modules(p)
        if top(m) in PLATFORM_SDKS
    ]
    assert hits == []


def test_storage_imports_nothing_from_bot_or_handlers() -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{n} imports {m}"
        for p in python_files("storage")
        for n, m in imported_modules(p)
        if top(m) in ("bot", "handlers")
    ]
    assert hits == []


def test_the_checks_see_imports_where_they_are() -> None:
    """The scanners are not blind: they find imports at top level, inside functions and in ``from`` form."""
    sample = ROOT / "bot" / "router.py"  # the platform layer imports storage and rapidfuzz
    modules = {top(m) for _, m in imported_modules(sample)}
    assert {"storage", "rapidfuzz", "structlog"} <= modules
    assert GREP.match("    from slack_sdk.web.async_client import AsyncWebClient")
    assert GREP.match("import openai")
    assert not GREP.match("# import openai")
