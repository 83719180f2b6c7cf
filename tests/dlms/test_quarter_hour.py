"""Quarter-hour energy, demand and monthly peak (pure logic, no Home Assistant).

The properties compare the tracker with a brute-force reference that knows
nothing of the tracker's bookkeeping: it cuts the readings into runs without
a gap longer than a quarter-hour, interpolates every boundary by searching
the two readings around it, and lists each quarter whose two boundaries lie
in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction
import itertools
import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms import MeterValue, Reading, SecurityLevel
from custom_components.dlms_smartmeter.dlms.quarter_hour import (
    REPLAY_LIMIT,
    QuarterHour,
    QuarterHourTracker,
    as_number,
)
from custom_components.dlms_smartmeter.dlms.reading import Unit
from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

VIENNA = ZoneInfo("Europe/Vienna")
QUARTER_S = 900


def reading(
    moment: datetime,
    energy_import: float,
    energy_export: float | None = 0,
    power: float | None = 0,
    *,
    meter_time: datetime | None = None,
) -> Reading:
    """What a meter in Vienna sends at ``moment`` (its clock with its UTC offset)."""
    local = moment.astimezone(VIENNA)
    values = {"1-0:1.8.0": MeterValue(energy_import, Unit.WATT_HOUR)}
    if energy_export is not None:
        values["1-0:2.8.0"] = MeterValue(energy_export, Unit.WATT_HOUR)
    if power is not None:
        values["1-0:1.7.0"] = MeterValue(power, Unit.WATT)
    return Reading(
        system_title=b"",
        invocation_counter=None,
        security=SecurityLevel.NONE,
        meter_time=meter_time or local.replace(tzinfo=timezone(local.utcoffset())),  # type: ignore[arg-type]
        values=values,
        layout="test",
    )


def feed(tracker: QuarterHourTracker, readings: Iterable[Reading]) -> list[QuarterHour]:
    """Add the readings; return the quarters completed on the way."""
    completed: list[QuarterHour] = []
    for item in readings:
        before = tracker.last_quarter
        tracker.add(item)
        if tracker.last_quarter is not before and tracker.last_quarter is not None:
            completed.append(tracker.last_quarter)
    return completed


def steady(
    start: datetime, seconds: int, step: int, watts: float, energy: float = 1e6
) -> list[Reading]:
    """Readings every ``step`` seconds at a constant import power (whole Wh)."""
    return [
        reading(
            start + timedelta(seconds=elapsed),
            int(energy + watts * elapsed / 3600),
            power=watts,
        )
        for elapsed in range(0, seconds + 1, step)
    ]


def utc(  # noqa: PLR0917 - the fields of a time
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --------------------------------------------------------------------------
# Exact values


def simulated(start: datetime, push_interval: int, count: int) -> list[Reading]:
    """Readings of the project's simulated household meter."""
    simulator = MeterSimulator(None, start=start, push_interval=push_interval, seed=3)
    return [simulator.next_reading() for _ in range(count)]


def test_frames_on_the_boundaries_give_the_register_differences() -> None:
    readings = simulated(utc(2026, 5, 4, 10, 7, 0), 1, 46 * 60)
    tracker = QuarterHourTracker()
    completed = feed(tracker, readings)
    by_time = {item.meter_time: item for item in readings}
    assert [quarter.start.strftime("%H:%M") for quarter in completed] == [
        "12:15",
        "12:30",
    ]
    for quarter in completed:
        first, last = by_time[quarter.start], by_time[quarter.end]
        for obis, energy in (
            ("1-0:1.8.0", quarter.energy_import),
            ("1-0:2.8.0", quarter.energy_export),
        ):
            expected = last.values[obis].value - first.values[obis].value
            assert energy == expected
            assert isinstance(as_number(energy), int)
        assert quarter.demand == 4 * quarter.energy_import
    assert str(completed[0].start) == "2026-05-04 12:15:00+02:00"


