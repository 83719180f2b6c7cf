"""The whole pipeline: bytes -> frames -> APDU -> plaintext -> Reading.

INTERFACE STUB, to be implemented.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import DlmsError
from .framing import LinkLayer
from .reading import Reading


@dataclass(slots=True)
class DecoderStats:
    """Counters of everything the decoder saw since it was created.

    Every link frame that passed its checksum ends either as a reading or in
    exactly one of the error counters after ``frames``:
    ``frames == readings + decryption_errors + authentication_errors +
    unsupported + malformed + incomplete`` (``incomplete``: General-Block-
    Transfer sequences that were cut off).
    """

    bytes_received: int = 0
    framing_errors: int = 0
    checksum_errors: int = 0
    frames: int = 0
    readings: int = 0
    decryption_errors: int = 0
    authentication_errors: int = 0
    unsupported: int = 0
    malformed: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict (for diagnostics and JSON)."""
        return asdict(self)


class MeterDecoder:
    """Decode a meter's byte stream into readings.

    ``feed()`` never raises for bad meter data: problems come back as
    ``DlmsError`` instances in the returned list (and in ``stats``), in
    stream order, next to the readings.
    """

    def __init__(
        self,
        encryption_key: bytes | None,
        authentication_key: bytes | None = None,
        *,
        link: LinkLayer = LinkLayer.AUTO,
    ) -> None:
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Reading | DlmsError]:
        """Consume a chunk of bytes as read from the port."""
        raise NotImplementedError

    def decode_apdu(self, apdu: bytes, raw: bytes = b"") -> Reading:
        """Decode one complete APDU; raises a ``DlmsError`` subclass on failure."""
        raise NotImplementedError

    def reset(self) -> None:
        """Drop partial frames and block-transfer state (after a reconnect)."""
        raise NotImplementedError
