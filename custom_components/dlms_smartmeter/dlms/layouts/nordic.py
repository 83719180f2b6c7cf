"""The Norwegian Kaifa lists: values in a fixed order, no OBIS codes on the wire.

Kaifa meters in Norway push three lists (NVE HAN, list identifier
``KFM_001``): list 1 is the active power alone; list 2 adds the list
identifier, meter ID, meter type, the four powers and the currents and
voltages of one or three phases; list 3 (each hour) adds the clock and the
four energy registers. Every number is a double-long-unsigned without a
scaler; the scaling is the convention
:data:`~.conventions.KAIFA_KFM001`. The element order is the one
toreamun/amshan ``han/kaifa.py`` reads, and its and turbokongen/hass-AMS's
tests confirm it with real frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .. import obis
from ..axdr import Data, DataType, axdr_octet_string, axdr_structure
from ..body import BodyValues, Layout, scale, serial_bytes, text_bytes
from ..reading import MeterValue
from .conventions import KAIFA_KFM001
from .values import clock_bytes, date_time_of, integers, text_of, whole

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..body import ClockStyle
    from ..reading import Reading

KAIFA_LIST_ID: Final = "KFM_001"
_POWERS: Final = (
    obis.ACTIVE_POWER_IMPORT,
    obis.ACTIVE_POWER_EXPORT,
    obis.REACTIVE_POWER_IMPORT,
    obis.REACTIVE_POWER_EXPORT,
)
_ENERGIES: Final = (
    obis.ACTIVE_ENERGY_IMPORT,
    obis.ACTIVE_ENERGY_EXPORT,
    obis.REACTIVE_ENERGY_IMPORT,
    obis.REACTIVE_ENERGY_EXPORT,
)
_ONE_PHASE: Final = (*_POWERS, obis.CURRENT_L1, obis.VOLTAGE_L1)
_THREE_PHASES: Final = (
    *_POWERS,
    obis.CURRENT_L1,
    obis.CURRENT_L2,
    obis.CURRENT_L3,
    obis.VOLTAGE_L1,
    obis.VOLTAGE_L2,
    obis.VOLTAGE_L3,
)
KAIFA_REGISTERS: Final = (*_THREE_PHASES, *_ENERGIES)
"""The registers of the largest list (list 3, three phases), in wire order."""
# Meter types as the meters send them, for writing lists.
_METER_TYPES: Final = {_ONE_PHASE: "MA105H2E", _THREE_PHASES: "MA304H3E"}
_HEAD: Final = 3  # list identifier, meter ID, meter type


def _scaled(codes: Sequence[str], items: Sequence[Data]) -> dict[str, MeterValue]:
    numbers = integers(items, DataType.DOUBLE_LONG_UNSIGNED)
    if numbers is None or len(numbers) != len(codes):
        return {}
    values = {}
    for code, number in zip(codes, numbers, strict=True):
        scaler, unit = KAIFA_KFM001.scaling(code)
        values[code] = MeterValue(scale(number, scaler), unit)
    return values


def decode_kaifa(body: Data) -> BodyValues | None:
    """List 1 (one value), or list 2 or 3 of one or three phases."""
    items = body.items
    if not body.is_structure():
        return None
    if len(items) == 1:
        values = _scaled((obis.ACTIVE_POWER_IMPORT,), items)
        return BodyValues(Layout.KAIFA_NVE, values) if values else None
    if len(items) < _HEAD or text_of(items[0]) != KAIFA_LIST_ID:
        return None
    if not all(item.is_octet_string() for item in items[:_HEAD]):
        return None
    registers = items[_HEAD:]
    for phases in (_ONE_PHASE, _THREE_PHASES):
        if len(registers) == len(phases):
            values = _scaled(phases, registers)
            clock = None
        elif len(registers) == len(phases) + 1 + len(_ENERGIES):
            energies = registers[len(phases) + 1 :]
            values = _scaled(phases, registers[: len(phases)])
            values |= _scaled(_ENERGIES, energies) if values else {}
            if not registers[len(phases)].is_octet_string(12):
                continue
            clock = date_time_of(registers[len(phases)])
            if len(values) != len(phases) + len(_ENERGIES):
                continue
        else:
            continue
        if values:
            return BodyValues(
                Layout.KAIFA_NVE,
                values,
                serial_number=text_of(items[1]),
                clock=clock,
            )
    return None


def encode_kaifa(reading: Reading, clock: ClockStyle) -> bytes:
    """The Kaifa list whose registers are exactly the reading's values."""
    codes = set(reading.values)
    if codes == {obis.ACTIVE_POWER_IMPORT} and reading.serial_number is None:
        return axdr_structure(_register(reading, obis.ACTIVE_POWER_IMPORT))
    for phases, meter_type in _METER_TYPES.items():
        if codes not in ({*phases}, {*phases, *_ENERGIES}):
            continue
        elements = [
            axdr_octet_string(text_bytes(KAIFA_LIST_ID, "list identifier")),
            axdr_octet_string(serial_bytes(reading)),
            axdr_octet_string(meter_type.encode("ascii")),
            *(_register(reading, code) for code in phases),
        ]
        if len(codes) > len(phases):
            elements.append(axdr_octet_string(clock_bytes(reading.meter_time, clock)))
            elements += [_register(reading, code) for code in _ENERGIES]
        return axdr_structure(*elements)
    raise ValueError(
        f"layout {reading.layout} carries the active power alone (without a "
        f"meter ID), or exactly {', '.join(_ONE_PHASE)} or "
        f"{', '.join(_THREE_PHASES)}, each optionally with {', '.join(_ENERGIES)}"
    )


def _register(reading: Reading, code: str) -> bytes:
    scaler, unit = KAIFA_KFM001.scaling(code)
    value = reading.values[code]
    if value.unit is not unit:
        raise ValueError(
            f"{code} is sent in {unit.value} by layout {reading.layout}, "
            f"not in {value.unit.value or 'no unit'}"
        )
    return whole(code, value.value, DataType.DOUBLE_LONG_UNSIGNED, scaler)
