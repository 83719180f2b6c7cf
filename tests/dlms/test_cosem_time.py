"""COSEM date-time, date and time: specified and unspecified fields, zones, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from custom_components.dlms_smartmeter.dlms import cosem_time
from custom_components.dlms_smartmeter.dlms.cosem_time import (
    DEVIATION_NOT_SPECIFIED,
    CosemDateTime,
    combine_local,
    is_plausible_date_time,
    localize,
    parse_date,
    parse_date_time,
    parse_time,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

VIENNA = ZoneInfo("Europe/Vienna")


def dt(
    *,
    year: int = 2021,
    month: int = 10,
    day: int = 21,
    hour: int = 6,
    minute: int = 44,
    second: int = 2,
    hundredths: int = 0,
    deviation: int = -120,
    status: int = 0x80,
    day_of_week: int = 0xFF,
) -> bytes:
    """Encode the fields of a COSEM date-time."""
    return (
        year.to_bytes(2, "big")
        + bytes([month, day, day_of_week, hour, minute, second, hundredths])
        + deviation.to_bytes(2, "big", signed=True)
        + bytes([status])
    )


def test_am550_header_time_with_deviation() -> None:
    # WN-AM550-1: 2021-10-21 06:44:02 local, deviation -120 (CEST), DST active.
    moment = parse_date_time(bytes.fromhex("07e50a1504062c0200ff8880"))
    assert moment == datetime(2021, 10, 21, 4, 44, 2, tzinfo=UTC)
    assert moment is not None
    assert moment.utcoffset() == timedelta(hours=2)
    assert moment.isoformat() == "2021-10-21T06:44:02+02:00"


def test_winter_deviation_minus_60_is_cet() -> None:
    moment = parse_date_time(bytes.fromhex("07e5011b03100b2d00ffc400"))
    assert moment is not None
    assert moment.isoformat() == "2021-01-27T16:11:45+01:00"


def test_hundredths_are_kept_and_unspecified_hundredths_are_zero() -> None:
    moment = parse_date_time(dt(hundredths=42))
    assert moment is not None
    assert moment.microsecond == 420_000
    moment = parse_date_time(dt(hundredths=0xFF))
    assert moment is not None
    assert moment.microsecond == 0


def test_unspecified_second_reads_as_zero() -> None:
    moment = parse_date_time(dt(second=0xFF))
    assert moment is not None
    assert (moment.minute, moment.second) == (44, 0)


@pytest.mark.parametrize(
    "fields",
    [
        {"year": 0xFFFF},
        {"month": 0xFF},
        {"month": 0xFE},
        {"month": 0xFD},
        {"month": 0},
        {"month": 13},
        {"day": 0xFF},
        {"day": 0xFE},
        {"day": 0},
        {"day": 32},
        {"month": 2, "day": 30},
        {"hour": 0xFF},
        {"hour": 24},
        {"minute": 0xFF},
        {"minute": 60},
        {"second": 60},
        {"hundredths": 100},
        {"deviation": 721},
        {"deviation": -721},
        {"year": 0},
    ],
)
def test_unusable_fields_give_none(fields: dict[str, int]) -> None:
    assert parse_date_time(dt(**fields)) is None


@pytest.mark.parametrize("status", [0x01, 0x02, 0x04, 0x08, 0x81, 0x82, 0x8F, 0xFF])
def test_status_bits_never_drop_the_time(status: int) -> None:
    moment = parse_date_time(dt(status=status))
    assert moment == datetime(2021, 10, 21, 4, 44, 2, tzinfo=UTC)


def test_wrong_length_is_unusable() -> None:
    assert parse_date_time(b"\x07\xe5") is None
    with pytest.raises(ValueError, match="12 bytes, got 2"):
        CosemDateTime.from_bytes(b"\x07\xe5")


def test_deviation_not_specified_means_vienna_time() -> None:
    # WN-E450-1 header: 2021-11-03 04:56:57, hundredths and deviation unspecified.
    raw = bytes.fromhex("07e50b0303043839ff800000")
    fields = CosemDateTime.from_bytes(raw)
    assert fields.deviation == DEVIATION_NOT_SPECIFIED
    moment = parse_date_time(raw)
    assert moment is not None
    assert moment.isoformat() == "2021-11-03T04:56:57+01:00"
    summer = parse_date_time(dt(deviation=DEVIATION_NOT_SPECIFIED, status=0x00))
    assert summer is not None
    assert summer.isoformat() == "2021-10-21T06:44:02+02:00"


# Local times that Vienna has twice (autumn) or not at all (spring), sent
# without a deviation: the clock status DST bit (0x80) decides.
AUTUMN_FOLD = {"year": 2023, "month": 10, "day": 29}
SPRING_GAP = {"year": 2024, "month": 3, "day": 31}


@pytest.mark.parametrize(
    ("day", "status", "expected"),
    [
        pytest.param(
            AUTUMN_FOLD,
            0x80,
            datetime(2023, 10, 29, 0, 30, tzinfo=UTC),
            id="autumn-fold-dst-bit-is-the-first-cest-hour",
        ),
        pytest.param(
            AUTUMN_FOLD,
            0x00,
            datetime(2023, 10, 29, 1, 30, tzinfo=UTC),
            id="autumn-fold-no-dst-bit-is-the-second-cet-hour",
        ),
        # An unspecified status (0xFF) does not claim DST.
        pytest.param(
            AUTUMN_FOLD,
            0xFF,
            datetime(2023, 10, 29, 1, 30, tzinfo=UTC),
            id="autumn-fold-unspecified-status-is-cet",
        ),
        # The meter says winter time (no DST bit): 02:30+01:00 = 03:30 CEST.
        pytest.param(
            SPRING_GAP,
            0x00,
            datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
            id="spring-gap-no-dst-bit-is-shifted-not-dropped",
        ),
        pytest.param(
            SPRING_GAP,
            0x80,
            datetime(2024, 3, 31, 0, 30, tzinfo=UTC),
            id="spring-gap-dst-bit",
        ),
    ],
)
def test_fold_and_gap_are_resolved_by_the_dst_bit(
    day: dict[str, int], status: int, expected: datetime
) -> None:
    fields = {"hour": 2, "minute": 30, "second": 0, **day}
    moment = parse_date_time(
        dt(**fields, deviation=DEVIATION_NOT_SPECIFIED, status=status)
    )
    assert moment == expected


def test_fold_and_gap_times_in_local_terms() -> None:
    wall_clock = {"hour": 2, "minute": 30, "second": 0}
    first = parse_date_time(
        dt(**AUTUMN_FOLD, **wall_clock, deviation=DEVIATION_NOT_SPECIFIED, status=0x80)
    )
    assert first is not None
    assert first.isoformat() == "2023-10-29T02:30:00+02:00"
    shifted = parse_date_time(
        dt(**SPRING_GAP, **wall_clock, deviation=DEVIATION_NOT_SPECIFIED, status=0x00)
    )
    assert shifted is not None
    assert shifted.astimezone(VIENNA).isoformat() == "2024-03-31T03:30:00+02:00"


@pytest.mark.parametrize(
    ("fields", "offset"),
    [
        # The deviation is authoritative; the DST bit is only metadata then.
        pytest.param({"deviation": -60, "status": 0x80}, 60, id="cet-despite-dst-bit"),
        pytest.param({"deviation": 0, "status": 0x00}, 0, id="utc"),
    ],
)
def test_explicit_deviation_ignores_the_dst_bit(
    fields: dict[str, int], offset: int
) -> None:
    moment = parse_date_time(dt(**fields))
    assert moment is not None
    assert moment.utcoffset() == timedelta(minutes=offset)
    assert moment.tzinfo == timezone(timedelta(minutes=offset))


@pytest.mark.parametrize(
    ("status", "daylight_saving"),
    [(0x80, True), (0x81, True), (0x00, False), (0xFF, False)],
    ids=["dst", "dst-and-invalid-value", "no-dst", "unspecified"],
)
def test_daylight_saving_property(status: int, *, daylight_saving: bool) -> None:
    assert (
        CosemDateTime.from_bytes(dt(status=status)).daylight_saving is daylight_saving
    )


def test_localize_without_dst_hint_takes_the_first_occurrence() -> None:
    moment = localize(datetime(2023, 10, 29, 2, 30), daylight_saving=None)  # noqa: DTZ001
    assert moment.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "raw",
    [
        "07e50a1504062c0200ff8880",
        "07e50b0303043839ff800001",
        "ffffffffffffffffff800000",
        "07e5fefdff00000000000000",  # DST begin month, 2nd-last day
    ],
)
def test_plausible_date_times(raw: str) -> None:
    assert is_plausible_date_time(bytes.fromhex(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"181220000009".hex(),  # Netz NÖ meter number, also 12 bytes
        b"178210193075".hex(),
        "07e50d1504062c0200ff8880",  # month 13
        "07e50a2004062c0200ff8880",  # day 32
        "07e50a1504182c0200ff8880",  # hour 24
        "07e50a1504063c0200ff8880",  # minute 60
        "07b10a1504062c0200ff8880",  # year 1969
        "07e50a",
    ],
)
def test_implausible_date_times(raw: str) -> None:
    assert not is_plausible_date_time(bytes.fromhex(raw))


def test_date_and_time_of_the_p1_layout() -> None:
    # KN-AM550-1 body: time 13010e00, date 07e5031904.
    assert parse_time(bytes.fromhex("13010e00")) == time(19, 1, 14)
    assert parse_date(bytes.fromhex("07e5031904")) == date(2021, 3, 25)
    combined = combine_local(date(2021, 3, 25), time(19, 1, 14))
    assert combined is not None
    assert combined.isoformat() == "2021-03-25T19:01:14+01:00"
    assert combine_local(None, time(19, 1, 14)) is None
    assert combine_local(date(2021, 3, 25), None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13010eff", time(19, 1, 14)),
        ("1301ff05", time(19, 1, 0, 50_000)),
        ("ff010e00", None),
        ("18000000", None),
        ("133c0000", None),
        ("13013c00", None),
        ("13010e64", None),
        ("13010e", None),
    ],
)
def test_parse_time_edge_cases(raw: str, expected: time | None) -> None:
    assert parse_time(bytes.fromhex(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07e5031904", date(2021, 3, 25)),
        ("07e50319ff", date(2021, 3, 25)),
        ("ffff031904", None),
        ("07e5ff1904", None),
        ("07e503ff04", None),
        ("07e5021e04", None),
        ("07e50319", None),
    ],
)
def test_parse_date_edge_cases(raw: str, expected: date | None) -> None:
    assert parse_date(bytes.fromhex(raw)) == expected


@pytest.fixture
def without_tz_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A host without the IANA time zone database (no tzdata)."""
    monkeypatch.setattr(cosem_time, "_zone", lambda _name: None)
    cosem_time._date_time.cache_clear()
    yield
    cosem_time._date_time.cache_clear()


def test_without_tz_database_the_dst_bit_picks_cet_or_cest(
    without_tz_database: None,
) -> None:
    summer = parse_date_time(dt(deviation=DEVIATION_NOT_SPECIFIED, status=0x80))
    winter = parse_date_time(dt(deviation=DEVIATION_NOT_SPECIFIED, status=0x00))
    assert summer is not None
    assert winter is not None
    assert summer.isoformat() == "2021-10-21T06:44:02+02:00"
    assert winter.isoformat() == "2021-10-21T06:44:02+01:00"
    # An explicit deviation does not need the database at all.
    explicit = parse_date_time(dt())
    assert explicit is not None
    assert explicit.isoformat() == "2021-10-21T06:44:02+02:00"
