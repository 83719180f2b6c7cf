"""Stream framing: serial bytes in, complete link-layer payloads out.

Three link layers carry DLMS push messages from Austrian meters:

* HDLC (IEC 62056-46): ``7E | format | addresses | control | HCS | info | FCS |
  7E``. Frames are delimited by the 11-bit length in the format field, not by
  the flags: there is no byte stuffing, so ``7E`` occurs inside real frames.
* M-Bus long frames (EN 13757-2): ``68 L L 68 | C A CI STSAP DTSAP data | CS
  16``, a message split over numbered segments.
* A raw APDU with no link layer (P1 of some Sagemcom meters): ``DB 08 <system
  title> <BER length> <content>``.

:class:`StreamFramer` is push-style: the caller feeds whatever the serial port
delivered and gets back complete :class:`LinkFrame` objects and the problems
found (as :class:`FramingError` instances, never raised), in stream order.

The scanner jumps from one possible frame start to the next with a compiled
regular expression and keeps only the bytes of a frame that is not complete
yet, so the work per byte is constant and the buffer stays below one maximum
frame between calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
import re
from typing import TYPE_CHECKING, Final

from . import amis_link
from .crc import crc16_x25, mbus_checksum
from .errors import ChecksumError, FramingError

if TYPE_CHECKING:
    from collections.abc import Callable


class LinkLayer(StrEnum):
    """Link layer of a byte stream."""

    AUTO = "auto"
    HDLC = "hdlc"
    MBUS = "mbus"
    APDU = "apdu"
    AMIS = "amis"
    """Wired M-Bus of the AMIS meters: SND_NKE short frames and CI 0x5B long frames."""


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """One complete link-layer message.

    ``payload`` is what the link layer carried, reassembled: for HDLC the
    information fields of all segments with the LLC header removed; for
    M-Bus the user data of all segments with STSAP/DTSAP removed; for a raw
    APDU stream the APDU itself. It is normally an APDU (``DB``, ``E0``,
    ``0F`` ...). ``raw`` holds the exact wire bytes of all segments.
    """

    link: LinkLayer
    payload: bytes
    raw: bytes


@dataclass(slots=True)
class FramerStats:
    """What a :class:`StreamFramer` has seen since it was created.

    ``bytes_received`` without ``frames`` and with a growing ``bytes_skipped``
    means bytes arrive but none of them form a valid frame (wrong line
    settings, wrong link layer, a misplaced reading head).
    """

    bytes_received: int = 0
    """Every byte passed to ``feed()``."""
    bytes_skipped: int = 0
    """Bytes that are not part of any frame with a valid checksum."""
    frames: int = 0
    """Complete link frames delivered (a segmented message counts once)."""
    checksum_errors: int = 0
    """Frames dropped because their HCS, FCS or M-Bus checksum did not match."""
    framing_errors: int = 0
    """Every other reported problem: cut frames, lost or corrupt segments."""

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict (for diagnostics and JSON)."""
        return asdict(self)


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

MBUS_START: Final = 0x68
MBUS_STOP: Final = 0x16
MBUS_TRANSPORT_ADDRESSES: Final = b"\x01\x67"
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

RAW_APDU_MAX_CONTENT: Final = 4096
"""Largest content of a raw ``DB``/``DC`` APDU accepted without a link layer."""
RAW_APDU_MAX_FRAME: Final = 2 + 8 + 3 + RAW_APDU_MAX_CONTENT
_RAW_APDU_SECURITY_CONTROL: Final = frozenset({0x20, 0x21, 0x30, 0x31})
_RAW_APDU_MIN_CONTENT: Final = 5  # security control byte and invocation counter

MAX_MESSAGE_SIZE: Final = 0x10000
"""Largest reassembled payload; longer segmented messages are dropped."""

