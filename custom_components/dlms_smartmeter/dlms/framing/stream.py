"""Stream framing: serial bytes in, complete link-layer payloads out.

:class:`StreamFramer` is push-style: the caller feeds whatever the serial port
delivered and gets back complete :class:`LinkFrame` objects and the problems
found (as :class:`FramingError` instances, never raised), in stream order.

The link layers it knows are the entries of :data:`LINKS` (one module each);
a new link layer is one entry plus its module. The scanner jumps from one
possible frame start to the next with a compiled regular expression and
keeps only the bytes of a frame that is not complete yet, so the work per
byte is constant and the buffer stays below one maximum frame between calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import TYPE_CHECKING, Final

from ..errors import ChecksumError, FramingError
from .amis import AMIS
from .hdlc import HDLC, HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS
from .link import (
    MAX_MESSAGE_SIZE,
    FramerStats,
    Incomplete,
    LinkFrame,
    LinkLayer,
    LinkSpec,
    Outcome,
    Part,
    cut_frame,
)
from .mbus import MBUS
from .raw import RAW_APDU

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

LINKS: Final[dict[LinkLayer, LinkSpec]] = {
    spec.link: spec for spec in (HDLC, AMIS, MBUS, RAW_APDU)
}
"""Every link layer the framer can find, in the order tried at one offset
(AMIS before M-Bus: it claims the long frames addressed to an AMIS reader)."""


@dataclass(frozen=True, slots=True)
class _Starts:
    """Where frames of some link layers may start, and whose frame a start is."""

    search: re.Pattern[bytes]
    """Any of the starts (one pattern without groups: the fast scan)."""
    links: tuple[tuple[re.Pattern[bytes], LinkSpec], ...]
    """Each link's start, in table order: the first that matches names it."""

    def link_at(self, buffer: bytes | bytearray, start: int) -> LinkSpec:
        """The link whose start :attr:`search` found at ``start``."""
        return next(
            spec for pattern, spec in self.links if pattern.match(buffer, start)
        )


def _starts(
    specs: Iterable[LinkSpec], start_of: Callable[[LinkSpec], bytes]
) -> _Starts:
    patterns = [(start_of(spec), spec) for spec in specs]
    return _Starts(
        search=re.compile(b"|".join(pattern for pattern, _spec in patterns), re.DOTALL),
        links=tuple(
            (re.compile(pattern, re.DOTALL), spec) for pattern, spec in patterns
        ),
    )


def _auto_start(spec: LinkSpec) -> bytes:
    return spec.auto_start


def _start(spec: LinkSpec) -> bytes:
    return spec.start


