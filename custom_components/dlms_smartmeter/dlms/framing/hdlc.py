"""HDLC (IEC 62056-46) frames of push meters: read and written.

``7E | format | addresses | control | HCS | info | FCS | 7E``. Frames are
delimited by the 11-bit length in the format field, not by the flags: there
is no byte stuffing, so ``7E`` occurs inside real frames. A message longer
than one frame is sent in segments (the S bit of the format field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..crc import crc16_x25
from ..errors import ChecksumError, FramingError
from .link import (
    INVALID,
    LINE_HINT,
    NEED_MORE,
    Broken,
    Incomplete,
    LinkLayer,
    LinkSpec,
    Outcome,
    Part,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

HDLC_FLAG: Final = 0x7E
HDLC_MAX_LENGTH: Final = 0x7FF
"""Largest value of the 11-bit length field (format field through FCS)."""
HDLC_MAX_FRAME: Final = HDLC_MAX_LENGTH + 2
"""Largest HDLC frame on the wire, both flags included."""
LLC_SERVER_TO_CLIENT: Final = b"\xe6\xe7\x00"
LLC_CLIENT_TO_SERVER: Final = b"\xe6\xe6\x00"
_LLC_HEADERS: Final = (LLC_SERVER_TO_CLIENT, LLC_CLIENT_TO_SERVER)
_HDLC_SEGMENTED: Final = 0x08  # the S bit, in the first byte of the format field
_HDLC_CONTROL_SEGMENT: Final = 0x03  # UI frame
_HDLC_CONTROL_FINAL: Final = 0x13  # UI frame with the poll/final bit
HDLC_CLIENT_ADDRESS: Final = b"\xcf"
"""Client address meters push to (the public client, 0x67)."""
HDLC_SERVER_ADDRESS: Final = b"\x02\x23"
"""Server address of the meters' management logical device."""
_HEADER_START: Final = rb"\x7e[\xa0-\xaf]"


def _address_end(buffer: bytes | bytearray, offset: int, limit: int) -> int:
    """End of the HDLC address at ``offset`` (1, 2 or 4 bytes, LSB 1 ends it).

    Returns ``NEED_MORE`` if the buffer ends first and ``INVALID`` if there
    is no valid address before ``limit``.
    """
    for end in range(offset + 1, offset + 5):
        if end > limit:
            return INVALID
        if end > len(buffer):
            return NEED_MORE
        if buffer[end - 1] & 1:
            return INVALID if end - offset == 3 else end
    return INVALID


def _hdlc_header_end(buffer: bytes | bytearray, start: int, length: int) -> int:
    """End of format, addresses and control of the HDLC frame at ``start``."""
    limit = start + length - 2  # the header ends before the FCS
    destination_end = _address_end(buffer, start + 3, limit)
    if destination_end <= INVALID:
        return destination_end
    source_end = _address_end(buffer, destination_end, limit)
    if source_end <= INVALID:
        return source_end
    return source_end + 1


def _crc_matches(buffer: bytes | bytearray, begin: int, end: int) -> bool:
    """Whether CRC-16/X.25 of ``buffer[begin:end]`` is at ``end``, LSB first."""
    return crc16_x25(buffer[begin:end]) == buffer[end] | buffer[end + 1] << 8


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class _HdlcHeader:
    size: int  # the whole frame on the wire, both flags included
    end: int  # offset just after the control byte
    fcs_at: int  # offset of the FCS

    @property
    def has_information(self) -> bool:
        return self.end != self.fcs_at


def _check_hdlc_header(
    buffer: bytes | bytearray, start: int
) -> _HdlcHeader | Incomplete | ChecksumError | None:
    """Header of the HDLC frame at ``start``, checked by its HCS if it has one."""
    if len(buffer) < start + 3:
        return Incomplete(None, 3)
    length = (buffer[start + 1] << 8 | buffer[start + 2]) & HDLC_MAX_LENGTH
    header = _HdlcHeader(
        size=length + 2,
        end=_hdlc_header_end(buffer, start, length),
        fcs_at=start + length - 1,
    )
    if header.end == NEED_MORE:
        return Incomplete(header.size, 0)
    if header.end == INVALID or header.fcs_at == header.end + 1:  # no room for HCS
        return None
    if header.has_information:
        if len(buffer) < header.end + 2:
            return Incomplete(header.size, header.end + 2 - start)
        if not _crc_matches(buffer, start + 1, header.end):
            return ChecksumError(f"HDLC header check sequence mismatch; {LINE_HINT}")
    return header


