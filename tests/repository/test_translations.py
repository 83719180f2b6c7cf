"""Translations: English and German complete and matching what the code uses."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

import custom_components.dlms_smartmeter as integration
from custom_components.dlms_smartmeter import connection
from custom_components.dlms_smartmeter.const import (
    INTERFACE_AUTO,
    INTERFACE_CUSTOM,
    INTERFACES,
    PARITY_CHOICES,
)
from custom_components.dlms_smartmeter.quarter_hour_sensor import (
    ATTR_QUARTER_START,
    QUARTER_HOUR_SENSORS,
)
from custom_components.dlms_smartmeter.repairs import ISSUES
from custom_components.dlms_smartmeter.sensor import LINK_QUALITY, SENSORS

PACKAGE = Path(integration.__file__).parent
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(language: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(
        (PACKAGE / "translations" / f"{language}.json").read_text(encoding="utf-8")
    )
    return content


def _leaves(
    tree: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], str]:
    leaves: dict[tuple[str, ...], str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves |= _leaves(value, (*path, key))
        else:
            assert isinstance(value, str), (*path, key)
            leaves[(*path, key)] = value
    return leaves


EN = _load("en")
DE = _load("de")


def test_languages_have_the_same_keys() -> None:
    assert _leaves(EN).keys() == _leaves(DE).keys()


def test_placeholders_match_between_languages() -> None:
    german = _leaves(DE)
    for path, text in _leaves(EN).items():
        assert set(PLACEHOLDER.findall(text)) == set(
            PLACEHOLDER.findall(german[path])
        ), path


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_urls_and_no_empty_strings(language: str) -> None:
    """Hassfest refuses URLs in translations; links go into placeholders."""
    for path, text in _leaves(_load(language)).items():
        assert text.strip(), path
        assert "http://" not in text, path
        assert "https://" not in text, path


def test_every_sensor_has_a_name() -> None:
    names = EN["entity"]["sensor"]
    descriptions = (*SENSORS, LINK_QUALITY, *QUARTER_HOUR_SENSORS)
    assert {description.translation_key for description in descriptions} == set(names)
    german = DE["entity"]["sensor"]
    assert german["energy_import"]["name"] == "Energie Bezug"
    assert german["energy_export"]["name"] == "Energie Einspeisung"
    assert german["reactive_energy_import"]["name"] == "Blindenergie Bezug"
    for language in (EN, DE):
        peak = language["entity"]["sensor"]["monthly_peak_demand"]
        assert set(peak["state_attributes"]) == {ATTR_QUARTER_START}


def test_icons_refer_to_existing_sensors() -> None:
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    assert set(icons["entity"]["sensor"]) <= set(EN["entity"]["sensor"])


def test_errors_and_aborts_used_by_the_flow_exist() -> None:
    errors = set(EN["config"]["error"])
    probe_reasons = {
        error_class.reason for error_class in connection.ProbeError.__subclasses__()
    }
    assert probe_reasons == {
        "cannot_connect",
        "no_data",
        "no_valid_frames",
        "invalid_key",
        "key_required",
        "invalid_authentication_key",
        "unsupported_meter",
    }
    assert (
        probe_reasons
        | {
            "invalid_encryption_key_format",
            "invalid_authentication_key_format",
            "encryption_key_missing",
            "port_or_url",
            "unknown",
        }
        == errors
    )
    # Home Assistant's own reasons are shipped too: older releases look them
    # up in the integration's translations.
    assert {
        "already_configured",
        "already_in_progress",
        "reauth_successful",
        "reconfigure_successful",
        "wrong_meter",
    } == set(EN["config"]["abort"])


def test_source_uses_only_known_keys() -> None:
    """Every reason, error and translation key written in the code is translated."""
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in PACKAGE.glob("*.py")
        if path.name != "sensor.py"
    )
    reasons = re.findall(r'reason="(\w+)"', source)
    assert reasons
    for reason in reasons:
        assert reason in EN["config"]["abort"], reason
    # Exceptions raised with a translation key (sensor names are checked above).
    keys = re.findall(r'translation_key="(\w+)"', source)
    assert set(keys) == {"cannot_connect", "invalid_key"}
    for key in keys:
        assert key in EN["exceptions"], key
    assert "{port}" in EN["exceptions"]["cannot_connect"]["message"]


def test_every_field_is_described() -> None:
    """Each form field has a label and a description, also inside sections."""
    steps = {**EN["config"]["step"], "init": EN["options"]["step"]["init"]}
    for name, step in steps.items():
        assert step["data"].keys() == step["data_description"].keys(), name
        for section_name, section in step.get("sections", {}).items():
            assert section["data"].keys() == section["data_description"].keys(), (
                name,
                section_name,
            )


def test_selector_options_are_translated() -> None:
    selectors = EN["selector"]
    assert set(selectors["interface"]["options"]) == {
        INTERFACE_AUTO,
        *INTERFACES,
        INTERFACE_CUSTOM,
    }
    assert set(selectors["parity"]["options"]) == set(PARITY_CHOICES)
    # hassfest accepts only lower-case keys.
    for options in selectors.values():
        for key in options["options"]:
            assert re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", key), key


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_repair_issue_is_explained(language: str) -> None:
    """Each issue the integration raises has a title and a description."""
    issues = _load(language)["issues"]
    assert set(issues) == set(ISSUES)
    for kind in ISSUES:
        assert set(issues[kind]) == {"title", "description"}
    placeholders = set(PLACEHOLDER.findall(issues["damaged_frames"]["description"]))
    assert placeholders == {"port", "share", "parity", "other_parity"}
