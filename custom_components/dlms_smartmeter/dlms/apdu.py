"""xDLMS APDUs of push telegrams, parsed and built (DLMS UA Green Book).

* general-glo-ciphering (``DB``) and general-ded-ciphering (``DC``):
  ``tag, system-title (length + 8 bytes), BER length, SC, IC (4), content``
* general-block-transfer (``E0``): ``tag, block-control, block-number (2),
  ack-block-number (2), BER length, block-data``; a sequence of blocks is
  joined into one APDU by :class:`BlockAssembler`
* data-notification (``0F``): ``tag, long-invoke-id-and-priority (4),
  date-time (0C + 12 bytes | 00 | 09 0C + 12 bytes), notification-body``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .axdr import Data, decode_data, encode_length, read_length
from .errors import IncompleteError, MalformedPayloadError, UnsupportedError
from .identity import SYSTEM_TITLE_LENGTH
from .security import SC_ENCRYPTED, encrypt_payload

_BLOCK_LAST = 0x80
_BLOCK_STREAMING = 0x40
MAX_BLOCK_TRANSFER_SIZE = 0x10000
"""Upper bound of a reassembled block-transfer APDU (real pushes: < 1 KiB)."""


class ApduTag(IntEnum):
    """APDU tags a push stream can carry (Gurux ``Command`` names in brackets)."""

    DATA_NOTIFICATION = 0x0F
    EVENT_NOTIFICATION_REQUEST = 0xC2
    GLO_EVENT_NOTIFICATION_REQUEST = 0xCA
    DED_EVENT_NOTIFICATION_REQUEST = 0xD2
    GENERAL_GLO_CIPHERING = 0xDB
    GENERAL_DED_CIPHERING = 0xDC
    GENERAL_CIPHERING = 0xDD
    GENERAL_SIGNING = 0xDF
    GENERAL_BLOCK_TRANSFER = 0xE0


_NAMES = {
    0x01: "initiate-request",
    0x08: "initiate-response",
    0x60: "AARQ",
    0x61: "AARE",
    0x62: "RLRQ",
    0x63: "RLRE",
    0xC0: "get-request",
    0xC1: "set-request",
    0xC2: "event-notification-request",
    0xC3: "action-request",
    0xC4: "get-response",
    0xC5: "set-response",
    0xC7: "action-response",
    0xC8: "glo-get-request",
    0xCA: "glo-event-notification-request",
    0xCC: "glo-get-response",
    0xD2: "ded-event-notification-request",
    0xD8: "exception-response",
    0xDD: "general-ciphering",
    0xDF: "general-signing",
}


CIPHERING_TAGS = frozenset(
    {ApduTag.GENERAL_GLO_CIPHERING, ApduTag.GENERAL_DED_CIPHERING}
)
"""APDU tags of ciphered telegrams with the general-glo/ded-ciphering layout."""


def describe_tag(tag: int) -> str:
    """Readable name of an APDU tag for messages, e.g. ``"0xC0 (get-request)"``."""
    try:
        name = ApduTag(tag).name.lower().replace("_", "-")
    except ValueError:
        name = _NAMES.get(tag, "unknown")
    return f"0x{tag:02X} ({name})"


def _unsupported(tag: int) -> UnsupportedError:
    return UnsupportedError(
        f"APDU {describe_tag(tag)} is not a push telegram this decoder supports"
    )


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class CipheredApdu:
    """A general-glo/ded-ciphering APDU, not yet decrypted."""

    tag: int
    system_title: bytes
    security_control: int
    invocation_counter: int
    content: bytes
    """Ciphertext, followed by the authentication tag when SC has the A bit."""


def parse_ciphered_apdu(apdu: bytes) -> CipheredApdu:
    """Split a ``DB``/``DC`` APDU into its security header and content.

    The BER length must match the bytes present exactly.
    """
    if not apdu:
        raise MalformedPayloadError("empty APDU")
    tag = apdu[0]
    if tag not in CIPHERING_TAGS:
        raise _unsupported(tag)
    title_length, position = read_length(apdu, 1)
    if title_length != SYSTEM_TITLE_LENGTH:
        raise MalformedPayloadError(
            f"system title of {title_length} bytes, expected {SYSTEM_TITLE_LENGTH}"
        )
    system_title = apdu[position : position + SYSTEM_TITLE_LENGTH]
    position += SYSTEM_TITLE_LENGTH
    length, position = read_length(apdu, position)
    present = len(apdu) - position
    if length != present:
        raise MalformedPayloadError(
            f"ciphered APDU announces {length} bytes after its length field, "
            f"{present} are present"
        )
    if length < 5:
        raise MalformedPayloadError(
            f"ciphered content of {length} bytes has no room for SC and IC"
        )
    return CipheredApdu(
        tag=tag,
        system_title=system_title,
        security_control=apdu[position],
        invocation_counter=int.from_bytes(apdu[position + 1 : position + 5], "big"),
        content=apdu[position + 5 :],
    )


@dataclass(frozen=True, slots=True)
class Block:
    """One general-block-transfer APDU."""

    last: bool
    streaming: bool
    window: int
    number: int
    acknowledged: int
    data: bytes


def _parse_block_at(buf: bytes, offset: int) -> tuple[Block, int]:
    if buf[offset] != ApduTag.GENERAL_BLOCK_TRANSFER:
        raise MalformedPayloadError(
            f"expected a general-block-transfer block at offset {offset}, "
            f"found {describe_tag(buf[offset])}"
        )
    header_end = offset + 6
    if header_end > len(buf):
        raise MalformedPayloadError("general-block-transfer header is cut off")
    control = buf[offset + 1]
    number = int.from_bytes(buf[offset + 2 : offset + 4], "big")
    acknowledged = int.from_bytes(buf[offset + 4 : offset + 6], "big")
    length, position = read_length(buf, header_end)
    end = position + length
    if end > len(buf):
        raise MalformedPayloadError(
            f"general-block-transfer block {number} announces {length} bytes, "
            f"{len(buf) - position} are present"
        )
    block = Block(
        last=bool(control & _BLOCK_LAST),
        streaming=bool(control & _BLOCK_STREAMING),
        window=control & 0x3F,
        number=number,
        acknowledged=acknowledged,
        data=buf[position:end],
    )
    return block, end


def parse_block(apdu: bytes) -> Block:
    """Parse one ``E0`` block; its length must match the bytes present."""
    if not apdu:
        raise MalformedPayloadError("empty APDU")
    block, end = _parse_block_at(apdu, 0)
    if end != len(apdu):
        raise MalformedPayloadError(
            f"{len(apdu) - end} unexpected bytes after general-block-transfer "
            f"block {block.number}"
        )
    return block


def join_blocks(apdu: bytes) -> bytes:
    """Reassemble a buffer holding a whole block sequence back to back.

    For callers that have every block at hand (a capture file); streams use
    :class:`BlockAssembler`.
    """
    assembler = BlockAssembler()
    offset = 0
    while offset < len(apdu):
        block, offset = _parse_block_at(apdu, offset)
        result = assembler.add(block)
        if result.cut_off:
            raise result.cut_off[0]
        if result.apdu is not None:
            if offset != len(apdu):
                raise MalformedPayloadError(
                    f"{len(apdu) - offset} unexpected bytes after the last "
                    "general-block-transfer block"
                )
            return result.apdu
    raise assembler.cut_off("the last block is missing")


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What adding one block produced: cut-off sequences and/or a whole APDU."""

    cut_off: tuple[IncompleteError, ...] = ()
    apdu: bytes | None = None


