"""Quarter-hour sensors from a simulated meter whose clock runs fast.

Every frame carries the meter's time; a test sends many meter-minutes per
real second and waits until the integration has taken each batch, so
nothing depends on the wall clock. The expected values are worked out here
from the registers of the readings that were sent, by a deliberately plain
linear search and interpolation that shares no code with the integration.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
import itertools
import math
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from homeassistant.core import State
from homeassistant.helpers import entity_registry as er, restore_state as rs
import pytest
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
)

from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.dlms.encoder import encode_reading

from .meter import (
    METER_ID,
    TEST_KEY,
    PtyMeter,
    make_simulator,
    meter_entry,
    wait_until,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms import Reading
    from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

pytestmark = pytest.mark.usefixtures("fast_timeouts")

VIENNA: Final = ZoneInfo("Europe/Vienna")
EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
BATCH: Final = 25
"""Frames written at once (well below what a pty buffers)."""
IMPORT: Final = "last_quarter_hour_energy_import"
EXPORT: Final = "last_quarter_hour_energy_export"
DEMAND: Final = "quarter_hour_demand"
FORECAST: Final = "quarter_hour_demand_forecast"
PEAK: Final = "monthly_peak_demand"


def local(*fields: int) -> datetime:
    """A time on the meter's clock (Vienna)."""
    year, month, day, hour, minute, second = fields
    return datetime(year, month, day, hour, minute, second, tzinfo=VIENNA)


