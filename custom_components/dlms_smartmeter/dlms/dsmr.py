"""DSMR P1 text telegrams, read and written (Sagemcom T210-D-R, inside the cipher).

A telegram is ``/IDENT``, a blank line, one OBIS line per object such as
``1-0:1.8.0(014159934*Wh)``, and ``!CRC``: four hex digits of CRC-16/ARC over
everything from ``/`` through ``!``. The clock line ``0-0:1.0.0(YYMMDDhhmmssX)``
is local time with X = ``S`` (summer) or ``W`` (winter).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
import math
import re
from typing import TYPE_CHECKING

from . import obis
from .body import BodyValues, Layout, serial_bytes, text_bytes
from .cosem_time import writing_zone
from .crc import crc16_arc
from .errors import MalformedPayloadError
from .reading import MeterValue, Unit

if TYPE_CHECKING:
    from .reading import Reading

_LINE = re.compile(
    r"(?P<obis>\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3})(?P<values>(?:\([^()]*\))+)"
)
_VALUE = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?:\*(?P<unit>[A-Za-z]+))?")
_TIMESTAMP = re.compile(r"(?P<stamp>\d{12})(?P<season>[SW])")
_CRC = re.compile(rb"[0-9A-Fa-f]{4}")

# Units as telegrams write them; those in _KILO_UNITS are also read with "k".
_UNIT_TEXT: dict[Unit, str] = {
    Unit.WATT_HOUR: "Wh",
    Unit.VAR_HOUR: "varh",
    Unit.VOLT_AMPERE_HOUR: "VAh",
    Unit.WATT: "W",
    Unit.VAR: "var",
    Unit.VOLT_AMPERE: "VA",
    Unit.VOLT: "V",
    Unit.AMPERE: "A",
    Unit.HERTZ: "Hz",
}
_KILO_UNITS = frozenset(
    {
        Unit.WATT_HOUR,
        Unit.VAR_HOUR,
        Unit.VOLT_AMPERE_HOUR,
        Unit.WATT,
        Unit.VAR,
        Unit.VOLT_AMPERE,
    }
)
# Unit text (lower case) to (unit, factor to that unit).
_UNITS: dict[str, tuple[Unit, int]] = {
    **{text.lower(): (unit, 1) for unit, text in _UNIT_TEXT.items()},
    **{f"k{_UNIT_TEXT[unit].lower()}": (unit, 1000) for unit in _KILO_UNITS},
}
_SUMMER = timezone(timedelta(hours=2))
_WINTER = timezone(timedelta(hours=1))
_SERIAL_CODES = (obis.SERIAL_NUMBER, "0-0:96.1.1")


def looks_like_telegram(plaintext: bytes) -> bool:
    """True when the plaintext starts like a DSMR telegram (``/``)."""
    return plaintext[:1] == b"/"


def is_readable_text(plaintext: bytes) -> bool:
    """A telegram's plaintext: ``/``, then only printable ASCII and line breaks.

    No wrong key decrypts to that, so a telegram that reads like this but
    fails its checks is a meter problem, not a key problem.
    """
    if not looks_like_telegram(plaintext) or not plaintext.isascii():
        return False
    return plaintext.replace(b"\r", b"").replace(b"\n", b"").decode().isprintable()


def check_telegram(plaintext: bytes, *, authenticated: bool = False) -> str:
    """Verify framing and CRC; return the telegram text from ``/`` through ``!``.

    Raises :class:`MalformedPayloadError` when the telegram is not framed as
    ``/ … !XXXX`` (optionally followed by a line break) or its CRC is wrong.
    A CRC that is not CRC-16/ARC is accepted only when ``authenticated``: the
    Luxembourg Smarty meters compute their CRC differently, and there the
    verified GCM tag already proves that every byte arrived as sent.
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
    if actual != expected and not authenticated:
        raise MalformedPayloadError(
            f"DSMR telegram CRC mismatch (sent {expected:04X}, computed "
            f"{actual:04X}); a Luxembourg Smarty telegram is accepted with the "
            "authentication key, which proves it is intact"
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


def parse_telegram(plaintext: bytes, *, authenticated: bool = False) -> BodyValues:
    """Check and parse a telegram into values, serial number and meter time.

    Lines that carry a number with a known unit become values (kWh, kW, kvarh
    and kvar are converted to Wh, W, varh and var); other lines are skipped.
    """
    text = check_telegram(plaintext, authenticated=authenticated)
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


# --- writing ------------------------------------------------------------------

_VERSION_LINE = "1-3:0.2.8(50)"


def _dsmr_number(code: str, value: float) -> str:
    if not isinstance(value, int) and not math.isfinite(value):
        raise ValueError(f"{code}: {value} cannot be sent by a meter")
    if value < 0:
        raise ValueError(f"{code}: DSMR telegrams carry no negative values")
    if isinstance(value, int):
        return f"{value:09d}"
    return format(Decimal(repr(value)), "f")


def encode_dsmr_telegram(reading: Reading) -> bytes:
    """The DSMR P1 text telegram of a reading, CRC included.

    The meter time becomes the ``0-0:1.0.0`` line (Vienna local time, ``S``
    or ``W``, whole seconds), the serial number the hex-encoded ``0-0:96.1.0``
    line.
    """
    flag = reading.manufacturer or "DLM"
    ident = reading.serial_number or "SMARTMETER"
    lines = [f"/{flag}5\\2{text_bytes(ident, 'serial number').decode()}", ""]
    lines.append(_VERSION_LINE)
    if reading.meter_time is not None:
        local = reading.meter_time.astimezone(writing_zone())
        # Two-digit years: readers take 69-99 as 1969-1999 (POSIX strptime).
        if not 2000 <= local.year <= 2068:
            raise ValueError("DSMR telegrams carry the years 2000-2068 only")
        season = "S" if local.dst() else "W"
        lines.append(f"{obis.CLOCK}({local:%y%m%d%H%M%S}{season})")
    if reading.serial_number is not None:
        lines.append(f"{obis.SERIAL_NUMBER}({serial_bytes(reading).hex().upper()})")
    for code, meter_value in reading.values.items():
        unit = _UNIT_TEXT.get(meter_value.unit)
        if unit is None or "*" in code:
            raise ValueError(
                f"{code} in {meter_value.unit.value or 'no unit'} is not "
                "representable in a DSMR telegram"
            )
        obis.parse_obis(code)
        lines.append(f"{code}({_dsmr_number(code, meter_value.value)}*{unit})")
    text = ("\r\n".join(lines) + "\r\n!").encode("ascii")
    return text + f"{crc16_arc(text):04X}\r\n".encode("ascii")