_HDLC_START: Final = rb"\x7e[\xa0-\xaf]"
_MBUS_START: Final = rb"\x68..\x68"
_GLO_APDU_START: Final = rb"\xdb\x08"
_ANY_APDU_START: Final = rb"[\xdb\xdc]\x08"
# AMIS hook: the search request's first bytes open a short frame.
_AMIS_SHORT_START: Final = re.escape(amis_link.SHORT_FRAME_PREFIX)
# A start pattern may straddle two chunks: keep this many trailing bytes that
# matched no complete pattern for the next scan.
_START_PATTERN_TAIL: Final = 3
_START_PATTERNS: Final = {
    LinkLayer.AUTO: re.compile(
        b"|".join((_HDLC_START, _MBUS_START, _GLO_APDU_START, _AMIS_SHORT_START)),
        re.DOTALL,
    ),
    LinkLayer.HDLC: re.compile(_HDLC_START),
    LinkLayer.MBUS: re.compile(_MBUS_START, re.DOTALL),
    LinkLayer.APDU: re.compile(_ANY_APDU_START),
    LinkLayer.AMIS: re.compile(b"|".join((_MBUS_START, _AMIS_SHORT_START)), re.DOTALL),
}
_PROVEN_LINK_START: Final = re.compile(
    b"|".join((_HDLC_START, _MBUS_START, _AMIS_SHORT_START)), re.DOTALL
)
# What precedes an APDU inside a link frame: the LLC header of HDLC, the
# transport addresses of M-Bus. A raw-APDU candidate after one is not raw.
_LINK_CONTEXTS: Final = (*_LLC_HEADERS, MBUS_TRANSPORT_ADDRESSES)
_CONTEXT_SIZE: Final = 3
# Headers that reveal a raw-APDU candidate to be the inside of a link frame.
_LINK_HEADER: Final = re.compile(rb"\x7e[\xa0-\xaf]|\x68(.)\1\x68[\x53\x73]", re.DOTALL)

_CHECKSUMMED_LINKS: Final = frozenset({LinkLayer.HDLC, LinkLayer.MBUS, LinkLayer.AMIS})
_NEED_MORE: Final = -1
_INVALID: Final = 0

_LINE_HINT: Final = (
    "bytes were corrupted or lost on the line: check the reading head's position "
    "and the line settings (baud rate, parity)"
)


@dataclass(frozen=True, slots=True)
class _Incomplete:
    """The candidate at the scan position needs more bytes to be decided."""

    size: int | None
    """Bytes the frame needs from its start, when the header tells."""
    needed: int
    """Bytes from its start the candidate needs before it can be looked at
    again (0: one more byte)."""
    failure: _Broken | None = None
    """What to report if the input ends before the frame is complete."""


@dataclass(frozen=True, slots=True)
class _Broken:
    """A frame whose header checked out but whose body did not."""

    error: FramingError
    size: int
    """The frame size its header announced."""


@dataclass(frozen=True, slots=True)
class _HdlcFrame:
    raw: bytes
    information: bytes | None  # None: no information field (no HCS either)
    addresses: bytes
    segmented: bool


@dataclass(frozen=True, slots=True)
class _MbusFrame:
    raw: bytes
    control_information: int
    transport_addresses: bytes
    user_data: bytes


@dataclass(frozen=True, slots=True)
class _RawApdu:
    raw: bytes


@dataclass(frozen=True, slots=True)
class _AmisShortFrame:
    raw: bytes


type _Outcome = (
    _Incomplete
    | FramingError
    | _Broken
    | _HdlcFrame
    | _MbusFrame
    | _RawApdu
    | _AmisShortFrame
    | None
)
"""What a parser found at a start pattern; None: not a frame after all."""


@dataclass(slots=True)
class _Message:
    """A segmented message being reassembled."""

    link: LinkLayer
    addresses: bytes
    parts: list[bytes] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    size: int = 0
    oversized: bool = False
    """Dropped for its size (and reported): its remaining segments are ignored."""


