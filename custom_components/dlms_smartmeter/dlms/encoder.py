"""Encoding of readings into push frames: the decoder's pipeline run backwards.

A :class:`Reading` becomes the notification body of its layout (or a DSMR
telegram), then a data-notification, then optionally a general-glo-ciphering
APDU, optionally split into general-block-transfer blocks, and finally
link-layer frames. The meter simulator, the tests and the command-line tool
build their frames here.

Values are encoded the way the meters send them: positional layouts carry
whole numbers in Wh, varh, W and var; OBIS-tagged layouts choose the scaler
per quantity as the meters do (voltage -1, current -2, power factor -3,
frequency -2, everything else 0) and fall back to another scaler, or to a
float, only when a value is not representable with that scaler. A reading
that a layout cannot carry raises ``ValueError`` naming the problem.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
import math
import struct
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import obis
from .apdu import ApduTag
from .axdr import DataType
from .cosem_time import DEVIATION_NOT_SPECIFIED, METER_TIME_ZONE
from .crc import crc16_arc
from .framing import LinkLayer, encode_hdlc, encode_mbus
from .layouts import (
    BURGENLAND_REGISTERS,
    P1_REGISTERS,
    UNITS,
    WN_REGISTERS,
    Layout,
    scale,
)
from .reading import MeterValue, Reading, SecurityLevel, Unit
from .security import KEY_LENGTH, SYSTEM_TITLE_LENGTH, TAG_LENGTH

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime, tzinfo

METER_ZONE: Final = ZoneInfo(METER_TIME_ZONE)
"""Time zone of the clocks of Austrian meters (Europe/Vienna)."""

_SC_AUTHENTICATION: Final = 0x10
_SC_ENCRYPTION: Final = 0x20
_SC_COMPRESSION: Final = 0x80
SC_ENCRYPTED: Final = 0x20
"""Security control of encryption only, suite 0 (Wiener Netze, Netz NÖ, P1)."""
SC_AUTHENTICATED: Final = 0x30
"""Security control of authenticated encryption, suite 0 (L+G E450)."""

_BLOCK_LAST: Final = 0x80
_BLOCK_STREAMING: Final = 0x40
_NOT_SPECIFIED: Final = 0xFF
_CLOCK_STATUS_DST: Final = 0x80
_ALL_NOT_SPECIFIED: Final = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff"

# --------------------------------------------------------------------------
# A-XDR


def encode_length(length: int) -> bytes:
    """BER/A-XDR length: one byte below 0x80, else ``0x8n`` and n bytes."""
    if length < 0:
        raise ValueError(f"a length cannot be negative ({length})")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


_INTEGER_FORMATS: Final[dict[DataType, tuple[str, int, int]]] = {
    DataType.INTEGER: (">b", -(2**7), 2**7 - 1),
    DataType.LONG: (">h", -(2**15), 2**15 - 1),
    DataType.DOUBLE_LONG: (">i", -(2**31), 2**31 - 1),
    DataType.LONG64: (">q", -(2**63), 2**63 - 1),
    DataType.UNSIGNED: (">B", 0, 2**8 - 1),
    DataType.ENUM: (">B", 0, 2**8 - 1),
    DataType.BCD: (">B", 0, 2**8 - 1),
    DataType.LONG_UNSIGNED: (">H", 0, 2**16 - 1),
    DataType.DOUBLE_LONG_UNSIGNED: (">I", 0, 2**32 - 1),
    DataType.LONG64_UNSIGNED: (">Q", 0, 2**64 - 1),
}


def fits(data_type: DataType, value: int) -> bool:
    """True when ``value`` is in the range of the integer type ``data_type``."""
    _fmt, low, high = _INTEGER_FORMATS[data_type]
    return low <= value <= high


def axdr_number(data_type: DataType, value: int) -> bytes:
    """Tagged value of a fixed-width integer type (also enum and bcd)."""
    fmt, low, high = _INTEGER_FORMATS[data_type]
    if not low <= value <= high:
        raise ValueError(
            f"{value} does not fit {data_type.name.lower()} ({low}..{high})"
        )
    return bytes((data_type,)) + struct.pack(fmt, value)


def axdr_null() -> bytes:
    """A null-data."""
    return bytes((DataType.NULL_DATA,))


def axdr_boolean(*, value: bool) -> bytes:
    """A boolean (0xFF for true)."""
    return bytes((DataType.BOOLEAN, 0xFF if value else 0x00))


def axdr_integer(value: int) -> bytes:
    """An integer: int8 (scalers)."""
    return axdr_number(DataType.INTEGER, value)


def axdr_long(value: int) -> bytes:
    """A long: int16."""
    return axdr_number(DataType.LONG, value)


def axdr_unsigned(value: int) -> bytes:
    """An unsigned: uint8."""
    return axdr_number(DataType.UNSIGNED, value)


def axdr_long64(value: int) -> bytes:
    """A long64: int64."""
    return axdr_number(DataType.LONG64, value)


def axdr_long64_unsigned(value: int) -> bytes:
    """A long64-unsigned: uint64."""
    return axdr_number(DataType.LONG64_UNSIGNED, value)


def axdr_long_unsigned(value: int) -> bytes:
    """A long-unsigned: uint16 (voltages, currents, class ids)."""
    return axdr_number(DataType.LONG_UNSIGNED, value)


def axdr_double_long(value: int) -> bytes:
    """A double-long: int32."""
    return axdr_number(DataType.DOUBLE_LONG, value)


def axdr_double_long_unsigned(value: int) -> bytes:
    """A double-long-unsigned: uint32 (energy and power registers)."""
    return axdr_number(DataType.DOUBLE_LONG_UNSIGNED, value)


def axdr_enum(value: int) -> bytes:
    """An enum: uint8 (units)."""
    return axdr_number(DataType.ENUM, value)


def axdr_float64(value: float) -> bytes:
    """A float64: IEEE 754 double precision, big-endian."""
    return bytes((DataType.FLOAT64,)) + struct.pack(">d", value)


def axdr_float32(value: float) -> bytes:
    """A float32: IEEE 754 single precision, big-endian."""
    return bytes((DataType.FLOAT32,)) + struct.pack(">f", value)


def axdr_octet_string(value: bytes) -> bytes:
    """An octet-string: length and bytes (OBIS codes, date-times, meter ids)."""
    return bytes((DataType.OCTET_STRING,)) + encode_length(len(value)) + value


def axdr_visible_string(value: str) -> bytes:
    """A visible-string: length and ASCII characters."""
    raw = value.encode("ascii")
    return bytes((DataType.VISIBLE_STRING,)) + encode_length(len(raw)) + raw


def axdr_utf8_string(value: str) -> bytes:
    """A utf8-string: length and UTF-8 bytes."""
    raw = value.encode()
    return bytes((DataType.UTF8_STRING,)) + encode_length(len(raw)) + raw


def axdr_structure(*elements: bytes) -> bytes:
    """A structure of already encoded elements."""
    return (
        bytes((DataType.STRUCTURE,)) + encode_length(len(elements)) + b"".join(elements)
    )


def axdr_array(elements: Sequence[bytes]) -> bytes:
    """An array of already encoded elements (all of one type)."""
    return bytes((DataType.ARRAY,)) + encode_length(len(elements)) + b"".join(elements)


def axdr_obis(code: str) -> bytes:
    """An OBIS code such as ``"1-0:1.8.0"`` as octet-string(6)."""
    return axdr_octet_string(obis.parse_obis(code))


# --------------------------------------------------------------------------
# COSEM date and time


def encode_cosem_datetime(
    moment: datetime | None,
    *,
    zone: tzinfo = METER_ZONE,
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
    if moment.utcoffset() is None:
        raise ValueError("the meter time must be a timezone-aware datetime")
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    if offset is None:  # pragma: no cover - astimezone always sets an offset
        raise ValueError("the time zone has no UTC offset")
    if clock_status is None:
        clock_status = _CLOCK_STATUS_DST if local.dst() else 0x00
    return struct.pack(
        ">HBBBBBBBhB",
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


def encode_cosem_date(moment: datetime | None, *, zone: tzinfo = METER_ZONE) -> bytes:
    """The 5-byte COSEM date (year, month, day, day of week) in ``zone``."""
    if moment is None:
        return b"\xff\xff\xff\xff\xff"
    local = moment.astimezone(zone)
    return struct.pack(">HBBB", local.year, local.month, local.day, local.isoweekday())


def encode_cosem_time(moment: datetime | None, *, zone: tzinfo = METER_ZONE) -> bytes:
    """The 4-byte COSEM time (hour, minute, second, hundredths) in ``zone``."""
    if moment is None:
        return b"\xff\xff\xff\xff"
    local = moment.astimezone(zone)
    return bytes((local.hour, local.minute, local.second, local.microsecond // 10_000))


# --------------------------------------------------------------------------
# Values


_UNIT_CODES: Final[dict[Unit, int]] = {unit: code for code, unit in UNITS.items()}

# Scalers the meters use for instantaneous values, by quantity (OBIS C mod 20).
_METER_SCALERS: Final = {11: -2, 12: -1, 13: -3, 14: -2}
# Quantities sent as 16-bit integers: current, voltage, power factor, U-I
# angle, neutral current.
_SMALL_QUANTITIES: Final = frozenset({11, 12, 13, 81, 91})
_SMALL_TYPES: Final = (
    DataType.LONG_UNSIGNED,
    DataType.LONG,
    DataType.DOUBLE_LONG_UNSIGNED,
    DataType.DOUBLE_LONG,
    DataType.LONG64_UNSIGNED,
    DataType.LONG64,
)
_LARGE_TYPES: Final = _SMALL_TYPES[2:]
# Scalers tried, after the meter's own, to represent a value exactly.
_FALLBACK_SCALERS: Final = tuple(range(0, -10, -1))

# E450 pushes carry no scalers: currents count in 0.01 A, the rest unscaled.
_E450_SCALERS: Final = {obis.CURRENT_L1: -2, obis.CURRENT_L2: -2, obis.CURRENT_L3: -2}


def _quantity(code: str) -> tuple[int, int, int]:
    """``(A, C, D)`` of an OBIS code; C folded per phase (1-80 -> 1-20)."""
    a, _b, c, d, _e, _f = obis.parse_obis(code)
    return a, ((c - 1) % 20 + 1) if 1 <= c <= 80 else c, d


def meter_scaler(code: str) -> int:
    """Scaler a meter uses for the register ``code`` (V -1, A -2, PF -3, Hz -2)."""
    a, quantity, d = _quantity(code)
    if a != 1 or d != 7:
        return 0
    if quantity == 91:  # neutral current
        return -2
    return _METER_SCALERS.get(quantity, 0)


def raw_value(value: float, scaler: int) -> int | None:
    """The integer that the decoder scales by ``10^scaler`` back to ``value``.

    ``None`` when no integer does (the value has more decimals than the scaler
    allows).
    """
    if not isinstance(value, int) and not math.isfinite(value):
        return None
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    raw = int(exact.scaleb(-scaler).to_integral_value())
    if not -(2**63) <= raw < 2**64:  # no register is wider than 64 bits
        return None
    return raw if scale(raw, scaler) == value else None


def _integer_element(raw: int, types: Iterable[DataType]) -> bytes | None:
    for data_type in types:
        if fits(data_type, raw):
            return axdr_number(data_type, raw)
    return None


def encode_register_value(code: str, value: float) -> tuple[bytes, int]:
    """A-XDR value and scaler of one register, chosen as the meters do.

    The meter's scaler for the quantity comes first; if the value is not an
    exact multiple of it, finer scalers are tried, and a float64 with scaler
    0 is the last resort.
    """
    if not isinstance(value, int) and not math.isfinite(value):
        raise ValueError(f"{code}: {value} cannot be sent by a meter")
    _a, quantity, _d = _quantity(code)
    types = _SMALL_TYPES if quantity in _SMALL_QUANTITIES else _LARGE_TYPES
    preferred = meter_scaler(code)
    for scaler in (preferred, *(s for s in _FALLBACK_SCALERS if s != preferred)):
        raw = raw_value(value, scaler)
        if raw is not None:
            element = _integer_element(raw, types)
            if element is not None:
                return element, scaler
    if not isinstance(value, int):
        return axdr_float64(value), 0
    raise ValueError(f"{code}: {value} does not fit a 64-bit register")


def _scaler_unit(scaler: int, unit: Unit) -> bytes:
    return axdr_structure(axdr_integer(scaler), axdr_enum(_UNIT_CODES[unit]))


def _whole(code: str, value: float, data_type: DataType, scaler: int = 0) -> bytes:
    """A register sent without a scaler structure, e.g. in a positional layout."""
    raw = raw_value(value, scaler)
    if raw is None or not fits(data_type, raw):
        unit_of = f" x 10^{scaler}" if scaler else ""
        raise ValueError(
            f"{code}: {value} is not representable as "
            f"{data_type.name.lower()}{unit_of} in this layout"
        )
    return axdr_number(data_type, raw)


def _text_bytes(text: str, what: str) -> bytes:
    if text != text.strip() or not text.isprintable() or not text:
        raise ValueError(
            f"the {what} must be printable text without surrounding spaces"
        )
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} must be ASCII text") from None


def _serial_bytes(reading: Reading) -> bytes:
    if reading.serial_number is None:
        return b""
    return _text_bytes(reading.serial_number, "serial number")


def _exact_values(
    reading: Reading, registers: Sequence[tuple[str, Unit]]
) -> list[float]:
    """The values of a positional layout, in wire order; they must all be there."""
    values = reading.values
    expected = [code for code, _unit in registers]
    missing = [code for code in expected if code not in values]
    extra = [code for code in values if code not in expected]
    if missing or extra:
        raise ValueError(
            f"layout {reading.layout} carries exactly {', '.join(expected)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not representable: {', '.join(extra)}" if extra else "")
        )
    for code, unit in registers:
        if values[code].unit is not unit:
            raise ValueError(
                f"{code} is sent in {unit.value or 'no unit'} by layout "
                f"{reading.layout}, not in {values[code].unit.value or 'no unit'}"
            )
    return [values[code].value for code in expected]


# --------------------------------------------------------------------------
# Layouts (notification bodies)

_P1_PUSH_LIST: Final = "0-6:25.9.0"
_P1_SHORT_SERIAL_LENGTH: Final = 8
_BURGENLAND_TYPES: Final = (
    (DataType.LONG_UNSIGNED,) * 6
    + (DataType.DOUBLE_LONG_UNSIGNED,) * 4
    + (DataType.LONG_UNSIGNED,) * 3
)
_E450_PUSH_SETUP: Final = "0-8:25.9.0"
# Objects that OBIS-tagged layouts use for the clock and the meter's identity.
_NOT_REGISTERS: Final = frozenset(
    {obis.CLOCK, obis.SERIAL_NUMBER, obis.LOGICAL_DEVICE_NAME, _E450_PUSH_SETUP}
)
_PUSH_SETUP_CLASS: Final = 40
_DATA_CLASS: Final = 1
_REGISTER_CLASS: Final = 3
_CLOCK_CLASS: Final = 8

# Layouts of Landis+Gyr E450 pushes: their clocks send no deviation and no
# hundredths.
_E450_LAYOUTS: Final = frozenset(
    {Layout.OBIS_PAIRS, Layout.SELF_DESCRIBING, Layout.BURGENLAND}
)


def transmitted_time(moment: datetime, layout: Layout) -> datetime:
    """The meter time of a reading as a decoder reads it back from the wire.

    Cut to hundredths of a second (to seconds for the E450 layouts and DSMR),
    with the fixed UTC offset the wire carries; E450 layouts carry no offset,
    so their time is in the meter's zone. Equality of aware datetimes in the
    autumn hour that occurs twice depends on the time zones compared (PEP
    495), so comparisons of decoded readings want this form.
    """
    whole_seconds = layout in _E450_LAYOUTS or layout is Layout.DSMR_TEXT
    local = moment.astimezone(METER_ZONE)
    local = local.replace(
        microsecond=0 if whole_seconds else local.microsecond // 10_000 * 10_000
    )
    if layout in _E450_LAYOUTS:
        return local
    offset = local.utcoffset()
    return local.replace(tzinfo=timezone(offset or timedelta(0)))


def _clock(reading: Reading, layout: Layout) -> bytes:
    """The 12 date-time bytes of the meter time, in the style of the layout's meters."""
    e450 = layout in _E450_LAYOUTS
    return encode_cosem_datetime(
        reading.meter_time, deviation=not e450, hundredths=not e450
    )


