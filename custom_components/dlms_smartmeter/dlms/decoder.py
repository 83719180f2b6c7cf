"""The whole pipeline: bytes -> frames -> APDU -> plaintext -> Reading.

:class:`MeterDecoder` owns a :class:`~.framing.StreamFramer` and the
General-Block-Transfer state of one byte stream. ``feed()`` never raises for
bad meter data: every problem is reported as a :class:`~.errors.DlmsError`
in the returned list, in stream order, and counted in :class:`DecoderStats`.

Wrong keys: a frame that is only encrypted (no tag) decrypts to *something*
with any key. Its plaintext is accepted only when it is a data-notification
that parses completely (every byte consumed) or a DSMR telegram with a valid
CRC; anything else is reported as :class:`~.errors.DecryptionError`, never as
values, except a telegram that reads as text (no wrong key gives that),
whose failed check is reported as it is.

Meter time: the clock object in the body (``0-0:1.0.0``, ``0-1:1.0.0``)
where the push carries one, else the notification header's date-time, else
a positional date-time of the body. A time sent without its UTC offset is
local time in the decoder's ``time_zone``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import logging
from typing import TYPE_CHECKING

from . import amis, dsmr
from .apdu import (
    CIPHERING_TAGS,
    ApduTag,
    BlockAssembler,
    describe_tag,
    join_blocks,
    parse_block,
    parse_ciphered_apdu,
    parse_notification_header,
)
from .axdr import decode_data
from .cosem_time import METER_TIME_ZONE, check_zone, local_zone, parse_date_time
from .errors import (
    AuthenticationError,
    ChecksumError,
    DecryptionError,
    DlmsError,
    FramingError,
    IncompleteError,
    MalformedPayloadError,
    UnsupportedError,
)
from .framing import LinkFrame, LinkLayer, StreamFramer, amis as amis_frames
from .keys import KEY_LENGTH
from .layouts import BodyValues, map_body, read_body
from .reading import Reading, SecurityLevel
from .security import Decryptor

if TYPE_CHECKING:
    from datetime import datetime

_LOGGER = logging.getLogger(__name__)
_BLOCK_TRANSFER = bytes((ApduTag.GENERAL_BLOCK_TRANSFER,))

WRONG_KEY_MESSAGE = (
    "the frame does not decrypt with the configured key: check the key from "
    "your grid operator's portal"
)


@dataclass(slots=True)
class DecoderStats:
    """Counters of everything the decoder saw since it was created.

    Every link frame that passed its checksum ends either as a reading or in
    exactly one of the error counters after ``frames``:
    ``frames == readings + decryption_errors + authentication_errors +
    unsupported + malformed + incomplete`` (``incomplete``: General-Block-
    Transfer sequences that were cut off). The blocks of one block-transfer
    sequence count as one frame, once the sequence has ended.
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
    incomplete: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict (for diagnostics and JSON)."""
        return asdict(self)

    def count(self, outcome: Reading | DlmsError) -> None:
        """Count one outcome of a link frame or of the framer."""
        if isinstance(outcome, Reading):
            self.frames += 1
            self.readings += 1
        elif isinstance(outcome, ChecksumError):
            self.checksum_errors += 1
        elif isinstance(outcome, FramingError):
            self.framing_errors += 1
        else:
            self.frames += 1
            if isinstance(outcome, DecryptionError):
                self.decryption_errors += 1
            elif isinstance(outcome, AuthenticationError):
                self.authentication_errors += 1
            elif isinstance(outcome, UnsupportedError):
                self.unsupported += 1
            elif isinstance(outcome, IncompleteError):
                self.incomplete += 1
            else:
                self.malformed += 1


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class _Plaintext:
    """A decrypted (or plain) APDU and what is known about its origin."""

    data: bytes
    security: SecurityLevel
    system_title: bytes = b""
    invocation_counter: int | None = None

    @property
    def verified(self) -> bool:
        """True when the plaintext is authentic (tag checked) or was never encrypted.

        Otherwise a parse failure most likely means a wrong key.
        """
        return self.security is not SecurityLevel.ENCRYPTED


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
        time_zone: str = METER_TIME_ZONE,
    ) -> None:
        """Set up a decoder for one stream.

        ``time_zone`` (an IANA name) is where the meter runs its clock: times
        it sends without a UTC offset are local time there. Raises
        ``ValueError`` for a key that is not 16 bytes long (the message never
        contains the key) and for an unknown time zone.
        """
        for name, key in (
            ("encryption key", encryption_key),
            ("authentication key", authentication_key),
        ):
            if key is not None and len(key) != KEY_LENGTH:
                msg = f"the {name} must be {KEY_LENGTH} bytes, got {len(key)}"
                raise ValueError(msg)
        self._time_zone = check_zone(time_zone)
        self._encryption_key = encryption_key
        self._decryptor = Decryptor(encryption_key, authentication_key)
        self._authentication_key = authentication_key
        self._framer = StreamFramer(link)
        self._blocks = BlockAssembler()
        self._block_raw: list[bytes] = []
        self._replies = bytearray()
        self.stats = DecoderStats()

    def __repr__(self) -> str:
        """Describe the decoder without its keys."""
        return (
            f"{type(self).__name__}(link={self._framer.link!s}, "
            f"encryption_key={'set' if self._encryption_key else 'none'}, "
            f"authentication_key={'set' if self._authentication_key else 'none'})"
        )

    def feed(self, data: bytes) -> list[Reading | DlmsError]:
        """Consume a chunk of bytes as read from the port."""
        self.stats.bytes_received += len(data)
        try:
            framed = self._framer.feed(data)
        except Exception:
            # A framer bug must not stop the reader: drop its state and go on.
            _LOGGER.exception("unexpected failure of the link-layer framer")
            self._framer.reset()
            framed = [FramingError("internal framing failure: buffered bytes dropped")]
        results: list[Reading | DlmsError] = []
        with local_zone(self._time_zone):
            for item in framed:
                if isinstance(item, LinkFrame):
                    results.extend(self._frame(item))
                else:
                    results.append(item)
        for outcome in results:
            self.stats.count(outcome)
        return results

    def pop_replies(self) -> bytes:
        """Bytes the meter's protocol requires the reader to send back.

        Accumulated since the last call. Only AMIS meters expect an answer:
        ``E5`` for every search request and data frame addressed to the
        reader, whether or not it decrypts (the session stays alive while a
        wrong key is reported). For every link that only pushes: ``b""``.
        """
        replies = bytes(self._replies)
        self._replies.clear()
        return replies

    def flush(self) -> list[DlmsError]:
        """End of input: report partial frames and cut-off block sequences."""
        errors: list[DlmsError] = list(self._framer.flush())
        if self._blocks.pending:
            errors.append(self._blocks.cut_off("the stream ended"))
            self._block_raw.clear()
        for error in errors:
            self.stats.count(error)
        return errors

    def reset(self) -> None:
        """Drop partial frames and block-transfer state (after a reconnect)."""
        self._framer.reset()
        self._blocks.reset()
        self._block_raw.clear()

    def _frame(self, frame: LinkFrame) -> list[Reading | DlmsError]:
        """Outcomes of one link frame (none while a block sequence is pending)."""
        if frame.link is LinkLayer.AMIS:
            return self._amis_frame(frame)
        try:
            if frame.payload[:1] == _BLOCK_TRANSFER:
                return self._block(frame)
            return [self.decode_apdu(frame.payload, frame.raw)]
        except DlmsError as error:
            return [error]
        except Exception:
            # Meter data must never crash the reader; this is a decoder bug.
            _LOGGER.exception("unexpected failure while decoding a frame")
            return [MalformedPayloadError("internal decoder failure on this frame")]

    def _amis_frame(self, frame: LinkFrame) -> list[Reading | DlmsError]:
        """Acknowledge an AMIS frame at once, then decode it if it carries data."""
        if amis_frames.requires_ack(frame.raw):
            self._replies += amis_frames.ACK
        if amis_frames.is_search_request(frame.raw):
            return []
        try:
            return [amis.decode_data_frame(frame.raw, self._encryption_key)]
        except DlmsError as error:
            return [error]
        except Exception:
            _LOGGER.exception("unexpected failure while decoding an AMIS frame")
            return [MalformedPayloadError("internal decoder failure on this frame")]

    def _block(self, frame: LinkFrame) -> list[Reading | DlmsError]:
        block = parse_block(frame.payload)
        result = self._blocks.add(block)
        outcomes: list[Reading | DlmsError] = list(result.cut_off)
        if result.cut_off:
            self._block_raw.clear()
        self._block_raw.append(frame.raw)
        if not self._blocks.pending:
            raw = b"".join(self._block_raw)
            self._block_raw.clear()
            if result.apdu is not None:
                try:
                    outcomes.append(self._decode(result.apdu, raw, nested=True))
                except DlmsError as error:
                    outcomes.append(error)
        return outcomes

    def decode_apdu(self, apdu: bytes, raw: bytes = b"") -> Reading:
        """Decode one complete APDU; raises a ``DlmsError`` subclass on failure.

        A general-block-transfer APDU must hold its whole sequence of blocks
        back to back.
        """
        with local_zone(self._time_zone):
            return self._decode(apdu, raw or apdu, nested=False)

    def _decode(self, apdu: bytes, raw: bytes, *, nested: bool) -> Reading:
        if not apdu:
            raise MalformedPayloadError("empty APDU")
        tag = apdu[0]
        if tag == ApduTag.GENERAL_BLOCK_TRANSFER:
            if nested:
                raise MalformedPayloadError(
                    "a general-block-transfer sequence contains another one"
                )
            return self._decode(join_blocks(apdu), raw, nested=True)
        if tag == ApduTag.DATA_NOTIFICATION:
            return self._reading(_Plaintext(apdu, SecurityLevel.NONE), raw)
        if tag in CIPHERING_TAGS:
            ciphered = parse_ciphered_apdu(apdu)
            decrypted = self._decryptor.decrypt(
                system_title=ciphered.system_title,
                security_control=ciphered.security_control,
                invocation_counter=ciphered.invocation_counter,
                content=ciphered.content,
            )
            plaintext = _Plaintext(
                decrypted.plaintext,
                decrypted.security,
                ciphered.system_title,
                ciphered.invocation_counter,
            )
            return self._reading(plaintext, raw)
        raise UnsupportedError(
            f"APDU {describe_tag(tag)} is not a push telegram this decoder supports"
        )

    def _reading(self, plaintext: _Plaintext, raw: bytes) -> Reading:
        header_time, body = _interpret(plaintext)
        return Reading(
            system_title=plaintext.system_title,
            invocation_counter=plaintext.invocation_counter,
            security=plaintext.security,
            # The clock object in the body is the meter's own clock at the
            # capture; the header time can be a second or two earlier.
            meter_time=(body.clock if body.clock_object else header_time or body.clock),
            values=dict(body.values),
            layout=str(body.layout),
            serial_number=body.serial_number,
            logical_device_name=body.logical_device_name,
            raw=raw,
        )


def _interpret(plaintext: _Plaintext) -> tuple[datetime | None, BodyValues]:
    """Header date-time and body values of a plaintext APDU.

    When the plaintext is not authentic, a structural failure is reported as
    a wrong key (:class:`DecryptionError`).
    """
    data = plaintext.data
    try:
        if dsmr.looks_like_telegram(data):
            authenticated = plaintext.security is SecurityLevel.AUTHENTICATED
            return None, dsmr.parse_telegram(data, authenticated=authenticated)
        _invoke_id, date_time, body_at = parse_notification_header(data)
        # A fixed-form body is read from its bytes; any other is decoded.
        fixed = read_body(data, body_at)
        body = decode_data(data[body_at:]) if fixed is None else fixed
    except (MalformedPayloadError, UnsupportedError) as error:
        if plaintext.verified or dsmr.is_readable_text(data):
            raise
        raise DecryptionError(WRONG_KEY_MESSAGE) from error
    header_time = parse_date_time(date_time) if date_time else None
    if isinstance(body, BodyValues):
        return header_time, body
    return header_time, map_body(body, data)
