"""A-XDR reading and writing of COSEM ``Data`` values (Green Book, IEC 62056-6-2).

Decoded values are :class:`Data` instances: a :class:`DataType` tag plus a
plain Python value. Decoding is strictly bounds-checked: every length is
checked against the remaining bytes before it is used, nesting is limited,
and :func:`decode_data` insists that the whole buffer is one value. Every
problem is a :class:`~.errors.MalformedPayloadError` (or an
:class:`~.errors.UnsupportedError` for the compact-array type), never an
``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
import struct
from typing import TYPE_CHECKING

from . import obis
from .errors import MalformedPayloadError, TruncatedPayloadError, UnsupportedError

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_DEPTH = 16
"""Deepest nesting of arrays/structures accepted (real pushes use three levels)."""


class DataType(IntEnum):
    """A-XDR type tags of the COSEM ``Data`` CHOICE."""

    NULL_DATA = 0x00
    ARRAY = 0x01
    STRUCTURE = 0x02
    BOOLEAN = 0x03
    BIT_STRING = 0x04
    DOUBLE_LONG = 0x05
    DOUBLE_LONG_UNSIGNED = 0x06
    OCTET_STRING = 0x09
    VISIBLE_STRING = 0x0A
    UTF8_STRING = 0x0C
    BCD = 0x0D
    INTEGER = 0x0F
    LONG = 0x10
    UNSIGNED = 0x11
    LONG_UNSIGNED = 0x12
    COMPACT_ARRAY = 0x13
    LONG64 = 0x14
    LONG64_UNSIGNED = 0x15
    ENUM = 0x16
    FLOAT32 = 0x17
    FLOAT64 = 0x18
    DATE_TIME = 0x19
    DATE = 0x1A
    TIME = 0x1B


INTEGER_TYPES = frozenset(
    {
        DataType.DOUBLE_LONG,
        DataType.DOUBLE_LONG_UNSIGNED,
        DataType.INTEGER,
        DataType.LONG,
        DataType.UNSIGNED,
        DataType.LONG_UNSIGNED,
        DataType.LONG64,
        DataType.LONG64_UNSIGNED,
    }
)
"""Types whose value is a Python ``int`` holding a number (not an enum or BCD)."""

NUMERIC_TYPES = INTEGER_TYPES | {DataType.FLOAT32, DataType.FLOAT64}
"""Types that carry a measurement: integers and floats."""

# Fixed-size numeric types: struct format (big-endian) per tag.
_FIXED_FORMATS: dict[DataType, struct.Struct] = {
    DataType.DOUBLE_LONG: struct.Struct(">i"),
    DataType.DOUBLE_LONG_UNSIGNED: struct.Struct(">I"),
    DataType.INTEGER: struct.Struct(">b"),
    DataType.LONG: struct.Struct(">h"),
    DataType.UNSIGNED: struct.Struct(">B"),
    DataType.LONG_UNSIGNED: struct.Struct(">H"),
    DataType.LONG64: struct.Struct(">q"),
    DataType.LONG64_UNSIGNED: struct.Struct(">Q"),
    DataType.ENUM: struct.Struct(">B"),
    DataType.BCD: struct.Struct(">B"),
    DataType.FLOAT32: struct.Struct(">f"),
    DataType.FLOAT64: struct.Struct(">d"),
}

# Date and time types carried without a length byte: their sizes.
_FIXED_OCTETS: dict[DataType, int] = {
    DataType.DATE_TIME: 12,
    DataType.DATE: 5,
    DataType.TIME: 4,
}


@dataclass(frozen=True, slots=True)
class BitString:
    """Value of a bit-string: ``length`` bits, packed MSB first into ``data``."""

    length: int
    data: bytes


type DataValue = bool | int | float | bytes | str | BitString | tuple[Data, ...] | None
"""Python value of a :class:`Data`, depending on its type.

* null-data: ``None``
* array, structure: ``tuple[Data, ...]``
* boolean: ``bool``
* integer types, enum, bcd: ``int`` (bcd: the raw byte)
* float32, float64: ``float``
* octet-string, date-time, date, time: ``bytes`` (date and time types: the
  raw 12/5/4 bytes, see :mod:`.cosem_time`)
