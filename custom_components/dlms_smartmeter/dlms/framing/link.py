"""What every link layer shares: names, frames, parser outcomes, the registry entry.

A link module (:mod:`.hdlc`, :mod:`.mbus`, :mod:`.raw`) parses one candidate
frame at a start pattern into a :class:`Part` (a whole message or one
segment of it) and writes payloads back into frames; its :class:`LinkSpec`
tells the stream framer (:mod:`.stream`) how to find and trust its frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from ..errors import FramingError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


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
    """What a stream framer has seen since it was created.

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


MAX_MESSAGE_SIZE: Final = 0x10000
"""Largest reassembled payload; longer segmented messages are dropped."""
NEED_MORE: Final = -1
INVALID: Final = 0
LINE_HINT: Final = (
    "bytes were corrupted or lost on the line: check the reading head's position "
    "and the line settings (baud rate, parity)"
)


@dataclass(frozen=True, slots=True)
class Incomplete:
    """The candidate at the scan position needs more bytes to be decided."""

    size: int | None
    """Bytes the frame needs from its start, when the header tells."""
    needed: int
    """Bytes from its start the candidate needs before it can be looked at
    again (0: one more byte)."""
    failure: Broken | None = None
    """What to report if the input ends before the frame is complete."""


@dataclass(frozen=True, slots=True)
class Broken:
    """A frame whose header checked out but whose body did not."""

    error: FramingError
    size: int
    """The frame size its header announced."""


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class Part:
    """A valid frame: a whole message or one segment of a message."""

    raw: bytes
    payload: bytes | None
    """What the frame carries; ``None`` for a link-management frame."""
    addresses: bytes = b""
    """Who sent it: segments of one message come from one address."""
    number: int | None = None
    """Segment number, for links that number their segments (from 0)."""
    starts: bool = True
    """Opens a new message (for links without segment numbers)."""
    final: bool = True
    """The last (or only) segment of its message."""
    error: FramingError | None = None
    """The frame checks out but its contents are corrupt: its message is lost."""


type Outcome = Incomplete | FramingError | Broken | Part | None
"""What a parser found at a start pattern; None: not a frame after all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """How the stream framer finds, trusts and writes one link layer's frames."""

    link: LinkLayer
    label: str
    """Name in messages, e.g. ``"M-Bus"``."""
    start: bytes
    """Regular expression of a frame start when this link is configured."""
    auto_start: bytes
    """Regular expression of a frame start during auto-detection."""
    parse: Callable[[bytearray, int], Outcome]
    max_frame: int
    """Largest frame on the wire: the framer never buffers more."""
    checked: bool
    """Frames carry a checksum; once one is seen, unchecked links are ignored."""
    encode: Callable[[Sequence[bytes], int | None, tuple[bytes, bytes]], bytes]
    """``(payloads, max_information, addresses)`` to wire bytes, one message each."""
    overlap: int = 0
    """Trailing bytes of a frame that may open the next one (a shared flag)."""
    contexts: tuple[bytes, ...] = ()
    """Bytes that precede an APDU inside this link's frames."""
    inner_header: bytes | None = None
    """Regular expression of a header that gives a frame away inside other data."""
    confirms_header: Callable[[bytes, int], bool] | None = None
    """Whether the ``inner_header`` match at an offset is a real header."""
    unwrap: Callable[[bytes], bytes] | None = None
    """The APDU of a reassembled payload (strips a link header)."""


def cut_frame(got: int, outcome: Incomplete) -> FramingError:
    """The error for a frame the input ended in."""
    if outcome.size is None:
        return FramingError(f"incomplete frame: got {got} bytes of its header")
    return FramingError(f"incomplete frame: got {got} of {outcome.size} bytes")
