"""Quarter-hour energy and monthly peak demand, on the meter's own clock.

Grid operators bill, and energy communities allocate, in quarter-hours of
the meter's local clock (:00, :15, :30, :45). The energy of a quarter is the
difference of the import register (+A, 1.8.0) at its two boundaries; where
no reading falls exactly on a boundary, the register value there is
interpolated linearly between the two readings around it. The arithmetic is
exact (fractions of a Wh); values are only rounded when they are handed out
(:func:`as_number`).

A quarter counts only when both of its boundaries were seen with no longer
gap than a quarter-hour between two readings. The quarter in which readings
start, quarters across a longer gap, and quarters in which a register went
down or the meter's clock went back are partial: they never become the last
quarter nor the monthly peak.

The boundaries follow the UTC offset the meter sends with its time, so the
days on which daylight saving time starts or ends have 92 or 100 quarters.
The monthly peak starts again when a quarter of a new month (of the meter's
clock) begins.

The state is a plain dictionary (:meth:`QuarterHourTracker.as_dict`) that
can be saved and given back with :meth:`QuarterHourTracker.restore`, so a
restart in the middle of a quarter loses nothing when the readings resume
within a quarter-hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

from .obis import ACTIVE_ENERGY_EXPORT, ACTIVE_ENERGY_IMPORT, ACTIVE_POWER_IMPORT
from .reading import Reading, Unit

if TYPE_CHECKING:
    from collections.abc import Mapping

QUARTER_HOUR: Final = timedelta(minutes=15)
_QUARTER: Final = 900_000_000
"""A quarter-hour in microseconds: the tracker's unit of time."""
_HOUR: Final = 3_600_000_000
MAX_GAP: Final = QUARTER_HOUR
"""Longest interval between two readings across which a boundary is interpolated."""
REPLAY_LIMIT: Final = 900
"""Readings kept for :meth:`QuarterHourTracker.restore` to replay (15 min at 1 Hz)."""
STATE_VERSION: Final = 1

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_DAY: Final = 86_400_000_000
# Saved times a day inside what datetime can hold, so that offsets and a
# quarter-hour can be added.
_EARLIEST: Final = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LATEST: Final = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class _Point:
    """The registers at one moment: a reading, or a boundary interpolated."""

    time: int
    """Microseconds since 1970 (UTC)."""
    offset: int
    """The meter's UTC offset in microseconds."""
    energy_import: Fraction
    energy_export: Fraction | None
    power_import: Fraction | None = None


@dataclass(frozen=True, slots=True)
class QuarterHour:
    """A complete quarter-hour."""

    start: datetime
    """Meter local time (with the meter's UTC offset) at which the quarter began."""
    energy_import: Fraction
    """Wh taken from the grid (+A)."""
    energy_export: Fraction | None
    """Wh fed in (-A); ``None`` when the meter sends no export register."""

    @property
    def end(self) -> datetime:
        """When the quarter ended (same offset as the start)."""
        return self.start + QUARTER_HOUR

    @property
    def demand(self) -> Fraction:
        """Mean import power over the quarter, in W."""
        return self.energy_import * _HOUR / _QUARTER


def as_number(value: Fraction) -> int | float:
    """An exact value as the sensors publish it: whole, or rounded to 3 decimals."""
    if value.denominator == 1:
        return int(value)
    return round(float(value), 3)


