"""Positional layouts: values in a fixed order, no OBIS codes on the wire.

Wiener Netze (with and without the IM350's meter id), the Kärnten/Wels P1
push and the Netz Burgenland E450 push. A body is recognised by its exact
shape (element count and types).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from .. import obis
from ..axdr import Data, DataType, axdr_obis, axdr_octet_string, axdr_structure
from ..body import BodyValues, Layout, scale, serial_bytes
from ..cosem_time import (
    combine_local,
    encode_cosem_date,
    encode_cosem_time,
    parse_date,
    parse_date_time,
    parse_time,
)
from ..reading import MeterValue, Unit
from .values import (
    clock_bytes,
    date_time_of,
    exact_values,
    integers,
    text_of,
    whole,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..body import ClockStyle
    from ..reading import Reading

# The order of the values on the wire.
WN_REGISTERS: Final = (
    (obis.ACTIVE_ENERGY_IMPORT, Unit.WATT_HOUR),
    (obis.ACTIVE_ENERGY_EXPORT, Unit.WATT_HOUR),
    (obis.REACTIVE_ENERGY_IMPORT, Unit.VAR_HOUR),
    (obis.REACTIVE_ENERGY_EXPORT, Unit.VAR_HOUR),
    (obis.ACTIVE_POWER_IMPORT, Unit.WATT),
    (obis.ACTIVE_POWER_EXPORT, Unit.WATT),
    (obis.REACTIVE_POWER_IMPORT, Unit.VAR),
    (obis.REACTIVE_POWER_EXPORT, Unit.VAR),
)
P1_REGISTERS: Final = WN_REGISTERS[:6]
BURGENLAND_REGISTERS: Final = (
    (obis.VOLTAGE_L1, Unit.VOLT, 0),
    (obis.VOLTAGE_L2, Unit.VOLT, 0),
    (obis.VOLTAGE_L3, Unit.VOLT, 0),
    (obis.CURRENT_L1, Unit.AMPERE, -2),
    (obis.CURRENT_L2, Unit.AMPERE, -2),
    (obis.CURRENT_L3, Unit.AMPERE, -2),
    (obis.ACTIVE_POWER_IMPORT, Unit.WATT, 0),
    (obis.ACTIVE_POWER_EXPORT, Unit.WATT, 0),
    (obis.ACTIVE_ENERGY_IMPORT, Unit.WATT_HOUR, 0),
    (obis.ACTIVE_ENERGY_EXPORT, Unit.WATT_HOUR, 0),
    # The U-I angles come unscaled: read as whole degrees, U x I x cos(angle)
    # of the phases adds up to the pushed +P.
    (obis.ANGLE_U_I_L1, Unit.DEGREE, 0),
    (obis.ANGLE_U_I_L2, Unit.DEGREE, 0),
    (obis.ANGLE_U_I_L3, Unit.DEGREE, 0),
)
_BURGENLAND_TYPES: Final = (
    (DataType.LONG_UNSIGNED,) * 6
    + (DataType.DOUBLE_LONG_UNSIGNED,) * 4
    + (DataType.LONG_UNSIGNED,) * 3
)
# The whole Wiener Netze body as bytes: structure(9), octet-string(12) and
# eight tagged double-long-unsigned values.
_WN_BODY: Final = struct.Struct(">4s12s" + "BI" * len(WN_REGISTERS))
_WN_HEAD: Final = b"\x02\x09\x09\x0c"
_WN_TAGS: Final = (DataType.DOUBLE_LONG_UNSIGNED.value,) * len(WN_REGISTERS)
WN_CODES: Final = tuple(code for code, _unit in WN_REGISTERS)
_WN_UNITS: Final = tuple(unit for _code, unit in WN_REGISTERS)
_P1_PUSH_LIST: Final = "0-6:25.9.0"
_P1_PUSH_SETUP: Final = b"\x19\x09"  # C and D of the push setup object x-x:25.9.x
_P1_SHORT_SERIAL_LENGTH: Final = 8


def _positional(
    items: Sequence[Data], registers: Sequence[tuple[str, Unit]]
) -> dict[str, MeterValue] | None:
    """Values of double-long-unsigned items in register order, else ``None``."""
    numbers = integers(items, DataType.DOUBLE_LONG_UNSIGNED)
    if numbers is None or len(numbers) != len(registers):
        return None
    return {
        code: MeterValue(number, unit)
        for number, (code, unit) in zip(numbers, registers, strict=True)
    }


def _registers(reading: Reading, registers: Sequence[tuple[str, Unit]]) -> list[bytes]:
    values = exact_values(reading, registers)
    return [
        whole(code, value, DataType.DOUBLE_LONG_UNSIGNED)
        for (code, _unit), value in zip(registers, values, strict=True)
    ]


# --- Wiener Netze ---------------------------------------------------------------


def decode_wiener_netze(body: Data) -> BodyValues | None:
    """structure(9): date-time, 8 registers."""
    items = body.items
    if not body.is_structure(9) or not items[0].is_octet_string(12):
        return None
    values = _positional(items[1:], WN_REGISTERS)
    if values is None:
        return None
    return BodyValues(Layout.WIENER_NETZE, values, clock=date_time_of(items[0]))


def read_wiener_netze(data: bytes, offset: int) -> BodyValues | None:
    """:func:`decode_wiener_netze` straight from the body's bytes at ``offset``.

    The layout has one byte form, so it is read without decoding A-XDR
    first: the same result, a fraction of the work.
    """
    if len(data) - offset != _WN_BODY.size or data[offset : offset + 4] != _WN_HEAD:
        return None
    fields = _WN_BODY.unpack_from(data, offset)
    if fields[2::2] != _WN_TAGS:
        return None
    values = dict(zip(WN_CODES, map(MeterValue, fields[3::2], _WN_UNITS), strict=True))
    return BodyValues(Layout.WIENER_NETZE, values, clock=parse_date_time(fields[1]))


def encode_wiener_netze(reading: Reading, clock: ClockStyle) -> bytes:
    """structure(9): date-time, 8 registers."""
    registers = _registers(reading, WN_REGISTERS)
    date_time = axdr_octet_string(clock_bytes(reading.meter_time, clock))
    if reading.serial_number is not None:
        raise ValueError("layout wiener_netze carries no serial number")
    return axdr_structure(date_time, *registers)


def decode_wiener_netze_im350(body: Data) -> BodyValues | None:
    """structure(10): meter id, date-time, 8 registers."""
    items = body.items
    if not body.is_structure(10) or not items[1].is_octet_string(12):
        return None
    serial = text_of(items[0])
    if not items[0].is_octet_string() or serial is None:
        return None
    values = _positional(items[2:], WN_REGISTERS)
    if values is None:
        return None
    return BodyValues(
        Layout.WIENER_NETZE_IM350,
        values,
        serial_number=serial,
        clock=date_time_of(items[1]),
    )


def encode_wiener_netze_im350(reading: Reading, clock: ClockStyle) -> bytes:
    """structure(10): meter id, date-time, 8 registers."""
    registers = _registers(reading, WN_REGISTERS)
    date_time = axdr_octet_string(clock_bytes(reading.meter_time, clock))
    if reading.serial_number is None:
        raise ValueError("layout wiener_netze_im350 carries a meter id")
    return axdr_structure(
        axdr_octet_string(serial_bytes(reading)), date_time, *registers
    )


# --- Kärnten/Wels P1 ------------------------------------------------------------


def decode_p1_positional(body: Data) -> BodyValues | None:
    """Push list, meter number, time, date, 6 registers [, 2 strings]."""
    items = body.items
    if not (body.is_structure(10) or body.is_structure(12)):
        return None
    push_list = items[0].value
    if not items[0].is_octet_string(6) or not isinstance(push_list, bytes):
        return None
    if push_list[2:4] != _P1_PUSH_SETUP:
        return None
    if not (
        items[1].is_octet_string()
        and items[2].is_octet_string(4)
        and items[3].is_octet_string(5)
        and all(item.is_octet_string() for item in items[10:])
    ):
        return None
    values = _positional(items[4:10], P1_REGISTERS)
    if values is None:
        return None
    day = parse_date(items[3].value) if isinstance(items[3].value, bytes) else None
    clock = parse_time(items[2].value) if isinstance(items[2].value, bytes) else None
    return BodyValues(
        Layout.P1_POSITIONAL,
        values,
        serial_number=text_of(items[1]),
        clock=combine_local(day, clock),
    )


def encode_p1_positional(reading: Reading, _clock: ClockStyle) -> bytes:
    """Kärnten/Wels P1 body.

    The eww Wels IM350 (8-character meter numbers) sends 10 elements; the
    Kärnten AM550 and IM350 add two empty customer-information strings.
    """
    registers = _registers(reading, P1_REGISTERS)
    serial = serial_bytes(reading)
    elements = [
        axdr_obis(_P1_PUSH_LIST),
        axdr_octet_string(serial),
        axdr_octet_string(encode_cosem_time(reading.meter_time)),
        axdr_octet_string(encode_cosem_date(reading.meter_time)),
        *registers,
    ]
    if len(serial) != _P1_SHORT_SERIAL_LENGTH:
        elements += [axdr_octet_string(b""), axdr_octet_string(b"")]
    return axdr_structure(*elements)


# --- Netz Burgenland --------------------------------------------------------------


def decode_burgenland(body: Data) -> BodyValues | None:
    """structure(14): 13 registers, meter id."""
    items = body.items
    if not body.is_structure(14) or not items[13].is_octet_string():
        return None
    voltages_currents = integers(items[0:6], DataType.LONG_UNSIGNED)
    powers_energies = integers(items[6:10], DataType.DOUBLE_LONG_UNSIGNED)
    angles = integers(items[10:13], DataType.LONG_UNSIGNED)
    if voltages_currents is None or powers_energies is None or angles is None:
        return None
    numbers = voltages_currents + powers_energies + angles
    values = {
        code: MeterValue(scale(number, scaler), unit)
        for number, (code, unit, scaler) in zip(
            numbers, BURGENLAND_REGISTERS, strict=True
        )
    }
    return BodyValues(Layout.BURGENLAND, values, serial_number=text_of(items[13]))


def encode_burgenland(reading: Reading, _clock: ClockStyle) -> bytes:
    """structure(14): 13 registers, meter id."""
    registers = [(code, unit) for code, unit, _scaler in BURGENLAND_REGISTERS]
    values = exact_values(reading, registers)
    if reading.serial_number is None:
        raise ValueError("layout burgenland carries a meter id")
    return axdr_structure(
        *(
            whole(code, value, data_type, scaler)
            for (code, _unit, scaler), value, data_type in zip(
                BURGENLAND_REGISTERS, values, _BURGENLAND_TYPES, strict=True
            )
        ),
        axdr_octet_string(serial_bytes(reading)),
    )