def _wiener_netze(reading: Reading, layout: Layout) -> bytes:
    values = _exact_values(reading, WN_REGISTERS)
    registers = [
        _whole(code, value, DataType.DOUBLE_LONG_UNSIGNED)
        for (code, _unit), value in zip(WN_REGISTERS, values, strict=True)
    ]
    clock = axdr_octet_string(_clock(reading, layout))
    if layout is Layout.WIENER_NETZE_IM350:
        if reading.serial_number is None:
            raise ValueError("layout wiener_netze_im350 carries a meter id")
        return axdr_structure(
            axdr_octet_string(_serial_bytes(reading)), clock, *registers
        )
    if reading.serial_number is not None:
        raise ValueError("layout wiener_netze carries no serial number")
    return axdr_structure(clock, *registers)


def _p1_positional(reading: Reading, _layout: Layout) -> bytes:
    """Kärnten/Wels P1 body.

    The eww Wels IM350 (8-character meter numbers) sends 10 elements; the
    Kärnten AM550 and IM350 add two empty customer-information strings.
    """
    values = _exact_values(reading, P1_REGISTERS)
    serial = _serial_bytes(reading)
    elements = [
        axdr_obis(_P1_PUSH_LIST),
        axdr_octet_string(serial),
        axdr_octet_string(encode_cosem_time(reading.meter_time)),
        axdr_octet_string(encode_cosem_date(reading.meter_time)),
        *(
            _whole(code, value, DataType.DOUBLE_LONG_UNSIGNED)
            for (code, _unit), value in zip(P1_REGISTERS, values, strict=True)
        ),
    ]
    if len(serial) != _P1_SHORT_SERIAL_LENGTH:
        elements += [axdr_octet_string(b""), axdr_octet_string(b"")]
    return axdr_structure(*elements)


