"""Quarter-hour sensors against an independent meter emulation and reference model.

The emulated meter belongs to this test alone: a Landis+Gyr E450 style
meter (local time without UTC offset, whole seconds, OBIS/value pairs) that
runs a scripted power profile, integrates it second by second into whole-Wh
registers and pushes a frame every 7 s of its clock, which therefore never
falls on a quarter boundary. The reference model beside it works out every
quarter from the registers it sent, in the plainest way: find the frames
around each boundary, interpolate, subtract. Neither uses the integration's
quarter-hour code; the integration has to arrive at the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
import itertools
import math
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.dlms_smartmeter.dlms import (
    MeterValue,
    Reading,
    SecurityLevel,
    Unit,
)
from custom_components.dlms_smartmeter.dlms.encoder import encode_reading
from custom_components.dlms_smartmeter.dlms.layouts import Layout

from .meter import TEST_KEY, PtyMeter, meter_entry, wait_until

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("fast_timeouts")

VIENNA: Final = ZoneInfo("Europe/Vienna")
TITLE: Final = b"LGZgs\x05\x06\x07"
METER: Final = TITLE.hex().upper()
START: Final = datetime(2026, 3, 31, 22, 52, 0, tzinfo=VIENNA)
STEP: Final = 7
"""Seconds of the meter's clock between two frames."""
# (minutes, import W, export W), one after the other from START.
SCRIPT: Final = (
    (8, 1500, 0),  # to 23:00
    (20, 800, 0),  # to 23:20
    (4, 9000, 0),  # to 23:24: a sauna and a car charger at once
    (11, 2000, 0),  # to 23:35
    (10, 0, 2500),  # to 23:45: feeding in
    (25, 3000, 0),  # to 00:10 on 1 April
    (20, 1200, 300),  # to 00:30
)


@dataclass(frozen=True)
class Frame:
    second: int
    """Seconds of the meter's clock since START."""
    energy_import: int
    energy_export: int
    power_import: int
    power_export: int


def power_at(second: int) -> tuple[int, int]:
    elapsed = 0
    for minutes, power_import, power_export in SCRIPT:
        elapsed += minutes * 60
        if second < elapsed:
            return power_import, power_export
    raise AssertionError("past the end of the script")


def run_meter() -> list[Frame]:
    """The emulated meter: integrate the script, send whole Wh every STEP s."""
    end = sum(minutes for minutes, _, _ in SCRIPT) * 60
    energy_import, energy_export = Fraction(7_654_321), Fraction(1_234_567)
    frames = []
    for second in range(end + 1):
        if second % STEP == 0:
            power_import, power_export = power_at(min(second, end - 1))
            frames.append(
                Frame(
                    second,
                    math.floor(energy_import),
                    math.floor(energy_export),
                    power_import,
                    power_export,
                )
            )
        if second < end:
            power_import, power_export = power_at(second)
            energy_import += Fraction(power_import, 3600)
            energy_export += Fraction(power_export, 3600)
    return frames


def wire(frame: Frame, counter: int) -> bytes:
    reading = Reading(
        system_title=TITLE,
        invocation_counter=counter,
        security=SecurityLevel.ENCRYPTED,
        meter_time=START + timedelta(seconds=frame.second),
        values={
            "1-0:1.8.0": MeterValue(frame.energy_import, Unit.WATT_HOUR),
            "1-0:2.8.0": MeterValue(frame.energy_export, Unit.WATT_HOUR),
            "1-0:1.7.0": MeterValue(frame.power_import, Unit.WATT),
            "1-0:2.7.0": MeterValue(frame.power_export, Unit.WATT),
        },
        layout=str(Layout.OBIS_PAIRS),
    )
    return encode_reading(reading, encryption_key=TEST_KEY)


# --------------------------------------------------------------------------
# The reference model


def register(frames: list[Frame], second: int, export: bool) -> Fraction:
    for before, after in itertools.pairwise(frames):
        if before.second <= second <= after.second:
            low = before.energy_export if export else before.energy_import
            high = after.energy_export if export else after.energy_import
            return low + Fraction(high - low) * Fraction(
                second - before.second, after.second - before.second
            )
    raise AssertionError(f"no frames around {second}")


def reference_quarters(
    frames: list[Frame],
) -> dict[datetime, tuple[Fraction, Fraction]]:
    """Every quarter between the first and the last frame: import, export."""
    quarters = {}
    boundary = 8 * 60  # 23:00, the first boundary after START
    while boundary + 900 <= frames[-1].second:
        quarters[START + timedelta(seconds=boundary)] = (
            register(frames, boundary + 900, False) - register(frames, boundary, False),
            register(frames, boundary + 900, True) - register(frames, boundary, True),
        )
        boundary += 900
    return quarters


