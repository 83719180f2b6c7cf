"""The link that owns the port: reading, writing, reopening, lending, closing.

The link imports no Home Assistant: these tests drive it on a real pty, and
the write path of the integration and of the config flow's check end to end.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import select
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_PORT
import pytest

from custom_components.dlms_smartmeter import connection, const, coordinator, link
from custom_components.dlms_smartmeter.connection import async_probe
from custom_components.dlms_smartmeter.const import (
    CONF_BAUDRATE,
    CONF_PARITY,
    DEFAULT_BAUDRATE,
    DEFAULT_PARITY,
)
from custom_components.dlms_smartmeter.dlms import MeterDecoder, Reading
from custom_components.dlms_smartmeter.link import LineSettings, MeterLink

from .meter import (
    TEST_KEY,
    PtyMeter,
    meter_entry,
    port_is_free,
    push_and_wait,
    set_up_meter,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms import DlmsError

pytestmark = pytest.mark.usefixtures("fast_timeouts")

ACK = b"\xe5"
ROOT = Path(__file__).parents[3]


class AcknowledgingDecoder(MeterDecoder):
    """A decoder whose link asks for one acknowledgement byte per reading."""

    def feed(self, data: bytes) -> list[Reading | DlmsError]:
        """Decode, then queue one reply per reading."""
        outcomes = super().feed(data)
        readings = sum(isinstance(outcome, Reading) for outcome in outcomes)
        self._replies.extend(ACK * readings)
        return outcomes


def _is_open(meter_link: MeterLink) -> bool:
    return meter_link.connected


def _pending_bytes(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


async def read_from_meter(meter: PtyMeter, count: int) -> bytes:
    """What the integration wrote to the meter, ``count`` bytes of it."""
    fd = meter.master_fd
    assert fd is not None
    received = b""
    while len(received) < count:
        await wait_until(lambda: _pending_bytes(fd), what="bytes from the reader")
        received += os.read(fd, count - len(received))
    return received


class Recorder:
    """What a link reported to its owner; closes its links at the end."""

    def __init__(self) -> None:
        self.data = b""
        self.opened = 0
        self.down: list[str] = []
        self.links: list[MeterLink] = []

    def on_data(self, data: bytes) -> None:
        self.data += data

    def on_open(self) -> None:
        self.opened += 1

    def on_down(self, reason: str) -> None:
        self.down.append(reason)

    def link(self, meter: PtyMeter) -> MeterLink:
        meter_link = MeterLink(
            LineSettings(meter.port, 9600, "N"),
            self.on_data,
            on_open=self.on_open,
            on_down=self.on_down,
        )
        self.links.append(meter_link)
        return meter_link

    async def running_link(self, meter: PtyMeter) -> MeterLink:
        """A link that has opened the meter's port and keeps it open."""
        meter_link = self.link(meter)
        await meter_link.async_open()
        meter_link.start()
        return meter_link


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    """A link owner; its links are closed even when a test fails."""
    owner = Recorder()
    yield owner
    for meter_link in owner.links:
        await meter_link.async_close()


