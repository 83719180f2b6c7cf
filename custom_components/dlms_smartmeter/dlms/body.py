"""What a payload layout reads from or writes into a notification body.

Shared by the layout registry (:mod:`.layouts`) and the DSMR text format
(:mod:`.dsmr`), which is a layout of its own without an A-XDR body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from .reading import MeterValue, Unit

if TYPE_CHECKING:
    from datetime import datetime

    from .reading import Reading


class Layout(StrEnum):
    """Names of the payload layouts this package understands."""

    WIENER_NETZE = "wiener_netze"
    """Wiener Netze AM550/E450 IR: structure(9) = date-time + 8 x u32."""
    WIENER_NETZE_IM350 = "wiener_netze_im350"
    """Wiener Netze Siemens IM350 IR: structure(10) = meter id, date-time, 8 x u32."""
    P1_POSITIONAL = "p1_positional"
    """Kärnten/Wels P1: push id, meter number, time, date, 6 x u32 [, 2 strings]."""
    OBIS_FLAT_TRIPLES = "obis_flat_triples"
    """Netz NÖ (EVN): date-time, then OBIS, value, {scaler, unit} side by side."""
    OBIS_TRIPLES = "obis_triples"
    """KSM West: one structure {OBIS, value[, {scaler, unit}]} per register."""
    OBIS_PAIRS = "obis_pairs"
    """L+G E450 block-transfer push: date-time, then OBIS, value side by side."""
    SELF_DESCRIBING = "self_describing"
    """L+G E450 with an array of capture-object descriptors in front."""
    BURGENLAND = "burgenland"
    """Netz Burgenland E450: 14 positional values."""
    KAIFA_NVE = "kaifa_nve"
    """Norwegian Kaifa lists 1-3 (``KFM_001``): positional, no OBIS codes."""
    DSMR_TEXT = "dsmr_text"
    """A DSMR ASCII telegram inside the cipher envelope (Steiermark T210-D-R)."""


class ClockStyle(StrEnum):
    """How the meters of a layout write their clock."""

    ZONED = "zoned"
    """Deviation and hundredths set (Iskraemeco, Siemens, Kaifa)."""
    LOCAL = "local"
    """Local time without deviation and hundredths (Landis+Gyr E450)."""
    TEXT = "text"
    """DSMR text: local time to the second, ``S``/``W`` for the season."""


UNITS: dict[int, Unit] = {
    8: Unit.DEGREE,
    27: Unit.WATT,
    28: Unit.VOLT_AMPERE,
    29: Unit.VAR,
    30: Unit.WATT_HOUR,
    31: Unit.VOLT_AMPERE_HOUR,
    32: Unit.VAR_HOUR,
    33: Unit.AMPERE,
    35: Unit.VOLT,
    44: Unit.HERTZ,
    255: Unit.NONE,
}
"""DLMS Blue Book unit enum to :class:`Unit` (unknown codes map to no unit)."""
UNIT_CODES: dict[Unit, int] = {unit: code for code, unit in UNITS.items()}
""":class:`Unit` to its DLMS Blue Book unit enum."""


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class BodyValues:
    """What a layout mapper extracted from a notification body."""

    layout: Layout
    values: dict[str, MeterValue] = field(default_factory=dict)
    serial_number: str | None = None
    clock: datetime | None = None
    """The meter clock carried in the body, if any and usable."""
    logical_device_name: str | None = None
    """COSEM logical device name (``0-0:42.0.0``) when the body carries it."""
    clock_object: bool = False
    """``clock`` is the meter's clock object (``0-0:1.0.0``, ``0-1:1.0.0``),
    which other tools report as the meter time, not a positional date-time."""


def scale(raw: float, scaler: int) -> int | float:
    """``raw x 10^scaler``; integers stay integers for scaler ≥ 0.

    A negative scaler gives a float rounded to the scaler's decimals, so
    2337 with scaler -1 is 233.7 and not 233.70000000000002.
    """
    if not isinstance(raw, int):
        return raw * 10.0**scaler
    if scaler >= 0:
        factor: int = 10**scaler
        return raw * factor
    return round(raw * 10.0**scaler, -scaler)


def text_bytes(text: str, what: str) -> bytes:
    """ASCII bytes of an identifier; ``ValueError`` for text a meter cannot send."""
    if text != text.strip() or not text.isprintable() or not text:
        raise ValueError(
            f"the {what} must be printable text without surrounding spaces"
        )
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} must be ASCII text") from None


def serial_bytes(reading: Reading) -> bytes:
    """The serial number as sent (empty without one)."""
    if reading.serial_number is None:
        return b""
    return text_bytes(reading.serial_number, "serial number")