def test_between_frames_the_boundary_is_interpolated() -> None:
    tracker = QuarterHourTracker()
    start = utc(2026, 1, 10, 8, 14, 55)  # 09:14:55 meter time
    feed(
        tracker,
        [
            reading(start, 1000),
            reading(start + timedelta(seconds=10), 1010),  # 09:15:05
            reading(start + timedelta(seconds=910), 1910),  # 09:30:05
        ],
    )
    # Register 1005 at 09:15:00 and 1905 at 09:30:00: 900 Wh, 3600 W.
    quarter = tracker.last_quarter
    assert quarter is not None
    assert quarter.energy_import == 900
    assert quarter.demand == 3600
    assert quarter.start.isoformat() == "2026-01-10T09:15:00+01:00"
    assert quarter.end.isoformat() == "2026-01-10T09:30:00+01:00"


def test_interpolation_is_exact_in_fractions_of_a_wh() -> None:
    tracker = QuarterHourTracker()
    start = utc(2026, 1, 10, 8, 14, 57)
    feed(
        tracker,
        [
            reading(start, 0),
            reading(start + timedelta(seconds=7), 1),  # 09:15:04: 3/7 Wh at :15
            reading(start + timedelta(seconds=907), 100),  # 09:30:04
        ],
    )
    # The last frame is past 09:30; 09:30 lies between 1 Wh at 09:15:04 and
    # 100 Wh at 09:30:04: 1 + 99 * 896/900.
    assert tracker.last_quarter is not None
    expected = 1 + Fraction(99 * 896, 900) - Fraction(3, 7)
    assert tracker.last_quarter.energy_import == expected
    assert as_number(expected) == round(float(expected), 3)


def test_demand_and_forecast_of_the_running_quarter() -> None:
    fresh = QuarterHourTracker()
    assert fresh.demand is None
    assert fresh.forecast is None
    assert fresh.running_start is None
    assert not fresh.active
    tracker = QuarterHourTracker()
    start = utc(2026, 2, 2, 11, 0, 0)  # 12:00 meter time
    tracker.add(reading(start, 5000, power=1200))
    assert tracker.active
    assert tracker.running_complete
    # No time has passed: the mean so far is the meter's power.
    assert tracker.demand == 1200
    assert tracker.forecast == 1200
    # 5 minutes at 1200 W (100 Wh), now 3000 W.
    tracker.add(reading(start + timedelta(minutes=5), 5100, power=3000))
    assert tracker.energy_so_far == 100
    assert tracker.demand == 1200
    # 100 Wh + 10 min at 3000 W = 600 Wh in the quarter: 2400 W.
    assert tracker.forecast == 2400
    running = tracker.running_start
    assert running is not None
    assert running.isoformat() == "2026-02-02T12:00:00+01:00"


def test_no_forecast_without_the_power_value() -> None:
    tracker = QuarterHourTracker()
    start = utc(2026, 2, 2, 11, 0, 0)
    later = start + timedelta(days=1, minutes=1)
    feed(tracker, [reading(start, 0, power=None), reading(later, 1)])
    assert tracker.demand is None  # a day later: the gap made the quarter partial
    tracker = QuarterHourTracker()
    feed(
        tracker,
        [
            reading(start, 0, power=None),
            reading(start + timedelta(seconds=60), 10, power=None),
        ],
    )
    assert tracker.demand == 600
    assert tracker.forecast is None
    tracker = QuarterHourTracker()
    tracker.add(reading(start, 0, power=None))
    assert tracker.demand is None  # at the boundary and no power to show


def test_export_only_where_the_meter_sends_it() -> None:
    tracker = QuarterHourTracker()
    start = utc(2026, 2, 2, 11, 0, 0)
    feed(
        tracker,
        [
            reading(start, 0, energy_export=None),
            reading(start + timedelta(minutes=15), 250, energy_export=None),
        ],
    )
    assert tracker.last_quarter is not None
    assert tracker.last_quarter.energy_import == 250
    assert tracker.last_quarter.energy_export is None
    assert tracker.as_dict()["last_quarter"]["export"] is None


# --------------------------------------------------------------------------
# What does not count


