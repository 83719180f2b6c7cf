"""M-Bus date and time type I (CP48, EN 13757-3 annex A), as the AMIS meters send it.

Six bytes, least significant first::

    0: leap year (7) | summer time (6) | second (5-0)
    1: time invalid (7) | sign of the DST deviation (6) | minute (5-0)
    2: day of week (7-5) | hour (4-0)
    3: year bits 2-0 (7-5) | day (4-0)
    4: year bits 6-3 (7-4) | month (3-0)
    5: DST deviation in hours (7-6) | week (5-0)

The meters keep Austrian wall-clock time: the summer-time flag selects CEST
(UTC+2), otherwise CET (UTC+1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from .errors import MalformedPayloadError

LENGTH: Final = 6
_BASE_YEAR: Final = 2000
_CET: Final = timezone(timedelta(hours=1))
_CEST: Final = timezone(timedelta(hours=2))


@dataclass(frozen=True, slots=True)
class TypeIDateTime:
    """The fields of a type-I date and time."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    day_of_week: int
    week: int
    summer_time: bool
    leap_year: bool
    invalid: bool

    @property
    def meter_time(self) -> datetime | None:
        """The time with its UTC offset; ``None`` if flagged invalid or out of range."""
        if self.invalid:
            return None
        try:
            return datetime(
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                self.second,
                tzinfo=_CEST if self.summer_time else _CET,
            )
        except ValueError:
            return None


def parse_type_i(data: bytes) -> TypeIDateTime:
    """Fields of a six-byte type-I value; raises ``MalformedPayloadError`` otherwise."""
    if len(data) != LENGTH:
        msg = f"a type-I date and time has {LENGTH} bytes, not {len(data)}"
        raise MalformedPayloadError(msg)
    return TypeIDateTime(
        year=_BASE_YEAR + ((data[3] >> 5) | (data[4] >> 4) << 3),
        month=data[4] & 0x0F,
        day=data[3] & 0x1F,
        hour=data[2] & 0x1F,
        minute=data[1] & 0x3F,
        second=data[0] & 0x3F,
        day_of_week=data[2] >> 5,
        week=data[5] & 0x3F,
        summer_time=bool(data[0] & 0x40),
        leap_year=bool(data[0] & 0x80),
        invalid=bool(data[1] & 0x80),
    )


def encode_type_i(moment: datetime, *, invalid: bool = False) -> bytes:
    """Six bytes for an aware ``moment``, in CEST when its offset is +2 h, else CET."""
    offset = moment.utcoffset()
    summer = offset == timedelta(hours=2)
    local = moment.astimezone(_CEST if summer else _CET)
    year = local.year - _BASE_YEAR
    leap = local.year % 4 == 0 and (local.year % 100 != 0 or local.year % 400 == 0)
    week = local.isocalendar().week
    return bytes(
        [
            leap << 7 | summer << 6 | local.second,
            invalid << 7 | local.minute,
            local.isoweekday() << 5 | local.hour,
            (year & 0x07) << 5 | local.day,
            (year >> 3) << 4 | local.month,
            week,
        ]
    )
