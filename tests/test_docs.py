"""The README and docs say what the program does: commands that parse, chat commands Slack registers,
the CI running the README's own test command, figures that match the code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_quick_start_commands_are_the_bootstrap_and_ci_runs_the_test_command() -> None:
    commands = [line.strip() for block in code_blocks(README, "bash") for line in block.splitlines() if line.strip()]
    assert commands[:2] == ["python3 run.py", "python3 run.py test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 run.py test" in ci  # the README's test command, verbatim, as a line of its own
    assert "Python 3.11 or newer" in README
    run_py = (ROOT / "run.py").read_text(encoding="utf-8")
    assert "MIN_PYTHON = (3, 11)" in run_py
    pinned = re.search(r'UV_VERSION = "([\d.]+)"', run_py)
    assert pinned is not None
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"uv=={pinned.group(1)}" in docker  # one uv version for people, CI and the image


def starling_commands(text: str) -> list[list[str]]:
    """Every ``python3 run.py …`` / ``starling …`` command in backticks or on a line of a code block."""
    spans = re.findall(r"`([^`\n]+)`", text)
    spans += [line for block in code_blocks(text, r"\w*") for line in block.splitlines()]
    found = []
    for span in spans:
        match = re.search(r"(?:^|\s)(?:python3 run\.py|uv run starling|starling)((?: [^#&|]*)?)$", span.strip())
        if match is None:
            continue
        words = shlex.split(match.group(1).replace("…", "x"))
        words = [w for w in words if not re.fullmatch(r"[A-Za-z_]+=.*", w)]
        if words and words[0] not in ("test", "uv") and not words[0].startswith("<"):
            found.append(words)
    return found


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_documented_cli_commands_parse(doc: str) -> None:
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    text = path.read_text(encoding="utf-8")
    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for words in starling_commands(text):
        if words[0].startswith("-"):
            continue
        if words[0] not in subcommands:
            continue  # chat commands (`starling set tone sie`) are said to the bot, not typed in a shell
        if len(words) == 1:
            continue  # the command named in passing (`starling import-feedback`): the name itself exists
        try:
            parser.parse_args(words)
        except SystemExit as err:
            raise AssertionError(f"{doc}: `starling {' '.join(words)}` does not parse") from err


def test_readme_lists_every_cli_command() -> None:
    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    listed = re.search(r"for every command \((.*?)\)", README, flags=re.S)
    assert listed is not None
    named = set(re.findall(r"`([a-z-]+)`", listed.group(1)))
    assert named == subcommands


def test_readme_chat_commands_are_slack_commands() -> None:
    manifest = json.loads((ROOT / "slack" / "manifest.json").read_text(encoding="utf-8"))
    slash = {c["command"].lstrip("/") for c in manifest["features"]["slash_commands"]}
    table = README.split("## What people can do", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| who")]
    for row in rows:
        for cell in re.findall(r"`([^`]+)`", row.split("|")[2].split("(Teams and the console")[0]):
            assert cell.split()[0] in slash, f"README table: `{cell}` is no Slack command"


def test_slack_doc_counts_the_manifest_urls() -> None:
    manifest_text = (ROOT / "slack" / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(manifest_text)
    doc = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    urls = manifest_text.count("https://starling.example.com")
    said = re.search(r"\((\d+) places: .*? each of the (\d+) slash commands", doc, flags=re.S)
    assert said is not None
    assert (int(said.group(1)), int(said.group(2))) == (urls, len(manifest["features"]["slash_commands"]))


def test_privacy_doc_minimum_group_matches_the_profiles() -> None:
    from storage.privacy import PROFILE_DEFAULTS as PRESETS

    doc = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    row = re.search(r"\| smallest group a figure may describe \| (\d+)[^|]*\| (\d+)[^|]*\|", doc)
    assert row is not None
    assert (int(row.group(1)), int(row.group(2))) == (
        PRESETS["standard"]["min_group_size"],
        PRESETS["works-council"]["min_group_size"],
    )
    months = re.search(r"\| data kept for \| (\d+) months \| (\d+) months \|", doc)
    assert months is not None
    assert (int(months.group(1)), int(months.group(2))) == (
        PRESETS["standard"]["retention_months"],
        PRESETS["works-council"]["retention_months"],
    )