* visible-string, utf8-string: ``str``
* bit-string: :class:`BitString`
"""


@dataclass(frozen=True, slots=True)
class Data:
    """One decoded A-XDR value: its type tag and its Python value."""

    type: DataType
    value: DataValue

    @property
    def items(self) -> tuple[Data, ...]:
        """Elements of an array or structure; empty for every other type."""
        if isinstance(self.value, tuple):
            return self.value
        return ()

    @property
    def is_container(self) -> bool:
        """True for arrays and structures."""
        return self.type is DataType.ARRAY or self.type is DataType.STRUCTURE

    def is_structure(self, length: int | None = None) -> bool:
        """True for a structure, of exactly ``length`` elements if given."""
        return self.type is DataType.STRUCTURE and (
            length is None or len(self.items) == length
        )

    def is_octet_string(self, length: int | None = None) -> bool:
        """True for an octet-string, of exactly ``length`` bytes if given."""
        return (
            self.type is DataType.OCTET_STRING
            and isinstance(self.value, bytes)
            and (length is None or len(self.value) == length)
        )

    @property
    def number(self) -> int | float | None:
        """The value of an integer or float type; ``None`` for anything else."""
        if self.type in NUMERIC_TYPES and isinstance(self.value, int | float):
            return self.value
        return None


# Tag byte -> type, without the cost of calling the enum for every element.
_TYPE_BY_TAG: dict[int, DataType] = {member.value: member for member in DataType}


def read_length(buf: bytes, offset: int) -> tuple[int, int]:
    """Read a BER/A-XDR length at ``offset``; return ``(length, next_offset)``.

    ``< 0x80`` is the length itself; ``0x81``-``0x84`` announce 1-4 length
    bytes. The indefinite form ``0x80`` and longer forms are rejected.
    """
    if offset >= len(buf):
        raise TruncatedPayloadError(f"length byte missing at offset {offset}")
    first = buf[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise MalformedPayloadError(
            f"unsupported length encoding 0x{first:02X} at offset {offset}"
        )
    end = offset + 1 + count
    if end > len(buf):
        raise TruncatedPayloadError(f"length at offset {offset} is cut off")
    return int.from_bytes(buf[offset + 1 : end], "big"), end


def _take(buf: bytes, offset: int, size: int, what: str) -> bytes:
    """Return ``size`` bytes at ``offset``, or raise if they run past the end."""
    end = offset + size
    if end > len(buf):
        raise _too_short(buf, offset, size, what)
    return buf[offset:end]


def read_data(buf: bytes, offset: int = 0, *, depth: int = 0) -> tuple[Data, int]:
    """Decode one ``Data`` value at ``offset``; return it and the next offset.

    Trailing bytes are left alone; use :func:`decode_data` to require that the
    value fills the buffer.
    """
    if depth > MAX_DEPTH:
        raise MalformedPayloadError(f"data nested deeper than {MAX_DEPTH} levels")
    if offset >= len(buf):
        raise TruncatedPayloadError(f"type tag missing at offset {offset}")
    tag = buf[offset]
    data_type = _TYPE_BY_TAG.get(tag)
    if data_type is None:
        raise MalformedPayloadError(
            f"unknown A-XDR type tag 0x{tag:02X} at offset {offset}"
        )
    position = offset + 1
    # Numbers first: they are most of every push.
    fixed = _FIXED_FORMATS.get(data_type)
    if fixed is not None:
        end = position + fixed.size
        if end > len(buf):
            raise _cut_off(buf, position, fixed.size, data_type)
        return Data(data_type, fixed.unpack_from(buf, position)[0]), end
    if data_type is DataType.STRUCTURE or data_type is DataType.ARRAY:
        count, position = read_length(buf, position)
        elements: list[Data] = []
        for _ in range(count):
            element, position = read_data(buf, position, depth=depth + 1)
            elements.append(element)
        return Data(data_type, tuple(elements)), position
    size = _FIXED_OCTETS.get(data_type)
    if size is not None:  # date, time, date-time: no length byte
        end = position + size
        if end > len(buf):
            raise _cut_off(buf, position, size, data_type)
        return Data(data_type, buf[position:end]), end
    return _read_other(buf, position, data_type)


def _cut_off(
    buf: bytes, position: int, size: int, data_type: DataType
) -> MalformedPayloadError:
    return _too_short(buf, position, size, data_type.name.lower())


def _too_short(buf: bytes, offset: int, size: int, what: str) -> MalformedPayloadError:
    return TruncatedPayloadError(
        f"{what} at offset {offset} needs {size} bytes, only {len(buf) - offset} left"
    )


def _read_other(buf: bytes, position: int, data_type: DataType) -> tuple[Data, int]:
    """Null, boolean, strings and bit-strings."""
    value: DataValue
    match data_type:
        case DataType.NULL_DATA:
            value = None
        case DataType.BOOLEAN:
            value = _take(buf, position, 1, "boolean")[0] != 0
            position += 1
        case DataType.OCTET_STRING | DataType.VISIBLE_STRING | DataType.UTF8_STRING:
            size, position = read_length(buf, position)
            raw = _take(buf, position, size, data_type.name.lower())
            value = _string_value(data_type, raw, position)
            position += size
        case DataType.BIT_STRING:
            bits, position = read_length(buf, position)
            size = (bits + 7) // 8
            value = BitString(bits, _take(buf, position, size, "bit-string"))
            position += size
        case _:  # only COMPACT_ARRAY is left
            raise UnsupportedError(
                f"A-XDR compact-array (offset {position - 1}) is not supported"
            )
    return Data(data_type, value), position


def _string_value(data_type: DataType, raw: bytes, offset: int) -> bytes | str:
    if data_type is DataType.OCTET_STRING:
        return raw
    if data_type is DataType.VISIBLE_STRING:
        # Visible strings are ASCII by definition; a stray byte is shown, not fatal.
        return raw.decode("ascii", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayloadError(
            f"utf8-string at offset {offset} is not valid UTF-8"
        ) from None


def decode_data(buf: bytes) -> Data:
    """Decode ``buf`` as exactly one ``Data`` value; leftover bytes are an error."""
    data, end = read_data(buf, 0)
    if end != len(buf):
        raise MalformedPayloadError(
            f"{len(buf) - end} unexpected bytes after the data (offset {end})"
        )
    return data


# --- writing ------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    """BER/A-XDR length: one byte below 0x80, else ``0x8n`` and n bytes."""
    if length < 0:
        raise ValueError(f"a length cannot be negative ({length})")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


# Range of each fixed-width integer type, from its struct format.
_INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    data_type: (
        (-(2 ** (8 * fmt.size - 1)), 2 ** (8 * fmt.size - 1) - 1)
        if fmt.format[-1].islower()
        else (0, 2 ** (8 * fmt.size) - 1)
    )
    for data_type, fmt in _FIXED_FORMATS.items()
    if data_type not in {DataType.FLOAT32, DataType.FLOAT64}
}


def fits(data_type: DataType, value: int) -> bool:
    """True when ``value`` is in the range of the integer type ``data_type``."""
    low, high = _INTEGER_RANGES[data_type]
    return low <= value <= high


def axdr_number(data_type: DataType, value: int) -> bytes:
    """Tagged value of a fixed-width integer type (also enum and bcd)."""
    low, high = _INTEGER_RANGES[data_type]
    if not low <= value <= high:
        raise ValueError(
            f"{value} does not fit {data_type.name.lower()} ({low}..{high})"
        )
    return bytes((data_type,)) + _FIXED_FORMATS[data_type].pack(value)


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
    return bytes((DataType.FLOAT64,)) + _FIXED_FORMATS[DataType.FLOAT64].pack(value)


def axdr_float32(value: float) -> bytes:
    """A float32: IEEE 754 single precision, big-endian."""
    return bytes((DataType.FLOAT32,)) + _FIXED_FORMATS[DataType.FLOAT32].pack(value)


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
