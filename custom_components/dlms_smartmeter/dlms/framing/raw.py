"""A raw APDU without a link layer (P1 of some Sagemcom meters, captures).

``DB 08 <system title> <BER length> <content>``. Nothing protects it, so
only a plausible header is taken: a three-letter manufacturer id and a known
security control byte. When the link is configured as raw APDUs, a plain
``0F`` data-notification is taken too: it carries no length, so it ends
where its A-XDR body ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..axdr import read_data
from ..errors import MalformedPayloadError, TruncatedPayloadError, UnsupportedError
from .link import Incomplete, LinkLayer, LinkSpec, Outcome, Part

if TYPE_CHECKING:
    from collections.abc import Sequence

RAW_APDU_MAX_CONTENT: Final = 4096
"""Largest content of a raw ``DB``/``DC`` APDU accepted without a link layer."""
RAW_APDU_MAX_FRAME: Final = 2 + 8 + 3 + RAW_APDU_MAX_CONTENT
_RAW_APDU_SECURITY_CONTROL: Final = frozenset({0x20, 0x21, 0x30, 0x31})
_RAW_APDU_MIN_CONTENT: Final = 5  # security control byte and invocation counter
_DATA_NOTIFICATION: Final = 0x0F
_NOTIFICATION_HEAD: Final = 6  # tag, long-invoke-id, date-time length (or 09)
_OCTET_STRING: Final = 0x09
_DATE_TIME_SIZES: Final = frozenset({0, 12})


def _raw_apdu_size(
    buffer: bytearray, start: int
) -> tuple[int, int] | Incomplete | None:
    """Header length and size of the raw APDU at ``start``, from its BER length."""
    if len(buffer) < start + 11:
        return Incomplete(None, 11)
    manufacturer = bytes(buffer[start + 2 : start + 5])
    if not (manufacturer.isalpha() and manufacturer.isupper()):
        return None
    header, content = 11, buffer[start + 10]
    if content > 0x7F:
        header += content - 0x80
        if header not in {12, 13}:
            return None
        if len(buffer) < start + header:
            return Incomplete(None, header)
        content = int.from_bytes(buffer[start + 11 : start + header], "big")
    if not _RAW_APDU_MIN_CONTENT <= content <= RAW_APDU_MAX_CONTENT:
        return None
    return header, header + content


def _parse_plain_notification(buffer: bytearray, start: int) -> Outcome:
    """The plain data-notification at ``start``: header, then one A-XDR value."""
    data = bytes(buffer[start : start + RAW_APDU_MAX_FRAME])
    if len(data) < _NOTIFICATION_HEAD + 1:
        return Incomplete(None, _NOTIFICATION_HEAD + 1)
    position = _NOTIFICATION_HEAD - 1
    if data[position] == _OCTET_STRING:
        position += 1
    size = data[position]
    if size not in _DATE_TIME_SIZES:
        return None
    try:
        _body, end = read_data(data, position + 1 + size)
    except TruncatedPayloadError:
        if len(data) >= RAW_APDU_MAX_FRAME:
            return None
        return Incomplete(None, len(data) + 1)
    except (MalformedPayloadError, UnsupportedError):
        return None
    return Part(raw=data[:end], payload=data[:end])


def parse_raw_apdu(buffer: bytearray, start: int) -> Outcome:
    """The raw APDU at ``start`` (``DB 08``, ``DC 08`` or ``0F`` matched).

    Without a checksum, only a plausible header is accepted: a system title
    that starts with a three-letter manufacturer id and a known security
    control byte.
    """
    if buffer[start] == _DATA_NOTIFICATION:
        return _parse_plain_notification(buffer, start)
    found = _raw_apdu_size(buffer, start)
    if not isinstance(found, tuple):
        return found
    header, size = found
    if len(buffer) <= start + header:
        return Incomplete(size, header + 1)
    if buffer[start + header] not in _RAW_APDU_SECURITY_CONTROL:
        return None
    if len(buffer) < start + size:
        return Incomplete(size, size)
    raw = bytes(buffer[start : start + size])
    return Part(raw=raw, payload=raw)


def _encode(
    payloads: Sequence[bytes],
    _max_information: int | None,
    _addresses: tuple[bytes, bytes],
) -> bytes:
    return b"".join(payloads)


RAW_APDU: Final = LinkSpec(
    link=LinkLayer.APDU,
    label="APDU",
    # A plain data-notification is taken only when the link is configured:
    # one 0F byte is too common to detect a link by.
    start=rb"[\xdb\xdc]\x08|\x0f",
    auto_start=rb"\xdb\x08",
    parse=parse_raw_apdu,
    max_frame=RAW_APDU_MAX_FRAME,
    checked=False,
    encode=_encode,
)
