"""The silence watchdog: how long the meter may stay quiet, and what then.

The meter's push period is observed from the accepted readings; the meter
counts as silent after three missed pushes (at least 10 s, 30 s while the
period is unknown). When that happens the owner is told (it makes the
entities unavailable and reopens the port), and the watchdog keeps firing
after each further stale timeout until a frame arrives again.

A meter that sends data only while it is acknowledged (AMIS) falls back to
a search request once per search interval: while those keep arriving and
are answered, the meter is :attr:`~SilenceWatchdog.searching` and the port
works, so reopening it would only risk missing the next search.
"""

from __future__ import annotations

from collections import deque
import statistics
from typing import TYPE_CHECKING, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .const import SEARCH_MARGIN

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

STALE_PERIODS: Final = 3
"""Missed pushes after which the meter counts as silent."""
STALE_TIMEOUT_MIN: Final = 10.0
"""Shortest silence (seconds) that makes the entities unavailable."""
STALE_TIMEOUT_UNKNOWN_PERIOD: Final = 30.0
"""Silence allowed before the meter's push period has been observed."""
PUSH_PERIOD_SAMPLES: Final = 10
"""Intervals between readings that the push-period estimate looks at."""


class SilenceWatchdog:
    """Calls ``on_silent`` after every stale timeout without a reading."""

    def __init__(
        self,
        hass: HomeAssistant,
        on_silent: Callable[[], None],
        search_interval: float | None = None,
    ) -> None:
        """Prepare the watchdog; it fires only once armed."""
        self._hass = hass
        self._on_silent = on_silent
        self._search_interval = search_interval
        self._unsub: CALLBACK_TYPE | None = None
        self._last_reading_time: float | None = None
        self._last_answered: float | None = None
        self.intervals: deque[float] = deque(maxlen=PUSH_PERIOD_SAMPLES)
        """Seconds between the last accepted readings."""

    @property
    def push_period(self) -> float | None:
        """Observed seconds between readings, once known."""
        return statistics.median(self.intervals) if self.intervals else None

    @property
    def stale_timeout(self) -> float:
        """Seconds without a reading after which the meter counts as silent."""
        period = self.push_period
        if period is None:
            return STALE_TIMEOUT_UNKNOWN_PERIOD
        return max(STALE_TIMEOUT_MIN, STALE_PERIODS * period)

    @callback
    def reading(self) -> None:
        """An accepted reading arrived: learn the period, start counting anew."""
        now = self._hass.loop.time()
        if self._last_reading_time is not None:
            self.intervals.append(now - self._last_reading_time)
        self._last_reading_time = now
        self.arm()

    @callback
    def answered(self) -> None:
        """The reader answered a frame of the meter (AMIS: a search or data)."""
        self._last_answered = self._hass.loop.time()

    @property
    def searching(self) -> bool:
        """Whether the meter was answered within its search interval (and margin)."""
        if self._search_interval is None or self._last_answered is None:
            return False
        since = self._hass.loop.time() - self._last_answered
        return since <= self._search_interval + SEARCH_MARGIN

    @callback
    def port_opened(self) -> None:
        """A new connection: the time since the last reading says nothing."""
        self._last_reading_time = None

    @callback
    def arm(self) -> None:
        """Fire after the stale timeout from now."""
        self.stop()
        self._unsub = async_call_later(self._hass, self.stale_timeout, self._fire)

    @callback
    def stop(self) -> None:
        """Do not fire any more."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def _fire(self, _now: datetime) -> None:
        self._unsub = None
        self._on_silent()
        self.arm()