def _burgenland(reading: Reading, _layout: Layout) -> bytes:
    registers = [(code, unit) for code, unit, _scaler in BURGENLAND_REGISTERS]
    values = _exact_values(reading, registers)
    if reading.serial_number is None:
        raise ValueError("layout burgenland carries a meter id")
    return axdr_structure(
        *(
            _whole(code, value, data_type, scaler)
            for (code, _unit, scaler), value, data_type in zip(
                BURGENLAND_REGISTERS, values, _BURGENLAND_TYPES, strict=True
            )
        ),
        axdr_octet_string(_serial_bytes(reading)),
    )


def _registers(reading: Reading) -> list[tuple[str, MeterValue]]:
    items = list(reading.values.items())
    if not items:
        raise ValueError(f"layout {reading.layout} needs at least one value")
    for code, _value in items:
        if code in _NOT_REGISTERS:
            raise ValueError(f"{code} is not a register value")
        obis.parse_obis(code)
    return items


def _obis_flat_triples(reading: Reading, layout: Layout) -> bytes:
    """Netz NÖ: date-time, OBIS/value/{scaler, unit} side by side, meter number."""
    elements = [axdr_octet_string(_clock(reading, layout))]
    for code, meter_value in _registers(reading):
        value, scaler = encode_register_value(code, meter_value.value)
        elements += [axdr_obis(code), value, _scaler_unit(scaler, meter_value.unit)]
    if reading.serial_number is not None:
        elements.append(axdr_octet_string(_serial_bytes(reading)))
    return axdr_structure(*elements)