def test_link_runs_without_home_assistant() -> None:
    """The port layer, its health and the publication window need no Home Assistant."""
    modules = ("link", "health", "window")
    code = "; ".join(
        [
            "import sys",
            *(f"import custom_components.dlms_smartmeter.{name}" for name in modules),
            "assert not [m for m in sys.modules if m.startswith('homeassistant')]",
        ]
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # noqa: S603


def test_line_settings_from_entry_data() -> None:
    """One helper reads the line settings; older entries get the defaults."""
    # The link spells out Home Assistant's key to stay free of its imports.
    assert const.CONF_PORT == CONF_PORT
    assert LineSettings.from_entry_data(
        {CONF_PORT: "/dev/ttyUSB0", CONF_BAUDRATE: 2400, CONF_PARITY: "E"}
    ) == LineSettings("/dev/ttyUSB0", 2400, "E")
    assert LineSettings.from_entry_data({CONF_PORT: "socket://h:1"}) == LineSettings(
        "socket://h:1", DEFAULT_BAUDRATE, DEFAULT_PARITY
    )
    secret = LineSettings("esphome://proxy:6053/?key=c2VjcmV0", 9600, "N")
    assert "c2VjcmV0" not in secret.redacted_port


async def test_reads_and_writes_through_a_pty(
    meter: PtyMeter, recorder: Recorder
) -> None:
    """Bytes from the meter reach the callback; written bytes reach the meter."""
    meter_link = recorder.link(meter)
    meter_link.write(ACK)  # not open yet: dropped, not counted
    assert meter_link.bytes_written == 0

    await meter_link.async_open()
    meter_link.start()
    assert _is_open(meter_link)
    assert recorder.opened == 1
    meter.write(b"\x7e\x01\x02")
    await wait_until(lambda: recorder.data == b"\x7e\x01\x02", what="bytes read")

    meter_link.write(b"")
    meter_link.write(ACK)
    meter_link.write(ACK + ACK)
    assert await read_from_meter(meter, 3) == ACK * 3
    assert meter_link.bytes_written == 3

    await meter_link.async_close()
    assert not _is_open(meter_link)
    assert meter_link.task is None
    assert await port_is_free(meter.port)
    assert recorder.down == []


async def test_reopens_with_backoff_until_the_head_returns(
    meter: PtyMeter, recorder: Recorder
) -> None:
    """Unplugged: reported once per failure, waits double; replugged: reopened."""
    meter_link = await recorder.running_link(meter)
    meter.unplug()
    await wait_until(
        lambda: meter_link.backoff == link.RECONNECT_MAX_DELAY, what="backoff"
    )
    assert recorder.down[0].startswith("connection to")
    assert all(reason.startswith("cannot open") for reason in recorder.down[1:])
    # Lost once, then at least one failed attempt before the longest wait.
    assert len(recorder.down) >= 2

    meter.plug()
    await wait_until(lambda: _is_open(meter_link), what="reopened")
    assert recorder.opened == 2
    meter_link.reset_backoff()
    assert meter_link.backoff == link.RECONNECT_MIN_DELAY
    await meter_link.async_close()


async def test_restart_reopens_without_reporting_a_loss(
    meter: PtyMeter, recorder: Recorder
) -> None:
    """The owner's restart (a silent meter) closes and reopens the same port."""
    meter_link = recorder.link(meter)
    meter_link.restart()  # nothing open: nothing to do
    await meter_link.async_open()
    meter_link.start()
    meter_link.restart()
    await wait_until(lambda: recorder.opened == 2, what="reopened")
    assert _is_open(meter_link)
    assert recorder.down == []
    # Each restart without data in between waits longer.
    assert meter_link.backoff == 2 * link.RECONNECT_MIN_DELAY
    meter.write(b"\x01")
    await wait_until(lambda: recorder.data == b"\x01", what="bytes after restart")
    await meter_link.async_close()


async def test_release_lends_the_port_and_takes_it_back(
    meter: PtyMeter, recorder: Recorder
) -> None:
    """While lent out the port is free for someone else; then it is reopened."""
    meter_link = await recorder.running_link(meter)
    async with meter_link.async_release():
        assert not _is_open(meter_link)
        assert await port_is_free(meter.port)
        await asyncio.sleep(0)
        assert not _is_open(meter_link)
    await wait_until(lambda: _is_open(meter_link), what="taken back")
    assert recorder.down == []
    await meter_link.async_close()
    await meter_link.async_close()


async def test_integration_writes_what_the_decoder_asks_for(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies of the protocol go to the meter after each chunk, counted."""
    monkeypatch.setattr(coordinator, "MeterDecoder", AcknowledgingDecoder)
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    # Set up while the meter is silent: every frame below is one the test sent.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    running: DlmsSmartMeterCoordinator = entry.runtime_data
    for written in range(1, 3):
        await push_and_wait(hass, meter, running)
        assert await read_from_meter(meter, 1) == ACK
        assert running.counters_as_dict()["bytes_written"] == written
    # Nothing else is ever written.
    assert not _pending_bytes(meter.master_fd or -1)


async def test_integration_writes_nothing_for_push_only_meters(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A meter that only pushes never receives a byte."""
    running = await set_up_meter(hass, meter, meter_entry(meter.port))
    await push_and_wait(hass, meter, running)
    assert running.counters_as_dict()["bytes_written"] == 0
    assert not _pending_bytes(meter.master_fd or -1)


async def test_probe_writes_what_the_decoder_asks_for(
    meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config flow's check answers the meter as well."""
    monkeypatch.setattr(connection, "MeterDecoder", AcknowledgingDecoder)
    settings = LineSettings(meter.port, 9600, "N")
    probing: asyncio.Task[Any] = asyncio.create_task(
        async_probe(settings, TEST_KEY, None, 5.0)
    )
    meter.start_streaming()
    reading = await probing
    meter.stop_streaming()
    assert reading.system_title == meter.simulator.system_title
    assert await read_from_meter(meter, 1) == ACK