def test_the_quarter_readings_start_in_is_partial() -> None:
    tracker = QuarterHourTracker()
    completed = feed(tracker, steady(utc(2026, 3, 3, 9, 5, 0), 1200, 10, 2000))
    # Readings from 10:05 to 10:25: only 10:15-10:30 is running, none complete.
    assert completed == []
    assert tracker.running_complete
    demand = tracker.demand
    assert demand is not None
    assert abs(demand - 2000) <= 6  # whole-Wh registers over 10 minutes
    tracker = QuarterHourTracker()
    tracker.add(reading(utc(2026, 3, 3, 9, 5, 0), 0))
    assert not tracker.running_complete
    assert tracker.demand is None
    assert tracker.forecast is None
    assert tracker.energy_so_far is None
    running = tracker.running_start
    assert running is not None
    assert running.isoformat() == "2026-03-03T10:00:00+01:00"


@pytest.mark.parametrize(
    ("gap_minutes", "counted"),
    [
        (14, ["10:00", "10:15", "10:30", "10:45"]),
        (15, ["10:00", "10:15", "10:30", "10:45"]),
        # 10:15 ends and 10:30 starts in the gap: neither counts.
        (16, ["10:00", "10:45", "11:00", "11:15"]),
    ],
)
def test_gaps_longer_than_a_quarter_hour_do_not_count(
    gap_minutes: int, counted: list[str]
) -> None:
    start = utc(2026, 3, 3, 9, 0, 0)
    before = steady(start, 20 * 60, 60, 1000)  # 10:00-10:20
    resume = start + timedelta(minutes=20 + gap_minutes)
    energy = 1e6 + 1000 * (20 + gap_minutes) / 60
    after = steady(resume, 60 * 60, 60, 1000, energy=energy)
    completed = feed(QuarterHourTracker(), before + after)
    assert [quarter.start.strftime("%H:%M") for quarter in completed][:4] == counted
    # 1000 W for every quarter: 250 Wh (whole Wh registers, so +-1).
    assert all(abs(quarter.energy_import - 250) <= 1 for quarter in completed)


def test_a_register_that_goes_down_makes_the_quarter_partial() -> None:
    start = utc(2026, 3, 3, 9, 0, 0)
    readings = steady(start, 40 * 60, 60, 1000)
    # At 10:20 the meter's registers start again from zero.
    readings[20:] = steady(start + timedelta(minutes=20), 20 * 60, 60, 1000, energy=0)
    completed = feed(QuarterHourTracker(), readings)
    assert [quarter.start.strftime("%H:%M") for quarter in completed] == ["10:00"]


def test_the_export_register_going_down_counts_too() -> None:
    start = utc(2026, 3, 3, 9, 0, 0)
    tracker = QuarterHourTracker()
    tracker.add(reading(start, 0, energy_export=500))
    tracker.add(reading(start + timedelta(minutes=1), 10, energy_export=400))
    assert not tracker.running_complete


def test_a_clock_set_back_a_little_is_ignored_a_lot_starts_over() -> None:
    start = utc(2026, 3, 3, 9, 0, 0)
    tracker = QuarterHourTracker()
    tracker.add(reading(start, 0, power=100))
    tracker.add(reading(start + timedelta(minutes=5), 100, power=100))
    tracker.add(reading(start + timedelta(minutes=4), 100, power=100))  # ignored
    tracker.add(reading(start + timedelta(minutes=5), 100, power=100))  # repeated
    assert tracker.energy_so_far == 100
    tracker.add(reading(start - timedelta(minutes=31), 101, power=100))
    assert not tracker.running_complete
    running = tracker.running_start
    assert running is not None
    assert running.isoformat() == "2026-03-03T09:15:00+01:00"