def logical_device_name(serial_number: str, system_title: bytes = b"") -> str:
    """COSEM logical device name that KSM West Kaifa meters pair with a serial.

    ``1KFM0100000035`` goes with ``KFM1100100000035``; other serial numbers
    get the manufacturer id and the serial number.
    """
    if (
        len(serial_number) == 14
        and serial_number[0].isdigit()
        and serial_number[1:4].isalpha()
        and serial_number[4:].isdigit()
    ):
        return f"{serial_number[1:4]}1{serial_number[5]}0{serial_number[4:]}"
    flag = system_title[:3]
    prefix = flag.decode() if flag.isalpha() and flag.isupper() else "KFM"
    return f"{prefix}{serial_number}"[:16].rstrip()


def _obis_triples(reading: Reading, layout: Layout) -> bytes:
    """KSM West: clock, serial number, device name, one structure per register."""
    elements = [axdr_obis(obis.CLOCK), axdr_octet_string(_clock(reading, layout))]
    if reading.serial_number is not None:
        name = logical_device_name(reading.serial_number, reading.system_title)
        elements += [
            axdr_structure(
                axdr_obis(obis.SERIAL_NUMBER),
                axdr_octet_string(_serial_bytes(reading)),
            ),
            axdr_structure(
                axdr_obis(obis.LOGICAL_DEVICE_NAME),
                axdr_octet_string(_text_bytes(name, "logical device name")),
            ),
        ]
    for code, meter_value in _registers(reading):
        value, scaler = encode_register_value(code, meter_value.value)
        elements.append(
            axdr_structure(
                axdr_obis(code), value, _scaler_unit(scaler, meter_value.unit)
            )
        )
    return axdr_structure(*elements)