@dataclass(slots=True)
class BlockAssembler:
    """Joins general-block-transfer blocks until the last-block bit.

    Each broken sequence is reported once, as an :class:`IncompleteError`:
    a sequence whose first blocks were missed or that has a gap is followed
    to its last block (or to the next block 1) and then reported; a new
    block 1 while a sequence is pending cuts that sequence off.
    """

    _parts: list[bytes] = field(default_factory=list)
    _next: int = 0
    _size: int = 0
    _broken: str | None = None

    @property
    def pending(self) -> bool:
        """True while blocks of an unfinished sequence are held."""
        return bool(self._parts)

    def reset(self) -> None:
        """Drop any partial sequence without reporting it."""
        self._parts.clear()
        self._next = self._size = 0
        self._broken = None

    def cut_off(self, reason: str) -> IncompleteError:
        """Report the pending sequence as cut off and forget it."""
        count = len(self._parts)
        error = IncompleteError(
            f"general-block-transfer sequence cut off ({self._broken or reason}; "
            f"{count} block{'s' if count != 1 else ''} received): the telegram "
            "is dropped"
        )
        self.reset()
        return error

    def add(self, block: Block) -> BlockResult:
        """Take one block; return cut-off sequences and/or a complete APDU."""
        cut_off: list[IncompleteError] = []
        if self._parts and block.number != self._next:
            if block.number == 1:
                cut_off.append(
                    self.cut_off(
                        f"a new sequence started where block {self._next} was due"
                    )
                )
            elif self._broken is None:
                self._broken = (
                    f"block {block.number} arrived where block {self._next} was due"
                )
        if not self._parts and block.number != 1:
            self._broken = f"the sequence started with block {block.number}"
        self._parts.append(block.data)
        self._next = (block.number + 1) & 0xFFFF
        self._size += len(block.data)
        if self._size > MAX_BLOCK_TRANSFER_SIZE:
            cut_off.append(self.cut_off(f"more than {MAX_BLOCK_TRANSFER_SIZE} bytes"))
        elif block.last:
            if self._broken is not None:
                cut_off.append(self.cut_off(self._broken))
            else:
                apdu = b"".join(self._parts)
                self.reset()
                return BlockResult(tuple(cut_off), apdu)
        return BlockResult(tuple(cut_off))


