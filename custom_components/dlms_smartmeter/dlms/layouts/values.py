"""Register values in notification bodies, read and written the meters' way.

Reading: text, numbers, scaler-unit pairs and date-times out of decoded
A-XDR items. Writing: values are encoded the way the meters send them:
positional layouts carry whole numbers in Wh, varh, W and var; OBIS-tagged
layouts choose the scaler per quantity as the meters do (voltage -1, current
-2, power factor -3, frequency -2, everything else 0) and fall back to
another scaler, or to a float, only when a value is not representable with
that scaler. A reading that a layout cannot carry raises ``ValueError``
naming the problem.
"""

from __future__ import annotations

from decimal import Decimal
import math
from typing import TYPE_CHECKING, Final

from .. import obis
from ..axdr import (
    Data,
    DataType,
    axdr_enum,
    axdr_float64,
    axdr_integer,
    axdr_number,
    axdr_structure,
    fits,
)
from ..body import UNIT_CODES, UNITS, ClockStyle, scale
from ..cosem_time import encode_cosem_datetime, parse_date_time
from ..reading import MeterValue, Unit
from .conventions import LG_E450

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from ..reading import Reading

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


# --- reading ------------------------------------------------------------------


def text_of(data: Data) -> str | None:
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


def meter_value(raw: float, scaler: int, unit: Unit) -> MeterValue | None:
    """A scaled value; ``None`` when scaling leaves no finite number."""
    value = scale(raw, scaler)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return MeterValue(value, unit)


def integers(items: Sequence[Data], data_type: DataType) -> list[int] | None:
    """Values of items that all have the integer type ``data_type``, else ``None``."""
    numbers: list[int] = []
    for item in items:
        if item.type is not data_type or not isinstance(item.value, int):
            return None
        numbers.append(item.value)
    return numbers


def date_time_of(data: Data) -> datetime | None:
    """The date-time in an octet-string or date-time item, else ``None``."""
    if (
        data.type is DataType.OCTET_STRING or data.type is DataType.DATE_TIME
    ) and isinstance(data.value, bytes):
        return parse_date_time(data.value)
    return None


def scaler_unit_of(data: Data) -> tuple[int, Unit] | None:
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


def obis_of(data: Data) -> str | None:
    """Text form of a 6-byte octet-string (an OBIS code), else ``None``."""
    raw = data.value
    if data.type is DataType.OCTET_STRING and isinstance(raw, bytes) and len(raw) == 6:
        return obis.format_obis(raw)
    return None


# --- writing ------------------------------------------------------------------


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


def _types_for(code: str) -> tuple[DataType, ...]:
    _a, quantity, _d = _quantity(code)
    return _SMALL_TYPES if quantity in _SMALL_QUANTITIES else _LARGE_TYPES


def encode_register_value(code: str, value: float) -> tuple[bytes, int]:
    """A-XDR value and scaler of one register, chosen as the meters do.

    The meter's scaler for the quantity comes first; if the value is not an
    exact multiple of it, finer scalers are tried, and a float64 with scaler
    0 is the last resort.
    """
    if not isinstance(value, int) and not math.isfinite(value):
        raise ValueError(f"{code}: {value} cannot be sent by a meter")
    types = _types_for(code)
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


def implied(code: str, value: MeterValue) -> bytes | None:
    """A register value as an E450 sends it (no scaler), if that represents it."""
    scaler, unit = LG_E450.scaling(code)
    if value.unit is not unit:
        return None
    raw = raw_value(value.value, scaler)
    if raw is None:
        return None
    return _integer_element(raw, _types_for(code))


def scaler_unit(scaler: int, unit: Unit) -> bytes:
    """``{integer scaler, enum unit}``."""
    return axdr_structure(axdr_integer(scaler), axdr_enum(UNIT_CODES[unit]))


def whole(code: str, value: float, data_type: DataType, scaler: int = 0) -> bytes:
    """A register sent without a scaler structure, e.g. in a positional layout."""
    raw = raw_value(value, scaler)
    if raw is None or not fits(data_type, raw):
        unit_of = f" x 10^{scaler}" if scaler else ""
        raise ValueError(
            f"{code}: {value} is not representable as "
            f"{data_type.name.lower()}{unit_of} in this layout"
        )
    return axdr_number(data_type, raw)


def exact_values(
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


def clock_bytes(moment: datetime | None, clock: ClockStyle) -> bytes:
    """The 12 date-time bytes of the meter time, in the meters' clock style."""
    zoned = clock is ClockStyle.ZONED
    return encode_cosem_datetime(moment, deviation=zoned, hundredths=zoned)
