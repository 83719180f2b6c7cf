"""Wired M-Bus link layer of the AMIS customer interface (EN 13757-2).

The meter is the M-Bus master and the reader is the slave at primary
address 240 (0xF0). The meter sends:

* a search request, the short frame SND_NKE ``10 40 F0 30 16``, once a minute
  until the reader answers;
* then one SND_UD long frame per second: ``68 L L 68 | C A CI | 12-byte header
  | ciphertext | CS 16`` with C 0x53/0x73 (the FCB toggles), A 0xF0 and CI
  0x5B.

The reader answers every such frame with the single byte ``E5`` and may send
nothing else. This module reads and writes these frames; its entry in
:data:`~.stream.LINKS` lets the stream framer find them among the other link
layers, and :mod:`..amis` decrypts the ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import TYPE_CHECKING, Final

from ..crc import mbus_checksum
from ..errors import ChecksumError, FramingError, MalformedPayloadError
from .link import Broken, Incomplete, LinkLayer, LinkSpec, Outcome, Part
from .mbus import MBUS_MAX_FRAME, MBUS_START, MBUS_STOP, parse_mbus

if TYPE_CHECKING:
    from collections.abc import Sequence

ACK: Final = b"\xe5"
"""The reader's only permitted transmission: the single-character acknowledgement."""

SHORT_START: Final = 0x10
LONG_START: Final = MBUS_START
STOP: Final = MBUS_STOP
SHORT_FRAME_SIZE: Final = 5

READER_ADDRESS: Final = 0xF0
"""Primary address of every reader (there is one reader per meter)."""
C_SND_NKE: Final = 0x40
C_SND_UD: Final = 0x53
FCB: Final = 0x20
"""Frame-count bit of the C field; the meter toggles it between telegrams."""
C_SND_UD_FCB: Final = C_SND_UD | FCB
CI_LONG_HEADER: Final = 0x5B
"""CI field "command to device, 12-byte header"."""

SND_NKE: Final = bytes(
    [SHORT_START, C_SND_NKE, READER_ADDRESS, (C_SND_NKE + READER_ADDRESS) & 0xFF, STOP]
)
SHORT_FRAME_PREFIX: Final = SND_NKE[:3]
"""The bytes a search request to the reader starts with (what the framer looks for)."""

HEADER_SIZE: Final = 12
"""Identification (4), manufacturer (2), version, medium, access number,
status and configuration word (2), after the CI field."""
_LINK_FIELDS: Final = 3  # C, A, CI
_FRAME_OVERHEAD: Final = 6  # 68 L L 68 ... CS 16


@dataclass(frozen=True, slots=True)
class DataHeader:
    """The 12-byte header after CI 0x5B, as sent (multi-byte fields LSB first)."""

    identification: bytes
    """Four bytes of the secondary address: the reader's, 00000000 for all."""
    manufacturer: bytes
    """Two bytes of the M-Bus manufacturer code (``2D 4C`` = SAM)."""
    version: int
    medium: int
    access_number: int
    status: int
    configuration: int

    @property
    def manufacturer_id(self) -> str:
        """The three-letter manufacturer code (EN 13757-3, five bits per letter)."""
        code = int.from_bytes(self.manufacturer, "little")
        return "".join(chr(64 + (code >> shift & 0x1F)) for shift in (10, 5, 0))

    @property
    def security_mode(self) -> int:
        """Bits 12-8 of the configuration word (5: AES-128-CBC)."""
        return self.configuration >> 8 & 0x1F

    @property
    def encrypted_blocks(self) -> int:
        """Bits 7-4 of the configuration word: 16-byte blocks of ciphertext."""
        return self.configuration >> 4 & 0x0F

    def to_bytes(self) -> bytes:
        """The header as it goes on the wire."""
        return (
            self.identification
            + self.manufacturer
            + bytes([self.version, self.medium, self.access_number, self.status])
            + self.configuration.to_bytes(2, "little")
        )


@dataclass(frozen=True, slots=True)
class DataTelegram:
    """A SND_UD long frame to the reader, split into its fields."""

    control: int
    header: DataHeader
    ciphertext: bytes


def is_search_request(raw: bytes) -> bool:
    """Whether ``raw`` is the SND_NKE short frame to the reader."""
    return raw == SND_NKE


def is_data_frame(raw: bytes) -> bool:
    """Whether a checked M-Bus long frame is a SND_UD to the reader with CI 0x5B.

    ``raw`` is a whole long frame whose length, stop byte and checksum were
    already checked by the framer.
    """
    return (
        len(raw) >= _FRAME_OVERHEAD + _LINK_FIELDS
        and raw[4] in {C_SND_UD, C_SND_UD_FCB}
        and raw[5] == READER_ADDRESS
        and raw[6] == CI_LONG_HEADER
    )


def requires_ack(raw: bytes) -> bool:
    """Whether the reader must answer the frame ``raw`` with ``E5``."""
    return is_search_request(raw) or is_data_frame(raw)


