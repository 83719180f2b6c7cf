"""quality_scale.yaml lists every rule of the Integration Quality Scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.util.yaml import load_yaml_dict
import pytest

import custom_components.dlms_smartmeter as integration
from custom_components.dlms_smartmeter import config_flow, diagnostics, sensor

QUALITY_SCALE = Path(integration.__file__).parent / "quality_scale.yaml"

# Every rule of the scale, per tier (the rule list of hassfest, including the
# docs-triggers and docs-conditions rules added in 2026).
BRONZE = {
    "action-setup",
    "appropriate-polling",
    "brands",
    "common-modules",
    "config-flow",
    "config-flow-test-coverage",
    "dependency-transparency",
    "docs-actions",
    "docs-conditions",
    "docs-high-level-description",
    "docs-installation-instructions",
    "docs-removal-instructions",
    "docs-triggers",
    "entity-event-setup",
    "entity-unique-id",
    "has-entity-name",
    "runtime-data",
    "test-before-configure",
    "test-before-setup",
    "unique-config-entry",
}
SILVER = {
    "action-exceptions",
    "config-entry-unloading",
    "docs-configuration-parameters",
    "docs-installation-parameters",
    "entity-unavailable",
    "integration-owner",
    "log-when-unavailable",
    "parallel-updates",
    "reauthentication-flow",
    "test-coverage",
}
GOLD = {
    "devices",
    "diagnostics",
    "discovery",
    "discovery-update-info",
    "docs-data-update",
    "docs-examples",
    "docs-known-limitations",
    "docs-supported-devices",
    "docs-supported-functions",
    "docs-troubleshooting",
    "docs-use-cases",
    "dynamic-devices",
    "entity-category",
    "entity-device-class",
    "entity-disabled-by-default",
    "entity-translations",
    "exception-translations",
    "icon-translations",
    "reconfiguration-flow",
    "repair-issues",
    "stale-devices",
}
PLATINUM = {"async-dependency", "inject-websession", "strict-typing"}
ALL_RULES = BRONZE | SILVER | GOLD | PLATINUM


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    content = load_yaml_dict(QUALITY_SCALE)
    assert set(content) == {"rules"}
    result: dict[str, Any] = content["rules"]
    return result


def _status(value: Any) -> str:
    return value if isinstance(value, str) else value["status"]


def test_rule_list_is_complete() -> None:
    assert len(BRONZE) == 20
    assert len(SILVER) == 10
    assert len(GOLD) == 21
    assert len(PLATINUM) == 3


def test_every_rule_is_listed_once(rules: dict[str, Any]) -> None:
    assert set(rules) == ALL_RULES


def test_statuses_are_valid(rules: dict[str, Any]) -> None:
    for name, value in rules.items():
        if isinstance(value, str):
            assert value in {"done", "todo"}, name
            continue
        assert set(value) <= {"status", "comment"}, name
        assert value["status"] in {"done", "todo", "exempt"}, name
        if value["status"] == "exempt":
            assert value.get("comment", "").strip(), f"{name} is exempt without reason"


def test_no_rule_is_left_to_do(rules: dict[str, Any]) -> None:
    assert {name for name, value in rules.items() if _status(value) == "todo"} == set()


def test_done_rules_are_backed_by_code(rules: dict[str, Any]) -> None:
    """Spot checks that a rule marked done has its code."""
    done = {name for name, value in rules.items() if _status(value) == "done"}
    assert {
        "parallel-updates",
        "diagnostics",
        "reauthentication-flow",
        "reconfiguration-flow",
        "has-entity-name",
        "entity-disabled-by-default",
    } <= done
    assert sensor.PARALLEL_UPDATES == 0
    assert callable(diagnostics.async_get_config_entry_diagnostics)
    flow = config_flow.DlmsSmartMeterConfigFlow
    assert callable(flow.async_step_reauth_confirm)
    assert callable(flow.async_step_reconfigure)
    assert sensor.DlmsSmartMeterSensor._attr_has_entity_name
    assert any(
        description.entity_registry_enabled_default is False
        for description in sensor.SENSORS
    )
    assert all(description.translation_key for description in sensor.SENSORS)
