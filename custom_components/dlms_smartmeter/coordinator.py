"""Push coordinator: reads the meter, guards the data, publishes states.

One reader task per config entry keeps the port open (reconnecting with
exponential backoff when it goes away), feeds every received byte into the
protocol decoder and checks every reading (invocation counter, monotonic
registers, system title). Readings are collected into a window and published
at most once per update interval: instantaneous values (power, voltage ...)
as the mean over the window, cumulative registers as the latest value.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
import statistics
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PORT, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .connection import (
    SERIAL_ERRORS,
    LineSettings,
    async_close,
    async_open,
    redact_port,
)
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BAUDRATE,
    DEFAULT_PARITY,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .dlms import (
    AuthenticationError,
    DecryptionError,
    DlmsError,
    MeterDecoder,
    Reading,
    Unit,
    UnsupportedPayloadError,
    parse_key,
)
from .dlms.guards import CounterVerdict, InvocationCounterGuard, RegisterGuard

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from datetime import datetime

    import serialx

    from .connection import MeterProtocol

RECONNECT_MIN_DELAY: Final = 1.0
"""Seconds before the first reconnect attempt; doubles after each failure."""
RECONNECT_MAX_DELAY: Final = 60.0
"""Longest wait between reconnect attempts."""
STALE_PERIODS: Final = 3
"""Missed pushes after which the meter counts as silent."""
STALE_TIMEOUT_MIN: Final = 10.0
"""Shortest silence (seconds) that makes the entities unavailable."""
STALE_TIMEOUT_UNKNOWN_PERIOD: Final = 30.0
"""Silence allowed before the meter's push period has been observed."""
PUSH_PERIOD_SAMPLES: Final = 10
"""Intervals between readings that the push-period estimate looks at."""
REAUTH_AFTER_FAILURES: Final = 10
"""Consecutive frames that fail to decrypt before the user is asked for a key."""
SETUP_TIMEOUT: Final = 5.0
"""Seconds setup waits for the first frame to check the key."""
SETUP_KEY_FAILURES: Final = 3
"""Frames that fail to decrypt during setup before the key counts as rejected."""

REGISTER_UNITS: Final = frozenset(
    {Unit.WATT_HOUR, Unit.VAR_HOUR, Unit.VOLT_AMPERE_HOUR}
)
"""Units of cumulative registers: published as the latest value, kept monotonic."""

SIGNED_REGISTERS: Final = frozenset({"1-0:1.128.0"})
"""Registers that may go down (the AMIS collection register): not guarded."""

type DlmsSmartMeterConfigEntry = ConfigEntry[DlmsSmartMeterCoordinator]


@dataclass(frozen=True, slots=True)
class MeterData:
    """What the entities show: one published window of readings."""

    values: Mapping[str, float]
    """OBIS code -> published value (mean for instantaneous values)."""
    meter_time: datetime | None


@dataclass(slots=True)
class MeterCounters:
    """What the coordinator did with the readings the decoder produced."""

    frames_ok: int = 0
    replayed_frames: int = 0
    counter_restarts: int = 0
    dropped_decreasing_registers: int = 0
    dropped_implausible_registers: int = 0
    foreign_meter_frames: int = 0
    reconnects: int = 0


@dataclass(slots=True)
class _Window:
    """Readings collected since the last publication."""

    latest: dict[str, float] = field(default_factory=dict)
    sums: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    meter_time: datetime | None = None
    readings: int = 0

    def add(self, reading: Reading) -> None:
        for obis, meter_value in reading.values.items():
            if meter_value.unit in REGISTER_UNITS:
                self.latest[obis] = meter_value.value
            else:
                self.sums[obis] += meter_value.value
                self.counts[obis] += 1
        self.meter_time = reading.meter_time
        self.readings += 1

    def to_data(self) -> MeterData:
        values: dict[str, float] = dict(self.latest)
        for obis, total in self.sums.items():
            mean = total / self.counts[obis]
            values[obis] = int(mean) if mean.is_integer() else round(mean, 3)
        return MeterData(values=values, meter_time=self.meter_time)


