"""M-Bus long frames (EN 13757-2) carrying DLMS messages: read and written.

``68 L L 68 | C A CI STSAP DTSAP data | CS 16``; a message is split over
segments numbered in the CI field (0x10 marks the last one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..crc import mbus_checksum
from ..errors import ChecksumError, FramingError
from .link import LINE_HINT, Broken, Incomplete, LinkLayer, LinkSpec, Outcome, Part

if TYPE_CHECKING:
    from collections.abc import Sequence

MBUS_START: Final = 0x68
MBUS_STOP: Final = 0x16
MBUS_TRANSPORT_ADDRESSES: Final = b"\x01\x67"
MBUS_MAX_SEGMENT: Final = 245
"""User data per M-Bus segment, as Netz NÖ and KSM West meters send it."""
"""STSAP and DTSAP that open the user data of every DLMS M-Bus segment."""
_MBUS_CONTROL: Final = 0x53  # SND_UD
_MBUS_BROADCAST: Final = 0xFF
_MBUS_MIN_LENGTH: Final = 5  # C, A, CI, STSAP, DTSAP
_MBUS_MAX_LENGTH: Final = 0xFF
_MBUS_LAST_SEGMENT: Final = 0x10
_MBUS_MAX_SEGMENTS: Final = 16
_MBUS_LENGTH_OVERFLOW: Final = 0x100
MBUS_MAX_FRAME: Final = 4 + _MBUS_MAX_LENGTH + _MBUS_LENGTH_OVERFLOW + 2
"""Largest M-Bus frame, including one whose length field overflowed."""
_HEADER_START: Final = rb"\x68..\x68"
# A checked header with an SND_UD control field, as it shows inside other data.
_INNER_HEADER: Final = rb"\x68(?P<mbus_length>.)(?P=mbus_length)\x68[\x53\x73]"


def parse_mbus(buffer: bytearray, start: int) -> Outcome:
    """The M-Bus long frame at ``start`` (``68 . . 68`` matched).

    Some meters send 257 user-data bytes with L = 0x01: when the frame does
    not check out with L, it is tried with L + 256.
    """
    length = buffer[start + 1]
    if buffer[start + 2] != length:
        return None
    failure: Broken | None = None
    if length >= _MBUS_MIN_LENGTH:
        outcome = _mbus_frame(buffer, start, length)
        if not isinstance(outcome, Broken):
            return outcome
        failure = outcome
    outcome = _mbus_frame(buffer, start, length + _MBUS_LENGTH_OVERFLOW)
    if isinstance(outcome, Incomplete):
        return Incomplete(outcome.size, outcome.needed, failure)
    if isinstance(outcome, Broken):
        return failure or outcome
    return outcome


def _mbus_frame(
    buffer: bytearray, start: int, length: int
) -> Part | Incomplete | Broken:
    size = length + 6
    if len(buffer) < start + size:
        return Incomplete(size, size)
    data_end = start + 4 + length
    error: FramingError
    if buffer[data_end + 1] != MBUS_STOP:
        error = FramingError(
            f"M-Bus frame of {size} bytes does not end with a stop byte (16): "
            f"the frame was cut or bytes were lost on the line; dropped"
        )
        return Broken(error, size)
    if mbus_checksum(buffer[start + 4 : data_end]) != buffer[data_end]:
        error = ChecksumError(
            f"M-Bus checksum mismatch (frame of {size} bytes); {LINE_HINT}"
        )
        return Broken(error, size)
    raw = bytes(buffer[start : start + size])
    control_information = buffer[start + 6]
    if control_information <= _MBUS_LAST_SEGMENT | 0x0F:
        number = control_information & 0x0F
        final = bool(control_information & _MBUS_LAST_SEGMENT)
    else:
        # Some meters send an unexpected CI (0xFF); the rest of the frame
        # is consistent, so take it as a whole message.
        number, final = 0, True
    transport_addresses = bytes(buffer[start + 7 : start + 9])
    corrupt = None
    if transport_addresses != MBUS_TRANSPORT_ADDRESSES:
        corrupt = FramingError(
            f"M-Bus segment {number} carries transport addresses "
            f"{transport_addresses.hex(' ')} instead of 01 67: the segment is "
            f"corrupt; its message is dropped"
        )
    return Part(
        raw=raw,
        payload=bytes(buffer[start + 9 : data_end]),
        number=number,
        final=final,
        error=corrupt,
    )


# --- writing ------------------------------------------------------------------


def encode_mbus(payload: bytes, *, max_segment: int = MBUS_MAX_SEGMENT) -> bytes:
    """M-Bus long frame(s) that push ``payload`` as a DLMS message.

    Each segment carries C 0x53, A 0xFF, CI = segment number (0x10 added on
    the last), STSAP 01, DTSAP 67 and at most ``max_segment`` payload bytes.

    Raises:
        ValueError: ``max_segment`` is out of range or the payload needs more
            than 16 segments.

    """
    largest = _MBUS_MAX_LENGTH - _MBUS_MIN_LENGTH
    if not 1 <= max_segment <= largest:
        raise ValueError(f"max_segment must be between 1 and {largest}")
    chunks = [
        payload[index : index + max_segment]
        for index in range(0, len(payload), max_segment)
    ] or [b""]
    if len(chunks) > _MBUS_MAX_SEGMENTS:
        raise ValueError(
            f"payload of {len(payload)} bytes needs more than {_MBUS_MAX_SEGMENTS} "
            f"M-Bus segments of {max_segment} bytes"
        )
    frames = []
    for number, chunk in enumerate(chunks):
        last = _MBUS_LAST_SEGMENT if number == len(chunks) - 1 else 0
        body = (
            bytes([_MBUS_CONTROL, _MBUS_BROADCAST, number | last])
            + MBUS_TRANSPORT_ADDRESSES
            + chunk
        )
        header = bytes([MBUS_START, len(body), len(body), MBUS_START])
        frames.append(header + body + bytes([mbus_checksum(body), MBUS_STOP]))
    return b"".join(frames)


def _encode(
    payloads: Sequence[bytes],
    max_information: int | None,
    _addresses: tuple[bytes, bytes],
) -> bytes:
    return b"".join(
        encode_mbus(payload, max_segment=max_information or MBUS_MAX_SEGMENT)
        for payload in payloads
    )


def _always(_data: bytes, _start: int) -> bool:
    return True


MBUS: Final = LinkSpec(
    link=LinkLayer.MBUS,
    label="M-Bus",
    start=_HEADER_START,
    auto_start=_HEADER_START,
    parse=parse_mbus,
    max_frame=MBUS_MAX_FRAME,
    checked=True,
    encode=_encode,
    contexts=(MBUS_TRANSPORT_ADDRESSES,),
    inner_header=_INNER_HEADER,
    confirms_header=_always,
)
