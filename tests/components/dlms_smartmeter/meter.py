"""A simulated meter on a real pseudo-terminal, and helpers to wait for it.

The integration opens a symbolic link to the pty's slave side, exactly as it
opens a USB read head; the tests write the simulator's frames into the
master side. Closing the master is an unplugged read head; a new pty behind
the same link is the read head plugged in again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
import os
import tty
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
import serialx

from custom_components.dlms_smartmeter.const import (
    AUTO_CANDIDATES,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_PARITY,
    DOMAIN,
)
from custom_components.dlms_smartmeter.dlms import LinkLayer, Reading, format_key
from custom_components.dlms_smartmeter.dlms.apdu import (
    encode_data_notification,
    encode_general_glo_ciphering,
)
from custom_components.dlms_smartmeter.dlms.axdr import (
    axdr_double_long_unsigned,
    axdr_structure,
    axdr_visible_string,
)
from custom_components.dlms_smartmeter.dlms.encoder import encode_reading
from custom_components.dlms_smartmeter.dlms.framing import encode_link
from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

# Keys of the simulated meters (made up for the tests).
TEST_KEY: Final = bytes.fromhex("7A3C9E51D2F0486B1C5E93A7D4B20F86")
OTHER_KEY: Final = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
TEST_AUTH_KEY: Final = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
SYSTEM_TITLE: Final = b"ISKit\x01\x02\x03"
METER_ID: Final = SYSTEM_TITLE.hex().upper()
OTHER_SYSTEM_TITLE: Final = b"ISKit\x09\x08\x07"
SEED: Final = 7
ENTITY_PREFIX: Final = "sensor.iskraemeco_am550_td0"

FAST_CANDIDATES: Final = tuple(
    replace(candidate, listen_time=2.0) if candidate.listen_time else candidate
    for candidate in AUTO_CANDIDATES
)
"""The automatic choice's line settings with the longest wait cut short."""


def make_simulator(**kwargs: Any) -> MeterSimulator:
    """An AM550 of Wiener Netze with the test key, unless told otherwise."""
    options: dict[str, Any] = {
        "system_title": SYSTEM_TITLE,
        "seed": SEED,
        "invocation_counter": 1000,
    }
    options.update(kwargs)
    key = options.pop("encryption_key", TEST_KEY)
    return MeterSimulator(key, **options)


def unsupported_frame(
    system_title: bytes = SYSTEM_TITLE, invocation_counter: int = 5000
) -> bytes:
    """A frame that decrypts with the test key but has no known layout."""
    body = axdr_structure(
        axdr_visible_string("not a meter layout"), axdr_double_long_unsigned(42)
    )
    plaintext = encode_data_notification(body, invoke_id=1, date_time=None)
    apdu = encode_general_glo_ciphering(
        plaintext,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=TEST_KEY,
    )
    return encode_link([apdu], link=LinkLayer.HDLC)


def frame_of(reading: Reading) -> bytes:
    """The HDLC frame of a reading chosen by the test (encrypted with the test key)."""
    return encode_reading(reading, encryption_key=TEST_KEY, link=LinkLayer.HDLC)


def get_response_frame() -> bytes:
    """A valid HDLC frame carrying an APDU that no push meter sends."""
    return encode_link([bytes.fromhex("c401c1000600000001")], link=LinkLayer.HDLC)


