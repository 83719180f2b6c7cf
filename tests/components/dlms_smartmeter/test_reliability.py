"""Unplugged and replugged read heads, 20 times over, without leaks.

A pty behind a stable symbolic link stands in for the USB read head (closed
and recreated: the head pulled out and plugged in again), a TCP server for a
network read head (stopped and started again on the same port). Each cycle
must make the entities unavailable well within the stale timeout, log one
line per transition, and bring values back without reloading the entry;
tasks, file descriptors and Python memory must not grow over the cycles.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
import pytest

from custom_components.dlms_smartmeter import (
    link as link_module,
    watchdog as watchdog_module,
)
from custom_components.dlms_smartmeter.const import CONF_UPDATE_INTERVAL
from custom_components.dlms_smartmeter.dlms.outputs import TcpFrameServer

from .fault_injection import (
    POWER_IMPORT,
    Resources,
    entity_id_of,
    flush_registries,
    heap_in_use,
    heap_snapshot,
    settled_resources,
    state_of,
)
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
    from collections.abc import Awaitable, Callable, Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms import Reading

REPLUG_CYCLES: Final = 20
WARM_UP_CYCLES: Final = 5
"""Cycles before the memory baseline (caches and first-use allocations)."""
MEMORY_GROWTH_LIMIT: Final = 48 * 1024
"""Bytes the Python heap may grow over the measured cycles.

Keeping the closed transport, protocol and decoder of every reconnect grows
it by about 25 KiB per cycle; the noise of the interpreter and the harness
over the 15 measured cycles stays below 15 KiB.
"""

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
UNAVAILABLE_LINE: Final = "is unavailable"
RECOVERED_LINE: Final = "receiving data again"


@pytest.fixture
def quick_reconnect(fast_timeouts: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect attempts every few milliseconds, so 20 cycles take seconds."""
    monkeypatch.setattr(link_module, "RECONNECT_MIN_DELAY", 0.01)
    monkeypatch.setattr(link_module, "RECONNECT_MAX_DELAY", 0.05)
    # Unavailable must come from the unplugged head, never from the stale
    # timeout: it is far beyond what a cycle takes, however loaded the machine.
    monkeypatch.setattr(watchdog_module, "STALE_TIMEOUT_MIN", 3600.0)


@pytest.fixture
def memory_tracing() -> Iterator[None]:
    """Trace Python allocations for the duration of the test."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    yield
    if started:
        tracemalloc.stop()


class ReplugLoop:
    """Runs unplug/replug cycles against one entry and checks each of them."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MockConfigEntry,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
        self.caplog = caplog
        self.power = entity_id_of(hass, METER_ID, "power_import")
        # The test loop runs in debug mode and logs every callback slower than
        # 0.1 s. On a loaded machine there are many, and their log records,
        # kept by the log capture, would count as heap growth.
        hass.loop.slow_callback_duration = 3600.0

    async def run(
        self,
        unplug: Callable[[], Awaitable[None]],
        plug: Callable[[], Awaitable[None]],
        push: Callable[[], Awaitable[Reading]],
    ) -> None:
        """``REPLUG_CYCLES`` cycles; resources compared after the warm-up."""
        loop = asyncio.get_running_loop()
        baseline: Resources | None = None
        heap_baseline: tracemalloc.Snapshot | None = None
        for cycle in range(REPLUG_CYCLES):
            self.caplog.clear()
            unplugged_at = loop.time()
            await unplug()
            await wait_until(
                lambda: state_of(self.hass, self.power) == STATE_UNAVAILABLE,
                what=f"unavailable in cycle {cycle}",
            )
            assert loop.time() - unplugged_at < self.coordinator.stale_timeout
            assert not self.coordinator.last_update_success

            await plug()
            reading = await push()
            assert float(state_of(self.hass, self.power)) == (
                reading.values[POWER_IMPORT].value
            )
            # One line when the head went away and one when data came back,
            # however many reconnect attempts failed in between.
            assert self.caplog.text.count(UNAVAILABLE_LINE) == 1, cycle
            assert self.caplog.text.count(RECOVERED_LINE) == 1, cycle
            # Recovered in place: the entry was never reloaded.
            assert self.entry.state is ConfigEntryState.LOADED
            assert self.entry.runtime_data is self.coordinator
            assert self.coordinator.counters.reconnects == cycle + 1

            if cycle + 1 == WARM_UP_CYCLES:
                await flush_registries(self.hass)
                await self.hass.async_block_till_done()
                baseline = Resources.now()
                heap_baseline = heap_snapshot()
            elif baseline is not None:
                settled = await settled_resources(baseline)
                assert settled.within(baseline), (
                    f"cycle {cycle}: {settled} > {baseline}"
                )
        assert heap_baseline is not None
        heap = heap_snapshot()
        growth = heap_in_use(heap) - heap_in_use(heap_baseline)
        largest = heap.compare_to(heap_baseline, "lineno")[:5]
        assert growth < MEMORY_GROWTH_LIMIT, f"heap grew by {growth} bytes: {largest}"
        assert self.coordinator.counters.frames_ok >= REPLUG_CYCLES


@pytest.mark.usefixtures("quick_reconnect", "memory_tracing")
async def test_usb_head_unplugged_and_replugged_20_times(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """The pty closes and comes back behind the same link, 20 times."""
    # Debug records (every read, every reconnect attempt) would be kept by
    # the log capture for the report and count as heap growth.
    caplog.set_level("INFO")
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)

    async def unplug() -> None:
        meter.unplug()

    async def plug() -> None:
        meter.plug()
        await wait_until(lambda: coordinator.connected, what="reconnected")

    async def push() -> Reading:
        # The test's own record of sent frames is not the integration's memory.
        meter.frames.clear()
        return await push_and_wait(hass, meter, coordinator)

    await ReplugLoop(hass, entry, caplog).run(unplug, plug, push)
    assert coordinator.decoder_stats["checksum_errors"] == 0


@pytest.mark.usefixtures("quick_reconnect", "memory_tracing", "socket_enabled")
async def test_network_head_closed_and_reopened_20_times(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """The socket:// server goes away and comes back on its port, 20 times."""
    # Debug records (every read, every reconnect attempt) would be kept by
    # the log capture for the report and count as heap growth.
    caplog.set_level("INFO")
    simulator = make_simulator()
    # One server object, stopped and started again on the same port.
    probe = TcpFrameServer()
    await probe.start()
    port = probe.port
    await probe.aclose()
    server = TcpFrameServer(port)
    await server.start()
    entry = meter_entry(f"socket://127.0.0.1:{port}", options=EVERY_FRAME)
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
        await wait_until(lambda: server.clients == 1, what="client")

        async def push() -> Reading:
            taken = coordinator.counters.frames_ok
            await server.send(simulator.next_frame())
            await wait_until(
                lambda: coordinator.counters.frames_ok > taken, what="frame taken"
            )
            await hass.async_block_till_done()
            return simulator.reading()

        await push()

        async def plug() -> None:
            await server.start()
            await wait_until(lambda: server.clients == 1, what="client again")

        await ReplugLoop(hass, entry, caplog).run(server.aclose, plug, push)
    finally:
        await server.aclose()
    assert await hass.config_entries.async_unload(entry.entry_id)
