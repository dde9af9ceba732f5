"""``starling teams-package``: a zip Teams accepts, checked against the schema version it declares."""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.cli import main
from bot.teams.package import ASSETS, PackageError, PackageOptions, build_manifest, png_pixels, validate_manifest

BOT = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """``main`` configures logging to this test's captured stderr; later tests must not write to it."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_cli_writes_a_valid_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MicrosoftAppId", BOT)
    out = tmp_path / "teams-app.zip"
    assert main(["teams-package", "--out", str(out), "--domain", "starling.contoso.example"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        color, outline = zf.read("color.png"), zf.read("outline.png")
    assert manifest["manifestVersion"] == "1.17" and "/v1.17/" in manifest["$schema"]
    assert manifest["id"] == BOT and manifest["bots"][0]["botId"] == BOT
    assert manifest["validDomains"] == ["starling.contoso.example"]
    assert manifest["developer"]["privacyUrl"] == "https://starling.contoso.example/privacy"
    commands = [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]]
    assert commands == ["kudos", "leaderboard", "stats", "prompt", "suggest", "help"]
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    assert manifest["bots"][0]["supportsFiles"] is True  # a data export arrives as a file in the 1:1 chat
    assert validate_manifest(manifest) == []
    assert png_pixels(color)[:2] == (192, 192)
    width, height, pixels = png_pixels(outline)
    assert (width, height) == (32, 32)
    assert all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in pixels)
    assert any(a == 0 for *_, a in pixels) and any(a == 255 for *_, a in pixels)


def test_the_schema_check_is_real() -> None:
    manifest = build_manifest(PackageOptions(bot_id=BOT, domain="starling.contoso.example"))
    manifest["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 33
    manifest["accentColor"] = "blue"
    del manifest["developer"]["privacyUrl"]
    problems = validate_manifest(manifest)
    assert any(p.startswith("bots/0/commandLists/0/commands/0/title") for p in problems)
    assert any(p.startswith("accentColor") for p in problems)
    assert any("privacyUrl" in p for p in problems)


def test_without_an_app_id_or_domain_it_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MicrosoftAppId", raising=False)
    monkeypatch.delenv("STARLING_TEAMS_APP_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert main(["teams-package", "--domain", "starling.contoso.example"]) == 2
    assert "MicrosoftAppId" in capsys.readouterr().err
    assert main(["teams-package", "--bot-id", BOT, "--domain", "not a host"]) == 2
    assert "--domain" in capsys.readouterr().err
    assert not (tmp_path / "teams-app.zip").exists()


def test_a_wrong_outline_icon_is_refused(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(ASSETS, assets)
    shutil.copy(assets / "color.png", assets / "outline.png")  # 192x192 and opaque blue
    from bot.teams.package import build_package

    with pytest.raises(PackageError) as err:
        build_package(PackageOptions(bot_id=BOT, domain="starling.contoso.example"), tmp_path / "x.zip", assets)
    assert "outline.png must be 32x32" in str(err.value) and "white on a transparent" in str(err.value)
