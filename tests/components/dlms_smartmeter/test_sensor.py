"""Sensor states from frames on a real pty: units, classes, intervals, availability."""

from __future__ import annotations

from datetime import datetime
import statistics
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.entity_registry import RegistryEntryDisabler
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest

from custom_components.dlms_smartmeter import (
    link as link_module,
    watchdog as watchdog_module,
)
from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.coordinator import MeterData
from custom_components.dlms_smartmeter.dlms import (
    MeterValue,
    Reading,
    SecurityLevel,
    Unit,
)
from custom_components.dlms_smartmeter.dlms.layouts import Layout
from custom_components.dlms_smartmeter.dlms.outputs import TcpFrameServer
from custom_components.dlms_smartmeter.sensor import _meter_time, _net_power
from custom_components.dlms_smartmeter.window import PublishWindow

from .meter import (
    ENTITY_PREFIX,
    PtyMeter,
    advance,
    make_simulator,
    meter_entry,
    push_and_wait,
    set_up_meter,
    wait_until,
)
from .operators import vector_entry, vector_stream
from .user_view import snapshot_entities, user_view_of_device

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion


pytestmark = pytest.mark.usefixtures("fast_timeouts")

EVERY_FRAME = {CONF_UPDATE_INTERVAL: 0}


def _state(hass: HomeAssistant, key: str, prefix: str = ENTITY_PREFIX) -> Any:
    state = hass.states.get(f"{prefix}_{key}")
    assert state is not None, f"{prefix}_{key} does not exist"
    return state


async def test_energy_dashboard_sensors(hass: HomeAssistant, meter: PtyMeter) -> None:
    """The AM550's values reach their entities (Wh registers shown as kWh).

    Units, device and state classes, entity categories and the device are
    in the snapshots of ``test_entities_per_meter``.
    """
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    reading = await push_and_wait(hass, meter, coordinator)
    values = {obis: value.value for obis, value in reading.values.items()}

    for key, obis in (("energy_import", "1-0:1.8.0"), ("energy_export", "1-0:2.8.0")):
        assert float(_state(hass, key).state) == pytest.approx(values[obis] / 1000)
    for key, obis in (
        ("reactive_energy_import", "1-0:3.8.0"),
        ("reactive_energy_export", "1-0:4.8.0"),
        ("power_import", "1-0:1.7.0"),
        ("power_export", "1-0:2.7.0"),
        ("reactive_power_import", "1-0:3.7.0"),
        ("reactive_power_export", "1-0:4.7.0"),
    ):
        assert float(_state(hass, key).state) == values[obis], key
    net = _state(hass, "net_power")
    assert float(net.state) == values["1-0:1.7.0"] - values["1-0:2.7.0"]


