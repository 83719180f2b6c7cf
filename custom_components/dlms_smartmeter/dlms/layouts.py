"""Notification bodies to meter values: one mapper per known payload layout.

A layout is recognised by the *shape* of the decoded A-XDR body (element
count, element types, OBIS codes present), never by byte offsets. Positional
layouts (no OBIS codes on the wire) are tried first because their shapes are
exact; then the self-describing variant; then the generic walk over
OBIS-tagged registers. Values a layout does not deliver are absent, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import TYPE_CHECKING

from . import obis
from .axdr import Data, DataType
from .cosem_time import (
    combine_local,
    is_plausible_date_time,
    parse_date,
    parse_date_time,
    parse_time,
)
from .errors import UnsupportedPayloadError
from .reading import MeterValue, Unit

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime


class Layout(StrEnum):
    """Names of the payload layouts this package understands."""

    WIENER_NETZE = "wiener_netze"
    """Wiener Netze AM550/E450 IR: structure(9) = date-time + 8 x u32."""
    WIENER_NETZE_IM350 = "wiener_netze_im350"
    """Wiener Netze Siemens IM350 IR: structure(10) = meter id, date-time, 8 x u32."""
    P1_POSITIONAL = "p1_positional"
    """Kärnten/Wels P1: push id, meter number, time, date, 6 x u32 [, 2 strings]."""
    OBIS_FLAT_TRIPLES = "obis_flat_triples"
    """Netz NÖ (EVN): date-time, then OBIS, value, {scaler, unit} side by side."""
    OBIS_TRIPLES = "obis_triples"
    """KSM West: one structure {OBIS, value[, {scaler, unit}]} per register."""
    OBIS_PAIRS = "obis_pairs"
    """L+G E450 block-transfer push: date-time, then OBIS, value side by side."""
    SELF_DESCRIBING = "self_describing"
    """L+G E450 with an array of capture-object descriptors in front."""
    BURGENLAND = "burgenland"
    """Netz Burgenland E450: 14 positional values."""
    DSMR_TEXT = "dsmr_text"
    """A DSMR ASCII telegram inside the cipher envelope (Steiermark T210-D-R)."""


UNITS: dict[int, Unit] = {
    8: Unit.DEGREE,
    27: Unit.WATT,
    28: Unit.VOLT_AMPERE,
    29: Unit.VAR,
    30: Unit.WATT_HOUR,
    31: Unit.VOLT_AMPERE_HOUR,
    32: Unit.VAR_HOUR,
    33: Unit.AMPERE,
    35: Unit.VOLT,
    44: Unit.HERTZ,
    255: Unit.NONE,
}
"""DLMS Blue Book unit enum to :class:`Unit` (unknown codes map to no unit)."""

# Landis+Gyr E450 registers are sent without scalers in the block-transfer and
# Burgenland pushes; the meter counts currents in 0.01 A (as in the Burgenland
# push, where that scaling makes the currents match the powers).
_E450_SCALERS: dict[str, int] = {
    obis.CURRENT_L1: -2,
    obis.CURRENT_L2: -2,
    obis.CURRENT_L3: -2,
}

# Positional layouts: the order of the values on the wire.
WN_REGISTERS = (
    (obis.ACTIVE_ENERGY_IMPORT, Unit.WATT_HOUR),
    (obis.ACTIVE_ENERGY_EXPORT, Unit.WATT_HOUR),
    (obis.REACTIVE_ENERGY_IMPORT, Unit.VAR_HOUR),
    (obis.REACTIVE_ENERGY_EXPORT, Unit.VAR_HOUR),
    (obis.ACTIVE_POWER_IMPORT, Unit.WATT),
    (obis.ACTIVE_POWER_EXPORT, Unit.WATT),
    (obis.REACTIVE_POWER_IMPORT, Unit.VAR),
    (obis.REACTIVE_POWER_EXPORT, Unit.VAR),
)
P1_REGISTERS = WN_REGISTERS[:6]
BURGENLAND_REGISTERS = (
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
_CLOCK_CLASS = 8
_VALUE_ATTRIBUTE = 2
_SCALER_UNIT_ATTRIBUTE = 3


@dataclass(frozen=True, slots=True)
class BodyValues:
    """What a layout mapper extracted from a notification body."""

    layout: Layout
    values: dict[str, MeterValue] = field(default_factory=dict)
    serial_number: str | None = None
    clock: datetime | None = None
    """The meter clock carried in the body, if any and usable."""


def scale(raw: float, scaler: int) -> int | float:
    """``raw x 10^scaler``; integers stay integers for scaler ≥ 0.

    A negative scaler gives a float rounded to the scaler's decimals, so
    2337 with scaler -1 is 233.7 and not 233.70000000000002.
    """
    if not isinstance(raw, int):
        return raw * 10.0**scaler
    if scaler >= 0:
        factor: int = 10**scaler
        return raw * factor
    return round(raw * 10.0**scaler, -scaler)


def _text(data: Data) -> str | None:
    """Printable text of an octet/visible/utf8 string, else ``None``."""
    if isinstance(data.value, str):
        text = data.value
    elif data.type is DataType.OCTET_STRING and isinstance(data.value, bytes):
        text = data.value.decode("latin-1")
    else:
        return None
    text = text.strip().rstrip("\x00")
    if text and text.isprintable():
        return text
    return None


def _meter_value(raw: float, scaler: int, unit: Unit) -> MeterValue | None:
    value = scale(raw, scaler)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return MeterValue(value, unit)


def _integers(items: Sequence[Data], data_type: DataType) -> list[int] | None:
    """Values of items that all have the integer type ``data_type``, else ``None``."""
    numbers: list[int] = []
    for item in items:
        if item.type is not data_type or not isinstance(item.value, int):
            return None
        numbers.append(item.value)
    return numbers


def _positional(
    items: Sequence[Data], registers: Sequence[tuple[str, Unit]]
) -> dict[str, MeterValue] | None:
    """Values of double-long-unsigned items in register order, else ``None``."""
    numbers = _integers(items, DataType.DOUBLE_LONG_UNSIGNED)
    if numbers is None or len(numbers) != len(registers):
        return None
    return {
        code: MeterValue(number, unit)
        for number, (code, unit) in zip(numbers, registers, strict=True)
    }


def _date_time_of(data: Data) -> datetime | None:
    if (
        data.type is DataType.OCTET_STRING or data.type is DataType.DATE_TIME
    ) and isinstance(data.value, bytes):
        return parse_date_time(data.value)
    return None


def _wiener_netze(body: Data) -> BodyValues | None:
    items = body.items
    if not body.is_structure(9) or not items[0].is_octet_string(12):
        return None
    values = _positional(items[1:], WN_REGISTERS)
    if values is None:
        return None
    return BodyValues(Layout.WIENER_NETZE, values, clock=_date_time_of(items[0]))


def _wiener_netze_im350(body: Data) -> BodyValues | None:
    items = body.items
    if not body.is_structure(10) or not items[1].is_octet_string(12):
        return None
    serial = _text(items[0])
    if not items[0].is_octet_string() or serial is None:
        return None
    values = _positional(items[2:], WN_REGISTERS)
    if values is None:
        return None
    return BodyValues(
        Layout.WIENER_NETZE_IM350,
        values,
        serial_number=serial,
        clock=_date_time_of(items[1]),
    )


def _p1_positional(body: Data) -> BodyValues | None:
    items = body.items
    if not (body.is_structure(10) or body.is_structure(12)):
        return None
    push_list = items[0].value
    if not items[0].is_octet_string(6) or not isinstance(push_list, bytes):
        return None
    if push_list[2:4] != b"\x19\x09":  # push setup object x-x:25.9.x
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
        serial_number=_text(items[1]),
        clock=combine_local(day, clock),
    )


def _burgenland(body: Data) -> BodyValues | None:
    items = body.items
    if not body.is_structure(14) or not items[13].is_octet_string():
        return None
    voltages_currents = _integers(items[0:6], DataType.LONG_UNSIGNED)
    powers_energies = _integers(items[6:10], DataType.DOUBLE_LONG_UNSIGNED)
    angles = _integers(items[10:13], DataType.LONG_UNSIGNED)
    if voltages_currents is None or powers_energies is None or angles is None:
        return None
    numbers = voltages_currents + powers_energies + angles
    values = {
        code: MeterValue(scale(number, scaler), unit)
        for number, (code, unit, scaler) in zip(
            numbers, BURGENLAND_REGISTERS, strict=True
        )
    }
    return BodyValues(Layout.BURGENLAND, values, serial_number=_text(items[13]))


def _scaler_unit(data: Data) -> tuple[int, Unit] | None:
    """``{integer scaler, enum unit}`` structure to its parts, else ``None``."""
    if not data.is_structure(2):
        return None
    scaler, unit = data.items
    if (
        scaler.type is not DataType.INTEGER
        or unit.type is not DataType.ENUM
        or not isinstance(scaler.value, int)
        or not isinstance(unit.value, int)
    ):
        return None
    return scaler.value, UNITS.get(unit.value, Unit.NONE)


class _Collector:
    """Collects registers (OBIS code, value, scaling) into body values."""

    def __init__(self, implied_scalers: dict[str, int] | None = None) -> None:
        self.values: dict[str, MeterValue] = {}
        self.serial_number: str | None = None
        self.clock: datetime | None = None
        self.has_clock = False
        self._implied_scalers = implied_scalers or {}

    def add(self, code: str, value: Data, scaler_unit: tuple[int, Unit] | None) -> None:
        if code == obis.CLOCK:
            self.set_clock(value)
            return
        if code == obis.SERIAL_NUMBER:
            self.serial_number = _text(value) or self.serial_number
            return
        number = value.number
        if number is None:
            return
        if scaler_unit is None:
            unit = obis.default_unit(code) or Unit.NONE
            scaler_unit = (self._implied_scalers.get(code, 0), unit)
        meter_value = _meter_value(number, *scaler_unit)
        if meter_value is not None:
            self.values[code] = meter_value

    def set_clock(self, value: Data) -> None:
        if not self.has_clock:
            self.has_clock = True
            self.clock = _date_time_of(value)

    def result(self, layout: Layout) -> BodyValues:
        return BodyValues(layout, self.values, self.serial_number, self.clock)


def _descriptor(data: Data) -> tuple[int, str, int] | None:
    """Capture-object descriptor ``{class-id, OBIS, attribute, data-index}``."""
    if not data.is_structure(4):
        return None
    class_id, logical_name, attribute, _index = data.items
    code = _obis_of(logical_name)
    if (
        class_id.type is not DataType.LONG_UNSIGNED
        or attribute.type is not DataType.INTEGER
        or not isinstance(class_id.value, int)
        or not isinstance(attribute.value, int)
        or code is None
    ):
        return None
    return class_id.value, code, attribute.value


def _self_describing(body: Data) -> BodyValues | None:
    items = body.items
    if not body.is_structure() or not items or items[0].type is not DataType.ARRAY:
        return None
    parsed = [_descriptor(entry) for entry in items[0].items]
    descriptors = [entry for entry in parsed if entry is not None]
    if not descriptors or len(descriptors) != len(parsed):
        return None
    # The descriptors list the push's own object list first when it is captured.
    offset = len(items) - len(descriptors)
    if offset not in {0, 1}:
        return None
    captured = {
        (code, attribute): value
        for (_class_id, code, attribute), value in zip(
            descriptors, items[offset:], strict=True
        )
    }
    collector = _Collector(_E450_SCALERS)
    for class_id, code, attribute in descriptors:
        if attribute != _VALUE_ATTRIBUTE:
            continue
        value = captured[code, attribute]
        if class_id == _CLOCK_CLASS:
            collector.set_clock(value)
            continue
        scaler_unit = captured.get((code, _SCALER_UNIT_ATTRIBUTE))
        collector.add(code, value, _scaler_unit(scaler_unit) if scaler_unit else None)
    return collector.result(Layout.SELF_DESCRIBING)


@dataclass(slots=True)
class _Registers:
    """OBIS-tagged registers found in a body, and how they were sent."""

    found: list[tuple[str, Data, tuple[int, Unit] | None]] = field(default_factory=list)
    untagged: list[Data] = field(default_factory=list)
    nested: bool = False
    flat_triples: bool = False
    flat_pairs: bool = False

    @property
    def layout(self) -> Layout:
        if self.nested:
            return Layout.OBIS_TRIPLES
        if self.flat_triples:
            return Layout.OBIS_FLAT_TRIPLES
        return Layout.OBIS_PAIRS


def _walk_registers(items: Sequence[Data]) -> _Registers | None:
    """Split items into registers (flat or one structure each) and the rest."""
    registers = _Registers()
    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        parts = item.items
        code = (
            _obis_of(parts[0]) if item.is_structure() and len(parts) in {2, 3} else None
        )
        if code is not None:
            scaler_unit = _scaler_unit(parts[2]) if len(parts) == 3 else None
            if len(parts) == 3 and scaler_unit is None:
                return None
            registers.found.append((code, parts[1], scaler_unit))
            registers.nested = True
            continue
        code = _obis_of(item)
        if code is not None and index < len(items):
            value = items[index]
            if value.is_container:
                return None
            index += 1
            scaler_unit = _scaler_unit(items[index]) if index < len(items) else None
            if scaler_unit is not None:
                index += 1
                registers.flat_triples = True
            else:
                registers.flat_pairs = True
            registers.found.append((code, value, scaler_unit))
            continue
        registers.untagged.append(item)
    return registers


def _obis_tagged(body: Data) -> BodyValues | None:
    """Registers tagged with OBIS codes (Netz NÖ, KSM West, E450 pairs)."""
    registers = _walk_registers(body.items) if body.is_container else None
    if registers is None:
        return None
    e450 = registers.flat_pairs and not registers.nested
    collector = _Collector(_E450_SCALERS if e450 else None)
    for code, value, scaler_unit in registers.found:
        collector.add(code, value, scaler_unit)
    # Netz NÖ sends its clock and meter number without OBIS codes; anything
    # else without one means a layout this walk does not understand.
    untagged_clock = untagged_serial = False
    for item in registers.untagged:
        raw = item.value
        if (
            not untagged_clock
            and isinstance(raw, bytes)
            and len(raw) == 12
            and is_plausible_date_time(raw)
        ):
            untagged_clock = True
            collector.set_clock(item)
        elif not untagged_serial and item.is_octet_string() and _text(item):
            untagged_serial = True
            collector.serial_number = collector.serial_number or _text(item)
        else:
            return None
    if not collector.values:
        return None
    return collector.result(registers.layout)


def _obis_of(data: Data) -> str | None:
    """Text form of a 6-byte octet-string (an OBIS code), else ``None``."""
    raw = data.value
    if data.type is DataType.OCTET_STRING and isinstance(raw, bytes) and len(raw) == 6:
        return obis.format_obis(raw)
    return None


_MAPPERS: tuple[Callable[[Data], BodyValues | None], ...] = (
    _wiener_netze,
    _wiener_netze_im350,
    _p1_positional,
    _burgenland,
    _self_describing,
    _obis_tagged,
)


def map_body(body: Data, plaintext: bytes = b"") -> BodyValues:
    """Map a notification body with the first layout whose shape fits.

    Raises :class:`UnsupportedPayloadError` (carrying ``plaintext``, for bug
    reports) when no layout fits.
    """
    for mapper in _MAPPERS:
        result = mapper(body)
        if result is not None:
            return result
    count = len(body.items)
    shape = (
        f"{body.type.name.lower()}({count})"
        if body.is_container
        else (body.type.name.lower())
    )
    raise UnsupportedPayloadError(
        f"the meter's payload layout ({shape}) is not known: please report it "
        "with this plaintext",
        plaintext,
    )


def detect_layout(body: Data) -> Layout | None:
    """Name of the layout that fits ``body``, ``None`` when none does."""
    for mapper in _MAPPERS:
        result = mapper(body)
        if result is not None:
            return result.layout
    return None