def parse_hdlc(buffer: bytearray, start: int) -> Outcome:
    """The HDLC frame at ``start`` (``7E`` and a format byte ``Ax`` matched)."""
    header = _check_hdlc_header(buffer, start)
    if not isinstance(header, _HdlcHeader):
        return header
    size = header.size
    if len(buffer) < start + size:
        return Incomplete(size, size)
    error: FramingError
    if not _crc_matches(buffer, start + 1, header.fcs_at):
        error = ChecksumError(
            f"HDLC frame check sequence mismatch (frame of {size} bytes); {LINE_HINT}"
        )
        return Broken(error, size)
    if buffer[start + size - 1] != HDLC_FLAG:
        error = FramingError(
            f"HDLC frame of {size} bytes does not end with a closing flag (7E): "
            f"the frame was cut or bytes were lost on the line; dropped"
        )
        return Broken(error, size)
    information = None
    if header.has_information:
        information = bytes(buffer[header.end + 2 : header.fcs_at])
    return Part(
        raw=bytes(buffer[start : start + size]),
        payload=information,
        addresses=bytes(buffer[start + 3 : header.end - 1]),
        starts=information is not None and information[:3] in _LLC_HEADERS,
        final=not buffer[start + 1] & _HDLC_SEGMENTED,
    )


def _confirms_header(data: bytes, start: int) -> bool:
    """A checked HDLC header of a frame with information at ``start``."""
    header = _check_hdlc_header(data, start)
    return isinstance(header, _HdlcHeader) and header.has_information


def _unwrap(payload: bytes) -> bytes:
    """The APDU of a reassembled information field (without the LLC header)."""
    if payload.startswith(_LLC_HEADERS):
        return payload[len(LLC_SERVER_TO_CLIENT) :]
    return payload


# --- writing ------------------------------------------------------------------


def _check_hdlc_address(address: bytes, name: str) -> None:
    valid = (
        len(address) in {1, 2, 4}
        and address[-1] & 1
        and not any(byte & 1 for byte in address[:-1])
    )
    if not valid:
        raise ValueError(
            f"{name} must be 1, 2 or 4 bytes with bit 0 set only in the last byte"
        )


def _hdlc_frame(
    information: bytes, destination: bytes, source: bytes, *, final: bool
) -> bytes:
    length = 2 + len(destination) + len(source) + 1 + 2 + len(information) + 2
    format_field = 0xA000 | length | (0 if final else _HDLC_SEGMENTED << 8)
    control = _HDLC_CONTROL_FINAL if final else _HDLC_CONTROL_SEGMENT
    header = format_field.to_bytes(2, "big") + destination + source + bytes([control])
    body = header + crc16_x25(header).to_bytes(2, "little") + information
    flag = bytes([HDLC_FLAG])
    return flag + body + crc16_x25(body).to_bytes(2, "little") + flag


def encode_hdlc(
    payload: bytes,
    *,
    client_address: bytes = HDLC_CLIENT_ADDRESS,
    server_address: bytes = HDLC_SERVER_ADDRESS,
    max_information: int | None = None,
) -> bytes:
    """HDLC frame(s) that push ``payload`` from a meter to a client.

    The LLC header ``E6 E7 00`` is prepended. If ``max_information`` is given
    and the information field is longer, it is split into segments: S bit and
    control 0x03 on every segment but the last, control 0x13 on the last.

    Raises:
        ValueError: An address is not a valid HDLC address, or the payload
            does not fit into the frame size.

    """
    _check_hdlc_address(client_address, "client_address")
    _check_hdlc_address(server_address, "server_address")
    overhead = 2 + len(client_address) + len(server_address) + 1 + 2 + 2
    largest = HDLC_MAX_LENGTH - overhead
    information = LLC_SERVER_TO_CLIENT + payload
    if max_information is None:
        if len(information) > largest:
            raise ValueError(
                f"payload of {len(payload)} bytes does not fit into one HDLC "
                f"frame; pass max_information to segment it"
            )
        max_information = largest
    if not 1 <= max_information <= largest:
        raise ValueError(f"max_information must be between 1 and {largest}")
    segments = [
        information[index : index + max_information]
        for index in range(0, len(information), max_information)
    ]
    return b"".join(
        _hdlc_frame(
            segment,
            client_address,
            server_address,
            final=number == len(segments) - 1,
        )
        for number, segment in enumerate(segments)
    )


def _encode(
    payloads: Sequence[bytes],
    max_information: int | None,
    addresses: tuple[bytes, bytes],
) -> bytes:
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


HDLC: Final = LinkSpec(
    link=LinkLayer.HDLC,
    label="HDLC",
    start=_HEADER_START,
    auto_start=_HEADER_START,
    parse=parse_hdlc,
    max_frame=HDLC_MAX_FRAME,
    checked=True,
    encode=_encode,
    overlap=1,  # the closing flag may also open the next frame
    contexts=_LLC_HEADERS,
    inner_header=_HEADER_START,
    confirms_header=_confirms_header,
    unwrap=_unwrap,
)