class QuarterHourTracker:
    """Turns a stream of readings into quarter-hour values.

    Feed every accepted reading to :meth:`add`; readings without meter time
    or without the import register are left out.
    """

    def __init__(self) -> None:
        """Start without any reading."""
        self.last_quarter: QuarterHour | None = None
        """The last complete quarter."""
        self.monthly_peak: QuarterHour | None = None
        """The complete quarter with the highest demand in the current month."""
        self._peak_month: tuple[int, int] | None = None
        self._last: _Point | None = None
        self._start: _Point | None = None
        self._replay: list[_Point] | None = []
        self._restored_time: int | None = None
        self._restored = False

    # ------------------------------------------------------------------
    # Input

    def add(self, reading: Reading) -> None:
        """Take one reading."""
        point = _point_of(reading)
        if point is None:
            return
        if self._replay is not None:
            if len(self._replay) < REPLAY_LIMIT:
                self._replay.append(point)
            else:
                # Too long ago: a saved state can no longer be brought up to date.
                self._replay = None
        self._advance(point)

    def _advance(self, point: _Point) -> None:
        last = self._last
        if last is None:
            self._begin(point)
            return
        if point.time <= last.time:
            if last.time - point.time > _QUARTER:
                self._begin(point)  # the meter's clock was set back
            # Otherwise a repeated or slightly early reading: nothing new.
            return
        if (
            point.time - last.time > _QUARTER
            or _phase(point) != _phase(last)
            or _went_down(last, point)
        ):
            self._begin(point)
            return
        boundary = _next_boundary(last)
        if boundary <= point.time:
            at_boundary = _interpolate(last, point, boundary)
            if self._start is not None:
                self._close(self._start, at_boundary)
            self._start = at_boundary
        self._last = point
        self._roll_month()

    def _begin(self, point: _Point) -> None:
        """Start over at this reading: the quarter it falls into is partial."""
        self._last = point
        self._start = point if _on_boundary(point) else None
        self._roll_month()

    def _close(self, start: _Point, end: _Point) -> None:
        export = None
        if start.energy_export is not None and end.energy_export is not None:
            export = end.energy_export - start.energy_export
        quarter = QuarterHour(
            start=_local(start.time, start.offset),
            energy_import=end.energy_import - start.energy_import,
            energy_export=export,
        )
        self.last_quarter = quarter
        month = (quarter.start.year, quarter.start.month)
        peak = self.monthly_peak
        if self._peak_month != month or peak is None or quarter.demand > peak.demand:
            self.monthly_peak = quarter
            self._peak_month = month

    def _roll_month(self) -> None:
        start = self.running_start
        if start is None:  # pragma: no cover - there is always a last reading here
            return
        month = (start.year, start.month)
        if self._peak_month != month:
            self.monthly_peak = None
            self._peak_month = month

    # ------------------------------------------------------------------
    # The running quarter

    @property
    def active(self) -> bool:
        """Whether a reading with meter time and import register was seen."""
        return self._last is not None

    @property
    def running_start(self) -> datetime | None:
        """Start of the quarter the last reading falls into (meter local time)."""
        last = self._last
        if last is None:
            return None
        if self._start is not None:
            return _local(self._start.time, self._start.offset)
        return _local(_boundary_at_or_before(last), last.offset)

    @property
    def running_complete(self) -> bool:
        """Whether the running quarter has been followed from its start."""
        return self._start is not None

    @property
    def energy_so_far(self) -> Fraction | None:
        """Wh imported in the running quarter; ``None`` when it is partial."""
        if self._start is None or self._last is None:
            return None
        return self._last.energy_import - self._start.energy_import

    @property
    def demand(self) -> Fraction | None:
        """Mean import power of the running quarter so far (W).

        At the very boundary, where no time has passed, the meter's power.
        """
        energy = self.energy_so_far
        if energy is None or self._start is None or self._last is None:
            return None
        elapsed = self._last.time - self._start.time
        if elapsed == 0:
            return self._last.power_import
        return energy * _HOUR / elapsed

    @property
    def forecast(self) -> Fraction | None:
        """Mean import power the running quarter ends with if the power holds (W)."""
        energy = self.energy_so_far
        if energy is None or self._start is None or self._last is None:
            return None
        power = self._last.power_import
        if power is None:
            return None
        remaining = self._start.time + _QUARTER - self._last.time
        return (energy * _HOUR + power * remaining) / _QUARTER

    # ------------------------------------------------------------------
    # Saving and restoring

    def as_dict(self) -> dict[str, Any]:
        """The state as JSON-compatible data (for Home Assistant's restore state)."""
        month = self._peak_month
        return {
            "version": STATE_VERSION,
            "last": _point_to_dict(self._last),
            "start": _point_to_dict(self._start),
            "last_quarter": _quarter_to_dict(self.last_quarter),
            "monthly_peak": _quarter_to_dict(self.monthly_peak),
            "peak_month": None if month is None else f"{month[0]:04d}-{month[1]:02d}",
        }

    def restore(self, saved: Mapping[str, Any]) -> bool:
        """Continue from a saved state, then replay the readings taken since.

        Several saved states may be offered (one per entity that keeps it);
        the one saved last wins. Returns whether the state was taken: not when
        it is malformed, older than one already taken, or when more readings
        arrived since the start than can be replayed.
        """
        if self._replay is None:
            return False
        try:
            state = _State.from_dict(saved)
        except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError):
            return False
        saved_time = state.last.time if state.last is not None else None
        if self._restored and (
            saved_time is None
            or (self._restored_time is not None and saved_time <= self._restored_time)
        ):
            return False
        self._restored = True
        self._restored_time = saved_time
        self._last, self._start = state.last, state.start
        self.last_quarter, self.monthly_peak = state.last_quarter, state.monthly_peak
        self._peak_month = state.peak_month
        for point in self._replay:
            self._advance(point)
        return True


# ----------------------------------------------------------------------
# Time and registers


def _point_of(reading: Reading) -> _Point | None:
    moment = reading.meter_time
    if moment is None:
        return None
    offset = moment.utcoffset()
    energy_import = _value(reading, ACTIVE_ENERGY_IMPORT, Unit.WATT_HOUR)
    if offset is None or energy_import is None:
        return None
    return _Point(
        time=(moment - _EPOCH) // _MICROSECOND,
        offset=offset // _MICROSECOND,
        energy_import=energy_import,
        energy_export=_value(reading, ACTIVE_ENERGY_EXPORT, Unit.WATT_HOUR),
        power_import=_value(reading, ACTIVE_POWER_IMPORT, Unit.WATT),
    )


