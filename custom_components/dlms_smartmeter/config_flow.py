"""Config flow: add a meter after listening to it on its port.

The form asks for the port, the meter's interface (automatic, or named by
grid operator and meter; each named choice sets baud rate and parity), and
the key or keys. Every path that stores port, line settings or keys (setup,
reauth, reconfigure) opens the port and waits for a frame that decrypts, so
that a wrong port, line setting or key is reported before anything is saved,
each with an error that says what to check. While it listens, the flow shows
a progress step that says which line setting it tries.
"""

from __future__ import annotations

from dataclasses import dataclass
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

from .connection import ProbeError
from .const import (
    AUTO_CANDIDATES,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    INTERFACE_AUTO,
    INTERFACES,
    LOGGER,
    MAX_UPDATE_INTERVAL,
    SEARCH_MARGIN,
    LineCandidate,
    interface_found,
)
from .dlms import SecurityLevel
from .flow_fields import (
    KEY_SOURCES,
    PASSWORD,
    SECTION_CUSTOM_LINE,
    InvalidInputError,
    MeterInput,
    form_schema,
    interface_of,
    line_choice,
    list_ports,
    meter_schema,
    new_unique_id,
    parity_choice,
    parse_keys,
    port_fields,
    settings_of,
    typed_port,
    unique_id_for,
)
from .line_search import LineSearch
from .link import redact_port

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from .coordinator import DlmsSmartMeterConfigEntry
    from .dlms import Reading
    from .link import LineSettings

    _OptionsFlowBase = OptionsFlow
else:
    # Home Assistant 2025.8 and later reload the entry after an options
    # change by themselves; older versions need an update listener.
    _OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", OptionsFlow)

NEEDS_UPDATE_LISTENER: Final = _OptionsFlowBase is OptionsFlow

LISTEN_TIMEOUT: Final = 10.0
"""Seconds the flow listens for a frame (the meter pushes every 1-15 s)."""

STEP_LISTEN: Final = "listen"
STEP_FINISH: Final = "finish"


