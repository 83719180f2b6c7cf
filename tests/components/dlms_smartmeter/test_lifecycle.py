"""Home Assistant's life cycle around a live port: reload, unload, stop, two meters."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.dlms_smartmeter import link as link_module
from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN

from .fault_injection import (
    POWER_IMPORT,
    Resources,
    entity_id_of,
    settled_resources,
    state_of,
    wait_for_bytes,
)
from .meter import (
    METER_ID,
    OTHER_KEY,
    OTHER_SYSTEM_TITLE,
    PtyMeter,
    make_simulator,
    meter_entry,
    port_is_free,
    push_and_wait,
    set_up_meter,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

pytestmark = pytest.mark.usefixtures("fast_timeouts")

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
OTHER_METER_ID: Final = OTHER_SYSTEM_TITLE.hex().upper()


def _registered(registry: er.EntityRegistry, entry_id: str) -> set[str]:
    return {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(registry, entry_id)
    }


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]


async def test_reload_while_the_meter_pushes(
    hass: HomeAssistant,
    meter: PtyMeter,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each reload hands the port to a new reader; values keep coming, nothing leaks."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    await set_up_meter(hass, meter, entry)
    entities = _registered(entity_registry, entry.entry_id)
    await hass.async_block_till_done()
    before = Resources.now()
    meter.start_streaming()
    for _ in range(3):
        old: DlmsSmartMeterCoordinator = entry.runtime_data
        old_reader = old.link.task
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        new: DlmsSmartMeterCoordinator = entry.runtime_data
        assert new is not old
        assert old_reader is not None
        assert old_reader.done()
        assert not old.connected
        await wait_until(lambda: new.counters.frames_ok >= 2, what="frames")  # noqa: B023
    meter.stop_streaming()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    reading = await push_and_wait(hass, meter, coordinator)
    power = entity_id_of(hass, METER_ID, "power_import")
    assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
    assert _registered(entity_registry, entry.entry_id) == entities
    assert (await settled_resources(before)).within(before)
    assert _errors(caplog) == []


async def test_unload_while_a_frame_is_half_received(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Unloading mid-frame frees the port; the half frame is never a reading."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    frames_ok = coordinator.counters.frames_ok
    frame = meter.simulator.next_frame()
    half = len(frame) // 2
    received = coordinator.decoder_stats["bytes_received"]
    meter.write(frame[:half])
    await wait_for_bytes(coordinator, received + half)
    # The framer holds the first half and waits for the rest.
    assert coordinator._decoder._framer.buffered == half
    reader = coordinator.link.task

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert reader is not None
    assert reader.done()
    assert not coordinator.connected
    assert await port_is_free(meter.port)
    # The rest arrives while nobody listens.
    meter.write(frame[half:])
    await asyncio.sleep(0.1)
    assert coordinator.counters.frames_ok == frames_ok

    # Set up again: what is left of that frame is noise at most; the next
    # frames are readings.
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    resumed: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: resumed.counters.frames_ok >= 2, what="frames")
    meter.stop_streaming()
    reading = await push_and_wait(hass, meter, resumed)
    power = entity_id_of(hass, METER_ID, "power_import")
    assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
    assert resumed.decoder_stats["readings"] == resumed.counters.frames_ok
    assert _errors(caplog) == []


async def test_stop_while_reconnecting(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Home Assistant stops at once while the reader waits for the head to return."""
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    meter.unplug()
    await wait_until(lambda: not coordinator.last_update_success, what="unavailable")
    # At least one reconnect attempt failed: the reader is backing off.
    await wait_until(
        lambda: coordinator.link.backoff > link_module.RECONNECT_MIN_DELAY,
        what="backoff",
    )
    reader = coordinator.link.task
    assert reader is not None

    loop = asyncio.get_running_loop()
    started = loop.time()
    await hass.async_stop()
    assert loop.time() - started < 10
    assert reader.done()
    assert not coordinator.connected
    # The head comes back after the stop: nobody opens it any more.
    meter.plug()
    await asyncio.sleep(0.3)
    assert not coordinator.connected
    assert await port_is_free(meter.port)