class Recorder:
    """Frames of a simulated meter, with the readings the integration receives."""

    def __init__(self, simulator: MeterSimulator) -> None:
        self.simulator = simulator
        self.readings: list[Reading] = []

    def frame(self) -> bytes:
        frame = self.simulator.next_frame()
        self.readings.append(self.simulator.reading())
        return frame

    @property
    def meter_time(self) -> datetime:
        moment = self.readings[-1].meter_time
        assert moment is not None
        return moment

    def skip(self, seconds: int) -> None:
        """The meter goes on while nobody listens (Home Assistant restarts)."""
        for _ in range(seconds // self.simulator.push_interval):
            self.simulator.next_reading()


def register_at(readings: list[Reading], moment: datetime, obis: str) -> Fraction:
    """The register at ``moment``: a reading there, or between the two around it."""
    points = [
        (item.meter_time, Fraction(item.values[obis].value))
        for item in readings
        if item.meter_time is not None
    ]
    for (before, low), (after, high) in itertools.pairwise(points):
        if after == moment:
            return high
        if before < moment < after:
            return low + (high - low) * Fraction(
                (moment - before) // timedelta(microseconds=1),
                (after - before) // timedelta(microseconds=1),
            )
    raise AssertionError(f"no readings around {moment}")


def quarter_energy(readings: list[Reading], start: datetime, obis: str) -> Fraction:
    end = start + timedelta(minutes=15)
    return register_at(readings, end, obis) - register_at(readings, start, obis)


def state_of(hass: HomeAssistant, key: str, meter_id: str = METER_ID) -> State:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{meter_id}_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def value_of(hass: HomeAssistant, key: str, meter_id: str = METER_ID) -> float | None:
    state = state_of(hass, key, meter_id).state
    return None if state in {"unknown", "unavailable"} else float(state)


def last_reset(hass: HomeAssistant, meter_id: str = METER_ID) -> datetime:
    return datetime.fromisoformat(
        state_of(hass, IMPORT, meter_id).attributes["last_reset"]
    )


def exact(value: Fraction) -> Any:
    """What a sensor shows for an exact value: Wh and W to three decimals."""
    return pytest.approx(float(value), abs=0.0015)


async def set_up(
    hass: HomeAssistant,
    meter: PtyMeter,
    recorder: Recorder,
    entry: MockConfigEntry,
    *,
    add: bool = True,
) -> DlmsSmartMeterCoordinator:
    """Set the entry up while the meter pushes; return when all frames are in."""
    if add:
        entry.add_to_hass(hass)
    meter.start_streaming(source=recorder.frame)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    await _taken(hass, coordinator, recorder)
    return coordinator


async def start_meter(
    hass: HomeAssistant, meter: PtyMeter, start: datetime, push_interval: int = 1
) -> tuple[Recorder, DlmsSmartMeterCoordinator, MockConfigEntry]:
    """A meter whose clock starts at ``start``, set up to publish every frame."""
    recorder = Recorder(make_simulator(start=start, push_interval=push_interval))
    meter.simulator = recorder.simulator
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up(hass, meter, recorder, entry)
    return recorder, coordinator, entry


async def _taken(
    hass: HomeAssistant, coordinator: DlmsSmartMeterCoordinator, recorder: Recorder
) -> None:
    target = recorder.meter_time

    def _has_it() -> bool:
        reading = coordinator.last_reading
        return reading is not None and reading.meter_time == target

    await wait_until(_has_it, what=f"the frame of {target}")
    await hass.async_block_till_done()


async def push_until(
    hass: HomeAssistant,
    meter: PtyMeter,
    coordinator: DlmsSmartMeterCoordinator,
    recorder: Recorder,
    moment: datetime,
) -> None:
    """Send frames in batches until the meter's clock reaches ``moment``."""
    interval = recorder.simulator.push_interval
    count = math.ceil((moment - recorder.meter_time).total_seconds() / interval)
    while count > 0:
        size = min(BATCH, count)
        meter.write(b"".join(recorder.frame() for _ in range(size)))
        await _taken(hass, coordinator, recorder)
        count -= size


async def test_frames_every_second_give_the_register_differences(
    hass: HomeAssistant, meter: PtyMeter, entity_registry: er.EntityRegistry
) -> None:
    """With a frame on every boundary the quarter is two register values apart."""
    recorder, coordinator, _ = await start_meter(
        hass, meter, local(2026, 5, 4, 12, 10, 0)
    )
    await push_until(hass, meter, coordinator, recorder, local(2026, 5, 4, 12, 30, 1))
    by_time = {item.meter_time: item for item in recorder.readings}
    start, end = local(2026, 5, 4, 12, 15, 0), local(2026, 5, 4, 12, 30, 0)
    expected = {
        obis: by_time[end].values[obis].value - by_time[start].values[obis].value
        for obis in ("1-0:1.8.0", "1-0:2.8.0")
    }
    energy_import = state_of(hass, IMPORT)
    assert energy_import.state == str(expected["1-0:1.8.0"])
    assert state_of(hass, EXPORT).state == str(expected["1-0:2.8.0"])
    assert energy_import.attributes["last_reset"] == "2026-05-04T12:15:00+02:00"
    assert energy_import.attributes["device_class"] == "energy"
    assert energy_import.attributes["state_class"] == "total"
    assert energy_import.attributes["unit_of_measurement"] == "Wh"

    # One second into the 12:30 quarter.
    latest = by_time[local(2026, 5, 4, 12, 30, 1)]
    so_far = Fraction(
        latest.values["1-0:1.8.0"].value - by_time[end].values["1-0:1.8.0"].value
    )
    assert value_of(hass, DEMAND) == exact(so_far * 3600)
    power = Fraction(latest.values["1-0:1.7.0"].value)
    assert value_of(hass, FORECAST) == exact((so_far * 3600 + power * 899) / 900)
    demand = state_of(hass, DEMAND)
    assert demand.attributes["unit_of_measurement"] == "W"
    assert demand.attributes["device_class"] == "power"
    assert demand.attributes["state_class"] == "measurement"

    # The 12:00 quarter was partial (the meter started at 12:10): the peak
    # is the only complete one.
    peak = state_of(hass, PEAK)
    assert float(peak.state) == 4 * expected["1-0:1.8.0"]
    assert peak.attributes["quarter_start"] == "2026-05-04T12:15:00+02:00"

    # On the meter's device, enabled by default, with the usual unique IDs.
    device_id = entity_registry.async_get(
        entity_registry.async_get_entity_id(
            "sensor", DOMAIN, f"{METER_ID}_energy_import"
        )
        or ""
    )
    assert device_id is not None
    for key in (IMPORT, EXPORT, DEMAND, FORECAST, PEAK):
        entity_id = entity_registry.async_get_entity_id(
            "sensor", DOMAIN, f"{METER_ID}_{key}"
        )
        assert entity_id is not None
        registry_entry = entity_registry.async_get(entity_id)
        assert registry_entry is not None
        assert registry_entry.disabled_by is None
        assert registry_entry.device_id == device_id.device_id


async def test_frames_every_10_seconds_are_interpolated(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """No frame on the boundaries: the registers there are interpolated."""
    recorder, coordinator, _ = await start_meter(
        hass, meter, local(2026, 5, 4, 18, 10, 3), 10
    )
    seen: dict[datetime, tuple[float | None, float | None]] = {}
    for minutes in range(20, 80, 2):
        moment = local(2026, 5, 4, 18, 0, 0) + timedelta(minutes=minutes)
        await push_until(hass, meter, coordinator, recorder, moment)
        if value_of(hass, IMPORT) is not None:
            seen[last_reset(hass)] = (value_of(hass, IMPORT), value_of(hass, EXPORT))
    starts = [
        local(2026, 5, 4, 18, 15, 0) + timedelta(minutes=15 * n) for n in range(4)
    ]
    assert list(seen) == starts
    for start in starts:
        energy_import, energy_export = seen[start]
        assert energy_import == exact(
            quarter_energy(recorder.readings, start, "1-0:1.8.0")
        )
        assert energy_export == exact(
            quarter_energy(recorder.readings, start, "1-0:2.8.0")
        )
    peak = max(starts, key=lambda start: seen[start][0] or 0)
    assert value_of(hass, PEAK) == pytest.approx(4 * (seen[peak][0] or 0))
    assert state_of(hass, PEAK).attributes["quarter_start"] == peak.isoformat()


async def test_the_peak_starts_again_with_the_meters_month(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    recorder, coordinator, _ = await start_meter(
        hass, meter, local(2026, 1, 31, 23, 20, 3), 10
    )
    await push_until(hass, meter, coordinator, recorder, local(2026, 1, 31, 23, 59, 50))
    january = state_of(hass, PEAK)
    january_start = local(2026, 1, 31, 23, 30, 0)
    assert january.attributes["quarter_start"] == january_start.isoformat()
    assert float(january.state) == exact(
        4 * quarter_energy(recorder.readings, january_start, "1-0:1.8.0")
    )
    await push_until(hass, meter, coordinator, recorder, local(2026, 2, 1, 0, 0, 5))
    # The last quarter of January is complete, and February has no peak yet.
    assert last_reset(hass) == local(2026, 1, 31, 23, 45, 0)
    assert state_of(hass, PEAK).state == "unknown"
    await push_until(hass, meter, coordinator, recorder, local(2026, 2, 1, 0, 15, 5))
    february = state_of(hass, PEAK)
    assert february.attributes["quarter_start"] == "2026-02-01T00:00:00+01:00"
    assert float(february.state) == exact(
        4 * quarter_energy(recorder.readings, local(2026, 2, 1, 0, 0, 0), "1-0:1.8.0")
    )


@pytest.mark.parametrize(
    ("start", "until", "expected"),
    [
        (
            local(2026, 3, 29, 1, 20, 3),
            local(2026, 3, 29, 3, 20, 0),
            ["01:30+01:00", "01:45+01:00", "03:00+02:00"],
        ),
        (
            local(2026, 10, 25, 1, 50, 3),
            local(2026, 10, 25, 2, 20, 0).replace(fold=1),
            [
                "02:00+02:00",
                "02:15+02:00",
                "02:30+02:00",
                "02:45+02:00",
                "02:00+01:00",
            ],
        ),
    ],
    ids=["spring", "autumn"],
)
async def test_quarters_across_a_daylight_saving_change(
    hass: HomeAssistant,
    meter: PtyMeter,
    start: datetime,
    until: datetime,
    expected: list[str],
) -> None:
    """The meter's UTC offset changes; each quarter is still 15 real minutes."""
    recorder, coordinator, _ = await start_meter(hass, meter, start, 10)
    seen: dict[datetime, float | None] = {}
    moment = recorder.meter_time
    while moment < until:
        moment += timedelta(minutes=4)
        await push_until(hass, meter, coordinator, recorder, moment)
        if state_of(hass, IMPORT).state != "unknown":
            seen[last_reset(hass)] = value_of(hass, IMPORT)
    assert [quarter.strftime("%H:%M%:z") for quarter in seen] == expected
    for quarter, energy in seen.items():
        assert energy == exact(quarter_energy(recorder.readings, quarter, "1-0:1.8.0"))


async def test_a_restart_in_the_middle_of_a_quarter_after_a_peak(
    hass: HomeAssistant, meter: PtyMeter, hass_storage: dict[str, Any]
) -> None:
    """The peak stays, and the quarter across the restart is still exact.

    The state goes the way of a real restart: dumped by Home Assistant's
    restore-state helper into its storage (JSON), and loaded from there.
    """
    recorder, coordinator, entry = await start_meter(
        hass, meter, local(2026, 6, 1, 19, 10, 3), 10
    )
    await push_until(hass, meter, coordinator, recorder, local(2026, 6, 1, 19, 35, 0))
    peak = state_of(hass, PEAK)
    # 19:15 is the only complete quarter so far (19:10 was the start-up).
    assert peak.attributes["quarter_start"] == "2026-06-01T19:15:00+02:00"
    assert float(peak.state) == exact(
        4 * quarter_energy(recorder.readings, local(2026, 6, 1, 19, 15, 0), "1-0:1.8.0")
    )

    await rs.async_get(hass).async_dump_states()
    [saved] = [
        item
        for item in hass_storage[rs.STORAGE_KEY]["data"]
        if item["state"]["entity_id"] == peak.entity_id
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    recorder.skip(120)  # two minutes of frames nobody receives
    mock_restore_cache_with_extra_data(
        hass, [(State.from_dict(saved["state"]), saved["extra_data"])]
    )
    coordinator = await set_up(hass, meter, recorder, entry, add=False)
    restarted = state_of(hass, PEAK)
    assert restarted.state == peak.state
    assert restarted.attributes == peak.attributes
    assert last_reset(hass) == local(2026, 6, 1, 19, 15, 0)
    assert value_of(hass, DEMAND) is not None  # the running quarter goes on

    await push_until(hass, meter, coordinator, recorder, local(2026, 6, 1, 19, 45, 5))
    across = local(2026, 6, 1, 19, 30, 0)
    assert last_reset(hass) == across
    assert value_of(hass, IMPORT) == exact(
        quarter_energy(recorder.readings, across, "1-0:1.8.0")
    )
    assert state_of(hass, PEAK).attributes["quarter_start"] in {
        "2026-06-01T19:15:00+02:00",
        across.isoformat(),
    }


async def test_a_reload_keeps_the_running_quarter(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Changing the options reloads the entry; the sensors go on seamlessly."""
    recorder, coordinator, entry = await start_meter(
        hass, meter, local(2026, 6, 1, 19, 10, 3), 10
    )
    await push_until(hass, meter, coordinator, recorder, local(2026, 6, 1, 19, 35, 0))
    peak = state_of(hass, PEAK)
    meter.start_streaming(source=recorder.frame)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    meter.stop_streaming()
    coordinator = entry.runtime_data
    await _taken(hass, coordinator, recorder)
    assert state_of(hass, PEAK).attributes == peak.attributes
    await push_until(hass, meter, coordinator, recorder, local(2026, 6, 1, 19, 45, 5))
    across = local(2026, 6, 1, 19, 30, 0)
    assert last_reset(hass) == across
    assert value_of(hass, IMPORT) == exact(
        quarter_energy(recorder.readings, across, "1-0:1.8.0")
    )


async def test_meters_without_a_clock_get_no_quarter_hour_sensors(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Without the meter's time there are no quarters to align to."""
    simulator = make_simulator(start=local(2026, 5, 4, 12, 10, 0))

    def clockless_frame() -> bytes:
        item = replace(simulator.next_reading(), meter_time=None)
        return encode_reading(item, encryption_key=TEST_KEY)

    meter.start_streaming(source=clockless_frame)
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_energy_import")
    assert not coordinator.quarter_hours.active
    for key in (IMPORT, EXPORT, DEMAND, FORECAST, PEAK):
        assert (
            registry.async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_{key}") is None
        )
