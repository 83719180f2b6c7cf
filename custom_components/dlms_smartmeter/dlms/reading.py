"""Typed, immutable meter readings: what the protocol stack hands to its users."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime


class SecurityLevel(StrEnum):
    """How a reading was protected on the wire."""

    NONE = "none"
    """Plain data-notification, no encryption."""
    ENCRYPTED = "encrypted"
    """Decrypted, not authenticated (no tag, or no authentication key to check it)."""
    AUTHENTICATED = "authenticated"
    """Decrypted and the GCM tag verified with the authentication key."""


class Unit(StrEnum):
    """Physical units of meter values (DLMS Blue Book unit enum, as text)."""

    WATT_HOUR = "Wh"
    VAR_HOUR = "varh"
    VOLT_AMPERE_HOUR = "VAh"
    WATT = "W"
    VAR = "var"
    VOLT_AMPERE = "VA"
    VOLT = "V"
    AMPERE = "A"
    HERTZ = "Hz"
    DEGREE = "°"
    NONE = ""


@dataclass(frozen=True, slots=True)
class MeterValue:
    """One value with its unit; scaler already applied."""

    value: int | float
    unit: Unit


# FLAG manufacturer ids (first three bytes of the system title) seen on Austrian meters.
MANUFACTURERS: Mapping[str, str] = {
    "ISK": "Iskraemeco",
    "LGZ": "Landis+Gyr",
    "SMS": "Siemens",
    "SIE": "Siemens",
    "SAM": "Siemens",  # M-Bus manufacturer code of the AMIS meters
    "KFM": "Kaifa",
    "SAG": "Sagemcom",
    "ELS": "Elster/Honeywell",
    "HON": "Honeywell",
    "KAM": "Kamstrup",
    "EMH": "EMH metering",
    "ITE": "Itron",
}

# Model hints by system-title prefix (manufacturer id plus two model letters).
MODELS: Mapping[str, str] = {
    "ISKit": "AM550-TD0",
    "ISKiu": "AM550-TD0.21",
    "ISKhu": "AM550-ED0",
    "LGZgs": "E450",
    "LGZgr": "E450",
    "SMSfp": "IM350",
    "SMSgu": "IM350",
    "SMSgp": "IM350",
}


def _printable_prefix(system_title: bytes, length: int) -> str | None:
    prefix = system_title[:length]
    if len(prefix) == length and all(0x20 < b < 0x7F for b in prefix):
        return prefix.decode("ascii")
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One decoded push telegram.

    ``values`` maps OBIS codes written as ``"1-0:1.8.0"`` to scaled values.
    """

    system_title: bytes
    invocation_counter: int | None
    security: SecurityLevel
    meter_time: datetime | None
    values: Mapping[str, MeterValue]
    layout: str
    """Name of the payload layout that produced the values (e.g. ``"wiener_netze"``)."""
    serial_number: str | None = None
    """Meter number when the payload carries one."""
    identifies_meter: bool = True
    """False when ``system_title`` names no meter: AMIS telegrams carry the
    reader's fixed address (``SAM`` and identification 00000000) instead."""
    raw: bytes = field(default=b"", compare=False, repr=False)
    """The link-layer bytes the reading came from (for diagnostics)."""

    @property
    def manufacturer(self) -> str | None:
        """FLAG manufacturer id, e.g. ``"ISK"``; ``None`` if the title is not ASCII."""
        return _printable_prefix(self.system_title, 3)

    @property
    def manufacturer_name(self) -> str | None:
        """Readable manufacturer name, falling back to the FLAG id."""
        flag = self.manufacturer
        if flag is None:
            return None
        return MANUFACTURERS.get(flag, flag)

    @property
    def model(self) -> str | None:
        """Meter model derived from the system title, where known."""
        prefix = _printable_prefix(self.system_title, 5)
        return MODELS.get(prefix) if prefix else None