async def test_stop_event_closes_the_port_mid_stream(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Home Assistant waits for the port to close: done within the stop event."""
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    reader = coordinator.link.task
    assert reader is not None
    meter.start_streaming(interval=0.01)
    # Part of a frame is on the line when the stop comes.
    frame = meter.simulator.next_frame()
    meter.write(frame[:40])

    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert reader.done()
    assert not coordinator.connected
    assert await port_is_free(meter.port)
    frames = coordinator.counters.frames_ok
    await asyncio.sleep(0.1)
    assert coordinator.counters.frames_ok == frames
    meter.stop_streaming()
    await hass.async_stop()


@pytest.fixture
def second_meter(tmp_path: Path) -> Iterator[PtyMeter]:
    """Another meter (own key, own system title) on its own port."""
    simulated = PtyMeter(
        tmp_path / "ttyMETER2",
        make_simulator(
            encryption_key=OTHER_KEY,
            system_title=OTHER_SYSTEM_TITLE,
            seed=11,
            invocation_counter=70_000,
        ),
    )
    yield simulated
    simulated.close()


async def test_two_meters_on_two_ports(
    hass: HomeAssistant,
    meter: PtyMeter,
    second_meter: PtyMeter,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Two meters at once: each its own values; one unplugged leaves the other."""
    first = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    second = await set_up_meter(
        hass,
        second_meter,
        meter_entry(
            second_meter.port,
            unique_id=OTHER_METER_ID,
            encryption_key=OTHER_KEY,
            options=EVERY_FRAME,
        ),
    )
    power = {
        METER_ID: entity_id_of(hass, METER_ID, "power_import"),
        OTHER_METER_ID: entity_id_of(hass, OTHER_METER_ID, "power_import"),
    }
    assert power[METER_ID] != power[OTHER_METER_ID]

    # Both push at the same time.
    taken = (first.counters.frames_ok, second.counters.frames_ok)
    meter.start_streaming(interval=0.02)
    second_meter.start_streaming(interval=0.03)
    await wait_until(
        lambda: (
            first.counters.frames_ok >= taken[0] + 10
            and second.counters.frames_ok >= taken[1] + 10
        ),
        what="frames from both meters",
    )
    meter.stop_streaming()
    second_meter.stop_streaming()
    for simulated, coordinator, meter_id in (
        (meter, first, METER_ID),
        (second_meter, second, OTHER_METER_ID),
    ):
        reading = await push_and_wait(hass, simulated, coordinator)
        assert float(state_of(hass, power[meter_id])) == (
            reading.values[POWER_IMPORT].value
        )
        # Each port carried only its own meter's frames.
        assert coordinator.decoder_stats["decryption_errors"] == 0
        assert coordinator.counters.foreign_meter_frames == 0
    # Two devices, one per meter.
    devices = {
        identifier
        for coordinator in (first, second)
        for device in dr.async_entries_for_config_entry(
            device_registry, coordinator.config_entry.entry_id
        )
        for identifier in device.identifiers
    }
    assert devices == {(DOMAIN, METER_ID), (DOMAIN, OTHER_METER_ID)}

    # One head unplugged: only its meter's entities are unavailable.
    second_meter.unplug()
    await wait_until(
        lambda: state_of(hass, power[OTHER_METER_ID]) == STATE_UNAVAILABLE,
        what="second meter unavailable",
    )
    reading = await push_and_wait(hass, meter, first)
    assert float(state_of(hass, power[METER_ID])) == reading.values[POWER_IMPORT].value

    second_meter.plug()
    await wait_until(lambda: second.connected, what="second meter reconnected")
    reading = await push_and_wait(hass, second_meter, second)
    assert float(state_of(hass, power[OTHER_METER_ID])) == (
        reading.values[POWER_IMPORT].value
    )
    assert first.counters.reconnects == 0
    assert second.counters.reconnects == 1
