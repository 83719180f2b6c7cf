"""AMIS telegrams of Netz Oberösterreich (Siemens TD-3511/TD-3512): frame -> Reading.

A SND_UD long frame (:mod:`.framing.amis`) carries 80 bytes encrypted with OMS
security mode 5 (:mod:`.oms`). The plaintext holds ``2F 2F``, ten data
records (:mod:`.mbus_records`) and ``2F 2F`` again. :data:`RECORDS` is the
record table of the operator's specification (customer interface, version
05.11.2021, table 2): a record not in it is reported with its bytes, never
interpreted.

The telegrams name no meter: their address fields are the reader's fixed
secondary address. A :class:`~.reading.Reading` of an AMIS meter therefore
has ``identifies_meter`` set to ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import MalformedPayloadError, UnsupportedError, UnsupportedPayloadError
from .framing.amis import DataHeader, encode_data_frame, parse_data_frame
from .mbus_records import encode_record, walk_records
from .mbus_time import encode_type_i, parse_type_i
from .oms import FILLER, SECURITY_MODE, decrypt_mode5, encrypt_mode5, mode5_iv
from .reading import MeterValue, Reading, SecurityLevel, Unit

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

LAYOUT: Final = "amis"

DATE_TIME_HEADER: Final = bytes.fromhex("066d")
"""DIF 06 (48 bits), VIF 6D (date and time): type I."""


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """What one record of the table means."""

    obis: str
    unit: Unit
    signed: bool = False


RECORDS: Final[Mapping[bytes, RecordSpec]] = {
    bytes.fromhex("0403"): RecordSpec("1-0:1.8.0", Unit.WATT_HOUR),
    bytes.fromhex("04833c"): RecordSpec("1-0:2.8.0", Unit.WATT_HOUR),
    bytes.fromhex("8410fb8273"): RecordSpec("1-0:3.8.1", Unit.VAR_HOUR),
    bytes.fromhex("8410fb82f33c"): RecordSpec("1-0:4.8.1", Unit.VAR_HOUR),
    bytes.fromhex("042b"): RecordSpec("1-0:1.7.0", Unit.WATT),
    bytes.fromhex("04ab3c"): RecordSpec("1-0:2.7.0", Unit.WATT),
    bytes.fromhex("04fb14"): RecordSpec("1-0:3.7.0", Unit.VAR),
    bytes.fromhex("04fb943c"): RecordSpec("1-0:4.7.0", Unit.VAR),
    # "Inkassozählwerk": the only signed register (two's complement).
    bytes.fromhex("0483ff04"): RecordSpec("1-0:1.128.0", Unit.WATT_HOUR, signed=True),
}
"""Record header (DIF ... last VIFE) -> meaning; every value has four bytes."""

_VALUE_LENGTH: Final = 4
_MANUFACTURER: Final = bytes.fromhex("2d4c")  # SAM
_MEDIUM: Final = 0x0E
_VERSION: Final = 0x01
_CONFIGURATION: Final = SECURITY_MODE << 8 | 5 << 4  # mode 5, five blocks


def decode_data_frame(raw: bytes, key: bytes | None) -> Reading:
    """Decode one checked SND_UD long frame to the reader.

    Raises ``DecryptionError`` for a wrong key, ``UnsupportedError`` for a
    security mode other than 5, ``UnsupportedPayloadError`` for a record not
    in :data:`RECORDS` and ``MalformedPayloadError`` for a broken layout.
    """
    telegram = parse_data_frame(raw)
    header = telegram.header
    if header.security_mode != SECURITY_MODE:
        msg = (
            f"AMIS telegram with security mode {header.security_mode}; "
            f"only mode {SECURITY_MODE} (AES-128-CBC) is supported"
        )
        raise UnsupportedError(msg)
    if key is None:
        msg = "AMIS telegrams are encrypted: an encryption key is needed"
        raise UnsupportedError(msg)
    plaintext = decrypt_mode5(key, _iv(header), telegram.ciphertext)
    if not plaintext.endswith(FILLER):
        msg = "the decrypted telegram does not end with the 2F 2F fillers: corrupt"
        raise MalformedPayloadError(msg)
    values, meter_time = _interpret(plaintext)
    return Reading(
        system_title=header.manufacturer_id.encode("ascii")
        + header.identification
        + bytes([header.version]),
        invocation_counter=None,
        security=SecurityLevel.ENCRYPTED,
        meter_time=meter_time,
        values=values,
        layout=LAYOUT,
        identifies_meter=False,
        raw=raw,
    )


def _iv(header: DataHeader) -> bytes:
    """The mode-5 IV of a telegram, from its address fields as sent."""
    return mode5_iv(
        header.manufacturer,
        header.identification,
        header.version,
        header.medium,
        header.access_number,
    )


def _interpret(plaintext: bytes) -> tuple[dict[str, MeterValue], datetime | None]:
    """Values and meter time of a plaintext, checked against the record table."""
    records = walk_records(plaintext)
    values: dict[str, MeterValue] = {}
    meter_time: datetime | None = None
    seen_time = False
    unknown = []
    for record in records:
        if record.header == DATE_TIME_HEADER and not seen_time:
            seen_time = True
            meter_time = parse_type_i(record.data).meter_time
            continue
        spec = RECORDS.get(record.header)
        if spec is None or len(record.data) != _VALUE_LENGTH or spec.obis in values:
            unknown.append(record)
            continue
        number = record.signed() if spec.signed else record.unsigned()
        values[spec.obis] = MeterValue(number, spec.unit)
    layout = " ".join(record.header.hex().upper() for record in records)
    if len(values) != len(RECORDS) or not seen_time:
        msg = (
            f"the record layout differs from the AMIS specification (records: "
            f"{layout}): the telegram is corrupt"
        )
        raise MalformedPayloadError(msg)
    if unknown:
        listed = ", ".join(record.raw.hex().upper() for record in unknown)
        msg = f"AMIS telegram with records not in the specification: {listed}"
        raise UnsupportedPayloadError(msg, plaintext)
    return values, meter_time


def encode_telegram(  # noqa: PLR0913 - every field of a telegram is a keyword
    key: bytes,
    *,
    access_number: int,
    meter_time: datetime,
    values: Mapping[str, int],
    time_invalid: bool = False,
    identification: bytes = bytes(4),
) -> bytes:
    """A SND_UD long frame as the meter sends it (for simulators and tests).

    ``values`` maps the OBIS codes of :data:`RECORDS` to integers; every code
    must be present.
    """
    header = DataHeader(
        identification=identification,
        manufacturer=_MANUFACTURER,
        version=_VERSION,
        medium=_MEDIUM,
        access_number=access_number & 0xFF,
        status=0,
        configuration=_CONFIGURATION,
    )
    body = DATE_TIME_HEADER + encode_type_i(meter_time, invalid=time_invalid)
    for record_header, spec in RECORDS.items():
        body += encode_record(
            record_header, values[spec.obis], _VALUE_LENGTH, signed=spec.signed
        )
    plaintext = FILLER + body + FILLER
    return encode_data_frame(header, encrypt_mode5(key, _iv(header), plaintext))