def script_energy(start: datetime) -> Fraction:
    """What the script imported in the quarter from ``start``, exactly."""
    first = int((start - START).total_seconds())
    return sum(
        (Fraction(power_at(second)[0], 3600) for second in range(first, first + 900)),
        Fraction(0),
    )


def test_the_reference_model_agrees_with_the_script() -> None:
    """The registers lose less than a Wh at each end of a quarter."""
    quarters = reference_quarters(run_meter())
    assert len(quarters) == 6
    for start, (energy_import, _) in quarters.items():
        assert abs(energy_import - script_energy(start)) < 2
    spike = quarters[datetime(2026, 3, 31, 23, 15, tzinfo=VIENNA)][0]
    # 5 min at 800 W, 4 min at 9000 W, 6 min at 2000 W.
    assert abs(spike - Fraction(800 * 5 + 9000 * 4 + 2000 * 6, 60)) < 2


# --------------------------------------------------------------------------
# The integration against the reference


def _value(hass: HomeAssistant, key: str) -> tuple[float | None, dict[str, object]]:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{METER}_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    value = None if state.state in {"unknown", "unavailable"} else float(state.state)
    return value, dict(state.attributes)


async def test_the_integration_matches_the_reference(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    frames = run_meter()
    reference = reference_quarters(frames)
    sent = 0

    def next_frame() -> bytes:
        nonlocal sent
        sent += 1
        return wire(frames[sent - 1], 40_000 + sent)

    async def taken() -> None:
        target = START + timedelta(seconds=frames[sent - 1].second)

        def _arrived() -> bool:
            reading = coordinator.last_reading
            return reading is not None and reading.meter_time == target

        await wait_until(_arrived, what=f"the frame of {target}")
        await hass.async_block_till_done()

    entry = meter_entry(meter.port, unique_id=METER, options={CONF_UPDATE_INTERVAL: 0})
    entry.add_to_hass(hass)
    meter.start_streaming(source=next_frame)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    await taken()

    seen: dict[datetime, tuple[float | None, float | None]] = {}
    checked_forecast = checked_march = False
    while sent < len(frames):
        count = min(20, len(frames) - sent)
        meter.write(b"".join(next_frame() for _ in range(count)))
        await taken()
        energy_import, attributes = _value(hass, "last_quarter_hour_energy_import")
        if energy_import is not None:
            start = datetime.fromisoformat(str(attributes["last_reset"]))
            seen[start] = (
                energy_import,
                _value(hass, "last_quarter_hour_energy_export")[0],
            )
        last = frames[sent - 1]
        moment = START + timedelta(seconds=last.second)
        if not checked_forecast and moment >= START + timedelta(minutes=30):
            # 23:22 or a little later, in the middle of the 9 kW spike.
            checked_forecast = True
            quarter_start = 23 * 60  # seconds from START to 23:15
            so_far = last.energy_import - register(frames, quarter_start, False)
            elapsed = last.second - quarter_start
            demand = so_far * 3600 / elapsed
            forecast = (
                so_far + Fraction(last.power_import * (900 - elapsed), 3600)
            ) * 4
            assert _value(hass, "quarter_hour_demand")[0] == pytest.approx(
                float(demand), abs=0.0015
            )
            assert _value(hass, "quarter_hour_demand_forecast")[0] == pytest.approx(
                float(forecast), abs=0.0015
            )
        if (
            not checked_march
            and moment.astimezone(VIENNA).hour == 23
            and (moment.astimezone(VIENNA).minute >= 55)
        ):
            checked_march = True
            march = {
                start: energy
                for start, (energy, _) in reference.items()
                if start.month == 3
            }
            closed = {start: march[start] for start in seen}
            peak_start = max(closed, key=lambda start: closed[start])
            peak, attributes = _value(hass, "monthly_peak_demand")
            assert peak == pytest.approx(float(4 * closed[peak_start]), abs=0.0015)
            assert attributes["quarter_start"] == peak_start.isoformat()
            assert peak_start == datetime(2026, 3, 31, 23, 15, tzinfo=VIENNA)

    assert checked_forecast
    assert checked_march
    assert list(seen) == list(reference)
    for start, (expected_import, expected_export) in reference.items():
        assert seen[start][0] == pytest.approx(float(expected_import), abs=0.0015)
        assert seen[start][1] == pytest.approx(float(expected_export), abs=0.0015)
    april = {
        start: energy for start, (energy, _) in reference.items() if start.month == 4
    }
    peak_start = max(april, key=lambda start: april[start])
    peak, attributes = _value(hass, "monthly_peak_demand")
    assert peak == pytest.approx(float(4 * april[peak_start]), abs=0.0015)
    assert attributes["quarter_start"] == peak_start.isoformat()
