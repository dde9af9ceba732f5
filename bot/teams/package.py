"""``starling teams-package``: the Teams app package (manifest.json and two icons, zipped) for upload.

The manifest is checked against Microsoft's JSON schema for the version it declares (vendored in
``teams/``, since there is no network at build time), and the icons against Teams' rules: a 192×192
colour PNG and a 32×32 outline PNG that is white on a transparent background.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

ASSETS = Path(__file__).resolve().parents[2] / "teams"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PackageError(ValueError):
    """The package cannot be built as asked; the message says what to fix."""


@dataclass
class PackageOptions:
    bot_id: str
    domain: str
    version: str = "1.0.0"
    developer: str = "Starling"
    website_url: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None


def build_manifest(options: PackageOptions, assets: Path = ASSETS) -> dict[str, Any]:
    """The filled-in manifest; raises PackageError for a bad bot id or domain."""
    if not GUID_RE.match(options.bot_id or ""):
        raise PackageError(
            "The bot id must be the Microsoft App ID (a GUID) of your Azure Bot: set MicrosoftAppId "
            "(or STARLING_TEAMS_APP_ID)."
        )
    domain = options.domain.strip().lower().removeprefix("https://").rstrip("/")
    if not DOMAIN_RE.match(domain):
        raise PackageError(
            f"--domain must be the public host name Starling is served on, e.g. starling.contoso.com, not {options.domain!r}"
        )
    base = f"https://{domain}"
    values = {
        "version": options.version,
        "app_id": options.bot_id.lower(),
        "bot_id": options.bot_id.lower(),
        "developer": options.developer,
        "website_url": options.website_url or f"{base}/",
        "privacy_url": options.privacy_url or f"{base}/privacy",
        "terms_url": options.terms_url or f"{base}/terms",
        "domain": domain,
    }
    template = (assets / "manifest.template.json").read_text(encoding="utf-8")
    filled = re.sub(r"\{\{(\w+)\}\}", lambda m: json.dumps(values[m.group(1)])[1:-1], template)
    manifest: dict[str, Any] = json.loads(filled)
    return manifest


def schema_for(manifest: dict[str, Any], assets: Path = ASSETS) -> dict[str, Any]:
    version = str(manifest.get("manifestVersion", ""))
    path = assets / f"MicrosoftTeams.v{version}.schema.json"
    if not path.is_file():
        raise PackageError(f"no vendored Teams schema for manifestVersion {version!r} in {assets}")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def validate_manifest(manifest: dict[str, Any], assets: Path = ASSETS) -> list[str]:
    """Problems with the manifest, checked against the JSON schema of its declared version."""
    schema = schema_for(manifest, assets)
    declared = str(manifest.get("$schema", ""))
    problems = []
    if f"/v{manifest.get('manifestVersion')}/" not in declared:
        problems.append(f"$schema {declared!r} does not match manifestVersion {manifest.get('manifestVersion')!r}")
    validator = jsonschema.Draft4Validator(schema)
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {error.message}")
    return problems


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of an 8-bit PNG (grey, RGB, grey+alpha or RGBA; not interlaced)."""
    if not data.startswith(PNG_SIGNATURE):
        raise PackageError("not a PNG file")
    pos, header, idat = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, color, _comp, _filter, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise PackageError("icons must be 8-bit, non-interlaced grey/RGB(A) PNGs")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            upleft = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + left) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + up) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif ftype == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    pixels: list[tuple[int, int, int, int]] = []
    for line in rows:
        for x in range(width):
            px = line[x * channels : (x + 1) * channels]
            if channels == 1:
                pixels.append((px[0], px[0], px[0], 255))
            elif channels == 2:
                pixels.append((px[0], px[0], px[0], px[1]))
            elif channels == 3:
                pixels.append((px[0], px[1], px[2], 255))
            else:
                pixels.append((px[0], px[1], px[2], px[3]))
    return width, height, pixels


def validate_icons(color: bytes, outline: bytes) -> list[str]:
    problems = []
    width, height, _ = png_pixels(color)
    if (width, height) != (192, 192):
        problems.append(f"color.png must be 192x192, is {width}x{height}")
    width, height, pixels = png_pixels(outline)
    if (width, height) != (32, 32):
        problems.append(f"outline.png must be 32x32, is {width}x{height}")
    if any(a and (r, g, b) != (255, 255, 255) for r, g, b, a in pixels):
        problems.append("outline.png must be white on a transparent background")
    if all(a == 255 for *_rgb, a in pixels):
        problems.append("outline.png needs a transparent background")
    return problems


def build_package(options: PackageOptions, out: Path, assets: Path = ASSETS) -> dict[str, Any]:
    """Write the zip (manifest.json, color.png, outline.png); returns the manifest. Raises PackageError."""
    manifest = build_manifest(options, assets)
    icons = manifest["icons"]
    color, outline = (assets / icons["color"]).read_bytes(), (assets / icons["outline"]).read_bytes()
    problems = validate_manifest(manifest, assets) + validate_icons(color, outline)
    if problems:
        raise PackageError("the Teams app package is not valid:\n  " + "\n  ".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        zf.writestr(icons["color"], color)
        zf.writestr(icons["outline"], outline)
    return manifest