def short_frame_at(buffer: bytes | bytearray, start: int) -> int | FramingError | None:
    """Size of the SND_NKE at ``start`` (its first three bytes matched).

    Returns ``-1`` while fewer than five bytes are buffered, ``None`` when the
    stop byte is missing (not a frame after all), and a :class:`FramingError`
    when the checksum does not match.
    """
    if len(buffer) < start + SHORT_FRAME_SIZE:
        return -1
    if buffer[start + 4] != STOP:
        return None
    if buffer[start + 3] != mbus_checksum(buffer[start + 1 : start + 3]):
        return ChecksumError(
            "M-Bus short-frame checksum mismatch: bytes were corrupted on the line"
        )
    return SHORT_FRAME_SIZE


def parse_data_frame(raw: bytes) -> DataTelegram:
    """Split a checked SND_UD long frame into its fields.

    Raises ``MalformedPayloadError`` when the frame is too short for its
    header or the configuration word does not describe the ciphertext.
    """
    body = raw[4:-2]
    if len(body) < _LINK_FIELDS + HEADER_SIZE:
        msg = f"AMIS data frame of {len(raw)} bytes is too short for its header"
        raise MalformedPayloadError(msg)
    fields = body[_LINK_FIELDS : _LINK_FIELDS + HEADER_SIZE]
    header = DataHeader(
        identification=fields[0:4],
        manufacturer=fields[4:6],
        version=fields[6],
        medium=fields[7],
        access_number=fields[8],
        status=fields[9],
        configuration=int.from_bytes(fields[10:12], "little"),
    )
    ciphertext = body[_LINK_FIELDS + HEADER_SIZE :]
    if header.encrypted_blocks * 16 != len(ciphertext):
        msg = (
            f"configuration word {header.configuration:04X} announces "
            f"{header.encrypted_blocks} encrypted blocks, the frame carries "
            f"{len(ciphertext)} bytes: the header is corrupt or of another kind"
        )
        raise MalformedPayloadError(msg)
    return DataTelegram(control=body[0], header=header, ciphertext=ciphertext)


def encode_data_frame(header: DataHeader, ciphertext: bytes) -> bytes:
    """The SND_UD long frame that carries ``ciphertext`` to the reader.

    The FCB follows the access number: set when it is even, as in every
    recorded session (the first telegram after a search has access number 0).
    """
    control = C_SND_UD_FCB if header.access_number % 2 == 0 else C_SND_UD
    body = bytes([control, READER_ADDRESS, CI_LONG_HEADER]) + header.to_bytes()
    return encode_long_frame(body + ciphertext)


def encode_long_frame(body: bytes) -> bytes:
    """The long frame around ``body`` (C, A, CI and what follows them)."""
    length = len(body)
    if length > 0xFF:
        msg = f"a long frame carries at most 255 bytes after its start, not {length}"
        raise ValueError(msg)
    start = bytes([LONG_START, length, length, LONG_START])
    return start + body + bytes([mbus_checksum(body), STOP])


# --- the framer's entry -------------------------------------------------------


def parse_amis(buffer: bytearray, start: int) -> Outcome:
    """The search request or data telegram at ``start``.

    Both are delivered (the decoder acknowledges them); a frame's payload is
    what follows its start bytes: C, A, CI, header and ciphertext (empty for
    the search request).
    """
    if buffer[start] == SHORT_START:
        return _parse_search_request(buffer, start)
    outcome = parse_mbus(buffer, start)
    if not isinstance(outcome, Part):
        return outcome
    if not is_data_frame(outcome.raw):
        return None
    # The 12-byte header sits where DLMS frames have their transport
    # addresses: the M-Bus parser's complaint about them does not apply.
    return Part(raw=outcome.raw, payload=outcome.raw[4:-2])


def _parse_search_request(buffer: bytearray, start: int) -> Outcome:
    found = short_frame_at(buffer, start)
    if isinstance(found, FramingError):
        return Broken(found, SHORT_FRAME_SIZE)
    if found is None:
        return None
    if found < 0:
        return Incomplete(SHORT_FRAME_SIZE, SHORT_FRAME_SIZE)
    return Part(raw=bytes(buffer[start : start + found]), payload=b"")


def _encode(
    payloads: Sequence[bytes],
    _max_information: int | None,
    _addresses: tuple[bytes, bytes],
) -> bytes:
    return b"".join(encode_long_frame(payload) for payload in payloads)


# A search request, or a long frame whose C, A and CI make it a data telegram
# to the reader: listed before M-Bus, it claims these among the 68 starts.
_START: Final = b"|".join(
    (
        re.escape(SHORT_FRAME_PREFIX),
        rb"\x68..\x68[\x53\x73]" + re.escape(bytes([READER_ADDRESS, CI_LONG_HEADER])),
    )
)

AMIS: Final = LinkSpec(
    link=LinkLayer.AMIS,
    label="AMIS",
    start=_START,
    auto_start=_START,
    parse=parse_amis,
    max_frame=MBUS_MAX_FRAME,
    checked=True,
    encode=_encode,
)
