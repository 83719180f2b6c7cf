"""COSEM date-time, date and time values, read and written (Blue Book, 4.1.6.1).

A COSEM date-time is 12 bytes: year (2), month, day, day of week, hour,
minute, second, hundredths, deviation (int16, minutes) and clock status.
The deviation is defined as ``UTC = local time + deviation``, so CET is
-60 and CEST -120. Meters mark fields as "not specified" (0xFF, 0xFFFF,
deviation 0x8000); a time whose calendar fields are not specified or out of
range is unusable and comes back as ``None``. Clock status bits never make a
time unusable: the status is metadata, and readings are never dropped for it.

A time sent without its UTC offset (deviation "not specified", or a date and
a time sent apart) is the meter's local time. The frame does not say where
the meter is, so the reader says it: :func:`local_zone` sets the zone for the
decoding inside it (the decoder does this for its stream); Europe/Vienna
otherwise, where the meters this package began with run their clocks.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import cache, lru_cache
import struct
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator

DATE_TIME_LENGTH = 12
DATE_LENGTH = 5
TIME_LENGTH = 4

DEVIATION_NOT_SPECIFIED = -0x8000
"""Deviation value (0x8000 as int16) meaning "local time, offset unknown"."""

STATUS_INVALID_VALUE = 0x01
STATUS_DOUBTFUL_VALUE = 0x02
STATUS_DIFFERENT_CLOCK_BASE = 0x04
STATUS_INVALID_CLOCK_STATUS = 0x08
STATUS_DAYLIGHT_SAVING_ACTIVE = 0x80
STATUS_NOT_SPECIFIED = 0xFF

METER_TIME_ZONE = "Europe/Vienna"
"""Where the meters this package began with run their clocks: the local zone
when the reader names none, and the zone of the frames it writes."""

_LOCAL_ZONE: ContextVar[str] = ContextVar("dlms_local_zone", default=METER_TIME_ZONE)

_NOT_SPECIFIED = 0xFF
_ALL_NOT_SPECIFIED = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff"
_CET = timedelta(hours=1)
_CEST = timedelta(hours=2)


# year, month, day, day of week, hour, minute, second, hundredths,
# deviation (signed minutes), clock status: the field order of the dataclass.
_DATE_TIME_FIELDS = struct.Struct(">HBBBBBBBhB")


@cache
def _fixed_zone(offset_minutes: int) -> timezone:
    """A fixed-offset zone; meters send a handful of offsets, so keep them."""
    return timezone(timedelta(minutes=offset_minutes))


@cache
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # unknown, or no tz database
        return None


def _meter_zone() -> tzinfo | None:
    return _zone(METER_TIME_ZONE)


def writing_zone() -> tzinfo:
    """The meters' zone for times written out (needs the tz database)."""
    zone = _meter_zone()
    if zone is None:
        raise ValueError(f"the time zone {METER_TIME_ZONE} is not installed")
    return zone


def check_zone(name: str) -> str:
    """``name`` if it is a time zone this host knows; ``ValueError`` otherwise."""
    if name != METER_TIME_ZONE and _zone(name) is None:
        msg = f"unknown time zone {name!r}: give an IANA name such as Europe/Oslo"
        raise ValueError(msg)
    return name


