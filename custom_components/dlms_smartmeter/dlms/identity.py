"""Who a meter is: manufacturer, model and serial number, from its system title.

The system title starts with the meter's FLAG manufacturer id (three
letters) and, for many makers, two letters of the model; the whole title,
as upper-case hex, identifies the meter.
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
    return _printable_prefix(system_title, 3)


def model_of(system_title: bytes) -> str | None:
    """Meter model derived from the system title, where known."""
    prefix = _printable_prefix(system_title, 5)
    return MODELS.get(prefix) if prefix else None


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """What a meter tells about itself."""

    meter_id: str
    """The system title as upper-case hex."""
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
) -> MeterIdentity:
    """The identity of the meter with ``system_title``."""
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
