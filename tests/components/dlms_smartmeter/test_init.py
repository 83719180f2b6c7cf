"""Setting up and unloading a meter on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
import pytest

from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.entry import _async_options_updated

from .meter import (
    ENTITY_PREFIX,
    OTHER_KEY,
    PtyMeter,
    meter_entry,
    port_is_free,
    wait_until,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("fast_timeouts")


def _state(entry: ConfigEntry) -> ConfigEntryState:
    """The entry's state, read anew (setup and unload change it)."""
    return entry.state


async def test_setup_and_unload(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Setup opens the port and reads; unload stops the reader and frees the port."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert _state(entry) is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.connected
    assert not await port_is_free(meter.port)
    await wait_until(lambda: coordinator.counters.frames_ok >= 2, what="frames")
    assert coordinator.data is not None
    reader = coordinator.link.task
    assert reader is not None
    assert not reader.done()

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(entry) is ConfigEntryState.NOT_LOADED
    assert reader.done()
    assert not coordinator.connected
    assert await port_is_free(meter.port)
    frames = coordinator.counters.frames_ok
    await asyncio.sleep(0.2)
    assert coordinator.counters.frames_ok == frames


async def test_missing_port_is_not_ready(hass: HomeAssistant, meter: PtyMeter) -> None:
    """A port that does not exist at startup makes Home Assistant retry later."""
    entry = meter_entry(meter.port)
    meter.unplug()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert _state(entry) is ConfigEntryState.SETUP_RETRY
    assert "Cannot open the meter's port" in str(entry.reason)


async def test_rejected_key_starts_reauth(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Frames that do not decrypt at setup fail it and ask for a new key."""
    entry = meter_entry(meter.port, encryption_key=OTHER_KEY)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(entry) is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    # The port was released for the reauth flow.
    meter.stop_streaming()
    assert await port_is_free(meter.port)


async def test_silent_meter_sets_up_without_entities(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A meter that does not push yet still sets up; its sensors come with data.

    Only the link's quality is there from the start (it matters most while
    nothing valid arrives).
    """
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(entry) is ConfigEntryState.LOADED
    link_quality = f"{ENTITY_PREFIX}_link_quality"
    assert hass.states.async_entity_ids("sensor") == [link_quality]

    meter.push()
    await wait_until(
        lambda: len(hass.states.async_entity_ids("sensor")) > 1, what="sensors"
    )


async def test_stop_event_releases_port(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Stopping Home Assistant ends the reader and closes the port."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.push()
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await hass.async_stop()
    assert not coordinator.connected
    assert await port_is_free(meter.port)


async def test_options_listener_reloads_only_for_new_options(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """The update listener of older Home Assistant reloads on option changes only."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.push()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    first = entry.runtime_data

    await _async_options_updated(hass, entry)
    await hass.async_block_till_done()
    assert entry.runtime_data is first

    hass.config_entries.async_update_entry(entry, options={CONF_UPDATE_INTERVAL: 0})
    await _async_options_updated(hass, entry)
    await hass.async_block_till_done()
    assert _state(entry) is ConfigEntryState.LOADED
    assert entry.runtime_data is not first
    assert entry.runtime_data.publish_interval == 0
