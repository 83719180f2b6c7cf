"""What a user sees of a device and its entities, in a form fit for snapshots.

The Home Assistant test harness snapshots registry entries with every field
the running Home Assistant release has, and the supported releases differ in
those fields (2026 releases added several). The snapshots here must be the
same on every supported release, so they hold a fixed choice of fields: the
ones a user sees or that decide how an entity behaves. Timestamps of the
registry and of the state machine are left out, as the harness does.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.helpers import entity_registry as er

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from syrupy.assertion import SnapshotAssertion

# Home Assistant 2025.4 has no device class for reactive energy (it came with
# 2025.5); such sensors have none there. The snapshots show the current
# release; on the older one the device class is checked to be absent and then
# filled in, so that one snapshot serves both.
HAS_REACTIVE_ENERGY = hasattr(SensorDeviceClass, "REACTIVE_ENERGY")
_REACTIVE_ENERGY_UNIT = "varh"

_DEVICE_FIELDS = (
    "name",
    "manufacturer",
    "model",
    "model_id",
    "serial_number",
    "sw_version",
    "hw_version",
    "entry_type",
    "disabled_by",
)
_ENTRY_FIELDS = (
    "entity_id",
    "unique_id",
    "platform",
    "has_entity_name",
    "original_name",
    "translation_key",
    "original_device_class",
    "device_class",
    "entity_category",
    "unit_of_measurement",
    "original_icon",
    "icon",
    "capabilities",
    "options",
    "supported_features",
    "disabled_by",
    "hidden_by",
)


def _plain(value: Any) -> Any:
    """Enums as their values, mappings as sorted dicts, sequences as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return value


def user_view_of_device(device: dr.DeviceEntry) -> dict[str, Any]:
    """The device as the device page shows it."""
    view = {field: _plain(getattr(device, field, None)) for field in _DEVICE_FIELDS}
    view["identifiers"] = _plain(device.identifiers)
    return view


def _registry_view(entry: er.RegistryEntry) -> dict[str, Any]:
    view = {field: _plain(getattr(entry, field)) for field in _ENTRY_FIELDS}
    if not HAS_REACTIVE_ENERGY and entry.unit_of_measurement == _REACTIVE_ENERGY_UNIT:
        assert view["original_device_class"] is None, entry.entity_id
        view["original_device_class"] = "reactive_energy"
    return view


def _state_view(
    attributes: Mapping[str, Any], state: str, unit: str | None
) -> dict[str, Any]:
    shown = _plain(attributes)
    if not HAS_REACTIVE_ENERGY and unit == _REACTIVE_ENERGY_UNIT:
        assert "device_class" not in shown, shown
        shown["device_class"] = "reactive_energy"
        shown = dict(sorted(shown.items()))
    return {"state": state, "attributes": shown}


async def snapshot_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    config_entry_id: str,
) -> None:
    """Compare every entity of the entry (registry entry and state) with snapshots."""
    entries = er.async_entries_for_config_entry(entity_registry, config_entry_id)
    assert entries
    for entry in sorted(entries, key=lambda entry: entry.entity_id):
        assert entry.disabled_by is None, f"{entry.entity_id}: enable every entity"
        assert _registry_view(entry) == snapshot(name=f"{entry.entity_id}-entry")
        state = hass.states.get(entry.entity_id)
        assert state is not None, f"no state of {entry.entity_id}"
        view = _state_view(state.attributes, state.state, entry.unit_of_measurement)
        assert view == snapshot(name=f"{entry.entity_id}-state")