def corrupted(frame: bytes) -> bytes:
    """The frame with one byte changed on the line (the checksum fails)."""
    broken = bytearray(frame)
    broken[len(broken) // 2] ^= 0xFF
    return bytes(broken)


class PtyMeter:
    """A simulated meter that pushes into a pseudo-terminal behind a link."""

    def __init__(self, link: Path, simulator: MeterSimulator) -> None:
        self.link = link
        self.simulator = simulator
        self.master_fd: int | None = None
        self.slave_fd: int | None = None
        self.frames: list[bytes] = []
        self._stream: asyncio.Task[None] | None = None
        self.plug()

    @property
    def port(self) -> str:
        """What the integration opens."""
        return str(self.link)

    def plug(self) -> None:
        """Attach a new pseudo-terminal to the link."""
        master_fd, slave_fd = os.openpty()
        tty.setraw(slave_fd)
        os.set_blocking(master_fd, False)
        self.master_fd, self.slave_fd = master_fd, slave_fd
        temporary = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(os.ttyname(slave_fd))
        temporary.replace(self.link)

    def unplug(self) -> None:
        """Close the pseudo-terminal and remove the link: the head is gone."""
        for fd in (self.master_fd, self.slave_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master_fd = self.slave_fd = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def write(self, data: bytes) -> None:
        """Write bytes as the meter would; dropped when nobody reads."""
        if self.master_fd is None:
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self.master_fd, data)

    def push(self, count: int = 1) -> Reading:
        """Send ``count`` frames; return the reading of the last one."""
        for _ in range(count):
            frame = self.simulator.next_frame()
            self.frames.append(frame)
            self.write(frame)
        return self.simulator.reading()

    def start_streaming(
        self,
        interval: float = 0.05,
        source: Callable[[], bytes] | None = None,
    ) -> None:
        """Push a frame every ``interval`` seconds in the background.

        ``source`` makes the bytes to send instead of the simulator.
        """

        async def _stream() -> None:
            while True:
                if source is None:
                    self.push()
                else:
                    self.write(source())
                await asyncio.sleep(interval)

        self.stop_streaming()
        self._stream = asyncio.get_running_loop().create_task(_stream())

    def stop_streaming(self) -> None:
        """Stop the background pushes."""
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def close(self) -> None:
        """Stop everything and release the pseudo-terminal."""
        self.stop_streaming()
        self.unplug()


def entry_data(
    port: str,
    *,
    encryption_key: bytes = TEST_KEY,
    authentication_key: bytes | None = None,
) -> dict[str, Any]:
    """Config entry data as the config flow stores it."""
    data: dict[str, Any] = {
        CONF_PORT: port,
        CONF_ENCRYPTION_KEY: format_key(encryption_key),
        CONF_BAUDRATE: 9600,
        CONF_PARITY: "N",
    }
    if authentication_key is not None:
        data[CONF_AUTHENTICATION_KEY] = format_key(authentication_key)
    return data


def meter_entry(
    port: str,
    *,
    unique_id: str = METER_ID,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MockConfigEntry:
    """A config entry for the simulated meter."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Iskraemeco AM550-TD0 " + unique_id,
        unique_id=unique_id,
        data=entry_data(port, **kwargs),
        options=options or {},
    )


async def port_is_free(port: str) -> bool:
    """Whether another program could open the port now."""
    try:
        transport, _ = await serialx.create_serial_connection(
            asyncio.get_running_loop(), asyncio.Protocol, port, baudrate=9600
        )
    except OSError:
        return False
    transport.close()
    await transport.wait_closed()
    return True


async def wait_until(
    condition: Callable[[], bool], seconds: float = 60.0, what: str = "condition"
) -> None:
    """Let the event loop run until ``condition()`` holds.

    ``seconds`` only turns a hang into a failure: a condition that holds is
    seen at once, so the generous limit costs nothing and a loaded machine
    cannot make a passing test fail.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def configure_flow(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any] | None = None
) -> Any:
    """Send a flow's form, and follow its progress step to what comes after.

    While the flow listens, it shows progress; Home Assistant moves on once
    the listening ends, as the frontend does when it fetches the flow again.
    """
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    while result["type"] is FlowResultType.SHOW_PROGRESS:
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(flow_id)
    return result


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    """Move the clock exactly ``seconds`` ahead and run what became due.

    The clock of a ``freeze_time(..., tick=True)`` test runs with real time
    (so that waits on the event loop work). Its ``tick()`` forgets the real
    time since the clock was last moved, so a timer could stay short of due
    on a loaded machine; moving from the current reading keeps it.
    """
    freezer.move_to(freezer() + timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def set_up_meter(
    hass: HomeAssistant, meter: PtyMeter, entry: MockConfigEntry
) -> DlmsSmartMeterCoordinator:
    """Set the entry up while the meter pushes, then stop the pushes."""
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    # Frames of the stream may still be on the line: once a last frame has
    # been taken, every earlier one has, and each later push is one frame.
    last = meter.push()
    await wait_until(lambda: coordinator.last_reading == last, what="line drained")
    await hass.async_block_till_done()
    return coordinator


async def push_and_wait(
    hass: HomeAssistant, meter: PtyMeter, coordinator: DlmsSmartMeterCoordinator
) -> Reading:
    """Send the simulator's next frame and wait until the coordinator has taken it."""
    frame = meter.simulator.next_frame()
    meter.frames.append(frame)
    await send_and_wait(hass, meter, coordinator, frame)
    return meter.simulator.reading()


async def send_and_wait(
    hass: HomeAssistant,
    meter: PtyMeter,
    coordinator: DlmsSmartMeterCoordinator,
    frame: bytes,
) -> None:
    """Send one frame and wait until the coordinator has taken or dropped it."""
    handled = handled_frames(coordinator)
    meter.write(frame)
    await wait_until(
        lambda: handled_frames(coordinator) > handled, what="frame handled"
    )
    await hass.async_block_till_done()


def handled_frames(coordinator: DlmsSmartMeterCoordinator) -> int:
    """Frames the coordinator took or dropped (not counting decoder errors)."""
    counters = coordinator.counters
    return (
        counters.frames_ok
        + counters.replayed_frames
        + counters.dropped_decreasing_registers
        + counters.dropped_implausible_registers
        + counters.foreign_meter_frames
    )
