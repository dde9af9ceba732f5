"""The layers stay apart, and no module imports itself back in a circle.

``bot/core`` is the platform-neutral framework; ``handlers/`` (the features) import only it and
``storage``; ``storage`` imports neither; nothing in ``handlers`` or ``storage`` imports a platform SDK.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage")
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "aiohttp", "openai")
# The check the project's definition of done names, line by line:
#   grep -rE "^\s*(from|import) (slack_bolt|slack_sdk|botbuilder|aiohttp|openai)" handlers storage bot/core
GREP = re.compile(r"^\s*(from|import) (slack_bolt|slack_sdk|botbuilder|aiohttp|openai)")


def python_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert files, folders
    return files


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    base = module_name(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(source: str, path: Path, *, module_level_only: bool = False) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` names (``from x import y`` names ``x.y`` when that is a
    module). With ``module_level_only``, imports inside functions and ``if TYPE_CHECKING:`` are left out."""
    tree = ast.parse(source, filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if not module_level_only:
                    visit(child, False)
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if not module_level_only:
                    visit(child, False)
                for orelse in child.orelse:
                    visit(ast.Module(body=[orelse], type_ignores=[]), top)
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                mod = _absolute(child, path)
                found.append((child.lineno, mod))
                for alias in child.names:
                    sub = f"{mod}.{alias.name}"
                    if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (
                        ROOT / Path(*sub.split(".")) / "__init__.py"
                    ).exists():
                        found.append((child.lineno, sub))
            visit(child, top)

    visit(tree, True)
    return found


def top(module: str) -> str:
    return module.split(".", 1)[0]


def edges(*folders: str, module_level_only: bool = False) -> list[tuple[str, int, str]]:
    return [
        (module_name(p), n, m)
        for p in python_files(*folders)
        for n, m in imported_modules(p.read_text(encoding="utf-8"), p, module_level_only=module_level_only)
    ]


ALLOWED_FROM_BOT = {
    # folder → which parts of bot/ it may import (anywhere in the file, also inside functions)
    "handlers": ("bot.core",),
    "bot.core": ("bot.core",),
    "storage": (),
}


def layer_violations(found: list[tuple[str, int, str]]) -> list[str]:
    hits = []
    for mod, line, target in found:
        layer = "bot.core" if mod == "bot.core" or mod.startswith("bot.core.") else top(mod)
        if layer not in ALLOWED_FROM_BOT:
            continue
        allowed = ALLOWED_FROM_BOT[layer]
        if top(target) in PLATFORM_SDKS:
            hits.append(f"{mod}:{line} imports the platform SDK {target}")
        elif (
            top(target) == "bot"
            and target != "bot"
            and not any(target == a or target.startswith(a + ".") for a in allowed)
            or layer in ("storage", "bot.core")
            and top(target) == "handlers"
            or layer == "storage"
            and top(target) == "bot"
        ):
            hits.append(f"{mod}:{line} imports {target}")
    return hits


def circles(found: list[tuple[str, int, str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module in the module-level import graph."""
    modules = {m for m, _, _ in found}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, _, target in found:
        if target in modules and target != mod and not mod.startswith(target + "."):
            graph[mod].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups


def test_the_grep_finds_no_platform_import_in_handlers_storage_or_core() -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in python_files("handlers", "storage", "bot/core")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if GREP.match(line)
    ]
    assert hits == []


def test_features_import_only_the_core_and_storage_and_the_core_imports_no_platform() -> None:
    assert layer_violations(edges("handlers", "storage", "bot")) == []


def test_no_import_circle() -> None:
    """Not at module level, and not through imports inside functions or under ``TYPE_CHECKING`` either: the
    composition root imports the adapters, never the other way round."""
    assert circles(edges(*PACKAGES, module_level_only=True)) == []
    assert circles(edges(*PACKAGES)) == []


def test_the_checks_would_catch_a_feature_reaching_into_the_platform_layer() -> None:
    """The scanners are not blind: each forbidden edge, written as a handler would, is reported."""
    fake = ROOT / "handlers" / "probe.py"
    for forbidden in ("bot.slack", "bot.teams", "bot.console", "bot.web", "bot.cli", "bot.app", "bot.settings"):
        source = f"def f():\n    from {forbidden} import x\n"
        found = [(module_name(fake), n, m) for n, m in imported_modules(source, fake)]
        assert layer_violations(found) == [f"handlers.probe:2 imports {forbidden}"], forbidden
    relative = "from ..bot import slack\n"
    found = [(module_name(fake), n, m) for n, m in imported_modules("from bot import web\n", fake)]
    assert layer_violations(found) == ["handlers.probe:1 imports bot.web"]
    assert imported_modules(relative, fake)  # a relative import is resolved, not ignored
    core = ROOT / "bot" / "core" / "probe.py"
    found = [
        (module_name(core), n, m) for n, m in imported_modules("import slack_sdk\nfrom bot.slack import x\n", core)
    ]
    assert len(layer_violations(found)) == 2
    assert GREP.match("    from slack_sdk.web.async_client import AsyncWebClient")
    assert not GREP.match("# import openai")


def test_the_circle_check_would_catch_a_circle() -> None:
    a, b = ROOT / "bot" / "a_probe.py", ROOT / "bot" / "b_probe.py"
    found = [(module_name(a), 1, "bot.b_probe"), (module_name(b), 1, "bot.a_probe"), ("bot.c", 1, "bot.a_probe")]
    assert circles(found) == [["bot.a_probe", "bot.b_probe"]]
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.b_probe import B\n"
    assert imported_modules(guarded, a, module_level_only=True) == [(1, "typing")]