def _implied(code: str, meter_value: MeterValue) -> bytes | None:
    """A register value as an E450 sends it (no scaler), if that represents it."""
    if meter_value.unit is not (obis.default_unit(code) or Unit.NONE):
        return None
    scaler = _E450_SCALERS.get(code, 0)
    raw = raw_value(meter_value.value, scaler)
    if raw is None:
        return None
    _a, quantity, _d = _quantity(code)
    types = _SMALL_TYPES if quantity in _SMALL_QUANTITIES else _LARGE_TYPES
    return _integer_element(raw, types)


def _obis_pairs(reading: Reading, layout: Layout) -> bytes:
    """L+G E450 block-transfer push: date-time, then OBIS/value side by side."""
    elements = [axdr_octet_string(_clock(reading, layout))]
    if reading.serial_number is not None:
        elements += [
            axdr_obis(obis.SERIAL_NUMBER),
            axdr_octet_string(_serial_bytes(reading)),
        ]
    for code, meter_value in _registers(reading):
        value = _implied(code, meter_value)
        if value is None:
            raise ValueError(
                f"{code}: {meter_value.value} {meter_value.unit.value} is not "
                "representable in layout obis_pairs (no scalers or units on the wire)"
            )
        elements += [axdr_obis(code), value]
    return axdr_structure(*elements)


def _descriptor(class_id: int, code: str, attribute: int) -> bytes:
    return axdr_structure(
        axdr_long_unsigned(class_id),
        axdr_obis(code),
        axdr_integer(attribute),
        axdr_long_unsigned(0),
    )


def _self_describing(reading: Reading, layout: Layout) -> bytes:
    """L+G E450 with capture-object descriptors in front of the values.

    Registers whose value the E450's implied scaling cannot represent get a
    scaler-unit (attribute 3) entry of their own.
    """
    descriptors = [
        _descriptor(_PUSH_SETUP_CLASS, _E450_PUSH_SETUP, 2),
        _descriptor(_PUSH_SETUP_CLASS, _E450_PUSH_SETUP, 1),
    ]
    values = [axdr_obis(_E450_PUSH_SETUP)]
    if reading.serial_number is not None:
        descriptors.append(_descriptor(_DATA_CLASS, obis.SERIAL_NUMBER, 2))
        values.append(axdr_octet_string(_serial_bytes(reading)))
    descriptors.append(_descriptor(_CLOCK_CLASS, obis.CLOCK, 2))
    values.append(axdr_octet_string(_clock(reading, layout)))
    for code, meter_value in _registers(reading):
        descriptors.append(_descriptor(_REGISTER_CLASS, code, 2))
        value = _implied(code, meter_value)
        if value is not None:
            values.append(value)
            continue
        value, scaler = encode_register_value(code, meter_value.value)
        descriptors.append(_descriptor(_REGISTER_CLASS, code, 3))
        values += [value, _scaler_unit(scaler, meter_value.unit)]
    # The push's own capture-object list comes first: it is captured as well.
    return axdr_structure(axdr_array(descriptors), *values)


