"""Guards across restarts, and energy registers that really restart lower."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import EVENT_STATE_CHANGED
import pytest

from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.dlms import LinkLayer, MeterValue, Reading
from custom_components.dlms_smartmeter.dlms.encoder import encode_reading
from custom_components.dlms_smartmeter.dlms.guards import (
    REGISTER_RESET_CONFIRMATION_FRAMES,
    REGISTER_UNITS,
)
from custom_components.dlms_smartmeter.store import STORAGE_VERSION

from .fault_injection import ENERGY_IMPORT, Publications, entity_id_of, state_of
from .meter import (
    METER_ID,
    TEST_KEY,
    PtyMeter,
    meter_entry,
    push_and_wait,
    send_and_wait,
    set_up_meter,
)

if TYPE_CHECKING:
    from homeassistant.core import Event, HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

pytestmark = pytest.mark.usefixtures("fast_timeouts")

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}


def _registers(reading: Reading) -> dict[str, float]:
    return {
        obis: value.value
        for obis, value in reading.values.items()
        if value.unit in REGISTER_UNITS
    }


def _wh(state: str) -> int:
    """An energy sensor's state (shown in kWh) in Wh."""
    return round(float(state) * 1000)


def shifted_frame(
    simulator: MeterSimulator, shift: dict[str, float]
) -> tuple[bytes, Reading]:
    """The simulator's next frame with its registers lowered by ``shift``."""
    reading = simulator.next_reading()
    values = {
        obis: (
            MeterValue(value.value - shift[obis], value.unit)
            if obis in shift
            else value
        )
        for obis, value in reading.values.items()
    }
    shifted = dataclasses.replace(reading, values=values)
    return encode_reading(shifted, encryption_key=TEST_KEY, link=LinkLayer.HDLC), (
        shifted
    )


async def test_reload_keeps_the_baseline_and_rejects_a_bogus_first_frame(
    hass: HomeAssistant, meter: PtyMeter, hass_storage: dict[str, Any]
) -> None:
    """After a restart the first frames are checked against the saved state."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    last = await push_and_wait(hass, meter, coordinator)
    energy = entity_id_of(hass, METER_ID, "energy_import")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    saved = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert saved["invocation_counter"] == last.invocation_counter
    assert saved["registers"][ENERGY_IMPORT][0] == last.values[ENERGY_IMPORT].value

    restarted: DlmsSmartMeterCoordinator = entry.runtime_data
    assert restarted is not coordinator
    assert restarted.last_invocation_counter == last.invocation_counter
    # A replayed frame as the first one after the restart.
    await send_and_wait(hass, meter, restarted, meter.frames[-1])
    assert restarted.counters.replayed_frames == 1
    # A frame whose energy register went down.
    bogus, _ = shifted_frame(meter.simulator, {ENERGY_IMPORT: 1000})
    await send_and_wait(hass, meter, restarted, bogus)
    assert restarted.counters.dropped_decreasing_registers == 1
    assert restarted.counters.frames_ok == 0
    assert restarted.data is None

    reading = await push_and_wait(hass, meter, restarted)
    assert _wh(state_of(hass, energy)) == reading.values[ENERGY_IMPORT].value


async def test_home_assistant_restart_restores_the_baseline(
    hass: HomeAssistant, meter: PtyMeter, hass_storage: dict[str, Any]
) -> None:
    """A baseline saved by an earlier run catches a bogus first frame."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    first = meter.simulator.next_reading()
    registers = _registers(first)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "invocation_counter": first.invocation_counter,
            "registers": {
                obis: [value + 5000, 0.0] for obis, value in registers.items()
            },
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    # Below what was saved: dropped, nothing is published.
    await push_and_wait(hass, meter, coordinator)
    assert coordinator.counters.dropped_decreasing_registers == 1
    assert coordinator.data is None


async def test_genuine_register_reset_is_accepted_without_a_spike(
    hass: HomeAssistant,
    meter: PtyMeter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Registers that restart near zero are taken after the confirmation frames.

    Home Assistant never sees a value between the old and the new sequence:
    the energy sensor goes from the old reading straight to the new one,
    which is far below (a meter reset for the statistics, not a dip).
    """
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    before = await push_and_wait(hass, meter, coordinator)
    old = before.values[ENERGY_IMPORT].value
    energy = entity_id_of(hass, METER_ID, "energy_import")
    shown: list[str] = []

    def _record(event: Event[Any]) -> None:
        if event.data["entity_id"] == energy and event.data["new_state"]:
            shown.append(event.data["new_state"].state)

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _record)
    publications = Publications(coordinator)
    # The operator resets the registers: they start again a little above zero.
    shift = {obis: value - 10 for obis, value in _registers(before).items()}
    sent: list[Reading] = []
    for _ in range(REGISTER_RESET_CONFIRMATION_FRAMES + 2):
        frame, reading = shifted_frame(meter.simulator, shift)
        sent.append(reading)
        await send_and_wait(hass, meter, coordinator, frame)
    unsubscribe()

    counters = coordinator.counters
    assert counters.dropped_decreasing_registers == (
        REGISTER_RESET_CONFIRMATION_FRAMES - 1
    )
    assert counters.register_resets == 1
    published = [data.values[ENERGY_IMPORT] for data in publications.published]
    accepted = sent[REGISTER_RESET_CONFIRMATION_FRAMES - 1 :]
    assert published == [reading.values[ENERGY_IMPORT].value for reading in accepted]
    assert published == sorted(published)
    # The state changes only when the value does.
    assert [_wh(state) for state in shown] == list(dict.fromkeys(published))
    # Far below the old value: a new cycle in the statistics, never a dip
    # (a negative spike) and never an intermediate bogus value.
    assert published[0] < 0.1 * old
    assert caplog.text.count("restarted lower") == 1
    diagnostics_counters = coordinator.counters_as_dict()
    assert diagnostics_counters["register_resets"] == 1