def test_an_odd_utc_offset_shifts_the_grid_and_a_change_starts_over() -> None:
    odd = timezone(timedelta(minutes=67))
    tracker = QuarterHourTracker()
    start = datetime(2026, 3, 3, 10, 0, tzinfo=odd)
    for minutes, energy in ((0, 0), (15, 100)):
        moment = start + timedelta(minutes=minutes)
        tracker.add(reading(moment, energy, meter_time=moment))
    assert tracker.last_quarter is not None
    assert tracker.last_quarter.start == start
    moment = (start + timedelta(minutes=16)).astimezone(timezone(timedelta(hours=1)))
    tracker.add(reading(moment, 110, meter_time=moment))
    assert not tracker.running_complete


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"1-0:1.8.0": MeterValue(5, Unit.VAR_HOUR)},
        {"1-0:1.8.0": MeterValue(float("nan"), Unit.WATT_HOUR)},
        {"1-0:1.8.0": MeterValue(float("inf"), Unit.WATT_HOUR)},
    ],
)
def test_readings_without_an_import_register_are_left_out(
    values: dict[str, MeterValue],
) -> None:
    tracker = QuarterHourTracker()
    tracker.add(
        Reading(
            system_title=b"",
            invocation_counter=None,
            security=SecurityLevel.NONE,
            meter_time=utc(2026, 1, 1, 0, 0, 0),
            values=values,
            layout="test",
        )
    )
    assert not tracker.active


def test_readings_without_meter_time_are_left_out() -> None:
    tracker = QuarterHourTracker()
    item = reading(utc(2026, 1, 1, 0, 0, 0), 0)
    for meter_time in (None, datetime(2026, 1, 1)):  # noqa: DTZ001 - the point
        tracker.add(
            Reading(
                system_title=b"",
                invocation_counter=None,
                security=SecurityLevel.NONE,
                meter_time=meter_time,
                values=item.values,
                layout="test",
            )
        )
    assert not tracker.active


# --------------------------------------------------------------------------
# Daylight saving time and the month


@pytest.mark.parametrize(
    ("day", "quarters"), [(date(2026, 3, 29), 92), (date(2026, 10, 25), 100)]
)
def test_daylight_saving_days_have_92_or_100_quarters(day: date, quarters: int) -> None:
    midnight = datetime.combine(day, time(), tzinfo=VIENNA)
    start = midnight.astimezone(UTC) - timedelta(minutes=1)
    completed = feed(QuarterHourTracker(), steady(start, 26 * 3600, 10, 400))
    on_the_day = [quarter for quarter in completed if quarter.start.date() == day]
    assert len(on_the_day) == quarters
    # 400 W for 15 minutes, from whole-Wh registers: 100 Wh (interpolated +-1).
    assert all(abs(quarter.energy_import - 100) <= 1 for quarter in on_the_day)
    # Each quarter begins where the previous one ended, in real time.
    for earlier, later in itertools.pairwise(on_the_day):
        assert later.start - earlier.end == timedelta(0)
    offsets = {quarter.start.utcoffset() for quarter in on_the_day}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_the_autumn_hour_that_occurs_twice_has_eight_quarters() -> None:
    start = utc(2026, 10, 24, 23, 50, 0)
    completed = feed(QuarterHourTracker(), steady(start, 3 * 3600, 10, 400))
    local = [quarter.start.isoformat()[11:] for quarter in completed]
    assert local[:8] == [
        "02:00:00+02:00",
        "02:15:00+02:00",
        "02:30:00+02:00",
        "02:45:00+02:00",
        "02:00:00+01:00",
        "02:15:00+01:00",
        "02:30:00+01:00",
        "02:45:00+01:00",
    ]


def test_the_monthly_peak_is_the_highest_complete_quarter() -> None:
    start = utc(2026, 4, 30, 19, 0, 0)  # 21:00 meter time
    # One power per quarter from 21:00; readings every 9 s, so that every
    # step is a multiple of 1/4 Wh and the float registers stay exact.
    watts = [500, 4000, 1000, 3600, 2000, 4100, 100]
    readings: list[Reading] = []
    energy = 1e6
    for index, power in enumerate(watts):
        for second in range(0, QUARTER_S, 9):
            moment = start + timedelta(seconds=index * QUARTER_S + second)
            readings.append(reading(moment, energy, power=power))
            energy += power * 9 / 3600
    readings.append(reading(start + timedelta(seconds=7 * QUARTER_S), energy))
    tracker = QuarterHourTracker()
    feed(tracker, readings[: 4 * 100 + 1])
    peak = tracker.monthly_peak
    assert peak is not None
    assert peak.start.isoformat() == "2026-04-30T21:15:00+02:00"
    assert peak.demand == 4000
    feed(tracker, readings[4 * 100 + 1 :])
    peak = tracker.monthly_peak
    assert peak is not None
    assert peak.start.isoformat() == "2026-04-30T22:15:00+02:00"
    assert peak.demand == 4100
    assert as_number(peak.demand) == 4100