class DlmsSmartMeterCoordinator(DataUpdateCoordinator[MeterData | None]):
    """Owns the connection to one meter and publishes its readings.

    ``data`` is ``None`` until the first reading has been published.
    """

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
        self.settings = LineSettings(
            port=entry.data[CONF_PORT],
            baudrate=entry.data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE),
            parity=entry.data.get(CONF_PARITY, DEFAULT_PARITY),
        )
        authentication_key = entry.data.get(CONF_AUTHENTICATION_KEY)
        self._decoder = MeterDecoder(
            parse_key(entry.data[CONF_ENCRYPTION_KEY]),
            parse_key(authentication_key) if authentication_key else None,
        )
        self.meter_id: str = (entry.unique_id or "").upper()
        self.publish_interval: float = entry.options.get(
            CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL
        )
        self.applied_options = dict(entry.options)
        """Options this coordinator runs with (a change needs a reload)."""
        self.counters = MeterCounters()
        self.last_reading: Reading | None = None
        self._counter_guard = InvocationCounterGuard()
        self._register_guard = RegisterGuard()
        self._window = _Window()
        self._transport: serialx.BaseSerialTransport | None = None
        self._protocol: MeterProtocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._resume = asyncio.Event()
        self._resume.set()
        self._port_lock = asyncio.Lock()
        self._backoff = RECONNECT_MIN_DELAY
        self._publish_unsub: CALLBACK_TYPE | None = None
        self._stale_unsub: CALLBACK_TYPE | None = None
        self._last_reading_time: float | None = None
        self._intervals: deque[float] = deque(maxlen=PUSH_PERIOD_SAMPLES)
        self._key_failures = 0
        self._reauth_started = False
        self._first_outcome: asyncio.Future[bool] | None = None
        self._logged_problems: set[str] = set()
        self._serial_number_synced: str | None = None

    # ------------------------------------------------------------------
    # Life cycle

    async def async_start(self) -> None:
        """Open the port, check the key on the first frames, start the reader.

        Raises ``ConfigEntryNotReady`` when the port cannot be opened and
        ``ConfigEntryAuthFailed`` when the first frames do not decrypt.
        """
        try:
            await self._async_connect()
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
            # A silent meter is no reason to fail setup: the entities stay
            # unavailable until it pushes.
            key_accepted = True
        finally:
            self._first_outcome = None
        if not key_accepted:
            await self._async_disconnect()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_key"
            )
        self._restart_stale_timer()
        self._task = self.config_entry.async_create_background_task(
            self.hass, self._async_run(), name=f"{DOMAIN} reader {self.meter_id}"
        )
        # Home Assistant only cancels background tasks when it stops and does
        # not wait for them: closing the port is a task it waits for.
        self.config_entry.async_on_unload(
            self.hass.bus.async_listen(
                EVENT_HOMEASSISTANT_STOP, self._async_on_hass_stop
            )
        )

    async def async_stop(self) -> None:
        """Stop reading and release the port."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._async_disconnect()
        self._cancel_timers()

    async def _async_on_hass_stop(self, _event: Event) -> None:
        """Stop the reader and close the port while Home Assistant stops."""
        await self.async_stop()

    @asynccontextmanager
    async def async_release_port(self) -> AsyncIterator[None]:
        """Close the port for a while (the config flow validates on it)."""
        self._resume.clear()
        try:
            # Waits for a reconnect in progress, so the port is really free.
            async with self._port_lock:
                await self._async_disconnect()
            yield
        finally:
            self._resume.set()

    @property
    def port_name(self) -> str:
        """The port as it may be logged (secret URL parameters removed)."""
        return redact_port(self.settings.port)

    @property
    def connected(self) -> bool:
        """Whether the port is open."""
        return self._protocol is not None

    @property
    def push_period(self) -> float | None:
        """Observed seconds between readings, once known."""
        if not self._intervals:
            return None
        return statistics.median(self._intervals)

    @property
    def stale_timeout(self) -> float:
        """Seconds without a reading after which the entities are unavailable."""
        period = self.push_period
        if period is None:
            return STALE_TIMEOUT_UNKNOWN_PERIOD
        return max(STALE_TIMEOUT_MIN, STALE_PERIODS * period)

    @property
    def last_invocation_counter(self) -> int | None:
        """The invocation counter of the last accepted frame."""
        return self._counter_guard.last_counter

    @property
    def decoder_stats(self) -> dict[str, int]:
        """The decoder's counters (frames, checksum and decryption errors ...)."""
        return self._decoder.stats.as_dict()

    def counters_as_dict(self) -> dict[str, Any]:
        """Everything that was counted, for diagnostics."""
        return asdict(self.counters)

    # ------------------------------------------------------------------
    # Connection

    async def _async_connect(self) -> None:
        self._decoder.reset()
        self._last_reading_time = None
        self._transport, self._protocol = await async_open(
            self.settings, self._handle_data
        )
        LOGGER.debug("Opened %s", self.port_name)

    async def _async_disconnect(self) -> None:
        transport = self._transport
        self._transport = None
        self._protocol = None
        if transport is not None:
            await async_close(transport)

    async def _async_run(self) -> None:
        """Keep the port open for as long as the entry is loaded."""
        try:
            while True:
                protocol = self._protocol
                if protocol is None:
                    await self._resume.wait()
                    try:
                        async with self._port_lock:
                            if not self._resume.is_set():
                                continue
                            await self._async_connect()
                    except SERIAL_ERRORS as err:
                        LOGGER.debug("Cannot open %s: %s", self.port_name, err)
                        self._set_unavailable(f"cannot open {self.port_name}")
                        await self._async_wait_backoff()
                        continue
                    self.counters.reconnects += 1
                    continue
                error = await protocol.closed
                if self._protocol is protocol:
                    self._transport = None
                    self._protocol = None
                if not self._resume.is_set():
                    # The config flow closed the port on purpose.
                    continue
                LOGGER.debug("Connection to %s closed: %s", self.port_name, error)
                self._set_unavailable(f"connection to {self.port_name} lost")
                await self._async_wait_backoff()
        finally:
            await self._async_disconnect()

    async def _async_wait_backoff(self) -> None:
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, RECONNECT_MAX_DELAY)

    # ------------------------------------------------------------------
    # Data path

    @callback
    def _handle_data(self, data: bytes) -> None:
        items = self._decoder.feed(data)
        # Protocol-required answers (AMIS: E5), sent before anything else.
        # Direct transport write until the port layer offers one.
        replies = self._decoder.pop_replies()
        if replies and self._transport is not None:
            self._transport.write(replies)
        for item in items:
            if isinstance(item, Reading):
                self._handle_reading(item)
            else:
                self._handle_problem(item)

    @callback
    def _handle_problem(self, problem: DlmsError) -> None:
        if isinstance(problem, (DecryptionError, AuthenticationError)):
            self._key_failures += 1
            if (
                self._first_outcome is not None
                and not self._first_outcome.done()
                and self._key_failures >= SETUP_KEY_FAILURES
            ):
                self._first_outcome.set_result(False)
            if self._key_failures >= REAUTH_AFTER_FAILURES and not self._reauth_started:
                self._reauth_started = True
                LOGGER.warning(
                    "%s: %d frames in a row did not decrypt; the key may have changed",
                    self.name,
                    self._key_failures,
                )
                self.config_entry.async_start_reauth(self.hass)
        elif isinstance(problem, UnsupportedPayloadError):
            # The first one goes to the log at the default level with its
            # decrypted payload (meter values only), so that a user can report
            # it without turning on debug logging and waiting for it again.
            self._log_once(
                "unsupported",
                "%s: received a payload layout that is not supported; please "
                "report this decrypted payload: %s",
                problem.plaintext.hex(),
            )
            LOGGER.debug("Unsupported plaintext: %s", problem.plaintext.hex())
        else:
            LOGGER.debug("%s: %s", self.name, problem)

    @callback
    def _handle_reading(self, reading: Reading) -> None:
        if self._first_outcome is not None and not self._first_outcome.done():
            self._first_outcome.set_result(True)
        self._key_failures = 0
        self._reauth_started = False
        if (
            self.meter_id
            and reading.identifies_meter
            and reading.system_title.hex().upper() != self.meter_id
        ):
            self.counters.foreign_meter_frames += 1
            self._log_once(
                "foreign",
                "%s: ignoring frames of a different meter on the same port",
            )
            return
        verdict = self._counter_guard.check(reading.invocation_counter)
        if verdict is CounterVerdict.REPLAYED:
            self.counters.replayed_frames += 1
            LOGGER.debug(
                "%s: dropped frame with invocation counter %s (not increasing)",
                self.name,
                reading.invocation_counter,
            )
            return
        if verdict is CounterVerdict.RESTARTED:
            self.counters.counter_restarts += 1
            LOGGER.warning(
                "%s: the invocation counter restarted at %s; accepting the new "
                "sequence",
                self.name,
                reading.invocation_counter,
            )
        now = self.hass.loop.time()
        registers = {
            obis: meter_value.value
            for obis, meter_value in reading.values.items()
            if meter_value.unit in REGISTER_UNITS and obis not in SIGNED_REGISTERS
        }
        check = self._register_guard.check(registers, now)
        if check.decreased:
            self.counters.dropped_decreasing_registers += 1
            self._log_once(
                "decreased",
                "%s: dropped a frame whose energy register went down; such "
                "frames are never published",
            )
            return
        if check.implausible:
            self.counters.dropped_implausible_registers += 1
            self._log_once(
                "implausible",
                "%s: dropped a frame whose energy register jumped implausibly",
            )
            return
        self._register_guard.accept(registers, now)
        self._accept(reading, now)

    @callback
    def _accept(self, reading: Reading, now: float) -> None:
        self.counters.frames_ok += 1
        self.last_reading = reading
        if self._last_reading_time is not None:
            self._intervals.append(now - self._last_reading_time)
        self._last_reading_time = now
        self._backoff = RECONNECT_MIN_DELAY
        self._sync_serial_number(reading)
        self._restart_stale_timer()
        self._window.add(reading)
        recovering = not self.last_update_success
        if recovering:
            LOGGER.info("%s: receiving data again", self.name)
        if self.publish_interval <= 0:
            self._publish()
        elif self._publish_unsub is None or recovering:
            self._publish_and_rearm()

    @callback
    def _publish(self) -> None:
        data = self._window.to_data()
        self._window = _Window()
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
    # Availability

    @callback
    def _restart_stale_timer(self) -> None:
        if self._stale_unsub is not None:
            self._stale_unsub()
        self._stale_unsub = async_call_later(
            self.hass, self.stale_timeout, self._on_stale
        )

    @callback
    def _on_stale(self, _now: datetime) -> None:
        self._stale_unsub = None
        self._set_unavailable("no valid frame received")

    @callback
    def _set_unavailable(self, reason: str) -> None:
        if not self.last_update_success:
            return
        LOGGER.info("%s is unavailable: %s", self.name, reason)
        self._window = _Window()
        self.last_update_success = False
        self.async_update_listeners()

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

    def _log_once(self, problem: str, message: str, *args: object) -> None:
        if problem in self._logged_problems:
            return
        self._logged_problems.add(problem)
        LOGGER.warning(message, self.name, *args)

    def _cancel_timers(self) -> None:
        for unsub in (self._publish_unsub, self._stale_unsub):
            if unsub is not None:
                unsub()
        self._publish_unsub = None
        self._stale_unsub = None
