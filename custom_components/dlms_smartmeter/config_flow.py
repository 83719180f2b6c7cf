"""Config flow: add a meter after listening to it on its port.

The form asks for the port, the meter's interface (named by grid operator
and meter; each choice sets baud rate and parity), and the key or keys.
Every path that stores port, line settings or keys (setup, reauth,
reconfigure) opens the port and waits for a frame that decrypts, so that a
wrong port, line setting or key is reported before anything is saved, each
with an error that says what to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any, Final

from homeassistant import config_entries
from homeassistant.components import usb
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_PORT
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
import serialx
import voluptuous as vol

from .connection import (
    InvalidAuthenticationKeyError,
    InvalidKeyError,
    LineSettings,
    ProbeError,
    async_probe,
)
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BAUDRATE,
    DEFAULT_INTERFACE,
    DEFAULT_PARITY,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    INTERFACE_CUSTOM,
    INTERFACES,
    LOGGER,
    MAX_UPDATE_INTERVAL,
    PARITY_CHOICES,
    interface_for,
)
from .dlms import Reading, format_key, parse_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .coordinator import DlmsSmartMeterConfigEntry

    _OptionsFlowBase = OptionsFlow
else:
    # Home Assistant 2025.8 and later reload the entry after an options
    # change by themselves; older versions need an update listener.
    _OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", OptionsFlow)

NEEDS_UPDATE_LISTENER: Final = _OptionsFlowBase is OptionsFlow

# Home Assistant 2026.5 and later have a serial port selector that also
# offers ESPHome serial proxies; older versions get a list of detected ports.
_SERIAL_PORT_SELECTOR: type[selector.Selector[Any]] | None = getattr(
    selector, "SerialPortSelector", None
)

LISTEN_TIMEOUT: Final = 10.0
"""Seconds the flow listens for a frame (the meter pushes every 1-15 s)."""

SEARCH_MARGIN: Final = 10.0
"""Seconds added to a meter's search interval (AMIS: one minute) to listen."""

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

_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
_INTERFACE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[*INTERFACES, INTERFACE_CUSTOM],
        translation_key=CONF_INTERFACE,
        mode=selector.SelectSelectorMode.DROPDOWN,
        sort=False,
    )
)


def _schema(fields: Mapping[Any, Any]) -> Any:
    """A form schema.

    Home Assistant 2026.9 and later replace voluptuous with a compatible
    package whose types differ, so the schema is handed over untyped.
    """
    return vol.Schema(fields)


class _InvalidInputError(Exception):
    """A field that cannot be used; ``field`` and ``error`` go to the form."""

    def __init__(self, field_name: str, error: str) -> None:
        super().__init__(error)
        self.field = field_name
        self.error = error


@dataclass(frozen=True, slots=True)
class _MeterInput:
    """Validated form input, ready to listen with."""

    settings: LineSettings
    interface: str
    """The form's interface choice (an ``INTERFACES`` name or the custom one)."""
    # Keys stay out of the representation, so they cannot end up in a log.
    encryption_key: bytes = field(repr=False)
    authentication_key: bytes | None = field(repr=False)

    def as_entry_data(self) -> dict[str, Any]:
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
        raise _InvalidInputError(field_name, f"invalid_{field_name}_format") from err


def _parse_keys(
    encryption_text: str | None,
    authentication_text: str | None,
    stored: Mapping[str, Any],
) -> tuple[bytes, bytes | None]:
    """Both keys from the form; blank fields keep the stored keys.

    Raises ``_InvalidInputError`` for a key that is not 32 hex characters
    (and for a missing encryption key).
    """
    encryption_key = _parse_key_field(
        encryption_text, CONF_ENCRYPTION_KEY, stored.get(CONF_ENCRYPTION_KEY)
    )
    if encryption_key is None:
        raise _InvalidInputError(CONF_ENCRYPTION_KEY, "invalid_encryption_key_format")
    authentication_key = _parse_key_field(
        authentication_text,
        CONF_AUTHENTICATION_KEY,
        stored.get(CONF_AUTHENTICATION_KEY),
    )
    return encryption_key, authentication_key


def _line_settings_from(user_input: Mapping[str, Any]) -> tuple[str, int, str]:
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


def _parity_choice(parity: str) -> str:
    """The form's choice for a stored parity."""
    return next(
        (choice for choice, value in PARITY_CHOICES.items() if value == parity), "none"
    )


def _meter_id(reading: Reading) -> str:
    return reading.system_title.hex().upper()


def _new_meter_id(reading: Reading) -> str:
    """The unique ID of a new entry for the meter that sent ``reading``.

    AMIS telegrams name no meter (every one carries the reader's address), so
    such a meter gets its manufacturer code and five random bytes: stable for
    the entry's lifetime, through re-keying and port changes.
    """
    if reading.identifies_meter:
        return _meter_id(reading)
    return (reading.system_title[:3] + secrets.token_bytes(5)).hex().upper()


