"""Home Assistant's side of one meter: setup, verdicts, publication, availability.

A :class:`~.link.MeterLink` owns the port; every chunk goes through the
decoder, every reading through one :class:`~.dlms.guards.ReadingGuard`.
A silence watchdog makes the entities unavailable and has the port reopened.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_ENCRYPTION_KEY,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .dlms import (
    AuthenticationError,
    DecryptionError,
    DlmsError,
    FramingError,
    MeterDecoder,
    Reading,
    parse_key,
)
from .dlms.guards import ReadingGuard
from .dlms.obis import on_channel_0
from .dlms.quarter_hour import QuarterHourTracker
from .flow_fields import search_interval_of
from .health import FrameHistory, LinkHealth
from .link import SERIAL_ERRORS, LineSettings, MeterLink
from .repairs import LinkAdvisor
from .store import GuardStore
from .verdicts import VerdictLog
from .watchdog import SilenceWatchdog
from .window import MeterData, PublishWindow

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from datetime import datetime

REAUTH_AFTER_FAILURES: Final = 10
"""Consecutive frames that fail to decrypt before the user is asked for a key."""
SETUP_TIMEOUT: Final = 5.0
"""Seconds setup waits for the first frame to check the key."""
SETUP_KEY_FAILURES: Final = 3
"""Frames that fail to decrypt during setup before the key counts as rejected."""

__all__ = ["DlmsSmartMeterConfigEntry", "DlmsSmartMeterCoordinator", "MeterData"]

type DlmsSmartMeterConfigEntry = ConfigEntry[DlmsSmartMeterCoordinator]


class DlmsSmartMeterCoordinator(DataUpdateCoordinator[MeterData | None]):
    """Publishes the readings of one meter; ``data`` is ``None`` until the first."""

    config_entry: DlmsSmartMeterConfigEntry

    def __init__(self, hass: HomeAssistant, entry: DlmsSmartMeterConfigEntry) -> None:
        """Prepare the coordinator; nothing is opened before ``async_start``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=None,
            always_update=False,
        )
        encryption_key = entry.data.get(CONF_ENCRYPTION_KEY)
        authentication_key = entry.data.get(CONF_AUTHENTICATION_KEY)
        self._decoder = MeterDecoder(
            # No key: the meter pushes without encryption.
            parse_key(encryption_key) if encryption_key else None,
            parse_key(authentication_key) if authentication_key else None,
            # The meter's clock runs where the home is.
            time_zone=hass.config.time_zone,
        )
        self.link = MeterLink(
            LineSettings.from_entry_data(entry.data),
            self._handle_data,
            on_open=self._on_open,
            on_down=self._set_unavailable,
        )
        self.meter_id: str = (entry.unique_id or "").upper()
        self.publish_interval: float = entry.options.get(
            CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL
        )
        self.applied_options = dict(entry.options)
        """Options this coordinator runs with (a change needs a reload)."""
        self.verdicts = VerdictLog(entry.title)
        self.counters = self.verdicts.counters
        self.last_reading: Reading | None = None
        self.health = LinkHealth()
        self.advisor = LinkAdvisor(
            hass, entry.entry_id, entry.title, self.link.settings, self.health
        )
        self.frames = FrameHistory()
        self._guard = ReadingGuard(self.meter_id or None)
        self._store = GuardStore(hass, entry.entry_id)
        self._window = PublishWindow()
        self._opened = 0
        self.quarter_hours = QuarterHourTracker()
        """Quarter-hour energy, demand and monthly peak, on the meter's clock."""
        self._publish_unsub: CALLBACK_TYPE | None = None
        searches = search_interval_of(entry)  # AMIS: the meter searches when unheard
        self.watchdog = SilenceWatchdog(hass, self._on_silent, searches)
        self._key_failures = 0
        self._reauth_started = False
        self._first_outcome: asyncio.Future[bool] | None = None
        self._serial_number_synced: str | None = None

    # ------------------------------------------------------------------
    # Life cycle

    async def async_start(self) -> None:
        """Open the port, check the key on the first frames, start reading."""
        self._guard.restore(await self._store.async_load())
        try:
            await self.link.async_open()
        except SERIAL_ERRORS as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"port": self.port_name},
            ) from err
        self._first_outcome = self.hass.loop.create_future()
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                key_accepted = await self._first_outcome
        except TimeoutError:
            # A silent meter does not fail setup: the entities wait for it.
            key_accepted = True
        finally:
            self._first_outcome = None
        if not key_accepted:
            await self.link.async_close()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_key"
            )
        self.watchdog.arm()
        self.link.start(
            lambda coroutine: self.config_entry.async_create_background_task(
                self.hass, coroutine, name=f"{DOMAIN} reader {self.meter_id}"
            )
        )
        # Home Assistant only cancels background tasks when it stops and does
        # not wait for them: closing the port is a task it waits for.
        self.config_entry.async_on_unload(
            self.hass.bus.async_listen(
                EVENT_HOMEASSISTANT_STOP, self._async_on_hass_stop
            )
        )

    async def async_stop(self) -> None:
        """Stop reading, release the port and keep the guards' state."""
        await self.link.async_close()
        if self._publish_unsub is not None:
            self._publish_unsub()
            self._publish_unsub = None
        self.watchdog.stop()
        self.advisor.stop()
        await self._store.async_save(self._guard.snapshot())

    async def _async_on_hass_stop(self, _event: Event) -> None:
        await self.async_stop()

    def async_release_port(self) -> AbstractAsyncContextManager[None]:
        """Close the port for a while (the config flow validates on it)."""
        return self.link.async_release()

    @property
    def settings(self) -> LineSettings:
        """Where and how the meter is read."""
        return self.link.settings

    @property
    def port_name(self) -> str:
        """The port as it may be logged (secret URL parameters removed)."""
        return self.link.port_name

    @property
    def connected(self) -> bool:
        """Whether the port is open."""
        return self.link.connected

    @property
    def push_period(self) -> float | None:
        """Observed seconds between readings, once known."""
        return self.watchdog.push_period

    @property
    def stale_timeout(self) -> float:
        """Seconds without a reading after which the entities are unavailable."""
        return self.watchdog.stale_timeout

    @property
    def last_invocation_counter(self) -> int | None:
        """The invocation counter of the last accepted frame."""
        return self._guard.last_invocation_counter

    @property
    def decoder_stats(self) -> dict[str, int]:
        """The decoder's counters (frames, checksum and decryption errors ...)."""
        return self._decoder.stats.as_dict()

    def counters_as_dict(self) -> dict[str, Any]:
        """Everything that was counted, for diagnostics."""
        return {**self.verdicts.as_dict(), "bytes_written": self.link.bytes_written}

    # ------------------------------------------------------------------
    # Data path

    @callback
    def _on_open(self) -> None:
        self._decoder.reset()
        self.watchdog.port_opened()
        self._opened += 1
        if self._opened > 1:
            self.counters.reconnects += 1

    @callback
    def _handle_data(self, data: bytes) -> None:
        now = dt_util.utcnow().timestamp()
        for item in self._decoder.feed(data):
            self.health.record(valid=not isinstance(item, FramingError), now=now)
            if isinstance(item, Reading):
                self.frames.add(item.raw, now)
                self._handle_reading(item, now)
            else:
                self._handle_problem(item)
        if replies := self._decoder.pop_replies():
            self.link.write(replies)
            self.watchdog.answered()
        self.advisor.update()

    @callback
    def _handle_problem(self, problem: DlmsError) -> None:
        if not isinstance(problem, (DecryptionError, AuthenticationError)):
            self.verdicts.problem(problem)
            return
        self._key_failures += 1
        outcome = self._first_outcome
        if outcome and not outcome.done() and self._key_failures >= SETUP_KEY_FAILURES:
            outcome.set_result(False)
        if self._key_failures >= REAUTH_AFTER_FAILURES and not self._reauth_started:
            self._reauth_started = True
            LOGGER.warning(
                "%s: %d frames in a row did not decrypt; the key may have changed",
                self.name,
                self._key_failures,
            )
            self.config_entry.async_start_reauth(self.hass)

    @callback
    def _handle_reading(self, reading: Reading, now: float) -> None:
        if self._first_outcome is not None and not self._first_outcome.done():
            self._first_outcome.set_result(True)
        self._key_failures = 0
        self._reauth_started = False
        verdict = self._guard.check(reading, now)
        self.verdicts.record(verdict, reading)
        if verdict.accepted:
            self._accept(reading)

    @callback
    def _accept(self, reading: Reading) -> None:
        self.last_reading = reading
        self.watchdog.reading()
        self.link.reset_backoff()
        self._store.schedule_save(self._guard.snapshot)
        self._sync_serial_number(reading)
        # Entities and quarter hours know the registers by channel 0.
        measured = on_channel_0(reading)
        self.quarter_hours.add(measured)
        self._window.add(measured)
        recovering = not self.last_update_success
        if recovering:
            LOGGER.info("%s: receiving data again", self.name)
            self.advisor.data_flows()
        if self.publish_interval <= 0:
            self._publish()
        elif self._publish_unsub is None or recovering:
            self._publish_and_rearm()

    @callback
    def _publish(self) -> None:
        data = self._window.to_data()
        self._window = PublishWindow()
        self.async_set_updated_data(data)

    @callback
    def _publish_and_rearm(self) -> None:
        if self._publish_unsub is not None:
            self._publish_unsub()
        self._publish()
        self._publish_unsub = async_call_later(
            self.hass, self.publish_interval, self._on_publish_timer
        )

    @callback
    def _on_publish_timer(self, _now: datetime) -> None:
        self._publish_unsub = None
        if self._window.readings:
            self._publish_and_rearm()

    # ------------------------------------------------------------------
    # Availability, watchdog and health

    @callback
    def _on_silent(self) -> None:
        """No valid frame for the stale timeout: reopen the port until frames flow."""
        if self.watchdog.searching:  # the port works: reopening could miss a search
            self._set_unavailable("the meter sends only search requests")
            return
        self._set_unavailable(
            f"no valid frame received for {self.stale_timeout:.0f} s; reopening "
            f"{self.port_name} until frames arrive"
        )
        self.link.restart()
        self.advisor.update()

    @callback
    def _set_unavailable(self, reason: str) -> None:
        if not self.last_update_success:
            return
        LOGGER.info("%s is unavailable: %s", self.name, reason)
        self._window = PublishWindow()
        self.last_update_success = False
        self.async_update_listeners()
        self.advisor.went_silent()

    # ------------------------------------------------------------------
    # Helpers

    @callback
    def _sync_serial_number(self, reading: Reading) -> None:
        serial_number = reading.serial_number
        if serial_number is None or serial_number == self._serial_number_synced:
            return
        self._serial_number_synced = serial_number
        device_registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(
            device_registry, self.config_entry.entry_id
        ):
            if device.serial_number != serial_number:
                device_registry.async_update_device(
                    device.id, serial_number=serial_number
                )