_BODY_BUILDERS: Final[dict[Layout, Callable[[Reading, Layout], bytes]]] = {
    Layout.WIENER_NETZE: _wiener_netze,
    Layout.WIENER_NETZE_IM350: _wiener_netze,
    Layout.P1_POSITIONAL: _p1_positional,
    Layout.OBIS_FLAT_TRIPLES: _obis_flat_triples,
    Layout.OBIS_TRIPLES: _obis_triples,
    Layout.OBIS_PAIRS: _obis_pairs,
    Layout.SELF_DESCRIBING: _self_describing,
    Layout.BURGENLAND: _burgenland,
}


def _layout(reading: Reading) -> Layout:
    try:
        return Layout(reading.layout)
    except ValueError:
        raise ValueError(f"unknown layout {reading.layout!r}") from None


def encode_notification_body(reading: Reading) -> bytes:
    """The A-XDR notification body of the reading's layout.

    Raises ``ValueError`` when the layout cannot carry the reading (missing or
    extra values, wrong units, values out of range), and for ``dsmr_text``,
    which is no A-XDR body (see :func:`encode_dsmr_telegram`).
    """
    layout = _layout(reading)
    builder = _BODY_BUILDERS.get(layout)
    if builder is None:
        raise ValueError(f"layout {layout} has no A-XDR notification body")
    return builder(reading, layout)


# --------------------------------------------------------------------------
# DSMR text

