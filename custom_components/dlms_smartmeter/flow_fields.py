"""Fields of the config flow's forms: their schema, and the input read from them.

Ports come in two fields: a detected port from a list, or a typed URL or
path. Home Assistant 2026.5 and later mark a typed value in the port list as
an unknown item, which reads like an error to the owner of a network head.

The unique ID is what an entry gets for the meter that answered the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import usb
from homeassistant.const import CONF_PORT, CONF_URL
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
    INTERFACE_AUTO,
    INTERFACE_CUSTOM,
    INTERFACES,
    PARITY_CHOICES,
    LineCandidate,
    interface_for,
)
from .dlms import format_key, parse_key
from .link import LineSettings

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from homeassistant.config_entries import ConfigEntry

    from .dlms import Reading

# Home Assistant 2026.5 and later have a serial port selector that also
# offers ESPHome serial proxies; older versions get a list of detected ports.
SERIAL_PORT_SELECTOR: type[selector.Selector[Any]] | None = getattr(
    selector, "SerialPortSelector", None
)

SECTION_CUSTOM_LINE: Final = "custom_line"
"""Form section with baud rate and parity for the custom interface choice."""

KEY_SOURCES: Final = {
    # Where operators hand out keys. The key help texts name them through
    # placeholders: hassfest refuses addresses inside translations.
    "wiener_netze_info": "https://www.wienernetze.at/smart-meter-kundenschnittstelle",
    "netz_noe_email": "smartmeter@netz-noe.at",
}

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
_URL = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.TEXT)
)
INTERFACE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[INTERFACE_AUTO, *INTERFACES, INTERFACE_CUSTOM],
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
        """Name the field (or ``base``) and the error key."""
        super().__init__(error)
        self.field = field_name
        self.error = error


@dataclass(frozen=True, slots=True)
class MeterInput:
    """Validated form input, ready to listen with."""

    port: str
    interface: str
    """The form's interface choice: an ``INTERFACES`` name, custom or auto."""
    candidates: tuple[LineCandidate, ...]
    """The line settings to listen with (one, unless the choice is auto)."""
    # Keys stay out of the representation, so they cannot end up in a log.
    encryption_key: bytes | None = field(repr=False)
    """``None`` for a meter that pushes without encryption."""
    authentication_key: bytes | None = field(repr=False)

    @property
    def keys(self) -> tuple[bytes | None, bytes | None]:
        """Encryption key and authentication key."""
        return self.encryption_key, self.authentication_key

    def entry_data(self, settings: LineSettings, interface: str) -> dict[str, Any]:
        """What the entry stores once ``settings`` proved to work."""
        data: dict[str, Any] = {
            CONF_PORT: settings.port,
            CONF_BAUDRATE: settings.baudrate,
            CONF_PARITY: settings.parity,
            CONF_INTERFACE: interface,
        }
        if self.encryption_key is not None:
            data[CONF_ENCRYPTION_KEY] = format_key(self.encryption_key)
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
) -> tuple[bytes | None, bytes | None]:
    """Both keys from the form; blank fields keep the stored keys.

    No encryption key at all is a meter that pushes without encryption (the
    check against live frames tells whether it does). Raises
    ``InvalidInputError`` for a key that is not 32 hex characters, and for
    an authentication key without an encryption key.
    """
    encryption_key = _parse_key_field(
        encryption_text, CONF_ENCRYPTION_KEY, stored.get(CONF_ENCRYPTION_KEY)
    )
    authentication_key = _parse_key_field(
        authentication_text,
        CONF_AUTHENTICATION_KEY,
        stored.get(CONF_AUTHENTICATION_KEY),
    )
    if encryption_key is None and authentication_key is not None:
        raise InvalidInputError(CONF_ENCRYPTION_KEY, "encryption_key_missing")
    return encryption_key, authentication_key


def line_choice(
    user_input: Mapping[str, Any], auto_candidates: Sequence[LineCandidate]
) -> tuple[str, tuple[LineCandidate, ...]]:
    """Interface choice and the line settings to listen with, from the form."""
    name = user_input.get(CONF_INTERFACE, DEFAULT_INTERFACE)
    if name == INTERFACE_AUTO:
        return name, tuple(auto_candidates)
    if name in INTERFACES:
        interface = INTERFACES[name]
        return name, (LineCandidate(interface.baudrate, interface.parity),)
    custom: Mapping[str, Any] = user_input.get(SECTION_CUSTOM_LINE, {})
    return INTERFACE_CUSTOM, (
        LineCandidate(
            int(custom.get(CONF_BAUDRATE) or DEFAULT_BAUDRATE),
            PARITY_CHOICES.get(custom.get(CONF_PARITY) or "", DEFAULT_PARITY),
        ),
    )


def typed_port(user_input: Mapping[str, Any]) -> str:
    """The one port of the form: a detected one or a typed URL or path."""
    detected = str(user_input.get(CONF_PORT) or "").strip()
    typed = str(user_input.get(CONF_URL) or "").strip()
    if bool(detected) == bool(typed):
        raise InvalidInputError("base", "port_or_url")
    return detected or typed


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


def port_fields(
    port: str, detected: Sequence[selector.SelectOptionDict]
) -> dict[str, str]:
    """The form field that shows a stored port: the list only holds detected ones."""
    if any(option["value"] == port for option in detected):
        return {CONF_PORT: port}
    return {CONF_URL: port}


def port_selector(detected: list[selector.SelectOptionDict]) -> selector.Selector[Any]:
    """Home Assistant's serial port selector, or a list of detected ports."""
    if SERIAL_PORT_SELECTOR is not None:
        return SERIAL_PORT_SELECTOR()
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=detected, mode=selector.SelectSelectorMode.DROPDOWN
        )
    )


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


def meter_schema(detected: list[selector.SelectOptionDict]) -> Any:
    """Port, interface and keys (blank: no encryption, or the stored keys)."""
    return form_schema(
        {
            vol.Optional(CONF_PORT): port_selector(detected),
            vol.Optional(CONF_URL): _URL,
            vol.Required(CONF_INTERFACE, default=DEFAULT_INTERFACE): INTERFACE_SELECTOR,
            vol.Optional(CONF_ENCRYPTION_KEY): PASSWORD,
            vol.Optional(CONF_AUTHENTICATION_KEY): PASSWORD,
            vol.Required(SECTION_CUSTOM_LINE): custom_line_section(),
        }
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
    identity = reading.identity
    if identity.identifies_meter:
        return identity.meter_id
    # Neither an AMIS telegram nor a push without encryption that carries no
    # identification names its meter: a random ID, after the maker's code
    # where there is one.
    return identity.meter_id[:_MANUFACTURER_HEX] + secrets.token_hex(5).upper()


def unique_id_for(entry: ConfigEntry, reading: Reading) -> str:
    """The unique ID ``entry`` must have for ``reading`` to be from its meter.

    An AMIS meter is only known by its manufacturer code: a new key or port
    keeps the entry's unique ID, and so its entities and statistics.
    """
    identity = reading.identity
    meter_id = identity.meter_id
    stored = (entry.unique_id or "").upper()
    if not identity.identifies_meter and stored.startswith(
        meter_id[:_MANUFACTURER_HEX]
    ):
        return entry.unique_id or meter_id
    return meter_id


_MANUFACTURER_HEX: Final = 6
"""Hex digits of the manufacturer code at the start of a system title."""
