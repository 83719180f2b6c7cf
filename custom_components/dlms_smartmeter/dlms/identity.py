"""Who a meter is: manufacturer, model and serial number, from its system title.

The system title starts with the meter's FLAG manufacturer id (three
letters) and, for many makers, two letters of the model; the whole title,
as upper-case hex, identifies the meter.

A meter that pushes without encryption sends no system title. It is
identified by what its push carries instead: the COSEM logical device name
(``0-0:42.0.0``, FLAG id and serial, e.g. ``LGZ1030653520967``), else its
serial number (``0-0:96.1.0``, Kamstrup ``1-1:0.0.5``), as sent. A push that
carries neither (Norwegian list 1) identifies no meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

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

# Model by manufacturer id, for meters whose telegrams name no meter (AMIS:
# the address fields are the reader's, the same for every meter).
ANONYMOUS_MODELS: Mapping[str, str] = {"SAM": "AMIS"}

SYSTEM_TITLE_LENGTH = 8
"""Bytes of a system title: FLAG id (3) and the maker's meter number (5)."""
_FLAG_LENGTH = 3
"""Letters of a FLAG manufacturer id."""

DEFAULT_NAME = "Smart meter"
"""Name of a meter that tells nothing about its maker."""


def _printable_prefix(system_title: bytes, length: int) -> str | None:
    prefix = system_title[:length]
    if len(prefix) == length and all(0x20 < b < 0x7F for b in prefix):
        return prefix.decode("ascii")
    return None


def meter_id(system_title: bytes) -> str:
    """The meter's unique id: its system title as upper-case hex."""
    return system_title.hex().upper()


def manufacturer_id(system_title: bytes) -> str | None:
    """FLAG manufacturer id, e.g. ``"ISK"``; ``None`` if the title is not ASCII."""
    return _printable_prefix(system_title, _FLAG_LENGTH)


def model_of(system_title: bytes) -> str | None:
    """Meter model derived from the system title, where known."""
    prefix = _printable_prefix(system_title, 5)
    return MODELS.get(prefix) if prefix else None


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """What a meter tells about itself."""

    meter_id: str
    """The system title as upper-case hex; without one, the identification
    the push carries (logical device name or serial number); ``""`` when the
    push names no meter."""
    manufacturer_id: str | None
    """FLAG id, e.g. ``"ISK"``."""
    manufacturer: str | None
    """Readable manufacturer name, falling back to the FLAG id."""
    model: str | None
    serial_number: str | None
    identifies_meter: bool = True
    """False when the system title names no meter (AMIS): it is no meter id."""

    @property
    def name(self) -> str:
        """Manufacturer and model, e.g. ``"Iskraemeco AM550-TD0"``."""
        parts = (self.manufacturer, self.model)
        return " ".join(part for part in parts if part) or DEFAULT_NAME

    @property
    def title(self) -> str:
        """Manufacturer, model and serial number (or meter id), for an entry title."""
        parts = (
            self.manufacturer or DEFAULT_NAME,
            self.model,
            self.serial_number or (self.meter_id if self.identifies_meter else None),
        )
        return " ".join(part for part in parts if part)


def identify(
    system_title: bytes,
    serial_number: str | None = None,
    *,
    identifies_meter: bool = True,
    logical_device_name: str | None = None,
) -> MeterIdentity:
    """The identity of the meter with ``system_title``.

    Without a system title (a push without encryption), the logical device
    name or the serial number identifies the meter.
    """
    if not system_title:
        return _identify_by_name(logical_device_name, serial_number)
    flag = manufacturer_id(system_title)
    model = (
        model_of(system_title) if identifies_meter else ANONYMOUS_MODELS.get(flag or "")
    )
    return MeterIdentity(
        meter_id=meter_id(system_title),
        manufacturer_id=flag,
        manufacturer=MANUFACTURERS.get(flag, flag) if flag is not None else None,
        model=model,
        serial_number=serial_number,
        identifies_meter=identifies_meter,
    )


def _identify_by_name(
    logical_device_name: str | None, serial_number: str | None
) -> MeterIdentity:
    """The identity of a meter that sends no system title."""
    name = (logical_device_name or "").strip()
    serial = (serial_number or "").strip() or None
    identification = (name or serial or "").upper()
    # A logical device name starts with the maker's FLAG id (three letters).
    prefix = name[:_FLAG_LENGTH]
    flag = (
        prefix
        if len(name) > _FLAG_LENGTH and prefix.isascii() and prefix.isalpha()
        else None
    )
    return MeterIdentity(
        meter_id=identification,
        manufacturer_id=flag,
        manufacturer=MANUFACTURERS.get(flag, flag) if flag is not None else None,
        model=None,
        serial_number=serial or name or None,
        identifies_meter=bool(identification),
    )


def identity_of(meter_id: str) -> MeterIdentity:
    """What a stored meter id alone tells (before the meter's first reading)."""
    try:
        system_title = bytes.fromhex(meter_id)
    except ValueError:
        system_title = b""
    if len(system_title) == SYSTEM_TITLE_LENGTH:
        return identify(system_title)
    return _identify_by_name(meter_id, None)