@dataclass(frozen=True, slots=True)
class DataNotification:
    """A parsed data-notification APDU."""

    long_invoke_id_and_priority: int
    date_time: bytes | None
    """The 12-byte COSEM date-time of the header, ``None`` when absent."""
    body: Data


def parse_data_notification(plaintext: bytes) -> DataNotification:
    """Parse a ``0F`` APDU; the body must consume every remaining byte."""
    invoke_id, date_time, position = parse_notification_header(plaintext)
    return DataNotification(
        long_invoke_id_and_priority=invoke_id,
        date_time=date_time,
        body=decode_data(plaintext[position:]),
    )


def parse_notification_header(plaintext: bytes) -> tuple[int, bytes | None, int]:
    """Long-invoke-id, header date-time and where the body starts, of a ``0F`` APDU."""
    if not plaintext:
        raise MalformedPayloadError("empty APDU")
    if plaintext[0] != ApduTag.DATA_NOTIFICATION:
        raise _unsupported(plaintext[0])
    if len(plaintext) < 6:
        raise MalformedPayloadError("data-notification header is cut off")
    invoke_id = int.from_bytes(plaintext[1:5], "big")
    position = 5
    if plaintext[position] == 0x09:  # date-time sent as a tagged octet-string
        position += 1
    size, position = read_length(plaintext, position)
    if size not in {0, 12}:
        raise MalformedPayloadError(
            f"data-notification date-time of {size} bytes, expected 12 or none"
        )
    date_time = plaintext[position : position + size]
    if len(date_time) != size:
        raise MalformedPayloadError("data-notification date-time is cut off")
    return invoke_id, date_time or None, position + size


# --- building -----------------------------------------------------------------


def encode_data_notification(
    body: bytes, *, invoke_id: int, date_time: bytes | None
) -> bytes:
    """``0F <long-invoke-id-and-priority> <date-time> <body>``.

    ``date_time`` is the 12-byte COSEM date-time of the header, or ``None``
    for the empty form (``00``).
    """
    if not 0 <= invoke_id < 2**32:
        raise ValueError(f"the long-invoke-id must fit 32 bits, got {invoke_id}")
    header_time = b"\x00" if date_time is None else bytes((len(date_time),)) + date_time
    return (
        bytes((ApduTag.DATA_NOTIFICATION,))
        + invoke_id.to_bytes(4, "big")
        + header_time
        + body
    )


def encode_general_glo_ciphering(  # noqa: PLR0913 - the security header and both keys
    plaintext: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
    security_control: int = SC_ENCRYPTED,
) -> bytes:
    """``DB 08 <system title> <length> <SC> <IC> <ciphertext> [<tag>]``."""
    ciphered = encrypt_payload(
        plaintext,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
    )
    content = (
        bytes((security_control,)) + invocation_counter.to_bytes(4, "big") + ciphered
    )
    return (
        bytes((ApduTag.GENERAL_GLO_CIPHERING, SYSTEM_TITLE_LENGTH))
        + system_title
        + encode_length(len(content))
        + content
    )


def encode_general_block_transfer(
    apdu: bytes, block_size: int, *, first_block_size: int | None = None
) -> list[bytes]:
    """Split an APDU into general-block-transfer APDUs (``E0``).

    Each block is ``E0 <block-control> <block-number> <ack-number> <length>
    <data>`` with at most ``block_size`` data bytes (``first_block_size`` for
    the first block). Block numbers start at 1; as with the E450 every block
    is marked "streaming", and the last one "last block".
    """
    first = block_size if first_block_size is None else first_block_size
    if block_size < 1 or first < 1:
        raise ValueError("general-block-transfer blocks need at least one byte")
    chunks = [apdu[:first]]
    chunks += [apdu[i : i + block_size] for i in range(first, len(apdu), block_size)]
    if len(chunks) > 0xFFFF:
        raise ValueError("too many blocks for one general-block-transfer")
    blocks = []
    for number, chunk in enumerate(chunks, start=1):
        control = _BLOCK_STREAMING | (_BLOCK_LAST if number == len(chunks) else 0)
        blocks.append(
            bytes((ApduTag.GENERAL_BLOCK_TRANSFER, control))
            + number.to_bytes(2, "big")
            + b"\x00\x00"
            + encode_length(len(chunk))
            + chunk
        )
    return blocks