def test_the_month_change_of_the_meter_clock_starts_a_new_peak() -> None:
    # 23:30 on 31 January, meter time: 2000 W, then 300 W from midnight.
    start = utc(2026, 1, 31, 22, 30, 0)
    before = steady(start, 30 * 60 - 10, 10, 2000)  # to 23:59:50
    after = steady(
        start + timedelta(minutes=30, seconds=10), 30 * 60, 10, 300, energy=1e6 + 1000
    )
    tracker = QuarterHourTracker()
    feed(tracker, before)
    assert tracker.monthly_peak is not None
    assert tracker.monthly_peak.start.isoformat() == "2026-01-31T23:30:00+01:00"
    tracker.add(after[0])  # 00:00:10 on 1 February: the 23:45 quarter closed
    last = tracker.last_quarter
    assert last is not None
    assert last.start.isoformat() == "2026-01-31T23:45:00+01:00"
    assert tracker.as_dict()["monthly_peak"] is None
    feed(tracker, after[1:])
    peak = tracker.monthly_peak
    assert peak is not None
    assert peak.start.isoformat() == "2026-02-01T00:00:00+01:00"
    assert abs(peak.demand - 300) <= 12  # whole-Wh registers: 3 Wh are 12 W


def test_the_month_follows_the_meter_clock_not_utc() -> None:
    # 22:00 UTC on 31 March is midnight of 1 April in Vienna.
    tracker = QuarterHourTracker()
    feed(tracker, steady(utc(2026, 3, 31, 21, 30, 0), 30 * 60 - 10, 10, 800))
    peak = tracker.monthly_peak
    assert peak is not None
    assert peak.start.isoformat() == "2026-03-31T23:30:00+02:00"
    feed(tracker, steady(utc(2026, 3, 31, 22, 0, 0), 20 * 60, 10, 100, 1e6 + 400))
    peak = tracker.monthly_peak
    assert peak is not None
    assert peak.start.isoformat() == "2026-04-01T00:00:00+02:00"


# --------------------------------------------------------------------------
# Saving and restoring


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = json.loads(json.dumps(state))
    return restored


def test_a_restart_in_the_middle_of_a_quarter_loses_nothing() -> None:
    readings = simulated(utc(2026, 6, 1, 16, 0, 3), 10, 6 * 90)
    uninterrupted = QuarterHourTracker()
    expected = feed(uninterrupted, readings)
    before = QuarterHourTracker()
    feed(before, readings[:200])  # 18:33:13, after two complete quarters
    saved = _roundtrip(before.as_dict())
    assert saved["monthly_peak"] is not None
    # Home Assistant is down for 2 minutes; readings arrive before the restore.
    after = QuarterHourTracker()
    early = feed(after, readings[212:220])
    assert early == []
    assert after.restore(saved)
    assert after.running_complete
    completed = feed(after, readings[220:])
    assert completed == expected[-len(completed) :]
    assert after.as_dict() == uninterrupted.as_dict()
    assert after.monthly_peak == uninterrupted.monthly_peak


def test_a_restart_longer_than_a_quarter_hour_keeps_only_the_peak() -> None:
    start = utc(2026, 6, 1, 16, 0, 0)
    tracker = QuarterHourTracker()
    feed(tracker, steady(start, 40 * 60, 10, 3000))
    saved = _roundtrip(tracker.as_dict())
    later = QuarterHourTracker()
    feed(later, steady(start + timedelta(hours=2, minutes=5), 60, 10, 100, 2e6))
    assert later.restore(saved)
    assert not later.running_complete
    assert later.monthly_peak == tracker.monthly_peak
    assert later.last_quarter == tracker.last_quarter


def test_a_state_of_last_month_brings_no_peak() -> None:
    tracker = QuarterHourTracker()
    feed(tracker, steady(utc(2026, 6, 30, 10, 0, 0), 40 * 60, 10, 3000))
    saved = _roundtrip(tracker.as_dict())
    later = QuarterHourTracker()
    later.add(reading(utc(2026, 7, 1, 8, 0, 0), 2e6))
    assert later.restore(saved)
    assert later.monthly_peak is None
    assert later.last_quarter == tracker.last_quarter