class StreamFramer:
    """Push-style framer: ``feed()`` chunks, get frames and framing problems back.

    Splitting the input differently (one byte at a time or megabytes at a
    time) gives the same results. Problems are returned, never raised, and
    counted in :attr:`stats`.

    With ``LinkLayer.AUTO`` the framer looks for HDLC frames, M-Bus frames
    and raw ``DB`` APDUs. A raw APDU has no checksum, so it is only trusted
    while no HDLC or M-Bus frame has been seen: from the first valid link
    frame on, raw-APDU candidates are ignored for the life of the framer.
    """

    def __init__(self, link: LinkLayer = LinkLayer.AUTO) -> None:
        """Create a framer for one byte stream."""
        self.link = link
        self.stats = FramerStats()
        self._buffer = bytearray()
        self._buffer_offset = 0  # stream offset of self._buffer[0]
        self._accounted = 0  # stream offset up to which every byte is classified
        self._needed = 0  # stream offset the pending candidate needs to be decided
        self._message: _Message | None = None
        self._detected: LinkLayer | None = None
        self._reports: list[FramingError] = []  # from reset(), for the next call
        # Raw-APDU candidates before this stream offset lie inside a link frame
        # that was dropped: its contents must not come back as another frame.
        self._dropped_frame_end = 0
        self._history = b""  # the last bytes before self._buffer[0]

    @property
    def detected_link(self) -> LinkLayer | None:
        """Link layer of the last valid frame, or None before the first one."""
        return self._detected

    @property
    def buffered(self) -> int:
        """Bytes held for a frame that is not complete yet."""
        return len(self._buffer)

    @property
    def max_buffered(self) -> int:
        """Upper bound of :attr:`buffered` between calls, for this link layer."""
        sizes = {
            LinkLayer.HDLC: HDLC_MAX_FRAME,
            LinkLayer.MBUS: MBUS_MAX_FRAME,
            LinkLayer.APDU: RAW_APDU_MAX_FRAME,
            LinkLayer.AMIS: MBUS_MAX_FRAME,
        }
        return sizes.get(self.link, max(sizes.values()))

    def feed(self, data: bytes) -> list[LinkFrame | FramingError]:
        """Consume bytes; return complete frames and problems found, in stream order."""
        results: list[LinkFrame | FramingError] = [*self._reports]
        self._reports.clear()
        if not data:
            return results
        self.stats.bytes_received += len(data)
        self._buffer += data
        if self._buffer_offset + len(self._buffer) >= self._needed:
            self._scan(results)
        return results

    def reset(self) -> None:
        """Forget partial data (after a reconnect).

        A frame cut by the reconnect is dropped silently. A segmented message
        still waiting for segments is reported as a :class:`FramingError` by
        the next ``feed()`` or ``flush()``.
        """
        self._discard_buffer()
        if self._message is not None:
            reason = "the connection was reset"
            self._reports += self._drop_message(self._message, reason)

    def flush(self) -> list[FramingError]:
        """End of input: report what is left incomplete, then reset."""
        errors = [*self._reports]
        self._reports.clear()
        # feed() stops scanning only at a candidate that needs more bytes.
        match = self._start_pattern().search(self._buffer)
        outcome = self._parse(match.start()) if match else None
        if match and isinstance(outcome, _Incomplete):
            got = len(self._buffer) - match.start()
            failure = outcome.failure
            error = failure.error if failure else _cut_frame(got, outcome)
            errors.append(self._count(error))
        self._discard_buffer()
        if self._message is not None:
            errors += self._drop_message(self._message, "the input ended")
        return errors

    # --- scanning -------------------------------------------------------------

    def _start_pattern(self) -> re.Pattern[bytes]:
        if self.link is LinkLayer.AUTO and self._detected in _CHECKSUMMED_LINKS:
            return _PROVEN_LINK_START
        return _START_PATTERNS[self.link]

    def _scan(self, results: list[LinkFrame | FramingError]) -> None:
        """Take every frame that the buffer completes; keep only a partial one."""
        buffer = self._buffer
        position = 0
        self._needed = 0
        while True:
            match = self._start_pattern().search(buffer, position)
            if match is None:
                position = max(position, len(buffer) - _START_PATTERN_TAIL)
                break
            start = match.start()
            outcome = self._parse(start)
            if isinstance(outcome, _Incomplete):
                position = start
                needed = max(outcome.needed, len(buffer) - start + 1)
                self._needed = self._buffer_offset + start + needed
                break
            if outcome is None:
                position = start + 1
            elif isinstance(outcome, FramingError):
                results.append(self._count(outcome))
                position = start + 1
            elif isinstance(outcome, _Broken):
                results.append(self._count(outcome.error))
                frame_end = self._buffer_offset + start + outcome.size
                self._dropped_frame_end = max(self._dropped_frame_end, frame_end)
                position = start + 1
            else:
                position = self._take(outcome, start, results)
        self._skip_until(position)
        consumed_tail = buffer[max(position - _CONTEXT_SIZE, 0) : position]
        self._history = (self._history + consumed_tail)[-_CONTEXT_SIZE:]
        del buffer[:position]
        self._buffer_offset += position

    def _parse(self, start: int) -> _Outcome:
        link_parser = _LINK_PARSERS.get(self._buffer[start])
        if link_parser is not None:
            return link_parser(self._buffer, start)
        if self.link is not LinkLayer.AUTO:
            return _parse_raw_apdu(self._buffer, start, inside_auto=False)
        if self._buffer_offset + start < self._dropped_frame_end:
            return None
        context = self._history + self._buffer[max(start - _CONTEXT_SIZE, 0) : start]
        if context.endswith(_LINK_CONTEXTS):
            return None
        return _parse_raw_apdu(self._buffer, start, inside_auto=True)

    def _take(
        self,
        frame: _HdlcFrame | _MbusFrame | _RawApdu | _AmisShortFrame,
        start: int,
        results: list[LinkFrame | FramingError],
    ) -> int:
        """Account a valid frame, pass it on; return where scanning resumes."""
        self._skip_until(start)
        end = start + len(frame.raw)
        self._accounted = max(self._accounted, self._buffer_offset + end)
        # --- AMIS hook: search requests and CI 0x5B data frames to the reader.
        if isinstance(frame, _AmisShortFrame) or (
            isinstance(frame, _MbusFrame) and amis_link.is_data_frame(frame.raw)
        ):
            self._detected = LinkLayer.AMIS
            self._interrupt_message(LinkLayer.AMIS, results)
            self._deliver(
                LinkFrame(LinkLayer.AMIS, frame.raw[4:-2], frame.raw), results
            )
            return end
        # --- end of the AMIS hook
        if isinstance(frame, _HdlcFrame):
            self._detected = LinkLayer.HDLC
            self._on_hdlc_frame(frame, results)
            return end - 1  # the closing flag may also open the next frame
        if isinstance(frame, _MbusFrame):
            self._detected = LinkLayer.MBUS
            self._on_mbus_frame(frame, results)
            return end
        self._detected = LinkLayer.APDU
        self._interrupt_message(LinkLayer.APDU, results)
        self._deliver(LinkFrame(LinkLayer.APDU, frame.raw, frame.raw), results)
        return end

    def _skip_until(self, position: int) -> None:
        """Count the unclassified bytes before ``position`` as skipped."""
        offset = self._buffer_offset + position
        if offset > self._accounted:
            self.stats.bytes_skipped += offset - self._accounted
            self._accounted = offset

    def _discard_buffer(self) -> None:
        self._skip_until(len(self._buffer))
        self._buffer_offset += len(self._buffer)
        self._buffer.clear()
        self._needed = 0
        self._history = b""

    # --- messages -------------------------------------------------------------

    def _on_hdlc_frame(
        self, frame: _HdlcFrame, results: list[LinkFrame | FramingError]
    ) -> None:
        information = frame.information
        if information is None:  # a link-management frame: carries no data
            return
        self._interrupt_message(LinkLayer.HDLC, results)
        starts_message = information[:3] in _LLC_HEADERS
        message = self._message
        if message is not None and (
            starts_message or message.addresses != frame.addresses
        ):
            results += self._drop_message(message, "a new message began")
            message = None
        if message is None:
            message = self._message = _Message(LinkLayer.HDLC, frame.addresses)
        self._add_part(
            message, information, frame.raw, final=not frame.segmented, results=results
        )

    def _on_mbus_frame(
        self, frame: _MbusFrame, results: list[LinkFrame | FramingError]
    ) -> None:
        self._interrupt_message(LinkLayer.MBUS, results)
        control_information = frame.control_information
        if control_information <= _MBUS_LAST_SEGMENT | 0x0F:
            number = control_information & 0x0F
            final = bool(control_information & _MBUS_LAST_SEGMENT)
        else:
            # Some meters send an unexpected CI (0xFF); the rest of the frame
            # is consistent, so take it as a whole message.
            number, final = 0, True
        message = self._message
        if frame.transport_addresses != MBUS_TRANSPORT_ADDRESSES:
            self._message = None
            results.append(self._count(_corrupt_segment(number, frame)))
            return
        if number == 0:
            if message is not None:
                results += self._drop_message(message, "a new message began")
            message = self._message = _Message(LinkLayer.MBUS, b"")
        elif message is None or number != len(message.parts):
            self._message = None
            expected = len(message.parts) if message is not None else 0
            results.append(self._count(_segment_out_of_order(number, expected)))
            return
        self._add_part(
            message, frame.user_data, frame.raw, final=final, results=results
        )

    def _interrupt_message(
        self, link: LinkLayer, results: list[LinkFrame | FramingError]
    ) -> None:
        """Drop a pending message of another link layer."""
        message = self._message
        if message is not None and message.link is not link:
            reason = f"a frame of type {link} arrived"
            results += self._drop_message(message, reason)

    def _add_part(
        self,
        message: _Message,
        payload: bytes,
        raw: bytes,
        *,
        final: bool,
        results: list[LinkFrame | FramingError],
    ) -> None:
        if final:
            self._message = None
        if message.oversized:
            return
        message.parts.append(payload)
        message.raws.append(raw)
        message.size += len(payload)
        if message.size > MAX_MESSAGE_SIZE:
            message.oversized = True
            message.parts.clear()
            message.raws.clear()
            error = FramingError(
                f"segmented {message.link} message longer than "
                f"{MAX_MESSAGE_SIZE} bytes; dropped"
            )
            results.append(self._count(error))
        elif final:
            payload = b"".join(message.parts)
            if message.link is LinkLayer.HDLC and payload.startswith(_LLC_HEADERS):
                payload = payload[len(LLC_SERVER_TO_CLIENT) :]
            self._deliver(
                LinkFrame(message.link, payload, b"".join(message.raws)), results
            )

    def _deliver(
        self, frame: LinkFrame, results: list[LinkFrame | FramingError]
    ) -> None:
        self.stats.frames += 1
        results.append(frame)

    def _drop_message(self, message: _Message, reason: str) -> list[FramingError]:
        """Forget a message cut short; the error to report, unless reported."""
        self._message = None
        if message.oversized:
            return []
        segments = len(message.parts)
        error = FramingError(
            f"incomplete segmented {message.link} message: {reason} after "
            f"{segments} segment{'s' if segments != 1 else ''} "
            f"({message.size} bytes), before the last segment; dropped"
        )
        return [self._count(error)]

    def _count(self, error: FramingError) -> FramingError:
        if isinstance(error, ChecksumError):
            self.stats.checksum_errors += 1
        else:
            self.stats.framing_errors += 1
        return error