@contextmanager
def local_zone(name: str) -> Iterator[None]:
    """Read times sent without a UTC offset as local time in zone ``name``."""
    token = _LOCAL_ZONE.set(name)
    try:
        yield
    finally:
        _LOCAL_ZONE.reset(token)


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    """The fields of a 12-byte COSEM date-time, exactly as sent."""

    year: int
    month: int
    day: int
    day_of_week: int
    hour: int
    minute: int
    second: int
    hundredths: int
    deviation: int
    """Minutes, signed; :data:`DEVIATION_NOT_SPECIFIED` when not specified."""
    status: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemDateTime:
        """Split 12 bytes into fields; raises ``ValueError`` for another length."""
        if len(raw) != DATE_TIME_LENGTH:
            msg = f"a COSEM date-time has 12 bytes, got {len(raw)}"
            raise ValueError(msg)
        return cls(*_DATE_TIME_FIELDS.unpack(raw))

    @property
    def daylight_saving(self) -> bool:
        """Status bit 7: daylight saving time was active (status specified)."""
        return (
            self.status != STATUS_NOT_SPECIFIED
            and self.status & STATUS_DAYLIGHT_SAVING_ACTIVE != 0
        )

    def to_datetime(self) -> datetime | None:
        """Timezone-aware datetime, or ``None`` when the time is unusable."""
        naive = self._naive()
        if naive is None:
            return None
        if self.deviation == DEVIATION_NOT_SPECIFIED:
            return localize(naive, daylight_saving=self.daylight_saving)
        if not -720 <= self.deviation <= 720:
            return None
        return naive.replace(tzinfo=_fixed_zone(-self.deviation))

    def _naive(self) -> datetime | None:
        year, month, day = self.year, self.month, self.day
        if year == 0xFFFF or not 1 <= month <= 12 or not 1 <= day <= 31:
            return None
        if self.hour > 23 or self.minute > 59:
            return None
        # An unspecified second or hundredth is read as zero: the minute is good.
        second = 0 if self.second == 0xFF else self.second
        hundredths = 0 if self.hundredths == 0xFF else self.hundredths
        if second > 59 or hundredths > 99:
            return None
        try:
            return datetime(  # noqa: DTZ001 - the zone is attached by the caller
                year, month, day, self.hour, self.minute, second, hundredths * 10_000
            )
        except ValueError:  # a day that the month does not have, or year 0
            return None


def localize(naive: datetime, *, daylight_saving: bool | None) -> datetime:
    """Attach the offset of the local zone (see :func:`local_zone`) to a local time.

    Where the zone is ambiguous (the autumn hour that occurs twice) or has a
    gap (spring), ``daylight_saving`` (the clock status DST bit) picks summer
    or winter time; ``None`` means unknown and picks the first occurrence.
    The result has a fixed UTC offset, so it compares and converts without
    the fold rules of PEP 495.
    """
    zone = _zone(_LOCAL_ZONE.get())
    if zone is None:  # Vienna without a tz database: CET/CEST by the DST bit
        offset = _CEST if daylight_saving else _CET
    else:
        first = _offset(naive.replace(tzinfo=zone, fold=0))
        second = _offset(naive.replace(tzinfo=zone, fold=1))
        offset = first
        if first != second and daylight_saving is not None:
            offset = max(first, second) if daylight_saving else min(first, second)
    return naive.replace(tzinfo=timezone(offset))


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    return offset if offset is not None else timedelta(0)


def parse_date_time(raw: bytes) -> datetime | None:
    """12-byte COSEM date-time to an aware datetime; ``None`` when unusable.

    Any other length is unusable too, so this never raises.
    """
    if len(raw) != DATE_TIME_LENGTH:
        return None
    return _date_time(bytes(raw), _LOCAL_ZONE.get())


# A telegram often carries one time twice (header and body): the last few are
# remembered, per local zone.
@lru_cache(maxsize=16)
def _date_time(raw: bytes, _local_zone: str) -> datetime | None:
    return CosemDateTime.from_bytes(raw).to_datetime()


def is_plausible_date_time(raw: bytes) -> bool:
    """True for 12 bytes that look like a COSEM date-time, specified or not.

    Tells a date-time from a 12-character meter number sent as octet-string:
    year 0xFFFF or 1970-2200, month 1-12 or 0xFD-0xFF, day 1-31 or 0xFD-0xFF,
    hour/minute within range or 0xFF.
    """
    if len(raw) != DATE_TIME_LENGTH:
        return False
    fields = CosemDateTime.from_bytes(raw)
    return (
        (fields.year == 0xFFFF or 1970 <= fields.year <= 2200)
        and (1 <= fields.month <= 12 or fields.month >= 0xFD)
        and (1 <= fields.day <= 31 or fields.day >= 0xFD)
        and (fields.hour <= 23 or fields.hour == 0xFF)
        and (fields.minute <= 59 or fields.minute == 0xFF)
    )


