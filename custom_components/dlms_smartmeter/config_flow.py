"""Config flow: add a meter after listening to it on its port.

Every path that stores port, line settings or keys (setup, reauth,
reconfigure) opens the port and waits for a frame that decrypts, so that a
wrong port, line setting or key is reported before anything is saved, each
with an error that says what to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

from .connection import LineSettings, ProbeError, async_probe
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_LINE_PRESET,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BAUDRATE,
    DEFAULT_LINE_PRESET,
    DEFAULT_PARITY,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LINE_PRESET_CUSTOM,
    LINE_PRESETS,
    LOGGER,
    MAX_UPDATE_INTERVAL,
    PARITY_CHOICES,
    line_preset_for,
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

SECTION_ADVANCED: Final = "advanced"

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
    # Keys stay out of the representation, so they cannot end up in a log.
    encryption_key: bytes = field(repr=False)
    authentication_key: bytes | None = field(repr=False)

    def as_entry_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            CONF_PORT: self.settings.port,
            CONF_ENCRYPTION_KEY: format_key(self.encryption_key),
            CONF_BAUDRATE: self.settings.baudrate,
            CONF_PARITY: self.settings.parity,
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
    try:
        authentication_key = _parse_key_field(
            authentication_text,
            CONF_AUTHENTICATION_KEY,
            stored.get(CONF_AUTHENTICATION_KEY),
        )
    except _InvalidInputError as err:
        # The field may sit in a collapsed section: tell the whole form.
        raise _InvalidInputError("base", err.error) from err
    return encryption_key, authentication_key


def _line_settings_from(advanced: Mapping[str, Any]) -> tuple[int, str]:
    preset = advanced.get(CONF_LINE_PRESET, DEFAULT_LINE_PRESET)
    if preset in LINE_PRESETS:
        return LINE_PRESETS[preset]
    return (
        int(advanced.get(CONF_BAUDRATE) or DEFAULT_BAUDRATE),
        PARITY_CHOICES.get(advanced.get(CONF_PARITY) or "", DEFAULT_PARITY),
    )


def _parity_choice(parity: str) -> str:
    """The form's choice for a stored parity."""
    return next(
        (choice for choice, value in PARITY_CHOICES.items() if value == parity), "none"
    )


def _meter_id(reading: Reading) -> str:
    return reading.system_title.hex().upper()


def _title(reading: Reading) -> str:
    """Entry title from what the meter tells about itself."""
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


def _advanced_section() -> section:
    """Authentication key and line settings, collapsed by default."""
    return section(
        _schema(
            {
                vol.Optional(CONF_AUTHENTICATION_KEY): _PASSWORD,
                vol.Required(
                    CONF_LINE_PRESET, default=DEFAULT_LINE_PRESET
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[*LINE_PRESETS, LINE_PRESET_CUSTOM],
                        translation_key=CONF_LINE_PRESET,
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
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
                    await self.async_set_unique_id(_meter_id(reading))
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=_title(reading), data=meter_input.as_entry_data()
                    )
        schema = _schema(
            {
                vol.Required(CONF_PORT): await self._async_port_selector(),
                vol.Required(CONF_ENCRYPTION_KEY): _PASSWORD,
                vol.Required(SECTION_ADVANCED): _advanced_section(),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
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
                    _settings_of(entry), encryption_key, authentication_key
                )
                reading = await self._async_listen(meter_input, entry, errors)
                if reading is not None:
                    await self.async_set_unique_id(_meter_id(reading))
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
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
            description_placeholders={"name": entry.title},
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
                    await self.async_set_unique_id(_meter_id(reading))
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    return self.async_update_reload_and_abort(
                        entry, data=meter_input.as_entry_data()
                    )
        settings = _settings_of(entry)
        suggested = user_input or {
            CONF_PORT: settings.port,
            SECTION_ADVANCED: {
                CONF_LINE_PRESET: line_preset_for(settings.baudrate, settings.parity),
                CONF_BAUDRATE: str(settings.baudrate),
                CONF_PARITY: _parity_choice(settings.parity),
            },
        }
        schema = _schema(
            {
                vol.Required(CONF_PORT): await self._async_port_selector(),
                vol.Optional(CONF_ENCRYPTION_KEY): _PASSWORD,
                vol.Required(SECTION_ADVANCED): _advanced_section(),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    # ------------------------------------------------------------------
    # Helpers

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
        advanced: Mapping[str, Any] = user_input.get(SECTION_ADVANCED, {})
        encryption_key, authentication_key = _parse_keys(
            user_input.get(CONF_ENCRYPTION_KEY),
            advanced.get(CONF_AUTHENTICATION_KEY),
            entry.data if entry is not None else {},
        )
        baudrate, parity = _line_settings_from(advanced)
        port = await self._async_stable_port(user_input[CONF_PORT])
        return _MeterInput(
            LineSettings(port, baudrate, parity), encryption_key, authentication_key
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
        return await async_probe(
            meter_input.settings,
            meter_input.encryption_key,
            meter_input.authentication_key,
            LISTEN_TIMEOUT,
        )


def _settings_of(entry: ConfigEntry) -> LineSettings:
    return LineSettings(
        entry.data[CONF_PORT],
        entry.data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE),
        entry.data.get(CONF_PARITY, DEFAULT_PARITY),
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