# --- parsers: one candidate frame at a start pattern --------------------------


def _address_end(buffer: bytes | bytearray, offset: int, limit: int) -> int:
    """End of the HDLC address at ``offset`` (1, 2 or 4 bytes, LSB 1 ends it).

    Returns ``_NEED_MORE`` if the buffer ends first and ``_INVALID`` if there
    is no valid address before ``limit``.
    """
    for end in range(offset + 1, offset + 5):
        if end > limit:
            return _INVALID
        if end > len(buffer):
            return _NEED_MORE
        if buffer[end - 1] & 1:
            return _INVALID if end - offset == 3 else end
    return _INVALID


def _hdlc_header_end(buffer: bytes | bytearray, start: int, length: int) -> int:
    """End of format, addresses and control of the HDLC frame at ``start``."""
    limit = start + length - 2  # the header ends before the FCS
    destination_end = _address_end(buffer, start + 3, limit)
    if destination_end <= _INVALID:
        return destination_end
    source_end = _address_end(buffer, destination_end, limit)
    if source_end <= _INVALID:
        return source_end
    return source_end + 1


def _crc_matches(buffer: bytes | bytearray, begin: int, end: int) -> bool:
    """Whether CRC-16/X.25 of ``buffer[begin:end]`` is at ``end``, LSB first."""
    return crc16_x25(buffer[begin:end]) == buffer[end] | buffer[end + 1] << 8