def parse_date(raw: bytes) -> date | None:
    """5-byte COSEM date (year 2, month, day, day of week); ``None`` when unusable."""
    if len(raw) != DATE_LENGTH:
        return None
    year = int.from_bytes(raw[0:2], "big")
    month, day = raw[2], raw[3]
    if year == 0xFFFF:
        return None
    try:
        return date(year, month, day)
    except ValueError:  # not specified (0xFF, 0xFD, 0xFE) or out of range
        return None


def parse_time(raw: bytes) -> time | None:
    """4-byte COSEM time (hour, minute, second, hundredths); ``None`` when unusable."""
    if len(raw) != TIME_LENGTH:
        return None
    hour, minute, second, hundredths = raw
    second = 0 if second == 0xFF else second
    hundredths = 0 if hundredths == 0xFF else hundredths
    if hour > 23 or minute > 59 or second > 59 or hundredths > 99:
        return None
    return time(hour, minute, second, hundredths * 10_000)


def combine_local(day: date | None, clock: time | None) -> datetime | None:
    """A separate date and time (Kärnten/Wels P1 body) as meter local time."""
    if day is None or clock is None:
        return None
    return localize(datetime.combine(day, clock), daylight_saving=None)


# --- writing ------------------------------------------------------------------


def encode_cosem_datetime(
    moment: datetime | None,
    *,
    zone: tzinfo | None = None,
    deviation: bool = True,
    hundredths: bool = True,
    clock_status: int | None = None,
) -> bytes:
    """The 12-byte COSEM date-time of an aware ``datetime``, as local time of ``zone``.

    With ``deviation`` (Iskraemeco, Siemens, Kaifa) the deviation field holds
    the offset of ``zone`` (UTC = local + deviation: -60 in winter, -120 in
    summer in Vienna); without it, it is "not specified" (0x8000) and the
    receiver assumes the meter's zone, as with the Landis+Gyr E450. The clock
    status has the daylight-saving bit (0x80) set in summer unless
    ``clock_status`` is given. ``hundredths=False`` sends 0xFF ("not
    specified") for the hundredths. ``None`` gives a date-time whose fields
    are all "not specified".
    """
    if moment is None:
        return _ALL_NOT_SPECIFIED
    zone = zone or writing_zone()
    if moment.utcoffset() is None:
        raise ValueError("the meter time must be a timezone-aware datetime")
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    if offset is None:  # pragma: no cover - astimezone always sets an offset
        raise ValueError("the time zone has no UTC offset")
    if clock_status is None:
        clock_status = STATUS_DAYLIGHT_SAVING_ACTIVE if local.dst() else 0x00
    return _DATE_TIME_FIELDS.pack(
        local.year,
        local.month,
        local.day,
        local.isoweekday(),
        local.hour,
        local.minute,
        local.second,
        local.microsecond // 10_000 if hundredths else _NOT_SPECIFIED,
        -round(offset.total_seconds() / 60) if deviation else DEVIATION_NOT_SPECIFIED,
        clock_status,
    )


def encode_cosem_date(moment: datetime | None, *, zone: tzinfo | None = None) -> bytes:
    """The 5-byte COSEM date (year, month, day, day of week) in ``zone``."""
    if moment is None:
        return b"\xff\xff\xff\xff\xff"
    local = moment.astimezone(zone or writing_zone())
    return struct.pack(">HBBB", local.year, local.month, local.day, local.isoweekday())


def encode_cosem_time(moment: datetime | None, *, zone: tzinfo | None = None) -> bytes:
    """The 4-byte COSEM time (hour, minute, second, hundredths) in ``zone``."""
    if moment is None:
        return b"\xff\xff\xff\xff"
    local = moment.astimezone(zone or writing_zone())
    return bytes((local.hour, local.minute, local.second, local.microsecond // 10_000))
