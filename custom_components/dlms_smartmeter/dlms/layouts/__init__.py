"""The registry of payload layouts: one entry per kind of meter push.

Each :class:`LayoutSpec` says how a layout's notification body is read and
written, which values its meters send, their usual link layer, HDLC
addresses, system-title prefix and clock style. The decoder tries the
``decode`` functions in registry order, the encoder calls ``encode``, the
simulator takes the rest; adding a layout is one entry plus its functions.

A layout is recognised by the *shape* of the decoded A-XDR body (element
count, element types, OBIS codes present), never by byte offsets. Positional
layouts (no OBIS codes on the wire) come first because their shapes are
exact; then the self-describing variant; then the generic walk over
OBIS-tagged registers. Values a layout does not deliver are absent, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .. import obis
from ..body import UNITS, BodyValues, ClockStyle, Layout, scale
from ..dsmr import encode_dsmr_telegram
from ..errors import UnsupportedPayloadError
from ..framing import HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS, LinkLayer
from .nordic import KAIFA_REGISTERS, decode_kaifa, encode_kaifa
from .positional import (
    BURGENLAND_REGISTERS,
    P1_REGISTERS,
    WN_CODES,
    WN_REGISTERS,
    decode_burgenland,
    decode_p1_positional,
    decode_wiener_netze,
    decode_wiener_netze_im350,
    encode_burgenland,
    encode_p1_positional,
    encode_wiener_netze,
    encode_wiener_netze_im350,
    read_wiener_netze,
)
from .tagged import (
    decode_obis_tagged,
    decode_self_describing,
    encode_obis_flat_triples,
    encode_obis_pairs,
    encode_obis_triples,
    encode_self_describing,
    logical_device_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..axdr import Data
    from ..reading import Reading

__all__ = [
    "BURGENLAND_REGISTERS",
    "LAYOUTS",
    "P1_REGISTERS",
    "UNITS",
    "WN_REGISTERS",
    "BodyValues",
    "ClockStyle",
    "Layout",
    "LayoutSpec",
    "detect_layout",
    "layout_of",
    "logical_device_name",
    "map_body",
    "read_body",
    "scale",
    "spec_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutSpec:
    """Everything this package knows about one payload layout."""

    layout: Layout
    decode: Callable[[Data], BodyValues | None] | None
    """Values of a body of this shape, ``None`` when the shape does not fit;
    ``None`` for a layout that is no A-XDR body (DSMR text)."""
    read: Callable[[bytes, int], BodyValues | None] | None = None
    """``decode`` straight from the body's bytes (plaintext, offset), for a
    layout with one fixed byte form; tried before any A-XDR is decoded."""
    encode: Callable[[Reading, ClockStyle], bytes]
    """The body (DSMR: the whole plaintext) of a reading; ``ValueError`` when
    the layout cannot carry it."""
    values: tuple[str, ...]
    """OBIS codes of the values the meters send, in their order."""
    title_prefix: bytes
    """Manufacturer id and model letters of the meters' system titles."""
    link: LinkLayer = LinkLayer.HDLC
    hdlc_addresses: tuple[bytes, bytes] = (HDLC_CLIENT_ADDRESS, HDLC_SERVER_ADDRESS)
    """``(client, server)`` HDLC addresses the meters push with."""
    clock: ClockStyle = ClockStyle.ZONED
    notification: bool = True
    """The body travels in a data-notification (DSMR text does not)."""
    whole_volts: bool = False
    """The meters count whole volts (no scaler on the wire)."""


def _dsmr_text(reading: Reading, _clock: ClockStyle) -> bytes:
    return encode_dsmr_telegram(reading)


_V: Final = (obis.VOLTAGE_L1, obis.VOLTAGE_L2, obis.VOLTAGE_L3)
_I: Final = (obis.CURRENT_L1, obis.CURRENT_L2, obis.CURRENT_L3)
# The E450 and the Steiermark T210-D-R: totals and both tariffs of the four
# energy registers, each followed by its instantaneous power.
_TARIFF_REGISTERS: Final = tuple(
    code
    for quantity in (1, 2, 3, 4)
    for code in (
        f"1-0:{quantity}.8.0",
        f"1-0:{quantity}.8.1",
        f"1-0:{quantity}.8.2",
        f"1-0:{quantity}.7.0",
    )
)
_E450_ADDRESSES: Final = (b"\xce\xff", b"\x03")