@dataclass(frozen=True, slots=True)
class _HdlcHeader:
    size: int  # the whole frame on the wire, both flags included
    end: int  # offset just after the control byte
    fcs_at: int  # offset of the FCS

    @property
    def has_information(self) -> bool:
        return self.end != self.fcs_at


def _check_hdlc_header(
    buffer: bytes | bytearray, start: int
) -> _HdlcHeader | _Incomplete | ChecksumError | None:
    """Header of the HDLC frame at ``start``, checked by its HCS if it has one."""
    if len(buffer) < start + 3:
        return _Incomplete(None, 3)
    length = (buffer[start + 1] << 8 | buffer[start + 2]) & HDLC_MAX_LENGTH
    header = _HdlcHeader(
        size=length + 2,
        end=_hdlc_header_end(buffer, start, length),
        fcs_at=start + length - 1,
    )
    if header.end == _NEED_MORE:
        return _Incomplete(header.size, 0)
    if header.end == _INVALID or header.fcs_at == header.end + 1:  # no room for HCS
        return None
    if header.has_information:
        if len(buffer) < header.end + 2:
            return _Incomplete(header.size, header.end + 2 - start)
        if not _crc_matches(buffer, start + 1, header.end):
            return ChecksumError(f"HDLC header check sequence mismatch; {_LINE_HINT}")
    return header


