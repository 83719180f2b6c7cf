"""Fields of the config flow's forms, the input read from them, unique IDs.

The unique ID is what an entry gets for the meter that answered the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import usb
from homeassistant.const import CONF_PORT
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
import serialx
import voluptuous as vol

from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    DEFAULT_BAUDRATE,
    DEFAULT_INTERFACE,
    DEFAULT_PARITY,
    INTERFACE_CUSTOM,
    INTERFACES,
    PARITY_CHOICES,
    interface_for,
)
from .dlms import format_key, parse_key
from .link import LineSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry

    from .dlms import Reading

SECTION_CUSTOM_LINE: Final = "custom_line"
"""Form section with baud rate and parity for the custom interface choice."""

BAUDRATES: Final = (
    "300",
    "1200",
    "2400",
    "4800",
    "9600",
    "19200",
    "38400",
    "57600",
    "115200",
)

PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
INTERFACE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[*INTERFACES, INTERFACE_CUSTOM],
        translation_key=CONF_INTERFACE,
        mode=selector.SelectSelectorMode.DROPDOWN,
        sort=False,
    )
)


def form_schema(fields: Mapping[Any, Any]) -> Any:
    """A form schema.

    Home Assistant 2026.9 and later replace voluptuous with a compatible
    package whose types differ, so the schema is handed over untyped.
    """
    return vol.Schema(fields)


class InvalidInputError(Exception):
    """A field that cannot be used; ``field`` and ``error`` go to the form."""

    def __init__(self, field_name: str, error: str) -> None:
        """Name the field and the form error to show at it."""
        super().__init__(error)
        self.field = field_name
        self.error = error


@dataclass(frozen=True, slots=True)
class MeterInput:
    """Validated form input, ready to listen with."""

    settings: LineSettings
    interface: str
    """The form's interface choice (an ``INTERFACES`` name or the custom one)."""
    # Keys stay out of the representation, so they cannot end up in a log.
    encryption_key: bytes = field(repr=False)
    authentication_key: bytes | None = field(repr=False)

    def as_entry_data(self) -> dict[str, Any]:
        """The entry data to store: port, line settings and keys as text."""
        data: dict[str, Any] = {
            CONF_PORT: self.settings.port,
            CONF_ENCRYPTION_KEY: format_key(self.encryption_key),
            CONF_BAUDRATE: self.settings.baudrate,
            CONF_PARITY: self.settings.parity,
            CONF_INTERFACE: self.interface,
        }
        if self.authentication_key is not None:
            data[CONF_AUTHENTICATION_KEY] = format_key(self.authentication_key)
        return data


def _parse_key_field(
    text: str | None, field_name: str, fallback: str | None
) -> bytes | None:
    """Key bytes from a form field; blank gives the fallback (a stored key)."""
    if not text or not text.strip():
        return parse_key(fallback) if fallback else None
    try:
        return parse_key(text)
    except ValueError as err:
        raise InvalidInputError(field_name, f"invalid_{field_name}_format") from err


def parse_keys(
    encryption_text: str | None,
    authentication_text: str | None,
    stored: Mapping[str, Any],
) -> tuple[bytes, bytes | None]:
    """Both keys from the form; blank fields keep the stored keys.

    Raises ``InvalidInputError`` for a key that is not 32 hex characters
    (and for a missing encryption key).
    """
    encryption_key = _parse_key_field(
        encryption_text, CONF_ENCRYPTION_KEY, stored.get(CONF_ENCRYPTION_KEY)
    )
    if encryption_key is None:
        raise InvalidInputError(CONF_ENCRYPTION_KEY, "invalid_encryption_key_format")
    authentication_key = _parse_key_field(
        authentication_text,
        CONF_AUTHENTICATION_KEY,
        stored.get(CONF_AUTHENTICATION_KEY),
    )
    return encryption_key, authentication_key


def line_settings_from(user_input: Mapping[str, Any]) -> tuple[str, int, str]:
    """Interface choice, baud rate and parity from the form."""
    name = user_input.get(CONF_INTERFACE, DEFAULT_INTERFACE)
    if name in INTERFACES:
        interface = INTERFACES[name]
        return name, interface.baudrate, interface.parity
    custom: Mapping[str, Any] = user_input.get(SECTION_CUSTOM_LINE, {})
    return (
        INTERFACE_CUSTOM,
        int(custom.get(CONF_BAUDRATE) or DEFAULT_BAUDRATE),
        PARITY_CHOICES.get(custom.get(CONF_PARITY) or "", DEFAULT_PARITY),
    )


def parity_choice(parity: str) -> str:
    """The form's choice for a stored parity."""
    return next(
        (choice for choice, value in PARITY_CHOICES.items() if value == parity), "none"
    )


def list_ports() -> list[selector.SelectOptionDict]:
    """Detected serial ports with readable names (blocking: run in the executor)."""
    return [
        selector.SelectOptionDict(
            value=usb.get_serial_by_id(port.device),
            label=usb.human_readable_device_name(
                port.device,
                port.serial_number,
                port.manufacturer,
                port.description,
                port.vid,
                port.pid,
            ),
        )
        for port in serialx.list_serial_ports()
    ]


def custom_line_section() -> section:
    """Baud rate and parity for the custom choice, collapsed by default."""
    return section(
        form_schema(
            {
                vol.Optional(CONF_BAUDRATE): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=list(BAUDRATES),
                        mode=selector.SelectSelectorMode.DROPDOWN,
                        sort=False,
                    )
                ),
                vol.Optional(CONF_PARITY): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=list(PARITY_CHOICES),
                        translation_key=CONF_PARITY,
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
            }
        ),
        {"collapsed": True},
    )


def settings_of(entry: ConfigEntry) -> LineSettings:
    """Port and line settings stored in an entry (older entries lack some)."""
    return LineSettings.from_entry_data(entry.data)


def interface_of(entry: ConfigEntry) -> str:
    """The entry's interface choice; older entries did not store one."""
    stored = entry.data.get(CONF_INTERFACE)
    if stored in INTERFACES or stored == INTERFACE_CUSTOM:
        return str(stored)
    settings = settings_of(entry)
    return interface_for(
        settings.baudrate,
        settings.parity,
        authentication_key=bool(entry.data.get(CONF_AUTHENTICATION_KEY)),
    )


def search_interval_of(entry: ConfigEntry) -> float | None:
    """Seconds between the searches of the entry's meter (AMIS), if it searches."""
    interface = INTERFACES.get(interface_of(entry))
    return interface.search_interval if interface is not None else None


def new_unique_id(reading: Reading) -> str:
    """The unique ID of a new entry for the meter that sent ``reading``.

    AMIS telegrams name no meter (every one carries the reader's address), so
    such a meter gets its manufacturer code and five random bytes: stable for
    the entry's lifetime, through re-keying and port changes.
    """
    meter_id = reading.identity.meter_id
    if reading.identifies_meter:
        return meter_id
    return meter_id[:_MANUFACTURER_HEX] + secrets.token_hex(5).upper()


def unique_id_for(entry: ConfigEntry, reading: Reading) -> str:
    """The unique ID ``entry`` must have for ``reading`` to be from its meter.

    An AMIS meter is only known by its manufacturer code: a new key or port
    keeps the entry's unique ID, and so its entities and statistics.
    """
    meter_id = reading.identity.meter_id
    stored = (entry.unique_id or "").upper()
    if not reading.identifies_meter and stored.startswith(meter_id[:_MANUFACTURER_HEX]):
        return entry.unique_id or meter_id
    return meter_id


_MANUFACTURER_HEX: Final = 6
"""Hex digits of the manufacturer code at the start of a system title."""