_DSMR_UNITS: Final = {
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
_DSMR_VERSION_LINE: Final = "1-3:0.2.8(50)"


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
    lines = [f"/{flag}5\\2{_text_bytes(ident, 'serial number').decode()}", ""]
    lines.append(_DSMR_VERSION_LINE)
    if reading.meter_time is not None:
        local = reading.meter_time.astimezone(METER_ZONE)
        # Two-digit years: readers take 69-99 as 1969-1999 (POSIX strptime).
        if not 2000 <= local.year <= 2068:
            raise ValueError("DSMR telegrams carry the years 2000-2068 only")
        season = "S" if local.dst() else "W"
        lines.append(f"{obis.CLOCK}({local:%y%m%d%H%M%S}{season})")
    if reading.serial_number is not None:
        lines.append(f"{obis.SERIAL_NUMBER}({_serial_bytes(reading).hex().upper()})")
    for code, meter_value in reading.values.items():
        unit = _DSMR_UNITS.get(meter_value.unit)
        if unit is None or "*" in code:
            raise ValueError(
                f"{code} in {meter_value.unit.value or 'no unit'} is not "
                "representable in a DSMR telegram"
            )
        obis.parse_obis(code)
        lines.append(f"{code}({_dsmr_number(code, meter_value.value)}*{unit})")
    text = ("\r\n".join(lines) + "\r\n!").encode("ascii")
    return text + f"{crc16_arc(text):04X}\r\n".encode("ascii")


# --------------------------------------------------------------------------
# APDUs


def encode_data_notification(
    body: bytes, *, invoke_id: int, date_time: bytes | None
) -> bytes:
    """``0F <long-invoke-id-and-priority> <date-time> <body>``.

    ``date_time`` is the 12-byte COSEM date-time of the header, or ``None``
    for the empty form (``00``).
    """
    if not 0 <= invoke_id < 2**32:
        raise ValueError(f"the long-invoke-id must fit 32 bits, got {invoke_id}")
    header_time = b"\x00" if date_time is None else bytes((len(date_time),)) + date_time
    return (
        bytes((ApduTag.DATA_NOTIFICATION,))
        + invoke_id.to_bytes(4, "big")
        + header_time
        + body
    )


def encode_plaintext(reading: Reading, *, invoke_id: int | None = None) -> bytes:
    """The unciphered APDU of a reading: a data-notification or a DSMR telegram.

    ``invoke_id`` defaults to the invocation counter (0 without one), as the
    L+G E450 does; the AM550 sends the counter plus one.
    """
    layout = _layout(reading)
    if layout is Layout.DSMR_TEXT:
        return encode_dsmr_telegram(reading)
    if invoke_id is None:
        invoke_id = reading.invocation_counter or 0
    date_time = None if reading.meter_time is None else _clock(reading, layout)
    return encode_data_notification(
        encode_notification_body(reading), invoke_id=invoke_id, date_time=date_time
    )


def _check_security(
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None,
    security_control: int,
) -> None:
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(
            f"the system title must be {SYSTEM_TITLE_LENGTH} bytes, "
            f"got {len(system_title)}"
        )
    if not 0 <= invocation_counter < 2**32:
        raise ValueError(
            f"the invocation counter must fit 32 bits, got {invocation_counter}"
        )
    if len(encryption_key) != KEY_LENGTH:
        raise ValueError(f"the encryption key must be {KEY_LENGTH} bytes")
    if not 0 <= security_control <= 0xFF:
        raise ValueError("the security control byte must fit 8 bits")
    if not security_control & _SC_ENCRYPTION:
        raise ValueError(
            f"security control 0x{security_control:02X} does not encrypt; only "
            "0x2n (encryption) and 0x3n (authenticated encryption) are supported"
        )
    if security_control & _SC_COMPRESSION:
        raise ValueError("compression (security control bit 7) is not supported")
    if security_control & 0x0F > 1:
        raise ValueError(
            f"security suite {security_control & 0x0F} is not supported "
            "(suites 0 and 1 use AES-GCM-128)"
        )
    if security_control & _SC_AUTHENTICATION and (
        authentication_key is None or len(authentication_key) != KEY_LENGTH
    ):
        raise ValueError(
            f"security control 0x{security_control:02X} authenticates: an "
            f"authentication key of {KEY_LENGTH} bytes is needed"
        )


def encrypt_payload(  # noqa: PLR0913 - the fields of the security header and both keys
    plaintext: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
    security_control: int = SC_ENCRYPTED,
) -> bytes:
    """``ciphertext [|| tag]`` of ``plaintext`` under DLMS security suite 0/1.

    Encryption only (SC 0x2n) is AES-GCM without the tag, i.e. AES-CTR from
    the counter block ``system title || IC || 00000002``. Authenticated
    encryption (SC 0x3n) is AES-GCM with ``SC || AK`` as additional data and
    the tag cut to 12 bytes.
    """
    _check_security(
        system_title,
        invocation_counter,
        encryption_key,
        authentication_key,
        security_control,
    )
    iv = system_title + invocation_counter.to_bytes(4, "big")
    if security_control & _SC_AUTHENTICATION and authentication_key is not None:
        gcm = Cipher(algorithms.AES(encryption_key), modes.GCM(iv)).encryptor()
        gcm.authenticate_additional_data(
            bytes((security_control,)) + authentication_key
        )
        ciphertext = gcm.update(plaintext) + gcm.finalize()
        return ciphertext + gcm.tag[:TAG_LENGTH]
    ctr = Cipher(
        algorithms.AES(encryption_key), modes.CTR(iv + b"\x00\x00\x00\x02")
    ).encryptor()
    return ctr.update(plaintext) + ctr.finalize()


def encode_general_glo_ciphering(  # noqa: PLR0913 - the security header and both keys
    plaintext: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
    security_control: int = SC_ENCRYPTED,
) -> bytes:
    """``DB 08 <system title> <length> <SC> <IC> <ciphertext> [<tag>]``."""
    ciphered = encrypt_payload(
        plaintext,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
    )
    content = (
        bytes((security_control,)) + invocation_counter.to_bytes(4, "big") + ciphered
    )
    return (
        bytes((ApduTag.GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH))
        + system_title
        + encode_length(len(content))
        + content
    )


def encode_general_block_transfer(
    apdu: bytes, block_size: int, *, first_block_size: int | None = None
) -> list[bytes]:
    """Split an APDU into general-block-transfer APDUs (``E0``).

    Each block is ``E0 <block-control> <block-number> <ack-number> <length>
    <data>`` with at most ``block_size`` data bytes (``first_block_size`` for
    the first block). Block numbers start at 1; as with the E450 every block
    is marked "streaming", and the last one "last block".
    """
    first = block_size if first_block_size is None else first_block_size
    if block_size < 1 or first < 1:
        raise ValueError("general-block-transfer blocks need at least one byte")
    chunks = [apdu[:first]]
    chunks += [apdu[i : i + block_size] for i in range(first, len(apdu), block_size)]
    if len(chunks) > 0xFFFF:
        raise ValueError("too many blocks for one general-block-transfer")
    blocks = []
    for number, chunk in enumerate(chunks, start=1):
        control = _BLOCK_STREAMING | (_BLOCK_LAST if number == len(chunks) else 0)
        blocks.append(
            bytes((ApduTag.GENERAL_BLOCK_TRANSFER, control))
            + number.to_bytes(2, "big")
            + b"\x00\x00"
            + encode_length(len(chunk))
            + chunk
        )
    return blocks


def encode_apdu(
    reading: Reading,
    *,
    encryption_key: bytes | None,
    authentication_key: bytes | None = None,
    security_control: int | None = None,
    invoke_id: int | None = None,
) -> bytes:
    """The APDU of a reading: plain ``0F`` or a general-glo-ciphering ``DB``.

    ``security_control`` defaults to what ``reading.security`` says: none
    (a plain data-notification), 0x20 (encrypted) or 0x30 (authenticated).
    """
    if security_control is None:
        security_control = {
            SecurityLevel.NONE: None,
            SecurityLevel.ENCRYPTED: SC_ENCRYPTED,
            SecurityLevel.AUTHENTICATED: SC_AUTHENTICATED,
        }[reading.security]
    plaintext = encode_plaintext(reading, invoke_id=invoke_id)
    if security_control is None:
        if _layout(reading) is Layout.DSMR_TEXT:
            raise ValueError("DSMR telegrams are only sent inside a ciphered APDU")
        return plaintext
    if encryption_key is None:
        raise ValueError("an encrypted reading needs an encryption key")
    if reading.invocation_counter is None:
        raise ValueError("an encrypted reading needs an invocation counter")
    return encode_general_glo_ciphering(
        plaintext,
        system_title=reading.system_title,
        invocation_counter=reading.invocation_counter,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
    )


# --------------------------------------------------------------------------
# Link layer

HDLC_CLIENT_ADDRESS: Final = b"\xcf"
HDLC_SERVER_ADDRESS: Final = b"\x02\x23"
_HDLC_ADDRESSES: Final[Mapping[Layout, tuple[bytes, bytes]]] = {
    Layout.WIENER_NETZE_IM350: (HDLC_CLIENT_ADDRESS, b"\x00\x02\x00\x23"),
    Layout.OBIS_PAIRS: (b"\xce\xff", b"\x03"),
    Layout.SELF_DESCRIBING: (b"\xce\xff", b"\x03"),
    Layout.BURGENLAND: (b"\xce\xff", b"\x03"),
}
_USUAL_LINKS: Final[Mapping[Layout, LinkLayer]] = {
    Layout.OBIS_FLAT_TRIPLES: LinkLayer.MBUS,
    Layout.OBIS_TRIPLES: LinkLayer.MBUS,
    Layout.DSMR_TEXT: LinkLayer.APDU,
}
MBUS_MAX_SEGMENT: Final = 245
"""User data per M-Bus segment, as Netz NÖ and KSM West meters send it."""


def usual_link(layout: Layout) -> LinkLayer:
    """The link layer the meters of ``layout`` use (M-Bus, raw APDU or HDLC)."""
    return _USUAL_LINKS.get(layout, LinkLayer.HDLC)


def hdlc_addresses(layout: Layout) -> tuple[bytes, bytes]:
    """``(client, server)`` HDLC addresses the meters of ``layout`` push with."""
    return _HDLC_ADDRESSES.get(layout, (HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS))


def encode_link(
    payloads: Sequence[bytes],
    *,
    link: LinkLayer,
    max_information: int | None = None,
    addresses: tuple[bytes, bytes] = (HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS),
) -> bytes:
    """Each payload (an APDU or a block) in its own link-layer message.

    HDLC: segmented when longer than ``max_information``; M-Bus: segments of
    ``max_information`` user-data bytes (default 245); raw APDU: the payloads
    back to back.
    """
    if link is LinkLayer.HDLC:
        client, server = addresses
        return b"".join(
            encode_hdlc(
                payload,
                client_address=client,
                server_address=server,
                max_information=max_information,
            )
            for payload in payloads
        )
    if link is LinkLayer.MBUS:
        return b"".join(
            encode_mbus(payload, max_segment=max_information or MBUS_MAX_SEGMENT)
            for payload in payloads
        )
    if link is LinkLayer.APDU:
        return b"".join(payloads)
    raise ValueError(f"no link layer to encode: {link}")


def encode_reading(  # noqa: PLR0913 - every option of a push is a keyword
    reading: Reading,
    *,
    encryption_key: bytes | None,
    authentication_key: bytes | None = None,
    security_control: int | None = None,
    link: LinkLayer = LinkLayer.HDLC,
    block_size: int | None = None,
    max_information: int | None = None,
    invoke_id: int | None = None,
    addresses: tuple[bytes, bytes] | None = None,
) -> bytes:
    """Wire bytes of a reading, ready for :meth:`MeterDecoder.feed`.

    Args:
        reading: What to send. ``reading.layout`` picks the notification
            body, ``reading.security`` the default security, and
            ``system_title``/``invocation_counter`` go into the ciphering
            header (a plain reading has neither).
        encryption_key: The 16-byte key; ``None`` only for plain readings.
        authentication_key: The 16-byte key, needed with security control
            0x3n.
        security_control: Overrides the security control byte that
            ``reading.security`` implies (0x20 encrypted, 0x30
            authenticated, none for plain); e.g. 0x21 as KSM West sends it.
        link: HDLC (default), M-Bus, raw APDU, or AUTO for the link the
            layout's meters use.
        block_size: Split the APDU into general-block-transfer blocks of this
            many bytes, each in its own link frame (the E450 style).
        max_information: HDLC: segment information fields longer than this.
            M-Bus: user-data bytes per segment (default 245).
        invoke_id: The data-notification's long-invoke-id (default: the
            invocation counter).
        addresses: ``(client, server)`` HDLC addresses; default: those of
            the layout's meters.

    Raises:
        ValueError: The reading cannot be sent in its layout, or a key or
            option is missing or invalid (messages never contain keys).

    """
    layout = _layout(reading)
    if link is LinkLayer.AUTO:
        link = usual_link(layout)
    apdu = encode_apdu(
        reading,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
        invoke_id=invoke_id,
    )
    if link is LinkLayer.APDU and (
        block_size is not None or apdu[0] != ApduTag.GENERAL_GLO_CIPHERING
    ):
        # A reader finds a raw APDU by its ciphering header only.
        raise ValueError(
            "without a link layer only a ciphered APDU can be sent, and not in "
            "general-block-transfer blocks"
        )
    payloads = (
        [apdu]
        if block_size is None
        else encode_general_block_transfer(apdu, block_size)
    )
    return encode_link(
        payloads,
        link=link,
        max_information=max_information,
        addresses=addresses or hdlc_addresses(layout),
    )