def _parse_hdlc(buffer: bytearray, start: int) -> _Outcome:
    """The HDLC frame at ``start`` (``7E`` and a format byte ``Ax`` matched)."""
    header = _check_hdlc_header(buffer, start)
    if not isinstance(header, _HdlcHeader):
        return header
    size = header.size
    if len(buffer) < start + size:
        return _Incomplete(size, size)
    error: FramingError
    if not _crc_matches(buffer, start + 1, header.fcs_at):
        error = ChecksumError(
            f"HDLC frame check sequence mismatch (frame of {size} bytes); {_LINE_HINT}"
        )
        return _Broken(error, size)
    if buffer[start + size - 1] != HDLC_FLAG:
        error = FramingError(
            f"HDLC frame of {size} bytes does not end with a closing flag (7E): "
            f"the frame was cut or bytes were lost on the line; dropped"
        )
        return _Broken(error, size)
    information = None
    if header.has_information:
        information = bytes(buffer[header.end + 2 : header.fcs_at])
    return _HdlcFrame(
        raw=bytes(buffer[start : start + size]),
        information=information,
        addresses=bytes(buffer[start + 3 : header.end - 1]),
        segmented=bool(buffer[start + 1] & _HDLC_SEGMENTED),
    )


def _parse_mbus(buffer: bytearray, start: int) -> _Outcome:
    """The M-Bus long frame at ``start`` (``68 . . 68`` matched).

    Some meters send 257 user-data bytes with L = 0x01: when the frame does
    not check out with L, it is tried with L + 256.
    """
    length = buffer[start + 1]
    if buffer[start + 2] != length:
        return None
    failure: _Broken | None = None
    if length >= _MBUS_MIN_LENGTH:
        outcome = _mbus_frame(buffer, start, length)
        if not isinstance(outcome, _Broken):
            return outcome
        failure = outcome
    outcome = _mbus_frame(buffer, start, length + _MBUS_LENGTH_OVERFLOW)
    if isinstance(outcome, _Incomplete):
        return _Incomplete(outcome.size, outcome.needed, failure)
    if isinstance(outcome, _Broken):
        return failure or outcome
    return outcome


def _mbus_frame(
    buffer: bytearray, start: int, length: int
) -> _MbusFrame | _Incomplete | _Broken:
    size = length + 6
    if len(buffer) < start + size:
        return _Incomplete(size, size)
    data_end = start + 4 + length
    error: FramingError
    if buffer[data_end + 1] != MBUS_STOP:
        error = FramingError(
            f"M-Bus frame of {size} bytes does not end with a stop byte (16): "
            f"the frame was cut or bytes were lost on the line; dropped"
        )
        return _Broken(error, size)
    if mbus_checksum(buffer[start + 4 : data_end]) != buffer[data_end]:
        error = ChecksumError(
            f"M-Bus checksum mismatch (frame of {size} bytes); {_LINE_HINT}"
        )
        return _Broken(error, size)
    return _MbusFrame(
        raw=bytes(buffer[start : start + size]),
        control_information=buffer[start + 6],
        transport_addresses=bytes(buffer[start + 7 : start + 9]),
        user_data=bytes(buffer[start + 9 : data_end]),
    )


