"""What the coordinator does with every frame: guards, reauth, push period."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from homeassistant.config_entries import SOURCE_REAUTH
import pytest

from custom_components.dlms_smartmeter import (
    coordinator as coordinator_module,
    watchdog as watchdog_module,
)
from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.dlms.guards import RESTART_CONFIRMATION_FRAMES

from .meter import (
    ENTITY_PREFIX,
    OTHER_KEY,
    OTHER_SYSTEM_TITLE,
    PtyMeter,
    advance,
    frame_of,
    make_simulator,
    meter_entry,
    push_and_wait,
    send_and_wait,
    set_up_meter,
    unsupported_frame,
    wait_until,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms import Reading
    from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

pytestmark = pytest.mark.usefixtures("fast_timeouts")

EVERY_FRAME = {CONF_UPDATE_INTERVAL: 0}
ENERGY_IMPORT = "1-0:1.8.0"


def _power_state(hass: HomeAssistant) -> str:
    state = hass.states.get(f"{ENTITY_PREFIX}_power_import")
    assert state is not None
    return state.state


async def _running(hass: HomeAssistant, meter: PtyMeter) -> DlmsSmartMeterCoordinator:
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    await push_and_wait(hass, meter, coordinator)
    return coordinator


def _in_step(simulator: MeterSimulator, like: MeterSimulator) -> MeterSimulator:
    """Advance ``simulator`` to the same number of frames as ``like``."""
    while simulator.frames_sent < like.frames_sent:
        simulator.next_reading()
    return simulator


def _with_energy_import(reading: Reading, energy: float, step: int) -> Reading:
    """``reading`` sent ``step`` counters later with the import register set."""
    assert reading.invocation_counter is not None
    values = dict(reading.values)
    values[ENERGY_IMPORT] = replace(values[ENERGY_IMPORT], value=energy)
    return replace(
        reading,
        values=values,
        invocation_counter=reading.invocation_counter + step,
    )


async def test_replayed_frame_is_dropped(hass: HomeAssistant, meter: PtyMeter) -> None:
    """The same frame again (or an old one) is never published."""
    coordinator = await _running(hass, meter)
    frames_ok = coordinator.counters.frames_ok
    before = _power_state(hass)
    meter.write(meter.frames[-1])
    await wait_until(lambda: coordinator.counters.replayed_frames == 1, what="replay")
    meter.write(meter.frames[0])
    await wait_until(lambda: coordinator.counters.replayed_frames == 2, what="replay")
    assert coordinator.counters.frames_ok == frames_ok
    assert _power_state(hass) == before
    assert (
        coordinator.last_invocation_counter
        == meter.simulator.reading().invocation_counter
    )


async def test_counter_restart_is_accepted_after_confirmation(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """A counter that restarts lower and keeps increasing is taken, with a warning."""
    coordinator = await _running(hass, meter)
    meter.simulator = _in_step(make_simulator(invocation_counter=10), meter.simulator)
    for _ in range(RESTART_CONFIRMATION_FRAMES - 1):
        await push_and_wait(hass, meter, coordinator)
    assert coordinator.counters.replayed_frames == RESTART_CONFIRMATION_FRAMES - 1
    assert coordinator.counters.counter_restarts == 0

    reading = await push_and_wait(hass, meter, coordinator)
    assert coordinator.counters.counter_restarts == 1
    assert coordinator.last_invocation_counter == reading.invocation_counter
    assert float(_power_state(hass)) == reading.values["1-0:1.7.0"].value
    assert "invocation counter restarted" in caplog.text


async def test_decreasing_register_is_never_published(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """An energy register that goes down drops the frame; logged once."""
    coordinator = await _running(hass, meter)
    last = meter.simulator.reading()
    current = last.values[ENERGY_IMPORT].value
    energy_before = hass.states.get(f"{ENTITY_PREFIX}_energy_import")
    assert energy_before is not None
    # Three later frames whose import register is 1 kWh below the published one.
    for step in (1, 2, 3):
        lower = _with_energy_import(last, current - 1000, step)
        await send_and_wait(hass, meter, coordinator, frame_of(lower))
    assert coordinator.counters.dropped_decreasing_registers == 3
    assert coordinator.last_reading == last
    energy_after = hass.states.get(f"{ENTITY_PREFIX}_energy_import")
    assert energy_after is not None
    assert energy_after.state == energy_before.state
    assert caplog.text.count("register went down") == 1


async def test_implausible_register_jump_is_dropped(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A register that grows faster than any installation can is dropped."""
    coordinator = await _running(hass, meter)
    last = meter.simulator.reading()
    current = last.values[ENERGY_IMPORT].value
    # 100 MWh more one push later: no household, however large, does that.
    jumped = _with_energy_import(last, current + 100_000_000, 1)
    await send_and_wait(hass, meter, coordinator, frame_of(jumped))
    assert coordinator.counters.dropped_implausible_registers == 1
    assert coordinator.last_reading is not None
    assert coordinator.last_reading.values[ENERGY_IMPORT].value == current


