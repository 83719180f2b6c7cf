"""Set-up and unload of a config entry (the entry points Home Assistant calls)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

from . import repairs
from .config_flow import NEEDS_UPDATE_LISTENER
from .coordinator import DlmsSmartMeterCoordinator
from .store import GuardStore

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import DlmsSmartMeterConfigEntry

PLATFORMS: list[Platform] = [Platform.SENSOR]


async def async_setup_entry(
    hass: HomeAssistant, entry: DlmsSmartMeterConfigEntry
) -> bool:
    """Open the meter's port, check the key and create the entities."""
    coordinator = DlmsSmartMeterCoordinator(hass, entry)
    await coordinator.async_start()
    entry.runtime_data = coordinator
    entry.async_on_unload(coordinator.async_stop)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if NEEDS_UPDATE_LISTENER:
        # Home Assistant before 2025.8 has no reloading options flow.
        entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: DlmsSmartMeterConfigEntry
) -> bool:
    """Remove the entities, stop the reader and release the port."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def async_remove_entry(
    hass: HomeAssistant, entry: DlmsSmartMeterConfigEntry
) -> None:
    """Forget the meter: the guards' saved state and any open issue."""
    await GuardStore(hass, entry.entry_id).async_remove()
    repairs.clear_all(hass, entry.entry_id)


async def _async_options_updated(
    hass: HomeAssistant, entry: DlmsSmartMeterConfigEntry
) -> None:
    """Apply a new update interval (only registered on older Home Assistant)."""
    if entry.options != entry.runtime_data.applied_options:
        hass.config_entries.async_schedule_reload(entry.entry_id)