def _listen_timeout(interface: str) -> float:
    """How long to listen: longer for meters that search once a minute (AMIS)."""
    choice = INTERFACES.get(interface)
    if choice is None or choice.search_interval is None:
        return LISTEN_TIMEOUT
    return max(LISTEN_TIMEOUT, choice.search_interval + SEARCH_MARGIN)


def _title(reading: Reading) -> str:
    """Entry title from what the meter tells about itself."""
    if not reading.identifies_meter:
        return f"{reading.manufacturer_name or 'Smart meter'} AMIS"
    parts = (
        reading.manufacturer_name or "Smart meter",
        reading.model,
        reading.serial_number or _meter_id(reading),
    )
    return " ".join(part for part in parts if part)


def _list_ports() -> list[selector.SelectOptionDict]:
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


def _custom_line_section() -> section:
    """Baud rate and parity for the custom choice, collapsed by default."""
    return section(
        _schema(
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


class DlmsSmartMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a meter, and change its port, line settings and keys."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: ConfigEntry,  # noqa: ARG004 - the signature Home Assistant calls
    ) -> DlmsSmartMeterOptionsFlow:
        """Options of an existing meter."""
        return DlmsSmartMeterOptionsFlow()

    # ------------------------------------------------------------------
    # User

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for port, key and line settings; listen before creating the entry."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                meter_input = await self._async_parse(user_input, None)
            except _InvalidInputError as err:
                errors[err.field] = err.error
            else:
                self._async_abort_entries_match({CONF_PORT: meter_input.settings.port})
                reading = await self._async_listen(meter_input, None, errors)
                if reading is not None:
                    if not reading.identifies_meter:
                        # The key is the meter's only identity in its telegrams.
                        key = format_key(meter_input.encryption_key)
                        self._async_abort_entries_match({CONF_ENCRYPTION_KEY: key})
                    await self.async_set_unique_id(_new_meter_id(reading))
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=_title(reading), data=meter_input.as_entry_data()
                    )
        schema = await self._async_meter_schema(keys_required=True)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=KEY_SOURCES,
        )

    # ------------------------------------------------------------------
    # Reauth

    async def async_step_reauth(
        self,
        entry_data: Mapping[str, Any],  # noqa: ARG002 - the entry is read below
    ) -> ConfigFlowResult:
        """The meter's frames stopped decrypting: ask for the key(s)."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new keys and check them against live frames."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                encryption_key, authentication_key = _parse_keys(
                    user_input.get(CONF_ENCRYPTION_KEY),
                    user_input.get(CONF_AUTHENTICATION_KEY),
                    {},
                )
            except _InvalidInputError as err:
                errors[err.field] = err.error
            else:
                meter_input = _MeterInput(
                    _settings_of(entry),
                    _interface_of(entry),
                    encryption_key,
                    authentication_key,
                )
                reading = await self._async_listen(meter_input, entry, errors)
                if reading is not None:
                    await self._async_check_same_meter(entry, reading)
                    return self.async_update_reload_and_abort(
                        entry, data=meter_input.as_entry_data()
                    )
        schema = _schema(
            {
                vol.Required(CONF_ENCRYPTION_KEY): _PASSWORD,
                vol.Optional(CONF_AUTHENTICATION_KEY): _PASSWORD,
            }
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={**KEY_SOURCES, "name": entry.title},
        )

    # ------------------------------------------------------------------
    # Reconfigure

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change port, line settings or keys of the same meter."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                meter_input = await self._async_parse(user_input, entry)
            except _InvalidInputError as err:
                errors[err.field] = err.error
            else:
                for other in self._async_current_entries(include_ignore=False):
                    if (
                        other.entry_id != entry.entry_id
                        and other.data.get(CONF_PORT) == meter_input.settings.port
                    ):
                        return self.async_abort(reason="already_configured")
                reading = await self._async_listen(meter_input, entry, errors)
                if reading is not None:
                    await self._async_check_same_meter(entry, reading)
                    return self.async_update_reload_and_abort(
                        entry, data=meter_input.as_entry_data()
                    )
        settings = _settings_of(entry)
        suggested = user_input or {
            CONF_PORT: settings.port,
            CONF_INTERFACE: _interface_of(entry),
            SECTION_CUSTOM_LINE: {
                CONF_BAUDRATE: str(settings.baudrate),
                CONF_PARITY: _parity_choice(settings.parity),
            },
        }
        schema = await self._async_meter_schema(keys_required=False)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=KEY_SOURCES,
        )

    # ------------------------------------------------------------------
    # Helpers

    async def _async_check_same_meter(
        self, entry: ConfigEntry, reading: Reading
    ) -> None:
        """Abort with ``wrong_meter`` unless ``reading`` is from the entry's meter.

        An AMIS meter is only known by its manufacturer code: a new key or
        port keeps the entry's unique ID, and so its entities and statistics.
        """
        meter_id = _meter_id(reading)
        manufacturer = reading.system_title[:3].hex().upper()
        if not reading.identifies_meter and (entry.unique_id or "").upper().startswith(
            manufacturer
        ):
            meter_id = entry.unique_id or meter_id
        await self.async_set_unique_id(meter_id)
        self._abort_if_unique_id_mismatch(reason="wrong_meter")

    async def _async_meter_schema(self, *, keys_required: bool) -> Any:
        """Port, interface and keys; reconfigure keeps keys left blank."""
        encryption_key = vol.Required if keys_required else vol.Optional
        return _schema(
            {
                vol.Required(CONF_PORT): await self._async_port_selector(),
                vol.Required(
                    CONF_INTERFACE, default=DEFAULT_INTERFACE
                ): _INTERFACE_SELECTOR,
                encryption_key(CONF_ENCRYPTION_KEY): _PASSWORD,
                vol.Optional(CONF_AUTHENTICATION_KEY): _PASSWORD,
                vol.Required(SECTION_CUSTOM_LINE): _custom_line_section(),
            }
        )

    async def _async_port_selector(self) -> selector.Selector[Any]:
        if _SERIAL_PORT_SELECTOR is not None:
            return _SERIAL_PORT_SELECTOR()
        options = await self.hass.async_add_executor_job(_list_ports)
        return selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=options,
                custom_value=True,
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        )

    async def _async_parse(
        self, user_input: Mapping[str, Any], entry: ConfigEntry | None
    ) -> _MeterInput:
        """Check the form's fields; blank keys keep the entry's keys."""
        encryption_key, authentication_key = _parse_keys(
            user_input.get(CONF_ENCRYPTION_KEY),
            user_input.get(CONF_AUTHENTICATION_KEY),
            entry.data if entry is not None else {},
        )
        interface, baudrate, parity = _line_settings_from(user_input)
        port = await self._async_stable_port(user_input[CONF_PORT])
        return _MeterInput(
            LineSettings(port, baudrate, parity),
            interface,
            encryption_key,
            authentication_key,
        )

    async def _async_stable_port(self, port: str) -> str:
        """The ``/dev/serial/by-id`` name of a device path, URLs unchanged."""
        port = port.strip()
        if "://" in port:
            return port
        return await self.hass.async_add_executor_job(usb.get_serial_by_id, port)

    async def _async_listen(
        self,
        meter_input: _MeterInput,
        entry: ConfigEntry | None,
        errors: dict[str, str],
    ) -> Reading | None:
        """Listen for a reading; on failure put the reason into ``errors``."""
        try:
            if entry is not None and entry.state is ConfigEntryState.LOADED:
                loaded: DlmsSmartMeterConfigEntry = entry
                # The running entry holds the port; lend it to the check.
                async with loaded.runtime_data.async_release_port():
                    return await self._async_probe(meter_input)
            return await self._async_probe(meter_input)
        except ProbeError as err:
            errors["base"] = err.reason
        except Exception:  # noqa: BLE001 - any failure must end in a form error
            LOGGER.exception("Unexpected error while listening to the meter")
            errors["base"] = "unknown"
        return None

    @staticmethod
    async def _async_probe(meter_input: _MeterInput) -> Reading:
        try:
            return await async_probe(
                meter_input.settings,
                meter_input.encryption_key,
                meter_input.authentication_key,
                _listen_timeout(meter_input.interface),
            )
        except InvalidAuthenticationKeyError:
            # The tag covers both keys, so a wrong encryption key fails it
            # too (and people swap the two keys): tell which one is wrong.
            if await _async_encryption_key_rejected(meter_input):
                raise InvalidKeyError from None
            raise


async def _async_encryption_key_rejected(meter_input: _MeterInput) -> bool:
    """Whether the frames fail to decrypt with the encryption key alone.

    Without an authentication key the tag is not checked, so the frames
    decrypt exactly when the encryption key is right.
    """
    try:
        await async_probe(
            meter_input.settings,
            meter_input.encryption_key,
            None,
            _listen_timeout(meter_input.interface),
        )
    except InvalidKeyError:
        return True
    except ProbeError:
        # No verdict (the meter went quiet, say): keep the first finding.
        return False
    return False


def _settings_of(entry: ConfigEntry) -> LineSettings:
    return LineSettings(
        entry.data[CONF_PORT],
        entry.data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE),
        entry.data.get(CONF_PARITY, DEFAULT_PARITY),
    )


def _interface_of(entry: ConfigEntry) -> str:
    """The entry's interface choice; older entries did not store one."""
    stored = entry.data.get(CONF_INTERFACE)
    if stored in INTERFACES or stored == INTERFACE_CUSTOM:
        return str(stored)
    settings = _settings_of(entry)
    return interface_for(
        settings.baudrate,
        settings.parity,
        authentication_key=bool(entry.data.get(CONF_AUTHENTICATION_KEY)),
    )


class DlmsSmartMeterOptionsFlow(_OptionsFlowBase):
    """How often entity states are published."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the update interval."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        schema = _schema(
            {
                vol.Required(
                    CONF_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL
                ): vol.All(
                    selector.NumberSelector(
                        selector.NumberSelectorConfig(
                            min=0,
                            max=MAX_UPDATE_INTERVAL,
                            step=1,
                            unit_of_measurement="s",
                            mode=selector.NumberSelectorMode.BOX,
                        )
                    ),
                    vol.Coerce(int),
                )
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema, self.config_entry.options
            ),
        )