# A start pattern may straddle two chunks: keep this many trailing bytes that
# matched no complete pattern for the next scan.
_START_PATTERN_TAIL: Final = 3
_START_PATTERNS: Final = {
    LinkLayer.AUTO: _starts(LINKS.values(), _auto_start),
    **{link: _starts([spec], _start) for link, spec in LINKS.items()},
}
_CHECKED: Final = tuple(spec for spec in LINKS.values() if spec.checked)
_PROVEN_LINK_START: Final = _starts(_CHECKED, _auto_start)
# What precedes an APDU inside a link frame (the LLC header of HDLC, the
# transport addresses of M-Bus): a raw-APDU candidate after one is not raw.
_LINK_CONTEXTS: Final = tuple(context for spec in _CHECKED for context in spec.contexts)
_CONTEXT_SIZE: Final = max(map(len, _LINK_CONTEXTS))
# Headers that reveal a raw-APDU candidate to be the inside of a link frame.
_LINK_HEADER: Final = _starts(
    [spec for spec in _CHECKED if spec.inner_header is not None],
    lambda spec: spec.inner_header or b"",
)


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

    With ``LinkLayer.AUTO`` the framer looks for the frames of every link
    layer in :data:`LINKS`. A raw APDU has no checksum, so it is only trusted
    while no checked frame (HDLC, M-Bus, AMIS) has been seen: from the first valid
    checked frame on, raw-APDU candidates are ignored for the life of the
    framer.
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
        self._proven = False  # a checked frame was seen
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
        spec = LINKS.get(self.link)
        if spec is not None:
            return spec.max_frame
        return max(spec.max_frame for spec in LINKS.values())

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
        if not self._buffer and self._message is None:
            self._discard_buffer()
            return errors
        # feed() stops scanning only at a candidate that needs more bytes.
        starts = self._start_pattern()
        match = starts.search.search(self._buffer)
        outcome = (
            self._parse(starts.link_at(self._buffer, match.start()), match.start())
            if match
            else None
        )
        if match and isinstance(outcome, Incomplete):
            got = len(self._buffer) - match.start()
            failure = outcome.failure
            error = failure.error if failure else cut_frame(got, outcome)
            errors.append(self._count(error))
        self._discard_buffer()
        if self._message is not None:
            errors += self._drop_message(self._message, "the input ended")
        return errors

    # --- scanning -------------------------------------------------------------

    def _start_pattern(self) -> _Starts:
        if self.link is LinkLayer.AUTO and self._proven:
            return _PROVEN_LINK_START
        return _START_PATTERNS[self.link]

    def _scan(self, results: list[LinkFrame | FramingError]) -> None:
        """Take every frame that the buffer completes; keep only a partial one."""
        buffer = self._buffer
        position = 0
        self._needed = 0
        starts = self._start_pattern()
        while True:
            match = starts.search.search(buffer, position)
            if match is None:
                position = max(position, len(buffer) - _START_PATTERN_TAIL)
                break
            start = match.start()
            spec = starts.link_at(buffer, start)
            outcome = self._parse(spec, start)
            if isinstance(outcome, Part):  # the usual case first
                position = self._take(spec, outcome, start, results)
                starts = self._start_pattern()  # a checked frame narrows it
            elif isinstance(outcome, Incomplete):
                position = start
                needed = max(outcome.needed, len(buffer) - start + 1)
                self._needed = self._buffer_offset + start + needed
                break
            elif outcome is None:
                position = start + 1
            elif isinstance(outcome, FramingError):
                results.append(self._count(outcome))
                position = start + 1
            else:
                results.append(self._count(outcome.error))
                frame_end = self._buffer_offset + start + outcome.size
                self._dropped_frame_end = max(self._dropped_frame_end, frame_end)
                position = start + 1
        self._skip_until(position)
        consumed_tail = buffer[max(position - _CONTEXT_SIZE, 0) : position]
        self._history = (self._history + consumed_tail)[-_CONTEXT_SIZE:]
        del buffer[:position]
        self._buffer_offset += position

    def _parse(self, spec: LinkSpec, start: int) -> Outcome:
        if spec.checked or self.link is not LinkLayer.AUTO:
            return spec.parse(self._buffer, start)
        # An unchecked frame found by auto-detection: make sure it is not the
        # inside of a checked frame.
        if self._buffer_offset + start < self._dropped_frame_end:
            return None
        context = self._history + self._buffer[max(start - _CONTEXT_SIZE, 0) : start]
        if context.endswith(_LINK_CONTEXTS):
            return None
        outcome = spec.parse(self._buffer, start)
        if isinstance(outcome, Part) and _holds_link_header(outcome.raw):
            return None
        return outcome

    def _take(
        self,
        spec: LinkSpec,
        part: Part,
        start: int,
        results: list[LinkFrame | FramingError],
    ) -> int:
        """Account a valid frame, pass it on; return where scanning resumes."""
        self._skip_until(start)
        end = start + len(part.raw)
        self._accounted = max(self._accounted, self._buffer_offset + end)
        self._detected = spec.link
        self._proven = self._proven or spec.checked
        self._on_part(spec, part, results)
        return end - spec.overlap

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

    def _on_part(
        self, spec: LinkSpec, part: Part, results: list[LinkFrame | FramingError]
    ) -> None:
        if part.payload is None:  # a link-management frame: carries no data
            return
        self._interrupt_message(spec.link, results)
        message = self._message
        if part.error is not None:
            self._message = None
            results.append(self._count(part.error))
            return
        if part.number is None:
            if message is not None and (
                part.starts or message.addresses != part.addresses
            ):
                results += self._drop_message(message, "a new message began")
                message = None
        elif part.number == 0:
            if message is not None:
                results += self._drop_message(message, "a new message began")
            message = None
        elif message is None or part.number != len(message.parts):
            self._message = None
            expected = len(message.parts) if message is not None else 0
            error = FramingError(
                f"{spec.label} segment {part.number} arrived where segment "
                f"{expected} was expected: a segment was lost; the message is dropped"
            )
            results.append(self._count(error))
            return
        if message is None:
            if part.final:  # a message in one frame, the usual case
                self._deliver(spec, part.payload, part.raw, results)
                return
            message = self._message = _Message(spec.link, part.addresses)
        self._add_part(spec, message, part, results)

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
        spec: LinkSpec,
        message: _Message,
        part: Part,
        results: list[LinkFrame | FramingError],
    ) -> None:
        if part.final:
            self._message = None
        if message.oversized or part.payload is None:
            return
        message.parts.append(part.payload)
        message.raws.append(part.raw)
        message.size += len(part.payload)
        if message.size > MAX_MESSAGE_SIZE:
            message.oversized = True
            message.parts.clear()
            message.raws.clear()
            error = FramingError(
                f"segmented {message.link} message longer than "
                f"{MAX_MESSAGE_SIZE} bytes; dropped"
            )
            results.append(self._count(error))
        elif part.final:
            joined = b"".join(message.parts)
            self._deliver(spec, joined, b"".join(message.raws), results)

    def _deliver(
        self,
        spec: LinkSpec,
        payload: bytes,
        raw: bytes,
        results: list[LinkFrame | FramingError],
    ) -> None:
        if spec.unwrap is not None:
            payload = spec.unwrap(payload)
        self.stats.frames += 1
        results.append(LinkFrame(spec.link, payload, raw))

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


def _holds_link_header(data: bytes) -> bool:
    """Whether a checked link header starts inside ``data``.

    A raw-APDU candidate that contains one is the inside of a link frame
    whose start was missed (the stream was joined mid-frame).
    """
    for match in _LINK_HEADER.search.finditer(data, 1):
        confirms = _LINK_HEADER.link_at(data, match.start()).confirms_header
        if confirms is not None and confirms(data, match.start()):
            return True
    return False


def encode_link(
    payloads: Sequence[bytes],
    *,
    link: LinkLayer,
    max_information: int | None = None,
    addresses: tuple[bytes, bytes] = (HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS),
) -> bytes:
    """Each payload (an APDU or a block) in its own link-layer message.

    HDLC: segmented when longer than ``max_information``; M-Bus: segments of
    ``max_information`` user-data bytes (default 245); raw APDU: the payloads
    back to back.
    """
    spec = LINKS.get(link)
    if spec is None:
        raise ValueError(f"no link layer to encode: {link}")
    return spec.encode(payloads, max_information, addresses)
