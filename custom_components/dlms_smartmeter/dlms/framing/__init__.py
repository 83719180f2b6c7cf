"""Link layers (HDLC, M-Bus, AMIS, raw APDUs) and the stream framer that finds them.

Each link layer is one module that reads and writes its frames
(:mod:`.hdlc`, :mod:`.mbus`, :mod:`.amis`, :mod:`.raw`) and one entry in
:data:`~.stream.LINKS`; :class:`StreamFramer` (:mod:`.stream`) turns a byte
stream into :class:`LinkFrame` objects.
"""

from .hdlc import (
    HDLC_CLIENT_ADDRESS,
    HDLC_MAX_FRAME,
    HDLC_MAX_LENGTH,
    HDLC_SERVER_ADDRESS,
    encode_hdlc,
)
from .link import MAX_MESSAGE_SIZE, FramerStats, LinkFrame, LinkLayer
from .mbus import MBUS_MAX_FRAME, MBUS_MAX_SEGMENT, encode_mbus
from .raw import RAW_APDU_MAX_FRAME
from .stream import LINKS, StreamFramer, encode_link

__all__ = [
    "HDLC_CLIENT_ADDRESS",
    "HDLC_MAX_FRAME",
    "HDLC_MAX_LENGTH",
    "HDLC_SERVER_ADDRESS",
    "LINKS",
    "MAX_MESSAGE_SIZE",
    "MBUS_MAX_FRAME",
    "MBUS_MAX_SEGMENT",
    "RAW_APDU_MAX_FRAME",
    "FramerStats",
    "LinkFrame",
    "LinkLayer",
    "StreamFramer",
    "encode_hdlc",
    "encode_link",
    "encode_mbus",
]