async def test_other_meter_on_the_port_is_ignored(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Frames of a different meter (same key) never reach this meter's entities."""
    coordinator = await _running(hass, meter)
    meter.simulator = make_simulator(
        system_title=OTHER_SYSTEM_TITLE, invocation_counter=9000
    )
    for _ in range(2):
        await push_and_wait(hass, meter, coordinator)
    assert coordinator.counters.foreign_meter_frames == 2
    assert caplog.text.count("different meter") == 1


async def test_reauth_starts_once_after_failures(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Ten frames in a row that do not decrypt ask for the key, once."""
    coordinator = await _running(hass, meter)
    meter.simulator = make_simulator(encryption_key=OTHER_KEY, invocation_counter=9000)
    meter.push(coordinator_module.REAUTH_AFTER_FAILURES - 1)
    await wait_until(
        lambda: (
            coordinator.decoder_stats["decryption_errors"]
            == coordinator_module.REAUTH_AFTER_FAILURES - 1
        ),
        what="decryption errors",
    )
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    meter.push(15)
    await wait_until(
        lambda: coordinator.decoder_stats["decryption_errors"] == 24, what="errors"
    )
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert caplog.text.count("did not decrypt") == 1


async def test_unsupported_and_broken_frames_are_counted(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Unknown layouts and line noise are counted and logged, never raised."""
    caplog.set_level("DEBUG", "custom_components.dlms_smartmeter")
    coordinator = await _running(hass, meter)
    meter.write(unsupported_frame(invocation_counter=8000))
    meter.write(unsupported_frame(invocation_counter=8001))
    await wait_until(
        lambda: coordinator.decoder_stats["unsupported"] == 2, what="unsupported"
    )
    broken = bytearray(meter.simulator.next_frame())
    broken[40] ^= 0xFF
    meter.write(bytes(broken))
    await wait_until(
        lambda: coordinator.decoder_stats["checksum_errors"] >= 1, what="checksum"
    )
    assert caplog.text.count("payload layout that is not supported") == 1
    assert "Unsupported plaintext" in caplog.text
    # Still reading.
    reading = await push_and_wait(hass, meter, coordinator)
    assert float(_power_state(hass)) == reading.values["1-0:1.7.0"].value


@pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True)
async def test_stale_timeout_follows_push_period(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A meter that pushes every 5 minutes is stale after three missed pushes."""
    period = 300
    # Set-up's quick frames arm the watchdog with the minimum timeout: it must
    # outlast the first slow push, or the watchdog reopens the port first.
    monkeypatch.setattr(watchdog_module, "STALE_TIMEOUT_MIN", period + 100)
    coordinator = await _running(hass, meter)
    coordinator.watchdog.intervals.clear()
    for _ in range(4):
        await advance(hass, freezer, period)
        await push_and_wait(hass, meter, coordinator)
    # The observed period is the simulated one plus the test's own run time.
    assert coordinator.push_period is not None
    assert period - 1 < coordinator.push_period < period + 30
    assert coordinator.stale_timeout == 3 * coordinator.push_period

    await advance(hass, freezer, 2 * period)
    assert coordinator.last_update_success
    await advance(hass, freezer, 2 * period)
    assert not coordinator.last_update_success


async def test_stale_timeout_before_a_period_is_known(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Without two readings the generous default applies."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    assert coordinator.push_period is None
    assert coordinator.stale_timeout == watchdog_module.STALE_TIMEOUT_UNKNOWN_PERIOD
    await coordinator.async_stop()
    await coordinator.async_stop()
    assert not coordinator.connected
