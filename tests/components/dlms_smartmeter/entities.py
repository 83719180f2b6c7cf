"""A meter's frames through the user step to its sensors, and how they show values.

Shared by the tests that take real frames (Austrian vectors, frames from
other countries) from the config flow to the entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import SOURCE_USER
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from custom_components.dlms_smartmeter.const import DOMAIN

from .meter import configure_flow
from .user_view import HAS_REACTIVE_ENERGY

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant, State


_REACTIVE_ENERGY = "reactive_energy" if HAS_REACTIVE_ENERGY else None


@dataclass(frozen=True)
class Shown:
    """How an entity shows a meter value."""

    key: str
    device_class: str | None
    unit: str | None
    factor: float = 1.0
    """Meter value x factor = the state (Wh are shown as kWh)."""


SHOWN: Final[dict[str, Shown]] = {
    "1-0:1.8.0": Shown("energy_import", "energy", "kWh", 1e-3),
    "1-0:2.8.0": Shown("energy_export", "energy", "kWh", 1e-3),
    "1-0:3.8.0": Shown("reactive_energy_import", _REACTIVE_ENERGY, "varh"),
    "1-0:4.8.0": Shown("reactive_energy_export", _REACTIVE_ENERGY, "varh"),
    "1-0:1.7.0": Shown("power_import", "power", "W"),
    "1-0:2.7.0": Shown("power_export", "power", "W"),
    "1-0:3.7.0": Shown("reactive_power_import", "reactive_power", "var"),
    "1-0:4.7.0": Shown("reactive_power_export", "reactive_power", "var"),
    "1-0:1.8.1": Shown("energy_import_tariff_1", "energy", "kWh", 1e-3),
    "1-0:1.8.2": Shown("energy_import_tariff_2", "energy", "kWh", 1e-3),
    "1-0:2.8.1": Shown("energy_export_tariff_1", "energy", "kWh", 1e-3),
    "1-0:2.8.2": Shown("energy_export_tariff_2", "energy", "kWh", 1e-3),
    "1-0:3.8.1": Shown("reactive_energy_import_tariff_1", _REACTIVE_ENERGY, "varh"),
    "1-0:3.8.2": Shown("reactive_energy_import_tariff_2", _REACTIVE_ENERGY, "varh"),
    "1-0:4.8.1": Shown("reactive_energy_export_tariff_1", _REACTIVE_ENERGY, "varh"),
    "1-0:4.8.2": Shown("reactive_energy_export_tariff_2", _REACTIVE_ENERGY, "varh"),
    "1-0:32.7.0": Shown("voltage_l1", "voltage", "V"),
    "1-0:52.7.0": Shown("voltage_l2", "voltage", "V"),
    "1-0:72.7.0": Shown("voltage_l3", "voltage", "V"),
    "1-0:31.7.0": Shown("current_l1", "current", "A"),
    "1-0:51.7.0": Shown("current_l2", "current", "A"),
    "1-0:71.7.0": Shown("current_l3", "current", "A"),
    "1-0:13.7.0": Shown("power_factor", "power_factor", None),
}


async def user_flow(hass: HomeAssistant, form: dict[str, Any]) -> Any:
    """Run the user step with ``form`` and let the new entry set up."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await configure_flow(hass, result["flow_id"], form)
    await hass.async_block_till_done()
    return result


def sensor_state(hass: HomeAssistant, entry: ConfigEntry, key: str) -> State:
    """The state of the entry's sensor ``key``."""
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id(
        "sensor", DOMAIN, f"{entry.unique_id}_{key}"
    )
    assert entity_id is not None, f"no entity {key}"
    state = hass.states.get(entity_id)
    assert state is not None, f"no state of {entity_id}"
    return state


def sensor_keys(hass: HomeAssistant, entry: ConfigEntry) -> set[str]:
    """Keys of the entry's sensors in the entity registry."""
    prefix = f"{entry.unique_id}_"
    return {
        registry_entry.unique_id.removeprefix(prefix)
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    }
