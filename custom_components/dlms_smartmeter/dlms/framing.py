"""Stream framing: serial bytes in, complete link-layer payloads out.

INTERFACE STUB, to be implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import FramingError


class LinkLayer(StrEnum):
    """Link layer of a byte stream."""

    AUTO = "auto"
    HDLC = "hdlc"
    MBUS = "mbus"
    APDU = "apdu"


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """One complete link-layer message.

    ``payload`` is what the link layer carried, reassembled: for HDLC the
    information fields of all segments with the LLC header removed; for
    M-Bus the user data of all segments with STSAP/DTSAP removed; for a raw
    APDU stream the APDU itself. It is normally an APDU (``DB``, ``E0``,
    ``0F`` ...).
    """

    link: LinkLayer
    payload: bytes
    raw: bytes


class StreamFramer:
    """Push-style framer: ``feed()`` chunks, get frames and framing problems back."""

    def __init__(self, link: LinkLayer = LinkLayer.AUTO) -> None:
        self.link = link

    def feed(self, data: bytes) -> list[LinkFrame | FramingError]:
        """Consume bytes; return complete frames and problems found, in stream order."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget partial data (after a reconnect)."""
        raise NotImplementedError