LAYOUTS: Final[tuple[LayoutSpec, ...]] = (
    LayoutSpec(
        layout=Layout.WIENER_NETZE,
        decode=decode_wiener_netze,
        read=read_wiener_netze,
        encode=encode_wiener_netze,
        values=WN_CODES,
        title_prefix=b"ISKit",
    ),
    LayoutSpec(
        layout=Layout.WIENER_NETZE_IM350,
        decode=decode_wiener_netze_im350,
        encode=encode_wiener_netze_im350,
        values=WN_CODES,
        title_prefix=b"SMSgu",
        hdlc_addresses=(HDLC_CLIENT_ADDRESS, b"\x00\x02\x00\x23"),
    ),
    LayoutSpec(
        layout=Layout.P1_POSITIONAL,
        decode=decode_p1_positional,
        encode=encode_p1_positional,
        values=tuple(code for code, _unit in P1_REGISTERS),
        title_prefix=b"ISKit",
    ),
    LayoutSpec(
        layout=Layout.BURGENLAND,
        decode=decode_burgenland,
        encode=encode_burgenland,
        values=tuple(code for code, _unit, _scaler in BURGENLAND_REGISTERS),
        title_prefix=b"LGZgr",
        hdlc_addresses=_E450_ADDRESSES,
        clock=ClockStyle.LOCAL,
        whole_volts=True,
    ),
    LayoutSpec(
        layout=Layout.KAIFA_NVE,
        decode=decode_kaifa,
        encode=encode_kaifa,
        values=KAIFA_REGISTERS,
        title_prefix=b"KFM",
    ),
    LayoutSpec(
        layout=Layout.SELF_DESCRIBING,
        decode=decode_self_describing,
        encode=encode_self_describing,
        values=(
            obis.ACTIVE_POWER_IMPORT,
            obis.ACTIVE_POWER_EXPORT,
            obis.ACTIVE_ENERGY_IMPORT,
            obis.ACTIVE_ENERGY_EXPORT,
            obis.REACTIVE_POWER_IMPORT,
            obis.REACTIVE_POWER_EXPORT,
            obis.REACTIVE_ENERGY_IMPORT,
            obis.REACTIVE_ENERGY_EXPORT,
            *_I,
            *_V,
        ),
        title_prefix=b"LGZgs",
        hdlc_addresses=_E450_ADDRESSES,
        clock=ClockStyle.LOCAL,
        whole_volts=True,
    ),
    LayoutSpec(
        layout=Layout.OBIS_FLAT_TRIPLES,
        decode=decode_obis_tagged,
        encode=encode_obis_flat_triples,
        values=(
            obis.ACTIVE_ENERGY_IMPORT,
            obis.ACTIVE_ENERGY_EXPORT,
            obis.ACTIVE_POWER_IMPORT,
            obis.ACTIVE_POWER_EXPORT,
            *_V,
            *_I,
            obis.POWER_FACTOR,
        ),
        title_prefix=b"KFMg",
        link=LinkLayer.MBUS,
    ),
    LayoutSpec(
        layout=Layout.OBIS_TRIPLES,
        decode=decode_obis_tagged,
        encode=encode_obis_triples,
        values=(
            *_V,
            *_I,
            obis.ACTIVE_POWER_IMPORT,
            obis.ACTIVE_POWER_EXPORT,
            obis.ACTIVE_ENERGY_IMPORT,
            obis.ACTIVE_ENERGY_EXPORT,
            obis.REACTIVE_ENERGY_IMPORT,
            obis.REACTIVE_ENERGY_EXPORT,
        ),
        title_prefix=b"KFM",
        link=LinkLayer.MBUS,
    ),
    LayoutSpec(
        layout=Layout.OBIS_PAIRS,
        decode=decode_obis_tagged,
        encode=encode_obis_pairs,
        values=_TARIFF_REGISTERS,
        title_prefix=b"LGZgs",
        hdlc_addresses=_E450_ADDRESSES,
        clock=ClockStyle.LOCAL,
    ),
    LayoutSpec(
        layout=Layout.DSMR_TEXT,
        decode=None,
        encode=_dsmr_text,
        values=_TARIFF_REGISTERS,
        title_prefix=b"SAG5",
        link=LinkLayer.APDU,
        clock=ClockStyle.TEXT,
        notification=False,
    ),
)
"""Every layout; the decoder tries their ``decode`` in this order."""

_SPECS: Final = {spec.layout: spec for spec in LAYOUTS}
# Layouts that share one reader (the OBIS-tagged walk) are tried once.
_DECODERS: Final = tuple(
    dict.fromkeys(spec.decode for spec in LAYOUTS if spec.decode is not None)
)


# Byte readers of fixed layouts; a body that one of them reads would be
# mapped to the same layout by the decoders, which try it first.
_READERS: Final = tuple(spec.read for spec in LAYOUTS if spec.read is not None)


def read_body(plaintext: bytes, offset: int) -> BodyValues | None:
    """Values of a fixed-form body at ``offset``, ``None`` to decode it in full."""
    for read in _READERS:
        found = read(plaintext, offset)
        if found is not None:
            return found
    return None


def spec_of(layout: Layout) -> LayoutSpec:
    """The registry entry of ``layout``."""
    return _SPECS[layout]


def layout_of(name: str) -> Layout:
    """The layout called ``name``; ``ValueError`` for an unknown name."""
    try:
        return Layout(name)
    except ValueError:
        raise ValueError(f"unknown layout {name!r}") from None


def map_body(body: Data, plaintext: bytes = b"") -> BodyValues:
    """Map a notification body with the first layout whose shape fits.

    Raises :class:`UnsupportedPayloadError` (carrying ``plaintext``, for bug
    reports) when no layout fits.
    """
    for decode in _DECODERS:
        result = decode(body)
        if result is not None:
            return result
    count = len(body.items)
    shape = (
        f"{body.type.name.lower()}({count})"
        if body.is_container
        else (body.type.name.lower())
    )
    raise UnsupportedPayloadError(
        f"the meter's payload layout ({shape}) is not known: please report it "
        "with this plaintext",
        plaintext,
    )


def detect_layout(body: Data) -> Layout | None:
    """Name of the layout that fits ``body``, ``None`` when none does."""
    for decode in _DECODERS:
        result = decode(body)
        if result is not None:
            return result.layout
    return None