def test_the_state_saved_last_wins() -> None:
    start = utc(2026, 6, 1, 16, 0, 0)
    readings = steady(start, 50 * 60, 10, 3000)
    older, newer = QuarterHourTracker(), QuarterHourTracker()
    feed(older, readings[:100])
    feed(newer, readings[:200])
    restarted = QuarterHourTracker()
    assert restarted.restore(_roundtrip(older.as_dict()))
    assert restarted.restore(_roundtrip(newer.as_dict()))
    assert not restarted.restore(_roundtrip(older.as_dict()))
    assert not restarted.restore(_roundtrip(QuarterHourTracker().as_dict()))
    assert restarted.as_dict() == newer.as_dict()


def test_a_state_offered_too_late_is_refused() -> None:
    tracker = QuarterHourTracker()
    feed(tracker, steady(utc(2026, 6, 1, 16, 0, 0), REPLAY_LIMIT, 1, 100))
    state = tracker.as_dict()
    assert not tracker.restore(QuarterHourTracker().as_dict())
    assert tracker.as_dict() == state


def _corrupt(state: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    broken = _roundtrip(state)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), 99),
        (("peak_month",), "2026-13"),
        (("peak_month",), 202601),
        (("last", "time"), "soon"),
        (("last", "time"), True),
        (("last", "import"), "1/0"),
        (("last", "import"), 5),
        (("last_quarter", "start"), "2026-06-01T18:00:00"),
        (("last_quarter", "start"), "yesterday"),
        (("monthly_peak",), "high"),
        (("start",), 3),
        (("last", "time"), 10**20),
        (("last", "offset"), 86_400_000_000),
        (("last_quarter", "start"), "0001-01-01T00:00:00+01:00"),
    ],
)
def test_a_malformed_state_is_refused(path: Sequence[str], value: Any) -> None:
    source = QuarterHourTracker()
    feed(source, steady(utc(2026, 6, 1, 16, 0, 0), 40 * 60, 10, 3000))
    tracker = QuarterHourTracker()
    tracker.add(reading(utc(2026, 6, 1, 17, 0, 0), 0))
    assert not tracker.restore(_corrupt(source.as_dict(), path, value))
    assert not tracker.restore({})
    assert tracker.last_quarter is None
    assert tracker.restore(source.as_dict())


# --------------------------------------------------------------------------
# Properties against a brute-force reference


@dataclass(frozen=True)
class _Sample:
    seconds: Fraction
    """UTC seconds since 1970."""
    energy_import: int
    energy_export: int


def _register_at(run: Sequence[_Sample], second: int) -> tuple[Fraction, Fraction]:
    """Linear interpolation by searching the two samples around ``second``."""
    for left, right in itertools.pairwise(run):
        if left.seconds <= second <= right.seconds:
            if right.seconds == second:
                return Fraction(right.energy_import), Fraction(right.energy_export)
            share = (second - left.seconds) / (right.seconds - left.seconds)
            return (
                left.energy_import + share * (right.energy_import - left.energy_import),
                left.energy_export + share * (right.energy_export - left.energy_export),
            )
    only = run[0]  # a boundary exactly on the run's only sample
    return Fraction(only.energy_import), Fraction(only.energy_export)


