"""DLMS/COSEM push decoding for smart meters (pure Python, no Home Assistant).

Data flows one way: bytes -> link frames (:mod:`.framing`) -> APDU
(:mod:`.apdu`) -> plaintext (:mod:`.security`) -> A-XDR data (:mod:`.axdr`)
-> typed :class:`Reading` (:mod:`.layouts`). :class:`MeterDecoder` runs the
whole pipeline on a byte stream.
"""

from .body import Layout
from .decoder import DecoderStats, MeterDecoder
from .errors import (
    AuthenticationError,
    ChecksumError,
    DecryptionError,
    DlmsError,
    FramingError,
    IncompleteError,
    MalformedPayloadError,
    UnsupportedError,
    UnsupportedPayloadError,
)
from .framing import LinkFrame, LinkLayer, StreamFramer
from .keys import format_key, parse_key
from .reading import MeterValue, Reading, SecurityLevel, Unit

__all__ = [
    "AuthenticationError",
    "ChecksumError",
    "DecoderStats",
    "DecryptionError",
    "DlmsError",
    "FramingError",
    "IncompleteError",
    "Layout",
    "LinkFrame",
    "LinkLayer",
    "MalformedPayloadError",
    "MeterDecoder",
    "MeterValue",
    "Reading",
    "SecurityLevel",
    "StreamFramer",
    "Unit",
    "UnsupportedError",
    "UnsupportedPayloadError",
    "format_key",
    "parse_key",
]
