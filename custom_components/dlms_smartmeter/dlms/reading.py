"""Typed, immutable meter readings: what the protocol stack hands to its users."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .identity import identify, manufacturer_id, model_of

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .identity import MeterIdentity


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
    logical_device_name: str | None = field(default=None, compare=False)
    """COSEM logical device name (``0-0:42.0.0``, e.g. ``LGZ1030653520967``)
    when the payload carries one: the meter's identification where it sends
    no serial number. Not compared: KSM West meters derive it from the serial
    number, so it adds nothing to what a reading says."""
    raw: bytes = field(default=b"", compare=False, repr=False)
    """The link-layer bytes the reading came from (for diagnostics)."""

    @property
    def identity(self) -> MeterIdentity:
        """Meter id, manufacturer, model and serial number."""
        return identify(
            self.system_title,
            self.serial_number,
            identifies_meter=self.identifies_meter,
            logical_device_name=self.logical_device_name,
        )

    @property
    def manufacturer(self) -> str | None:
        """FLAG manufacturer id, e.g. ``"ISK"``; ``None`` if the title is not ASCII."""
        return manufacturer_id(self.system_title)

    @property
    def manufacturer_name(self) -> str | None:
        """Readable manufacturer name, falling back to the FLAG id."""
        return self.identity.manufacturer

    @property
    def model(self) -> str | None:
        """Meter model derived from the system title, where known."""
        return model_of(self.system_title)


def reading_as_dict(reading: Reading) -> dict[str, Any]:
    """A reading as plain, JSON-ready data: who sent it, how, when, and its values."""
    identity = reading.identity
    return {
        "system_title": reading.system_title.hex().upper(),
        "meter_id": identity.meter_id,
        "manufacturer": identity.manufacturer,
        "model": identity.model,
        "serial_number": reading.serial_number,
        "logical_device_name": reading.logical_device_name,
        "layout": reading.layout,
        "security": reading.security.value,
        "invocation_counter": reading.invocation_counter,
        "meter_time": reading.meter_time.isoformat() if reading.meter_time else None,
        "values": {
            code: {"value": value.value, "unit": value.unit.value}
            for code, value in reading.values.items()
        },
    }
