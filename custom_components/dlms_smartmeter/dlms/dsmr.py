"""DSMR P1 text telegrams (as sent inside the cipher envelope by the Sagemcom T210-D-R).

A telegram is ``/IDENT``, a blank line, one OBIS line per object such as
``1-0:1.8.0(014159934*Wh)``, and ``!CRC``: four hex digits of CRC-16/ARC over
everything from ``/`` through ``!``. The clock line ``0-0:1.0.0(YYMMDDhhmmssX)``
is local time with X = ``S`` (summer) or ``W`` (winter).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
import re

from . import obis
from .crc import crc16_arc
from .errors import MalformedPayloadError
from .layouts import BodyValues, Layout
from .reading import MeterValue, Unit

_LINE = re.compile(
    r"(?P<obis>\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3})(?P<values>(?:\([^()]*\))+)"
)
_VALUE = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?:\*(?P<unit>[A-Za-z]+))?")
_TIMESTAMP = re.compile(r"(?P<stamp>\d{12})(?P<season>[SW])")
_CRC = re.compile(rb"[0-9A-Fa-f]{4}")

# Unit text to (unit, factor to that unit).
_UNITS: dict[str, tuple[Unit, int]] = {
    "wh": (Unit.WATT_HOUR, 1),
    "kwh": (Unit.WATT_HOUR, 1000),
    "varh": (Unit.VAR_HOUR, 1),
    "kvarh": (Unit.VAR_HOUR, 1000),
    "vah": (Unit.VOLT_AMPERE_HOUR, 1),
    "kvah": (Unit.VOLT_AMPERE_HOUR, 1000),
    "w": (Unit.WATT, 1),
    "kw": (Unit.WATT, 1000),
    "var": (Unit.VAR, 1),
    "kvar": (Unit.VAR, 1000),
    "va": (Unit.VOLT_AMPERE, 1),
    "kva": (Unit.VOLT_AMPERE, 1000),
    "v": (Unit.VOLT, 1),
    "a": (Unit.AMPERE, 1),
    "hz": (Unit.HERTZ, 1),
}
_SUMMER = timezone(timedelta(hours=2))
_WINTER = timezone(timedelta(hours=1))
_SERIAL_CODES = (obis.SERIAL_NUMBER, "0-0:96.1.1")


def looks_like_telegram(plaintext: bytes) -> bool:
    """True when the plaintext starts like a DSMR telegram (``/``)."""
    return plaintext[:1] == b"/"


def check_telegram(plaintext: bytes) -> str:
    """Verify framing and CRC; return the telegram text from ``/`` through ``!``.

    Raises :class:`MalformedPayloadError` when the telegram is not framed as
    ``/ … !XXXX`` (optionally followed by a line break) or its CRC is wrong.
    """
    if not looks_like_telegram(plaintext):
        raise MalformedPayloadError("a DSMR telegram starts with '/'")
    end = plaintext.rfind(b"!")
    if end < 0:
        raise MalformedPayloadError("the DSMR telegram has no '!' end marker")
    body = plaintext[: end + 1]
    crc_text = plaintext[end + 1 : end + 5]
    trailer = plaintext[end + 5 :]
    if not _CRC.fullmatch(crc_text) or trailer.strip(b"\r\n"):
        raise MalformedPayloadError("the DSMR telegram does not end in '!' and a CRC")
    expected = int(crc_text, 16)
    actual = crc16_arc(body)
    if actual != expected:
        raise MalformedPayloadError(
            f"DSMR telegram CRC mismatch (sent {expected:04X}, computed {actual:04X})"
        )
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedPayloadError("the DSMR telegram is not ASCII text") from None


def _number(text: str, factor: int) -> int | float:
    value = Decimal(text) * factor
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _meter_time(value: str) -> datetime | None:
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    try:
        naive = datetime.strptime(match["stamp"], "%y%m%d%H%M%S")  # noqa: DTZ007
    except ValueError:
        return None
    return naive.replace(tzinfo=_SUMMER if match["season"] == "S" else _WINTER)


def _serial(value: str) -> str | None:
    # DSMR sends equipment identifiers as hex-encoded ASCII.
    try:
        text = bytes.fromhex(value).decode("ascii")
    except ValueError:
        text = value
    text = text.strip()
    return text if text and text.isprintable() else None


def parse_telegram(plaintext: bytes) -> BodyValues:
    """Check and parse a telegram into values, serial number and meter time.

    Lines that carry a number with a known unit become values (kWh, kW, kvarh
    and kvar are converted to Wh, W, varh and var); other lines are skipped.
    """
    text = check_telegram(plaintext)
    values: dict[str, MeterValue] = {}
    serial_number: str | None = None
    meter_time: datetime | None = None
    for raw_line in text.splitlines()[1:]:
        match = _LINE.fullmatch(raw_line.strip())
        if match is None:
            continue
        code = match["obis"]
        first = match["values"][1:].split(")", 1)[0]
        if code == obis.CLOCK:
            meter_time = _meter_time(first)
            continue
        if code in _SERIAL_CODES:
            serial_number = serial_number or _serial(first)
            continue
        value = _VALUE.fullmatch(first)
        if value is None or value["unit"] is None:
            continue
        unit = _UNITS.get(value["unit"].lower())
        if unit is None:
            continue
        values[code] = MeterValue(_number(value["number"], unit[1]), unit[0])
    return BodyValues(
        Layout.DSMR_TEXT, values, serial_number=serial_number, clock=meter_time
    )