@dataclass(slots=True)
class _Listening:
    """One check against live frames, from the form to its outcome."""

    meter_input: MeterInput
    search: LineSearch
    task: asyncio.Task[tuple[LineSettings, Reading]]
    return_to: str
    """The form's step: it shows the errors when nothing decoded."""
    entry: ConfigEntry | None = None
    found: tuple[LineSettings, Reading] | None = None

    def entry_data(self, settings: LineSettings, reading: Reading) -> dict[str, Any]:
        """What the entry stores: the settings that decoded, and their choice."""
        interface = self.meter_input.interface
        if interface == INTERFACE_AUTO:
            interface = interface_found(
                settings.baudrate,
                settings.parity,
                layout=reading.layout,
                encrypted=reading.security is not SecurityLevel.NONE,
                authenticated=reading.security is SecurityLevel.AUTHENTICATED,
            )
        return self.meter_input.entry_data(settings, interface)


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

    def __init__(self) -> None:
        """Start without a check against live frames."""
        self._listening: _Listening | None = None
        self._errors: dict[str, str] = {}
        """Why the last check failed; shown until the form is sent again."""
        self._form_input: dict[str, Any] | None = None

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
        if user_input is not None:
            self._errors = {}
            self._form_input = user_input
            try:
                meter_input = await self._async_parse(user_input, None)
            except InvalidInputError as err:
                self._errors[err.field] = err.error
            else:
                self._async_abort_entries_match({CONF_PORT: meter_input.port})
                return await self._async_listen(meter_input, "user")
        detected = await self.hass.async_add_executor_job(list_ports)
        schema = meter_schema(detected)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, self._form_input),
            errors=self._errors,
            description_placeholders=self._placeholders(),
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
        if user_input is not None:
            self._errors = {}
            try:
                keys = parse_keys(
                    user_input.get(CONF_ENCRYPTION_KEY),
                    user_input.get(CONF_AUTHENTICATION_KEY),
                    {},
                )
            except InvalidInputError as err:
                self._errors[err.field] = err.error
            else:
                settings = settings_of(entry)
                meter_input = MeterInput(
                    settings.port,
                    interface_of(entry),
                    (LineCandidate(settings.baudrate, settings.parity),),
                    *keys,
                )
                return await self._async_listen(meter_input, "reauth_confirm", entry)
        schema = _schema_of_keys()
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=self._errors,
            description_placeholders={**self._placeholders(), "name": entry.title},
        )

    # ------------------------------------------------------------------
    # Reconfigure

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change port, line settings or keys of the same meter."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            self._errors = {}
            self._form_input = user_input
            try:
                meter_input = await self._async_parse(user_input, entry)
            except InvalidInputError as err:
                self._errors[err.field] = err.error
            else:
                for other in self._async_current_entries(include_ignore=False):
                    if (
                        other.entry_id != entry.entry_id
                        and other.data.get(CONF_PORT) == meter_input.port
                    ):
                        return self.async_abort(reason="already_configured")
                return await self._async_listen(meter_input, "reconfigure", entry)
        detected = await self.hass.async_add_executor_job(list_ports)
        settings = settings_of(entry)
        suggested = self._form_input or {
            **port_fields(settings.port, detected),
            CONF_INTERFACE: interface_of(entry),
            SECTION_CUSTOM_LINE: {
                CONF_BAUDRATE: str(settings.baudrate),
                CONF_PARITY: parity_choice(settings.parity),
            },
        }
        schema = meter_schema(detected)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=self._errors,
            description_placeholders=self._placeholders(),
        )

    # ------------------------------------------------------------------
    # Listening (a progress step) and its outcome

    async def async_step_listen(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a progress step
    ) -> ConfigFlowResult:
        """Show what is being tried until the check ends, then go on."""
        listening = self._listening
        if listening is None:
            return await self.async_step_user()
        if not listening.task.done():
            return self._show_progress(listening)
        try:
            listening.found = listening.task.result()
        except ProbeError as err:
            self._errors = {"base": err.reason}
        except Exception:  # noqa: BLE001 - any failure must end in a form error
            LOGGER.exception("Unexpected error while listening to the meter")
            self._errors = {"base": "unknown"}
        if listening.found is None:
            return self.async_show_progress_done(next_step_id=listening.return_to)
        return self.async_show_progress_done(next_step_id=STEP_FINISH)

    async def async_step_finish(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - after progress
    ) -> ConfigFlowResult:
        """Store what decoded: a new entry, or the changed one."""
        listening = self._listening
        if listening is None or listening.found is None:
            return await self.async_step_user()
        settings, reading = listening.found
        data = listening.entry_data(settings, reading)
        if listening.entry is None:
            if not reading.identity.identifies_meter and CONF_ENCRYPTION_KEY in data:
                # The key is the meter's only identity in its telegrams.
                self._async_abort_entries_match(
                    {CONF_ENCRYPTION_KEY: data[CONF_ENCRYPTION_KEY]}
                )
            await self.async_set_unique_id(new_unique_id(reading))
            self._abort_if_unique_id_configured()
            return self.async_create_entry(title=reading.identity.title, data=data)
        await self.async_set_unique_id(unique_id_for(listening.entry, reading))
        self._abort_if_unique_id_mismatch(reason="wrong_meter")
        return self.async_update_reload_and_abort(listening.entry, data=data)

    # ------------------------------------------------------------------
    # Helpers

    def _placeholders(self) -> dict[str, str]:
        """Key sources, and the line settings the last check listened with."""
        tried = self._listening.search.tried_text() if self._listening else ""
        return {**KEY_SOURCES, "tried": tried or "-"}

    async def _async_parse(
        self, user_input: Mapping[str, Any], entry: ConfigEntry | None
    ) -> MeterInput:
        """Check the form's fields; blank keys keep the entry's keys."""
        keys = parse_keys(
            user_input.get(CONF_ENCRYPTION_KEY),
            user_input.get(CONF_AUTHENTICATION_KEY),
            entry.data if entry is not None else {},
        )
        port = await self._async_stable_port(typed_port(user_input))
        interface, candidates = line_choice(user_input, AUTO_CANDIDATES)
        return MeterInput(port, interface, candidates, *keys)

    async def _async_stable_port(self, port: str) -> str:
        """The ``/dev/serial/by-id`` name of a device path, URLs unchanged."""
        if "://" in port:
            return port
        return await self.hass.async_add_executor_job(usb.get_serial_by_id, port)

    async def _async_listen(
        self, meter_input: MeterInput, return_to: str, entry: ConfigEntry | None = None
    ) -> ConfigFlowResult:
        """Start listening in the background and show the progress step."""
        search = LineSearch(
            meter_input.port,
            meter_input.candidates,
            meter_input.keys,
            _listen_timeout(meter_input.interface),
        )
        search.on_next = self._async_show_next_setting
        task = self.hass.async_create_task(
            _async_search(search, entry), "dlms_smartmeter listen"
        )
        self._listening = _Listening(meter_input, search, task, return_to, entry)
        # Always progress first, even when the check failed at once: a form
        # step may not end in "progress done".
        return self._show_progress(self._listening)

    def _show_progress(self, listening: _Listening) -> ConfigFlowResult:
        search = listening.search
        current = search.current
        return self.async_show_progress(
            step_id=STEP_LISTEN,
            progress_action="search" if search.automatic else "listen",
            description_placeholders={
                "port": redact_port(search.port),
                "setting": str(current),
                "number": str(search.number),
                "count": str(len(search.candidates)),
                "seconds": f"{search.wait(current):.0f}",
            },
            progress_task=listening.task,
        )

    async def _async_show_next_setting(self) -> None:
        """Hand the progress step's new text to the frontend.

        Configuring the flow again shows the same progress with new
        placeholders, which tells the frontend to fetch it again (the same
        way on every Home Assistant version).
        """
        await self.hass.config_entries.flow.async_configure(self.flow_id)


async def _async_search(
    search: LineSearch, entry: ConfigEntry | None
) -> tuple[LineSettings, Reading]:
    if entry is not None and entry.state is ConfigEntryState.LOADED:
        loaded: DlmsSmartMeterConfigEntry = entry
        # The running entry holds the port; lend it to the check.
        async with loaded.runtime_data.async_release_port():
            return await search.async_run()
    return await search.async_run()


def _schema_of_keys() -> Any:
    return form_schema(
        {
            vol.Required(CONF_ENCRYPTION_KEY): PASSWORD,
            vol.Optional(CONF_AUTHENTICATION_KEY): PASSWORD,
        }
    )


class DlmsSmartMeterOptionsFlow(_OptionsFlowBase):
    """How often entity states are published."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the update interval."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        options_schema = form_schema(
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
                options_schema, self.config_entry.options
            ),
        )