def _parse_amis_short(buffer: bytearray, start: int) -> _Outcome:
    """AMIS hook: the search request at ``start`` (``10 40 F0`` matched)."""
    found = amis_link.short_frame_at(buffer, start)
    if isinstance(found, FramingError):
        return _Broken(found, amis_link.SHORT_FRAME_SIZE)
    if found is None:
        return None
    if found < 0:
        return _Incomplete(amis_link.SHORT_FRAME_SIZE, amis_link.SHORT_FRAME_SIZE)
    return _AmisShortFrame(bytes(buffer[start : start + found]))


_LINK_PARSERS: Final[dict[int, Callable[[bytearray, int], _Outcome]]] = {
    HDLC_FLAG: _parse_hdlc,
    MBUS_START: _parse_mbus,
    amis_link.SHORT_START: _parse_amis_short,  # AMIS hook
}
"""First byte of a checksummed link frame -> its parser."""


def _raw_apdu_size(
    buffer: bytearray, start: int
) -> tuple[int, int] | _Incomplete | None:
    """Header length and size of the raw APDU at ``start``, from its BER length."""
    if len(buffer) < start + 11:
        return _Incomplete(None, 11)
    manufacturer = bytes(buffer[start + 2 : start + 5])
    if not (manufacturer.isalpha() and manufacturer.isupper()):
        return None
    header, content = 11, buffer[start + 10]
    if content > 0x7F:
        header += content - 0x80
        if header not in {12, 13}:
            return None
        if len(buffer) < start + header:
            return _Incomplete(None, header)
        content = int.from_bytes(buffer[start + 11 : start + header], "big")
    if not _RAW_APDU_MIN_CONTENT <= content <= RAW_APDU_MAX_CONTENT:
        return None
    return header, header + content


def _parse_raw_apdu(buffer: bytearray, start: int, *, inside_auto: bool) -> _Outcome:
    """The raw ciphered APDU at ``start`` (``DB 08`` or ``DC 08`` matched).

    Without a checksum, only a plausible header is accepted: a system title
    that starts with a three-letter manufacturer id and a known security
    control byte.
    """
    found = _raw_apdu_size(buffer, start)
    if not isinstance(found, tuple):
        return found
    header, size = found
    if len(buffer) <= start + header:
        return _Incomplete(size, header + 1)
    if buffer[start + header] not in _RAW_APDU_SECURITY_CONTROL:
        return None
    if len(buffer) < start + size:
        return _Incomplete(size, size)
    raw = bytes(buffer[start : start + size])
    if inside_auto and _holds_link_header(raw):
        return None
    return _RawApdu(raw)


def _holds_link_header(data: bytes) -> bool:
    """Whether a checked HDLC or M-Bus header starts inside ``data``.

    A raw-APDU candidate that contains one is the inside of a link frame
    whose start was missed (the stream was joined mid-frame).
    """
    for match in _LINK_HEADER.finditer(data, 1):
        start = match.start()
        if data[start] == MBUS_START:
            return True
        header = _check_hdlc_header(data, start)
        if isinstance(header, _HdlcHeader) and header.has_information:
            return True
    return False


def _cut_frame(got: int, outcome: _Incomplete) -> FramingError:
    if outcome.size is None:
        return FramingError(f"incomplete frame: got {got} bytes of its header")
    return FramingError(f"incomplete frame: got {got} of {outcome.size} bytes")


def _corrupt_segment(number: int, frame: _MbusFrame) -> FramingError:
    return FramingError(
        f"M-Bus segment {number} carries transport addresses "
        f"{frame.transport_addresses.hex(' ')} instead of 01 67: the segment is "
        f"corrupt; its message is dropped"
    )


def _segment_out_of_order(number: int, expected: int) -> FramingError:
    return FramingError(
        f"M-Bus segment {number} arrived where segment {expected} was expected: "
        f"a segment was lost; the message is dropped"
    )


# --- encoders -----------------------------------------------------------------


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
    client_address: bytes = b"\xcf",
    server_address: bytes = b"\x02\x23",
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


def encode_mbus(payload: bytes, *, max_segment: int = 245) -> bytes:
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
