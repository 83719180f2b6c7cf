"""The repository as HACS, hassfest and a new contributor see it."""

from __future__ import annotations

import json
import os
import re
import struct
import tomllib
from typing import TYPE_CHECKING, Any
import zlib

from packaging.markers import Marker
from packaging.requirements import Requirement
import pytest

from custom_components.dlms_smartmeter.const import DOMAIN
from tests.data import REPOSITORY as ROOT

if TYPE_CHECKING:
    from pathlib import Path

INTEGRATION = ROOT / "custom_components" / DOMAIN
BRAND = INTEGRATION / "brand"

# hacs/integration's HACS_MANIFEST_JSON_SCHEMA rejects every other key.
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}
# Keys hassfest and HACS require in a custom integration's manifest.
MANIFEST_REQUIRED = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "dependencies",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "requirements",
    "version",
}
# File names Home Assistant 2026.3+ reads from brand/.
BRAND_FILES = {
    f"{theme}{kind}{density}.png"
    for theme in ("", "dark_")
    for kind in ("icon", "logo")
    for density in ("", "@2x")
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_RGBA = 6


def _json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(PNG_SIGNATURE)
    chunks = []
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, offset + 8 + length)
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} chunk"
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def _png_info(path: Path) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type from the IHDR chunk."""
    kind, body = _png_chunks(path.read_bytes())[0]
    assert kind == b"IHDR"
    width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
    return width, height, depth, colour_type


def _first_row_alpha(path: Path) -> list[int]:
    """Alpha of every pixel in the top row of an 8-bit RGBA, non-interlaced PNG."""
    chunks = _png_chunks(path.read_bytes())
    width, _, depth, colour_type = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, colour_type, chunks[0][1][12]) == (8, PNG_RGBA, 0)
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 4 * width
    filter_type, row = pixels[0], bytearray(pixels[1 : 1 + stride])
    # The row above the first one counts as zeros, which reduces "up" to
    # "none" and "Paeth" to "sub".
    for index in range(stride):
        left = row[index - 4] if index >= 4 else 0
        if filter_type in {1, 4}:
            row[index] = (row[index] + left) % 256
        elif filter_type == 3:
            row[index] = (row[index] + left // 2) % 256
    return list(row[3::4])


def test_hacs_json_has_only_keys_hacs_accepts() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"] == _json(INTEGRATION / "manifest.json")["name"]
    assert hacs["homeassistant"] == "2025.4.0"
    assert "render_readme" not in hacs  # no longer documented since HACS 2
    countries = hacs.get("country", [])
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in countries)


def test_manifest_has_required_keys_in_hassfest_order() -> None:
    text = (INTEGRATION / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(manifest) >= MANIFEST_REQUIRED
    assert manifest["domain"] == DOMAIN == INTEGRATION.name
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push"
    # Ignored for custom integrations; hassfest may reject it.
    assert "quality_scale" not in manifest
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == pyproject["project"]["version"]
    for requirement in manifest["requirements"]:
        # A pin would clash with Home Assistant's own package constraints.
        assert "==" not in requirement
        Requirement(requirement)


def test_hacs_finds_exactly_one_integration() -> None:
    directories = [p for p in (ROOT / "custom_components").iterdir() if p.is_dir()]
    assert [p.name for p in directories if p.name != "__pycache__"] == [DOMAIN]


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_icon_is_square_with_transparent_background(name: str, size: int) -> None:
    path = BRAND / name
    assert _png_info(path) == (size, size, 8, PNG_RGBA)
    alpha = _first_row_alpha(path)
    assert alpha[0] == alpha[-1] == 0
    # A drawing, not a blank square: the image is far from empty.
    assert path.stat().st_size > 4 * size


@pytest.mark.parametrize(
    ("name", "height"),
    [
        ("logo.png", 256),
        ("logo@2x.png", 512),
        ("dark_logo.png", 256),
        ("dark_logo@2x.png", 512),
    ],
)
def test_brand_logo_is_landscape_within_size_limits(name: str, height: int) -> None:
    path = BRAND / name
    if name.startswith("dark_") and not path.exists():
        pytest.skip("dark variants are optional")
    width, actual_height, depth, colour_type = _png_info(path)
    # Brand rules: shortest side 128..256 px (256..512 px for @2x).
    assert actual_height == height
    assert height // 2 <= actual_height <= width
    assert (depth, colour_type) == (8, PNG_RGBA)
    assert _first_row_alpha(path)[0] == 0


def test_brand_folder_holds_only_names_home_assistant_reads() -> None:
    names = {path.name for path in BRAND.iterdir()}
    assert {"icon.png", "icon@2x.png", "logo.png"} <= names
    assert names <= BRAND_FILES


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    opening = readme.split("\n## ", 2)
    first_sections = "\n## ".join(opening[:2])
    for command in ("scripts/develop", "scripts/test"):
        assert command in first_sections
        assert os.access(ROOT / command, os.X_OK)
    # Every script the README tells people to run exists.
    for script in set(re.findall(r"\bscripts/[\w.]+", readme)):
        assert (ROOT / script).is_file(), script


def _github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_links_within_the_page_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    without_code = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)
    anchors = {
        _github_anchor(heading)
        for heading in re.findall(r"^#{1,6} (.+)$", without_code, flags=re.MULTILINE)
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", readme))
    assert links
    assert links <= anchors, links - anchors


def test_ci_entry_points_are_executable() -> None:
    for script in (".ci/run", "scripts/test", "scripts/develop"):
        path = ROOT / script
        assert os.access(path, os.X_OK), script
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash")


@pytest.mark.parametrize(
    ("python_version", "harness"),
    [
        ("3.13.0", "0.13.236"),
        ("3.13.1", "0.13.236"),
        ("3.13.2", "0.13.316"),
        ("3.14.1", "0.13.316"),
        ("3.14.2", "0.13.375"),
        ("3.14.10", "0.13.375"),
    ],
)
def test_each_python_gets_exactly_one_harness_pin(
    python_version: str, harness: str
) -> None:
    environment = {"python_full_version": python_version}
    pins = []
    for line in (ROOT / "requirements_test.txt").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text.startswith("pytest-homeassistant-custom-component"):
            continue
        requirement = Requirement(text)
        marker = requirement.marker or Marker("python_version >= '0'")
        if marker.evaluate(environment):
            pins.append(str(requirement.specifier))
    assert pins == [f"=={harness}"]


def test_dev_config_directory_is_not_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/config/" in ignored
