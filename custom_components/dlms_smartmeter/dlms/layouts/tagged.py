"""OBIS-tagged layouts: every register travels with its OBIS code.

Netz NÖ (OBIS, value, {scaler, unit} side by side), KSM West (one structure
per register), the L+G E450 block-transfer push, the Swedish Kaifa list and
the Kamstrup HAN lists (OBIS and value side by side, no scalers), and the
pushes with capture-object descriptors in front of the values (E450, E360,
E570, AM550). Registers without a scaler are scaled by the convention of
their list (:mod:`.conventions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .. import obis
from ..axdr import (
    Data,
    DataType,
    axdr_array,
    axdr_integer,
    axdr_long_unsigned,
    axdr_obis,
    axdr_octet_string,
    axdr_structure,
)
from ..body import BodyValues, Layout, serial_bytes, text_bytes
from ..cosem_time import is_plausible_date_time
from .conventions import (
    ISKRAEMECO_AM550,
    KAIFA_KFM001,
    KAMSTRUP_DK,
    KAMSTRUP_NVE,
    KAMSTRUP_NVE_CT,
    LG_E360,
    LG_E450,
    LG_E570,
    OBIS_UNITS,
    UNKNOWN,
    Convention,
)
from .values import (
    clock_bytes,
    date_time_of,
    encode_register_value,
    implied,
    meter_value,
    obis_of,
    scaler_unit,
    scaler_unit_of,
    text_of,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from ..body import ClockStyle
    from ..reading import MeterValue, Reading, Unit

_PUSH_SETUP_CLASS: Final = 40
_DATA_CLASS: Final = 1
_REGISTER_CLASS: Final = 3
_CLOCK_CLASS: Final = 8
_VALUE_ATTRIBUTE: Final = 2
_SCALER_UNIT_ATTRIBUTE: Final = 3
_E450_PUSH_SETUP: Final = "0-8:25.9.0"
_ISKRA_STYLE_PUSH_SETUP: Final = "0-6:25.9.0"
_LIST_NAME: Final = DataType.VISIBLE_STRING
_CLOCKS: Final = frozenset({obis.CLOCK, obis.CLOCK_CHANNEL_1})
_SERIAL_NUMBERS: Final = frozenset({obis.SERIAL_NUMBER, obis.KAMSTRUP_METER_ID})
# Objects that OBIS-tagged layouts use for the clock and the meter's identity.
_NOT_REGISTERS: Final = frozenset(
    {*_CLOCKS, *_SERIAL_NUMBERS, obis.LOGICAL_DEVICE_NAME, _E450_PUSH_SETUP}
)


class _Collector:
    """Collects registers (OBIS code, value, scaling) into body values."""

    def __init__(self, convention: Convention = OBIS_UNITS) -> None:
        self.values: dict[str, MeterValue] = {}
        self.serial_number: str | None = None
        self.logical_device_name: str | None = None
        self.clock: datetime | None = None
        self.has_clock = False
        self.clock_object = False
        self.convention = convention

    def add(self, code: str, value: Data, scaling: tuple[int, Unit] | None) -> None:
        if code in _CLOCKS:
            self.set_clock(value, clock_object=True)
            return
        if code in _SERIAL_NUMBERS:
            self.serial_number = text_of(value) or self.serial_number
            return
        if code == obis.LOGICAL_DEVICE_NAME:
            self.logical_device_name = text_of(value) or self.logical_device_name
            return
        number = value.number
        if number is None:
            return
        scaled = meter_value(number, *(scaling or self.convention.scaling(code)))
        if scaled is not None:
            self.values[code] = scaled

    def set_clock(self, value: Data, *, clock_object: bool = False) -> None:
        if not self.has_clock:
            self.has_clock = True
            self.clock = date_time_of(value)
            self.clock_object = clock_object and self.clock is not None

    def result(self, layout: Layout) -> BodyValues:
        return BodyValues(
            layout,
            self.values,
            self.serial_number,
            self.clock,
            self.logical_device_name,
            clock_object=self.clock_object,
        )


# --- reading: capture-object descriptors (E450) -----------------------------------


def _descriptor_of(data: Data) -> tuple[int, str, int] | None:
    """Capture-object descriptor ``{class-id, OBIS, attribute, data-index}``."""
    if not data.is_structure(4):
        return None
    class_id, logical_name, attribute, _index = data.items
    code = obis_of(logical_name)
    if (
        class_id.type is not DataType.LONG_UNSIGNED
        or attribute.type is not DataType.INTEGER
        or not isinstance(class_id.value, int)
        or not isinstance(attribute.value, int)
        or code is None
    ):
        return None
    return class_id.value, code, attribute.value


# What a Landis+Gyr push list captures, and the model it tells apart.
_LG_MODELS: Final = (
    (obis.DEVICE_ID_2, LG_E450),
    (_ISKRA_STYLE_PUSH_SETUP, LG_E360),
    (_E450_PUSH_SETUP, LG_E570),
)


def _self_describing_convention(
    descriptors: Sequence[tuple[int, str, int]], name: str | None
) -> Convention | None:
    """The convention of a self-describing push, by maker and list.

    Without a logical device name it is the E450 push of the Austrian and
    Cypriot operators. Swiss and newer Cypriot pushes name the meter:
    Iskraemeco (``ISK``) or Landis+Gyr (``LGZ``), whose push lists tell the
    models apart: only the E450 lists capture ``0-0:96.1.1``, the E360
    pushes with ``0-6:25.9.0``, the E570 with ``0-8:25.9.0``.
    """
    if name is None:
        return LG_E450
    if name.startswith("ISK"):
        return ISKRAEMECO_AM550
    if not name.startswith("LGZ"):
        return None
    codes = {code for _class_id, code, _attribute in descriptors}
    return next(
        (model for marker, model in _LG_MODELS if marker in codes),
        None,
    )


def decode_self_describing(body: Data) -> BodyValues | None:
    """An array of capture-object descriptors, then the captured values."""
    items = body.items
    if not body.is_structure() or not items or items[0].type is not DataType.ARRAY:
        return None
    parsed = [_descriptor_of(entry) for entry in items[0].items]
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
    name_item = captured.get((obis.LOGICAL_DEVICE_NAME, _VALUE_ATTRIBUTE))
    name = text_of(name_item) if name_item is not None else None
    convention = _self_describing_convention(descriptors, name)
    collector = _Collector(convention or UNKNOWN)
    for class_id, code, attribute in descriptors:
        if attribute != _VALUE_ATTRIBUTE:
            continue
        value = captured[code, attribute]
        if class_id == _CLOCK_CLASS:
            collector.set_clock(value, clock_object=True)
            continue
        scaling = captured.get((code, _SCALER_UNIT_ATTRIBUTE))
        collector.add(code, value, scaler_unit_of(scaling) if scaling else None)
    return collector.result(Layout.SELF_DESCRIBING)


# --- reading: OBIS-tagged registers -------------------------------------------------


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

    def text(self, code: str) -> str | None:
        """The text of register ``code``, if it is there."""
        for found, value, _scaling in self.found:
            if found == code:
                return text_of(value)
        return None


def _walk_registers(items: Sequence[Data]) -> _Registers | None:
    """Split items into registers (flat or one structure each) and the rest."""
    registers = _Registers()
    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        if (
            item.type is DataType.NULL_DATA
            and index < len(items)
            and items[index].type is DataType.NULL_DATA
        ):
            # Two null-data items in place of code and value: a register the
            # meter does not have (Kamstrup 1-phase meters fill the missing
            # phases so).
            index += 1
            continue
        parts = item.items
        code = (
            obis_of(parts[0]) if item.is_structure() and len(parts) in {2, 3} else None
        )
        if code is not None:
            scaling = scaler_unit_of(parts[2]) if len(parts) == 3 else None
            if len(parts) == 3 and scaling is None:
                return None
            registers.found.append((code, parts[1], scaling))
            registers.nested = True
            continue
        code = obis_of(item)
        if code is not None and index < len(items):
            value = items[index]
            if value.is_container:
                return None
            index += 1
            scaling = scaler_unit_of(items[index]) if index < len(items) else None
            if scaling is not None:
                index += 1
                registers.flat_triples = True
            else:
                registers.flat_pairs = True
            registers.found.append((code, value, scaling))
            continue
        registers.untagged.append(item)
    return registers


def _pairs_convention(registers: _Registers, list_name: str | None) -> Convention:
    """The convention of OBIS-tagged registers, by their list identifier."""
    if not registers.flat_pairs or registers.nested:
        return OBIS_UNITS
    if list_name is not None and list_name.startswith("Kamstrup"):
        # The NVE lists carry the meter ID 1-1:0.0.5; the Danish one does not.
        meter_type = registers.text(obis.KAMSTRUP_METER_TYPE) or ""
        if registers.text(obis.KAMSTRUP_METER_ID) is None:
            return KAMSTRUP_DK
        return KAMSTRUP_NVE_CT if meter_type.startswith("685") else KAMSTRUP_NVE
    kaifa_list = registers.text(obis.LIST_IDENTIFIER)
    if list_name is None and kaifa_list is None:
        return LG_E450
    if kaifa_list is not None and kaifa_list.startswith("KFM"):
        return KAIFA_KFM001
    return UNKNOWN


def decode_obis_tagged(body: Data) -> BodyValues | None:
    """OBIS-tagged registers (Netz NÖ, KSM West, E450 pairs, Nordic lists)."""
    items = body.items if body.is_container else ()
    # Kamstrup lists open with their identifier as a visible string.
    list_name = text_of(items[0]) if items and items[0].type is _LIST_NAME else None
    registers = _walk_registers(items[1:] if list_name else items) if items else None
    if registers is None:
        return None
    collector = _Collector(_pairs_convention(registers, list_name))
    for code, value, scaling in registers.found:
        collector.add(code, value, scaling)
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
        elif not untagged_serial and item.is_octet_string() and text_of(item):
            untagged_serial = True
            collector.serial_number = collector.serial_number or text_of(item)
        else:
            return None
    if not collector.values:
        return None
    return collector.result(registers.layout)


# --- writing --------------------------------------------------------------------------


def _registers(reading: Reading) -> list[tuple[str, MeterValue]]:
    items = list(reading.values.items())
    if not items:
        raise ValueError(f"layout {reading.layout} needs at least one value")
    for code, _value in items:
        if code in _NOT_REGISTERS:
            raise ValueError(f"{code} is not a register value")
        obis.parse_obis(code)
    return items


def encode_obis_flat_triples(reading: Reading, clock: ClockStyle) -> bytes:
    """Netz NÖ: date-time, OBIS/value/{scaler, unit} side by side, meter number."""
    elements = [axdr_octet_string(clock_bytes(reading.meter_time, clock))]
    for code, value in _registers(reading):
        element, scaler = encode_register_value(code, value.value)
        elements += [axdr_obis(code), element, scaler_unit(scaler, value.unit)]
    if reading.serial_number is not None:
        elements.append(axdr_octet_string(serial_bytes(reading)))
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


def encode_obis_triples(reading: Reading, clock: ClockStyle) -> bytes:
    """KSM West: clock, serial number, device name, one structure per register."""
    elements = [
        axdr_obis(obis.CLOCK),
        axdr_octet_string(clock_bytes(reading.meter_time, clock)),
    ]
    if reading.serial_number is not None:
        name = logical_device_name(reading.serial_number, reading.system_title)
        elements += [
            axdr_structure(
                axdr_obis(obis.SERIAL_NUMBER),
                axdr_octet_string(serial_bytes(reading)),
            ),
            axdr_structure(
                axdr_obis(obis.LOGICAL_DEVICE_NAME),
                axdr_octet_string(text_bytes(name, "logical device name")),
            ),
        ]
    for code, value in _registers(reading):
        element, scaler = encode_register_value(code, value.value)
        elements.append(
            axdr_structure(axdr_obis(code), element, scaler_unit(scaler, value.unit))
        )
    return axdr_structure(*elements)


def encode_obis_pairs(reading: Reading, clock: ClockStyle) -> bytes:
    """L+G E450 block-transfer push: date-time, then OBIS/value side by side."""
    elements = [axdr_octet_string(clock_bytes(reading.meter_time, clock))]
    if reading.serial_number is not None:
        elements += [
            axdr_obis(obis.SERIAL_NUMBER),
            axdr_octet_string(serial_bytes(reading)),
        ]
    for code, value in _registers(reading):
        element = implied(code, value)
        if element is None:
            raise ValueError(
                f"{code}: {value.value} {value.unit.value} is not "
                "representable in layout obis_pairs (no scalers or units on the wire)"
            )
        elements += [axdr_obis(code), element]
    return axdr_structure(*elements)


def _descriptor(class_id: int, code: str, attribute: int) -> bytes:
    return axdr_structure(
        axdr_long_unsigned(class_id),
        axdr_obis(code),
        axdr_integer(attribute),
        axdr_long_unsigned(0),
    )


def encode_self_describing(reading: Reading, clock: ClockStyle) -> bytes:
    """L+G E450 with capture-object descriptors in front of the values.

    Registers whose value the E450's implied scaling cannot represent get a
    scaler-unit (attribute 3) entry of their own.
    """
    descriptors = [
        _descriptor(_PUSH_SETUP_CLASS, _E450_PUSH_SETUP, _VALUE_ATTRIBUTE),
        _descriptor(_PUSH_SETUP_CLASS, _E450_PUSH_SETUP, 1),
    ]
    values = [axdr_obis(_E450_PUSH_SETUP)]
    if reading.serial_number is not None:
        descriptors.append(
            _descriptor(_DATA_CLASS, obis.SERIAL_NUMBER, _VALUE_ATTRIBUTE)
        )
        values.append(axdr_octet_string(serial_bytes(reading)))
    descriptors.append(_descriptor(_CLOCK_CLASS, obis.CLOCK, _VALUE_ATTRIBUTE))
    values.append(axdr_octet_string(clock_bytes(reading.meter_time, clock)))
    for code, value in _registers(reading):
        descriptors.append(_descriptor(_REGISTER_CLASS, code, _VALUE_ATTRIBUTE))
        element = implied(code, value)
        if element is not None:
            values.append(element)
            continue
        element, scaler = encode_register_value(code, value.value)
        descriptors.append(_descriptor(_REGISTER_CLASS, code, _SCALER_UNIT_ATTRIBUTE))
        values += [element, scaler_unit(scaler, value.unit)]
    # The push's own capture-object list comes first: it is captured as well.
    return axdr_structure(axdr_array(descriptors), *values)
