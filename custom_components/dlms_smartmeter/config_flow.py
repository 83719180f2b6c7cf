"""Config flow: add a meter after listening to it on its port.

The form asks for the port, the meter's interface (named by grid operator
and meter; each choice sets baud rate and parity), and the key or keys.
Every path that stores port, line settings or keys (setup, reauth,
reconfigure) opens the port and waits for a frame that decrypts, so that a
wrong port, line setting or key is reported before anything is saved, each
with an error that says what to check.
"""

from __future__ import annotations

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
from homeassistant.helpers import selector
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
    DEFAULT_INTERFACE,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    INTERFACES,
    LOGGER,
    MAX_UPDATE_INTERVAL,
    SEARCH_MARGIN,
)
from .dlms import format_key
from .flow_fields import (
    INTERFACE_SELECTOR,
    PASSWORD,
    SECTION_CUSTOM_LINE,
    InvalidInputError,
    MeterInput,
    custom_line_section,
    form_schema,
    interface_of,
    line_settings_from,
    list_ports,
    new_unique_id,
    parity_choice,
    parse_keys,
    settings_of,
    unique_id_for,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .coordinator import DlmsSmartMeterConfigEntry
    from .dlms import Reading

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

KEY_SOURCES: Final = {
    # Where operators hand out keys. The key help texts name them through
    # placeholders: hassfest refuses addresses inside translations.
    "wiener_netze_info": "https://www.wienernetze.at/smart-meter-kundenschnittstelle",
    "netz_noe_email": "smartmeter@netz-noe.at",
}


def _listen_timeout(interface: str) -> float:
    """How long to listen: longer for meters that search once a minute (AMIS)."""
    choice = INTERFACES.get(interface)
    if choice is None or choice.search_interval is None:
        return LISTEN_TIMEOUT
    return max(LISTEN_TIMEOUT, choice.search_interval + SEARCH_MARGIN)


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
            except InvalidInputError as err:
                errors[err.field] = err.error
            else:
                self._async_abort_entries_match({CONF_PORT: meter_input.settings.port})
                reading = await self._async_listen(meter_input, None, errors)
                if reading is not None:
                    if not reading.identifies_meter:
                        # The key is the meter's only identity in its telegrams.
                        key = format_key(meter_input.encryption_key)
                        self._async_abort_entries_match({CONF_ENCRYPTION_KEY: key})
                    await self.async_set_unique_id(new_unique_id(reading))
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=reading.identity.title, data=meter_input.as_entry_data()
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
                encryption_key, authentication_key = parse_keys(
                    user_input.get(CONF_ENCRYPTION_KEY),
                    user_input.get(CONF_AUTHENTICATION_KEY),
                    {},
                )
            except InvalidInputError as err:
                errors[err.field] = err.error
            else:
                meter_input = MeterInput(
                    settings_of(entry),
                    interface_of(entry),
                    encryption_key,
                    authentication_key,
                )
                reading = await self._async_listen(meter_input, entry, errors)
                if reading is not None:
                    await self.async_set_unique_id(unique_id_for(entry, reading))
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    return self.async_update_reload_and_abort(
                        entry, data=meter_input.as_entry_data()
                    )
        schema = form_schema(
            {
                vol.Required(CONF_ENCRYPTION_KEY): PASSWORD,
                vol.Optional(CONF_AUTHENTICATION_KEY): PASSWORD,
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
            except InvalidInputError as err:
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
                    await self.async_set_unique_id(unique_id_for(entry, reading))
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    return self.async_update_reload_and_abort(
                        entry, data=meter_input.as_entry_data()
                    )
        settings = settings_of(entry)
        suggested = user_input or {
            CONF_PORT: settings.port,
            CONF_INTERFACE: interface_of(entry),
            SECTION_CUSTOM_LINE: {
                CONF_BAUDRATE: str(settings.baudrate),
                CONF_PARITY: parity_choice(settings.parity),
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

    async def _async_meter_schema(self, *, keys_required: bool) -> Any:
        """Port, interface and keys; reconfigure keeps keys left blank."""
        encryption_key = vol.Required if keys_required else vol.Optional
        return form_schema(
            {
                vol.Required(CONF_PORT): await self._async_port_selector(),
                vol.Required(
                    CONF_INTERFACE, default=DEFAULT_INTERFACE
                ): INTERFACE_SELECTOR,
                encryption_key(CONF_ENCRYPTION_KEY): PASSWORD,
                vol.Optional(CONF_AUTHENTICATION_KEY): PASSWORD,
                vol.Required(SECTION_CUSTOM_LINE): custom_line_section(),
            }
        )

    async def _async_port_selector(self) -> selector.Selector[Any]:
        if _SERIAL_PORT_SELECTOR is not None:
            return _SERIAL_PORT_SELECTOR()
        options = await self.hass.async_add_executor_job(list_ports)
        return selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=options,
                custom_value=True,
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        )

    async def _async_parse(
        self, user_input: Mapping[str, Any], entry: ConfigEntry | None
    ) -> MeterInput:
        """Check the form's fields; blank keys keep the entry's keys."""
        encryption_key, authentication_key = parse_keys(
            user_input.get(CONF_ENCRYPTION_KEY),
            user_input.get(CONF_AUTHENTICATION_KEY),
            entry.data if entry is not None else {},
        )
        interface, baudrate, parity = line_settings_from(user_input)
        port = await self._async_stable_port(user_input[CONF_PORT])
        return MeterInput(
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
        meter_input: MeterInput,
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
    async def _async_probe(meter_input: MeterInput) -> Reading:
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


async def _async_encryption_key_rejected(meter_input: MeterInput) -> bool:
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


class DlmsSmartMeterOptionsFlow(_OptionsFlowBase):
    """How often entity states are published."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the update interval."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        schema = form_schema(
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