def _reference_quarters(
    samples: Sequence[_Sample],
) -> list[tuple[datetime, Fraction, Fraction]]:
    runs: list[list[_Sample]] = [[samples[0]]]
    for previous, sample in itertools.pairwise(samples):
        if sample.seconds - previous.seconds > QUARTER_S:
            runs.append([])
        runs[-1].append(sample)
    quarters = []
    for run in runs:
        first = -(-run[0].seconds // QUARTER_S) * QUARTER_S
        for boundary in range(int(first), int(run[-1].seconds) - QUARTER_S + 1, 900):
            start_import, start_export = _register_at(run, boundary)
            end_import, end_export = _register_at(run, boundary + QUARTER_S)
            quarters.append(
                (
                    datetime.fromtimestamp(boundary, UTC),
                    end_import - start_import,
                    end_export - start_export,
                )
            )
    return quarters


STEPS = st.lists(
    st.tuples(
        st.one_of(
            st.integers(1, 1_000),  # hundredths of a second: a fast meter
            st.integers(100, 30_000),
            st.integers(80_000, 100_000),  # around a quarter-hour
        ),
        st.integers(0, 3_000),
        st.integers(0, 500),
    ),
    min_size=1,
    max_size=120,
)
STARTS = st.sampled_from(
    [
        utc(2026, 1, 1, 0, 0, 0),
        utc(2026, 3, 29, 0, 50, 0),  # before the spring change
        utc(2026, 10, 25, 0, 40, 0),  # before the autumn change
        utc(2026, 7, 31, 21, 44, 59),  # month end in Vienna
    ]
)


def _stream(start: datetime, steps: list[tuple[int, int, int]]) -> list[_Sample]:
    seconds = Fraction(int(start.timestamp()))
    energy_import, energy_export = 10_000_000, 2_000_000
    samples = [_Sample(seconds, energy_import, energy_export)]
    for hundredths, more_import, more_export in steps:
        seconds += Fraction(hundredths, 100)
        energy_import += more_import
        energy_export += more_export
        samples.append(_Sample(seconds, energy_import, energy_export))
    return samples


def _readings(samples: Sequence[_Sample]) -> list[Reading]:
    return [
        reading(
            datetime.fromtimestamp(float(sample.seconds), UTC).replace(
                microsecond=int(sample.seconds % 1 * 100) * 10_000
            ),
            sample.energy_import,
            sample.energy_export,
        )
        for sample in samples
    ]


@given(STARTS, STEPS)
def test_complete_quarters_match_the_brute_force_reference(
    start: datetime, steps: list[tuple[int, int, int]]
) -> None:
    samples = _stream(start, steps)
    completed = feed(QuarterHourTracker(), _readings(samples))
    expected = _reference_quarters(samples)
    assert [
        (quarter.start, quarter.energy_import, quarter.energy_export)
        for quarter in completed
    ] == expected
    # Within a run, the quarters add up to the register span between the
    # first and the last boundary.
    if expected:
        total = sum((quarter.energy_import for quarter in completed), Fraction(0))
        assert total == sum((energy for _, energy, _ in expected), Fraction(0))


@given(STARTS, STEPS, st.data())
def test_saving_and_restoring_anywhere_changes_nothing(
    start: datetime, steps: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    readings = _readings(_stream(start, steps))
    cut = data.draw(st.integers(0, len(readings)))
    early = data.draw(st.integers(0, len(readings) - cut))
    uninterrupted = QuarterHourTracker()
    feed(uninterrupted, readings)
    before = QuarterHourTracker()
    feed(before, readings[:cut])
    after = QuarterHourTracker()
    feed(after, readings[cut : cut + early])
    assert after.restore(_roundtrip(before.as_dict()))
    feed(after, readings[cut + early :])
    assert after.as_dict() == uninterrupted.as_dict()
    assert after.demand == uninterrupted.demand
    assert after.forecast == uninterrupted.forecast


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.data())
def test_no_saved_state_breaks_the_tracker(data: st.DataObject) -> None:
    """Whatever comes back from storage, restoring and going on never raise."""
    source = QuarterHourTracker()
    feed(source, steady(utc(2026, 6, 1, 16, 0, 0), 40 * 60, 60, 3000))
    state = _roundtrip(source.as_dict())
    for key in data.draw(st.lists(st.sampled_from(sorted(state)), max_size=3)):
        value = state[key]
        if isinstance(value, dict) and value and data.draw(st.booleans()):
            inner = data.draw(st.sampled_from(sorted(value)))
            value[inner] = data.draw(JSON)
        else:
            state[key] = data.draw(JSON)
    tracker = QuarterHourTracker()
    tracker.restore(state)
    feed(tracker, steady(utc(2026, 6, 1, 16, 41, 0), 20 * 60, 60, 3000, 2e6))
    tracker.as_dict()
    assert tracker.active
