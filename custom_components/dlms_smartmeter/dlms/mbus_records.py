"""M-Bus application-layer data records (EN 13757-3): DIF, DIFE, VIF, VIFE, data.

A record is a data information block (DIF and up to ten DIFEs), a value
information block (VIF and up to ten VIFEs) and the data, whose length the
DIF's data field gives. The walker only splits records; what a record means
is up to the caller's table (for AMIS: :mod:`.amis`), so that an unknown
record is reported with its bytes instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .errors import MalformedPayloadError

IDLE_FILLER: Final = 0x2F
_MANUFACTURER_DATA: Final = frozenset({0x0F, 0x1F})
"""DIFs after which the rest of the telegram is manufacturer-specific data."""
_EXTENSION: Final = 0x80
_MAX_EXTENSIONS: Final = 10
_PLAIN_TEXT_VIF: Final = 0x7C
_VARIABLE_LENGTH: Final = 0x0D
_LVAR_TEXT_MAX: Final = 0xBF
_LVAR_NUMBER_BASES: Final = (0xC0, 0xD0, 0xE0)
"""LVAR ranges of positive BCD, negative BCD and binary numbers (low bits: length)."""

# Data field (low four bits of the DIF) -> data length in bytes.
_DATA_LENGTHS: Final = {
    0x0: 0,
    0x1: 1,
    0x2: 2,
    0x3: 3,
    0x4: 4,
    0x5: 4,
    0x6: 6,
    0x7: 8,
    0x8: 0,
    0x9: 1,
    0xA: 2,
    0xB: 3,
    0xC: 4,
    0xE: 6,
}


@dataclass(frozen=True, slots=True)
class DataRecord:
    """One record: its header (DIF ... last VIFE) and its data bytes."""

    offset: int
    """Where the record starts in the plaintext."""
    header: bytes
    data: bytes

    @property
    def raw(self) -> bytes:
        """The record's bytes as sent."""
        return self.header + self.data

    def unsigned(self) -> int:
        """The data as an unsigned little-endian integer."""
        return int.from_bytes(self.data, "little")

    def signed(self) -> int:
        """The data as a two's-complement little-endian integer."""
        return int.from_bytes(self.data, "little", signed=True)


def _extensions(data: bytes, position: int, what: str) -> int:
    """End of a chain of extension bytes starting at ``position``."""
    for count in range(_MAX_EXTENSIONS + 1):
        if position >= len(data):
            msg = f"the plaintext ends inside the {what} of a record"
            raise MalformedPayloadError(msg)
        byte = data[position]
        position += 1
        if not byte & _EXTENSION:
            return position
        if count == _MAX_EXTENSIONS:
            break
    msg = f"a record has more than {_MAX_EXTENSIONS} {what} extensions"
    raise MalformedPayloadError(msg)


def _data_length(dif: int, data: bytes, position: int) -> tuple[int, int]:
    """Where the data of a record starts and how long it is."""
    field = dif & 0x0F
    if field != _VARIABLE_LENGTH:
        return position, _DATA_LENGTHS[field]
    if position >= len(data):
        msg = "the plaintext ends before the length of a variable-length record"
        raise MalformedPayloadError(msg)
    lvar = data[position]
    if lvar <= _LVAR_TEXT_MAX:
        return position + 1, lvar
    for base in _LVAR_NUMBER_BASES:
        if base <= lvar <= base + 0x0F:
            return position + 1, lvar - base
    msg = f"variable-length record with the unsupported length byte {lvar:02X}"
    raise MalformedPayloadError(msg)


def walk_records(plaintext: bytes) -> list[DataRecord]:
    """Split a decrypted application payload into its records.

    Idle fillers (``2F``) between records are skipped. Manufacturer-specific
    data (DIF ``0F``/``1F``) becomes one last record holding the rest.
    Raises ``MalformedPayloadError`` when a record runs past the end.
    """
    records: list[DataRecord] = []
    position = 0
    while position < len(plaintext):
        start = position
        dif = plaintext[position]
        if dif == IDLE_FILLER:
            position += 1
            continue
        if dif in _MANUFACTURER_DATA:
            records.append(DataRecord(start, bytes([dif]), plaintext[start + 1 :]))
            break
        position = start + 1
        if dif & _EXTENSION:
            position = _extensions(plaintext, position, "DIFE")
        vif_at = position
        position = _extensions(plaintext, position, "VIF")
        if plaintext[vif_at] & 0x7F == _PLAIN_TEXT_VIF:
            if position >= len(plaintext):
                msg = "the plaintext ends inside a plain-text VIF"
                raise MalformedPayloadError(msg)
            position += 1 + plaintext[position]
        data_at, length = _data_length(dif, plaintext, position)
        end = data_at + length
        if end > len(plaintext):
            msg = (
                f"the record at offset {start} needs {end - start} bytes, "
                f"{len(plaintext) - start} are left"
            )
            raise MalformedPayloadError(msg)
        records.append(
            DataRecord(start, plaintext[start:data_at], plaintext[data_at:end])
        )
        position = end
    return records


def encode_record(
    header: bytes, value: int, length: int, *, signed: bool = False
) -> bytes:
    """A record with an integer value of ``length`` bytes, little-endian."""
    return header + value.to_bytes(length, "little", signed=signed)