def _value(reading: Reading, obis: str, unit: Unit) -> Fraction | None:
    meter_value = reading.values.get(obis)
    if meter_value is None or meter_value.unit is not unit:
        return None
    try:
        return Fraction(meter_value.value)
    except (ValueError, OverflowError):  # NaN or infinity
        return None


def _phase(point: _Point) -> int:
    """Where the quarter grid lies in UTC; constant unless the clock is odd."""
    return point.offset % _QUARTER


def _boundary_at_or_before(point: _Point) -> int:
    return (point.time + point.offset) // _QUARTER * _QUARTER - point.offset


def _next_boundary(point: _Point) -> int:
    return _boundary_at_or_before(point) + _QUARTER


def _on_boundary(point: _Point) -> bool:
    return (point.time + point.offset) % _QUARTER == 0


def _went_down(before: _Point, after: _Point) -> bool:
    if after.energy_import < before.energy_import:
        return True
    return (
        before.energy_export is not None
        and after.energy_export is not None
        and after.energy_export < before.energy_export
    )


def _interpolate(before: _Point, after: _Point, time: int) -> _Point:
    """The registers at ``time`` (``before.time < time <= after.time``)."""
    if time == after.time:
        return after
    share = Fraction(time - before.time, after.time - before.time)
    export = None
    if before.energy_export is not None and after.energy_export is not None:
        export = before.energy_export + share * (
            after.energy_export - before.energy_export
        )
    return _Point(
        time=time,
        offset=after.offset,
        energy_import=before.energy_import
        + share * (after.energy_import - before.energy_import),
        energy_export=export,
    )


def _local(time: int, offset: int) -> datetime:
    zone = timezone(timedelta(microseconds=offset))
    return (_EPOCH + timedelta(microseconds=time)).astimezone(zone)


# ----------------------------------------------------------------------
# The saved form


@dataclass(frozen=True, slots=True)
class _State:
    last: _Point | None
    start: _Point | None
    last_quarter: QuarterHour | None
    monthly_peak: QuarterHour | None
    peak_month: tuple[int, int] | None

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> _State:
        if saved["version"] != STATE_VERSION:
            raise ValueError("a state of another version")
        month = saved["peak_month"]
        peak_month = None
        if month is not None:
            year, number = (int(part) for part in _text(month).split("-"))
            if not 1 <= number <= 12:
                raise ValueError("no such month")
            peak_month = (year, number)
        return cls(
            last=_point_from_dict(saved["last"]),
            start=_point_from_dict(saved["start"]),
            last_quarter=_quarter_from_dict(saved["last_quarter"]),
            monthly_peak=_quarter_from_dict(saved["monthly_peak"]),
            peak_month=peak_month,
        )


def _point_to_dict(point: _Point | None) -> dict[str, Any] | None:
    if point is None:
        return None
    return {
        "time": point.time,
        "offset": point.offset,
        "import": str(point.energy_import),
        "export": _optional_text(point.energy_export),
        "power": _optional_text(point.power_import),
    }


def _point_from_dict(saved: Any) -> _Point | None:
    if saved is None:
        return None
    point = _Point(
        time=_integer(saved["time"]),
        offset=_integer(saved["offset"]),
        energy_import=Fraction(_text(saved["import"])),
        energy_export=_optional_fraction(saved["export"]),
        power_import=_optional_fraction(saved["power"]),
    )
    if not _EARLIEST < point.time < _LATEST or abs(point.offset) >= _DAY:
        raise ValueError("a time no datetime can hold")
    return point


def _quarter_to_dict(quarter: QuarterHour | None) -> dict[str, Any] | None:
    if quarter is None:
        return None
    return {
        "start": quarter.start.isoformat(),
        "import": str(quarter.energy_import),
        "export": _optional_text(quarter.energy_export),
    }


def _quarter_from_dict(saved: Any) -> QuarterHour | None:
    if saved is None:
        return None
    start = datetime.fromisoformat(_text(saved["start"]))
    if start.utcoffset() is None:
        raise ValueError("a quarter's start has a UTC offset")
    if not _EARLIEST < (start - _EPOCH) // _MICROSECOND < _LATEST:
        raise ValueError("a time no datetime can hold")
    return QuarterHour(
        start=start,
        energy_import=Fraction(_text(saved["import"])),
        energy_export=_optional_fraction(saved["export"]),
    )


def _optional_text(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def _optional_fraction(saved: Any) -> Fraction | None:
    return None if saved is None else Fraction(_text(saved))


def _text(saved: Any) -> str:
    if not isinstance(saved, str):
        raise TypeError("expected text")
    return saved


def _integer(saved: Any) -> int:
    if not isinstance(saved, int) or isinstance(saved, bool):
        raise TypeError("expected an integer")
    return saved
