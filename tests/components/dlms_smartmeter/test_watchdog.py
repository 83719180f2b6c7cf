"""The silence watchdog: a meter or head that goes quiet gets its port reopened.

Time is driven explicitly: the stale timeout fires through frozen time, the
reopen waits (the link's backoff) are shortened.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.dlms_smartmeter import link as link_module
from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL

from .fault_injection import POWER_IMPORT, entity_id_of, state_of
from .meter import (
    METER_ID,
    PtyMeter,
    make_simulator,
    meter_entry,
    push_and_wait,
    set_up_meter,
    wait_until,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

pytestmark = [
    pytest.mark.usefixtures("fast_timeouts"),
    pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True),
]

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
UNAVAILABLE_LINE: Final = "is unavailable"
RECOVERED_LINE: Final = "receiving data again"


class NetworkHead:
    """A TCP read head (ser2net, ESP bridge) that can lose its meter silently.

    Frames go to the newest connection. Going silent keeps every socket
    open, as a head does that lost its Wi-Fi or its meter without closing
    the connection.
    """

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        self.closed_by_reader = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections.append(writer)
        try:
            while await reader.read(1024):
                pass
            self.closed_by_reader += 1
        except OSError:
            self.closed_by_reader += 1
        finally:
            writer.close()
            self._handlers.discard(task)

    def send(self, frame: bytes) -> None:
        self.connections[-1].write(frame)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self.connections:
            writer.close()
        for task in list(self._handlers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _stale(
    hass: HomeAssistant,
    coordinator: DlmsSmartMeterCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Let one stale timeout pass without a frame."""
    # From the current time: ticking frozen time forgets the seconds that
    # passed since the last tick.
    freezer.move_to(dt_util.utcnow() + timedelta(seconds=coordinator.stale_timeout + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_network_head_that_goes_silent_gets_a_new_connection(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    socket_enabled: None,
) -> None:
    """A head that stops sending but keeps its socket: reconnected, values return."""
    caplog.set_level("INFO", "custom_components.dlms_smartmeter")
    head = NetworkHead()
    await head.start()
    simulator = make_simulator()
    entry = meter_entry(f"socket://127.0.0.1:{head.port}", options=EVERY_FRAME)
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
        for taken in range(1, 4):
            head.send(simulator.next_frame())
            await wait_until(
                lambda: coordinator.counters.frames_ok == taken,  # noqa: B023
                what="frame",
            )
        await hass.async_block_till_done()
        assert len(head.connections) == 1
        power = entity_id_of(hass, METER_ID, "power_import")

        # The head goes silent; its socket stays open.
        await _stale(hass, coordinator, freezer)
        assert state_of(hass, power) == STATE_UNAVAILABLE
        # The integration dropped the silent connection and opened a new one.
        await wait_until(lambda: len(head.connections) == 2, what="new connection")
        await wait_until(lambda: head.closed_by_reader == 1, what="old one closed")
        await wait_until(lambda: coordinator.connected, what="connected")

        head.send(simulator.next_frame())
        await wait_until(lambda: coordinator.counters.frames_ok == 4, what="frame")
        await hass.async_block_till_done()
        reading = simulator.reading()
        assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
        assert caplog.text.count(UNAVAILABLE_LINE) == 1
        assert "no valid frame received" in caplog.text
        assert caplog.text.count(RECOVERED_LINE) == 1
        assert coordinator.counters.reconnects == 1
        assert coordinator.link.backoff == link_module.RECONNECT_MIN_DELAY
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await head.aclose()


async def test_present_but_silent_head_is_reopened_with_growing_waits(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A USB head that stays plugged in but silent: one reopen per stale timeout.

    The waits before each reopen double, nothing reopens in between (no busy
    loop), and the log has one line for the silence, one for the return.
    """
    caplog.set_level("INFO", "custom_components.dlms_smartmeter")
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    for _ in range(3):
        await push_and_wait(hass, meter, coordinator)
    periods = 4
    for period in range(1, periods + 1):
        await _stale(hass, coordinator, freezer)
        await wait_until(
            lambda: coordinator.counters.reconnects == period,  # noqa: B023
            what=f"reopen {period}",
        )
        await wait_until(lambda: coordinator.connected, what="connected")
    # Between stale timeouts the port stays open: no further reopens.
    await asyncio.sleep(3 * link_module.RECONNECT_MAX_DELAY)
    assert coordinator.counters.reconnects == periods
    assert coordinator.link.backoff == min(
        link_module.RECONNECT_MIN_DELAY * 2**periods, link_module.RECONNECT_MAX_DELAY
    )
    assert caplog.text.count(UNAVAILABLE_LINE) == 1

    reading = await push_and_wait(hass, meter, coordinator)
    power = entity_id_of(hass, METER_ID, "power_import")
    assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
    assert caplog.text.count(RECOVERED_LINE) == 1
    assert coordinator.link.backoff == link_module.RECONNECT_MIN_DELAY


async def test_unplugged_head_recovers_while_the_watchdog_fires(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unplugged through several stale timeouts, replugged on the same path."""
    caplog.set_level("INFO", "custom_components.dlms_smartmeter")
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    meter.unplug()
    await wait_until(lambda: not coordinator.connected, what="port lost")
    for _ in range(3):
        await _stale(hass, coordinator, freezer)
    assert not coordinator.last_update_success
    meter.plug()
    await wait_until(lambda: coordinator.connected, what="reopened")
    reading = await push_and_wait(hass, meter, coordinator)
    power = entity_id_of(hass, METER_ID, "power_import")
    assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
    assert caplog.text.count(UNAVAILABLE_LINE) == 1
    assert caplog.text.count(RECOVERED_LINE) == 1