async def test_meter_time_is_the_meters_clock(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """The timestamp sensor shows the time in the frame."""
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    reading = await push_and_wait(hass, meter, coordinator)
    assert reading.meter_time is not None
    state = _state(hass, "meter_time")
    shown = dt_util.parse_datetime(state.state)
    assert shown == reading.meter_time


async def test_extra_values_of_other_meters(
    hass: HomeAssistant, tmp_path: Any, entity_registry: er.EntityRegistry
) -> None:
    """Per-phase values get device classes and are off by default; serial is read."""
    title = b"KFMg\x10\x20\x30\x40"
    meter = PtyMeter(
        tmp_path / "ttyMBUS",
        make_simulator(layout=Layout.OBIS_FLAT_TRIPLES, system_title=title),
    )
    try:
        entry = meter_entry(
            meter.port, unique_id=title.hex().upper(), options=EVERY_FRAME
        )
        coordinator = await set_up_meter(hass, meter, entry)
        await push_and_wait(hass, meter, coordinator)
        prefix = "sensor.kaifa"
        for key in (
            "voltage_l1",
            "voltage_l2",
            "voltage_l3",
            "current_l1",
            "power_factor",
        ):
            registry_entry = entity_registry.async_get(f"{prefix}_{key}")
            assert registry_entry is not None, key
            assert registry_entry.disabled_by is RegistryEntryDisabler.INTEGRATION
            assert hass.states.get(f"{prefix}_{key}") is None
        assert float(_state(hass, "power_import", prefix).state) >= 0
        # This layout has no reactive values: no such entities.
        assert entity_registry.async_get(f"{prefix}_reactive_energy_import") is None
        [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert device.manufacturer == "Kaifa"
        assert device.serial_number == meter.simulator.serial_number
    finally:
        meter.close()


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_extra_values_states(hass: HomeAssistant, tmp_path: Any) -> None:
    """Voltage, current and power factor show their values, when enabled."""
    title = b"KFMg\x10\x20\x30\x41"
    meter = PtyMeter(
        tmp_path / "ttyMBUS",
        make_simulator(layout=Layout.OBIS_FLAT_TRIPLES, system_title=title),
    )
    try:
        entry = meter_entry(
            meter.port, unique_id=title.hex().upper(), options=EVERY_FRAME
        )
        coordinator = await set_up_meter(hass, meter, entry)
        reading = await push_and_wait(hass, meter, coordinator)
        prefix = "sensor.kaifa"
        # Units and device classes: see the snapshots of test_entities_per_meter.
        for key, obis in (
            ("voltage_l2", "1-0:52.7.0"),
            ("current_l3", "1-0:71.7.0"),
            ("power_factor", "1-0:13.7.0"),
        ):
            shown = float(_state(hass, key, prefix).state)
            assert shown == pytest.approx(reading.values[obis].value), key
    finally:
        meter.close()


async def test_values_appearing_and_disappearing(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """New values get entities at once; values that vanish become unavailable."""
    wiener_netze = meter.simulator
    with_tariffs = make_simulator(layout=Layout.OBIS_PAIRS)
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    # Keep the second meter model in step (same counter and registers).
    for _ in range(wiener_netze.frames_sent):
        with_tariffs.next_reading()
    assert hass.states.get(f"{ENTITY_PREFIX}_energy_import_tariff_1") is None

    meter.simulator = with_tariffs
    wiener_netze.next_reading()
    reading = await push_and_wait(hass, meter, coordinator)
    tariff = _state(hass, "energy_import_tariff_1")
    assert float(tariff.state) == pytest.approx(
        reading.values["1-0:1.8.1"].value / 1000
    )

    meter.simulator = wiener_netze
    with_tariffs.next_reading()
    await push_and_wait(hass, meter, coordinator)
    assert _state(hass, "energy_import_tariff_1").state == STATE_UNAVAILABLE
    assert _state(hass, "energy_import").state != STATE_UNAVAILABLE


# Simulated time moves by whole windows of this length; real time (the test's
# own run time, however loaded the machine) never comes near it.
HOUR_WINDOW = 3600


@pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True)
async def test_update_interval_publishes_mean_power(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Power is the mean over the interval; registers are the latest value."""
    # Only the publication window is under test: no stale timeout inside it.
    monkeypatch.setattr(watchdog_module, "STALE_TIMEOUT_MIN", 10 * HOUR_WINDOW)
    coordinator = await set_up_meter(
        hass,
        meter,
        meter_entry(meter.port, options={CONF_UPDATE_INTERVAL: HOUR_WINDOW}),
    )
    assert coordinator.publish_interval == HOUR_WINDOW

    # Let the window that setup opened close, and the next one stay empty.
    for _ in range(2):
        await advance(hass, freezer, HOUR_WINDOW)
    assert coordinator._publish_unsub is None

    first = await push_and_wait(hass, meter, coordinator)
    assert float(_state(hass, "power_import").state) == first.values["1-0:1.7.0"].value

    window = [await push_and_wait(hass, meter, coordinator) for _ in range(4)]
    # Nothing published inside the interval.
    assert float(_state(hass, "power_import").state) == first.values["1-0:1.7.0"].value

    await advance(hass, freezer, HOUR_WINDOW)
    powers = [reading.values["1-0:1.7.0"].value for reading in window]
    assert float(_state(hass, "power_import").state) == pytest.approx(
        statistics.mean(powers)
    )
    net = statistics.mean(powers) - statistics.mean(
        reading.values["1-0:2.7.0"].value for reading in window
    )
    assert float(_state(hass, "net_power").state) == pytest.approx(net)
    assert float(_state(hass, "energy_import").state) == pytest.approx(
        window[-1].values["1-0:1.8.0"].value / 1000
    )


async def test_interval_zero_publishes_every_frame(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """With 0 every frame is published as it is."""
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    for _ in range(3):
        reading = await push_and_wait(hass, meter, coordinator)
        assert float(_state(hass, "power_import").state) == (
            reading.values["1-0:1.7.0"].value
        )


async def test_unplugged_head_and_recovery(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Unplugged: unavailable, one log line; plugged in again: values, one line."""
    caplog.set_level("INFO", "custom_components.dlms_smartmeter")
    # A publication window (an hour: longer than the test, however loaded the
    # machine) is open when the head returns.
    coordinator = await set_up_meter(
        hass,
        meter,
        meter_entry(meter.port, options={CONF_UPDATE_INTERVAL: HOUR_WINDOW}),
    )
    assert _state(hass, "power_import").state != STATE_UNAVAILABLE

    meter.unplug()
    await wait_until(
        lambda: _state(hass, "power_import").state == STATE_UNAVAILABLE,
        what="unavailable",
    )
    # Several reconnect attempts fail while the head is gone.
    await wait_until(
        lambda: coordinator.link.backoff == link_module.RECONNECT_MAX_DELAY,
        what="backoff at its maximum",
    )
    assert caplog.text.count("is unavailable") == 1

    meter.plug()
    await wait_until(lambda: coordinator.connected, what="reconnected")
    assert coordinator._publish_unsub is not None
    reading = await push_and_wait(hass, meter, coordinator)
    # Published at once, not at the end of the window.
    assert (
        float(_state(hass, "power_import").state) == reading.values["1-0:1.7.0"].value
    )
    assert caplog.text.count("receiving data again") == 1
    assert coordinator.counters.reconnects == 1
    assert coordinator.link.backoff == link_module.RECONNECT_MIN_DELAY


@pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True)
async def test_silent_meter_becomes_unavailable(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A meter that stops pushing is unavailable after the stale timeout."""
    caplog.set_level("INFO", "custom_components.dlms_smartmeter")
    # Long enough that the test's own run time cannot reach it.
    stale_timeout = 600.0
    monkeypatch.setattr(watchdog_module, "STALE_TIMEOUT_MIN", stale_timeout)
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    for _ in range(3):
        await push_and_wait(hass, meter, coordinator)
    # Pushes in quick succession: the minimum applies.
    assert coordinator.stale_timeout == stale_timeout

    await advance(hass, freezer, stale_timeout / 2)
    assert _state(hass, "power_import").state != STATE_UNAVAILABLE

    await advance(hass, freezer, stale_timeout / 2)
    assert _state(hass, "power_import").state == STATE_UNAVAILABLE
    assert "no valid frame received" in caplog.text
    # The watchdog had the port opened again.
    await wait_until(lambda: coordinator.counters.reconnects == 1, what="reopened")
    assert coordinator.connected

    await push_and_wait(hass, meter, coordinator)
    assert _state(hass, "power_import").state != STATE_UNAVAILABLE


async def test_network_read_head(hass: HomeAssistant, socket_enabled: None) -> None:
    """A socket:// URL (ser2net, network IR head) works like a serial port."""
    server = TcpFrameServer()
    await server.start()
    simulator = make_simulator()
    entry = meter_entry(f"socket://127.0.0.1:{server.port}", options=EVERY_FRAME)
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_until(lambda: server.clients == 1, what="client")
        coordinator = entry.runtime_data
        await server.send(simulator.next_frame())
        await wait_until(lambda: coordinator.counters.frames_ok == 1, what="frame")
        await hass.async_block_till_done()
        reading = simulator.reading()
        assert float(_state(hass, "power_import").state) == (
            reading.values["1-0:1.7.0"].value
        )
    finally:
        await server.aclose()
    await wait_until(
        lambda: _state(hass, "power_import").state == STATE_UNAVAILABLE,
        what="unavailable after the server closed",
    )
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_entities_restored_before_the_first_frame(
    hass: HomeAssistant, tmp_path: Any, entity_registry: er.EntityRegistry
) -> None:
    """Known entities exist at startup (unavailable); the first frame fills them in."""
    title = b"KFMg\x10\x20\x30\x42"
    meter_id = title.hex().upper()
    meter = PtyMeter(
        tmp_path / "ttyMBUS",
        make_simulator(layout=Layout.OBIS_FLAT_TRIPLES, system_title=title),
    )
    try:
        entry = meter_entry(meter.port, unique_id=meter_id, options=EVERY_FRAME)
        entry.add_to_hass(hass)
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{meter_id}_power_import",
            config_entry=entry,
            suggested_object_id="kaifa_power_import",
        )
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert _state(hass, "power_import", "sensor.kaifa").state == STATE_UNAVAILABLE
        [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert device.manufacturer == "Kaifa"
        assert device.serial_number is None
        sensor_entity = hass.data["sensor"].get_entity("sensor.kaifa_power_import")
        assert sensor_entity is not None
        assert sensor_entity.native_value is None

        coordinator = entry.runtime_data
        reading = await push_and_wait(hass, meter, coordinator)
        state = _state(hass, "power_import", "sensor.kaifa")
        assert float(state.state) == reading.values["1-0:1.7.0"].value
        [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert device.serial_number == reading.serial_number
    finally:
        meter.close()


def test_value_functions_without_values() -> None:
    """Net power needs both directions; a meter clock without offset is local."""
    only_import = MeterData(values={"1-0:1.7.0": 120}, meter_time=None)
    both = MeterData(values={"1-0:1.7.0": 120.5, "1-0:2.7.0": 20}, meter_time=None)
    assert _net_power(only_import) is None
    assert _net_power(both) == 100.5
    assert _meter_time(only_import) is None
    naive = datetime(2026, 3, 29, 1, 30)  # noqa: DTZ001 - a meter without offset
    shown = _meter_time(MeterData(values={}, meter_time=naive))
    assert shown is not None
    assert shown.tzinfo is dt_util.get_default_time_zone()
    assert shown.replace(tzinfo=None) == naive


async def test_solar_surplus_automation(hass: HomeAssistant, meter: PtyMeter) -> None:
    """The README's automations ("export above N W") work with these entities."""
    meter.simulator = make_simulator(
        start=datetime(
            2026, 6, 21, 8, 50, tzinfo=dt_util.get_time_zone("Europe/Vienna")
        ),
        push_interval=60,
    )
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"boiler": None, "charger": None}}
    )
    automations = [
        {
            "alias": "Solar surplus: boiler on",
            "triggers": [
                {
                    "trigger": "numeric_state",
                    "entity_id": f"{ENTITY_PREFIX}_net_power",
                    "below": -1500,
                }
            ],
            "actions": [
                {
                    "action": "input_boolean.turn_on",
                    "target": {"entity_id": "input_boolean.boiler"},
                }
            ],
        },
        {
            "alias": "Export above 1500 W: charger on",
            "triggers": [
                {
                    "trigger": "numeric_state",
                    "entity_id": f"{ENTITY_PREFIX}_power_export",
                    "above": 1500,
                }
            ],
            "actions": [
                {
                    "action": "input_boolean.turn_on",
                    "target": {"entity_id": "input_boolean.charger"},
                }
            ],
        },
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()

    def _on(name: str) -> bool:
        state = hass.states.get(f"input_boolean.{name}")
        assert state is not None
        return bool(state.state == "on")

    # A numeric state trigger fires when the value crosses the limit.
    boiler_armed = float(_state(hass, "net_power").state) >= -1500
    charger_armed = float(_state(hass, "power_export").state) <= 1500
    boiler_fired = charger_fired = False
    for _ in range(60):
        reading = await push_and_wait(hass, meter, coordinator)
        await hass.async_block_till_done()
        imported = reading.values["1-0:1.7.0"].value
        exported = reading.values["1-0:2.7.0"].value
        surplus = imported - exported < -1500
        boiler_fired |= surplus and boiler_armed
        boiler_armed = not surplus
        charger_fired |= exported > 1500 and charger_armed
        charger_armed = exported <= 1500
        assert _on("boiler") is boiler_fired
        assert _on("charger") is charger_fired
        if boiler_fired and charger_fired:
            break
    assert boiler_fired
    assert charger_fired


# --- what a user gets, per meter: snapshots -----------------------------------

# One vector per meter kind the setup form offers.
SNAPSHOT_METERS: Final = {
    "wiener_netze_am550": "WN-AM550-1",
    "wiener_netze_im350": "WN-IM350-1",
    "wiener_netze_e450": "WN-E450-1",
    "netz_noe_kaifa": "NOE-KAIFA-DOC",
    "netz_noe_sagemcom": "NOE-SAG-2",
    "tinetz_salzburg_vorarlberg_kaifa": "TINETZ-KAIFA-DOC",
    "kaernten_p1_am550": "KN-AM550-1",
    "wels_p1_im350": "WELS-IM350-1",
    "burgenland_e450": "BGLD-E450-1",
    "steiermark_e450": "E450-GBT-1",
    "steiermark_t210": "STMK-SAG-DSMR-1",
}


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True)
@pytest.mark.parametrize("vector_id", SNAPSHOT_METERS.values(), ids=SNAPSHOT_METERS)
async def test_entities_per_meter(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    meter: PtyMeter,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    vector_id: str,
) -> None:
    """Every entity, its registry entry and state, for each kind of meter."""
    entry = vector_entry(vector_id, meter.port)
    entry.add_to_hass(hass)
    # The same frame again and again: the repeats are dropped as replays, so
    # the entities show exactly this frame.
    raw = vector_stream(vector_id)
    meter.start_streaming(source=lambda: raw)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    await hass.async_block_till_done()

    [device] = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert user_view_of_device(device) == snapshot(name="device")
    await snapshot_entities(hass, entity_registry, snapshot, entry.entry_id)


def test_a_value_whose_unit_is_unknown_is_never_published() -> None:
    """A current without a stated scale must not reach the ampere entity."""
    window = PublishWindow()
    window.add(
        Reading(
            system_title=b"",
            invocation_counter=None,
            security=SecurityLevel.NONE,
            meter_time=None,
            values={
                "1-0:31.7.0": MeterValue(612, Unit.NONE),
                "1-0:32.7.0": MeterValue(230.1, Unit.VOLT),
                "1-0:13.7.0": MeterValue(0.95, Unit.NONE),
                "1-1:1.8.0": MeterValue(6307498, Unit.NONE),
            },
            layout=Layout.OBIS_PAIRS,
        )
    )
    assert window.to_data().values == {"1-0:32.7.0": 230.1, "1-0:13.7.0": 0.95}
