"""The simulated meter: decodable frames, plausible values, pty and TCP output."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
import os
from pathlib import Path
import termios
import time

import pytest

from custom_components.dlms_smartmeter.dlms import (
    LinkLayer,
    MeterDecoder,
    Reading,
    SecurityLevel,
)
from custom_components.dlms_smartmeter.dlms.encoder import METER_ZONE
from custom_components.dlms_smartmeter.dlms.layouts import LAYOUTS, Layout, spec_of
from custom_components.dlms_smartmeter.dlms.outputs import (
    FileSink,
    TcpFrameServer,
    stream_frames,
)
from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator
from custom_components.dlms_smartmeter.dlms.virtual_port import (
    create_virtual_serial_port,
    virtual_serial_port,
)

KEY = bytes.fromhex("927CE4ECA62FE23E19406C5EE452285E")
AUTH_KEY = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
MIDSUMMER = datetime(2025, 6, 21, 0, 0, tzinfo=METER_ZONE)


def one_day(
    layout: Layout = Layout.WIENER_NETZE, authentication_key: bytes | None = None
) -> list[Reading]:
    """A day of five-minute pushes, each decoded and checked against what was sent."""
    simulator = MeterSimulator(
        KEY,
        layout=layout,
        authentication_key=authentication_key,
        start=MIDSUMMER,
        push_interval=300,
    )
    decoder = MeterDecoder(KEY, authentication_key)
    readings = []
    for _ in range(24 * 12):
        outcomes = decoder.feed(simulator.next_frame())
        assert outcomes == [simulator.last_reading]
        assert simulator.reading() is simulator.last_reading
        readings.append(simulator.reading())
    return readings


@pytest.mark.parametrize(
    "layout", [spec.layout for spec in LAYOUTS], ids=lambda layout: layout.value
)
def test_every_layout_decodes_to_what_was_sent(layout: Layout) -> None:
    readings = one_day(layout)
    first, last = readings[0], readings[-1]
    assert first.layout == layout
    assert list(first.values) == list(spec_of(layout).values)
    assert first.security is SecurityLevel.ENCRYPTED
    assert first.meter_time is not None
    assert last.meter_time is not None
    assert last.meter_time - first.meter_time == timedelta(minutes=5 * 287)
    counters = [reading.invocation_counter for reading in readings]
    assert counters == list(range(counters[0] or 0, (counters[0] or 0) + len(readings)))


@pytest.mark.parametrize("layout", [Layout.WIENER_NETZE, Layout.BURGENLAND])
def test_authenticated_frames(layout: Layout) -> None:
    readings = one_day(layout, authentication_key=AUTH_KEY)
    assert {reading.security for reading in readings} == {SecurityLevel.AUTHENTICATED}


def test_energy_follows_a_household_with_solar_panels() -> None:
    readings = one_day(Layout.OBIS_PAIRS)

    def series(code: str) -> list[float]:
        return [reading.values[code].value for reading in readings]

    # Registers only grow, and the total is the sum of both tariffs.
    for quantity in (1, 2, 3, 4):
        total = series(f"1-0:{quantity}.8.0")
        assert total == sorted(total)
        tariffs = zip(
            series(f"1-0:{quantity}.8.1"), series(f"1-0:{quantity}.8.2"), strict=True
        )
        assert total == [day + night for day, night in tariffs]
    imported, exported = series("1-0:1.7.0"), series("1-0:2.7.0")
    # Power flows one way at a time: drawn at night, fed in around midday.
    assert all(min(pair) == 0 for pair in zip(imported, exported, strict=True))
    assert imported[0] > 0
    assert exported[0] == 0
    noon = 13 * 12
    assert exported[noon] > 1000
    assert imported[noon] == 0
    # The registers add up the power over the day (5 minutes = 1/12 h).
    import_energy = series("1-0:1.8.0")
    export_energy = series("1-0:2.8.0")
    assert import_energy[-1] - import_energy[0] == pytest.approx(
        sum(imported[1:]) / 12, abs=4
    )
    assert export_energy[-1] - export_energy[0] == pytest.approx(
        sum(exported[1:]) / 12, abs=4
    )
    # Night tariff moves only at night.
    night = series("1-0:1.8.2")
    assert night[8 * 12] == night[21 * 12]


def test_voltages_currents_and_power_factor_are_plausible() -> None:
    readings = one_day(Layout.OBIS_FLAT_TRIPLES)
    for reading in readings:
        values = reading.values
        for phase in ("32", "52", "72"):
            assert 220 < values[f"1-0:{phase}.7.0"].value < 240
        assert 0 < values["1-0:13.7.0"].value <= 1
        power = values["1-0:1.7.0"].value + values["1-0:2.7.0"].value
        current = sum(values[f"1-0:{phase}.7.0"].value for phase in ("31", "51", "71"))
        assert current * 230 >= power * 0.8


def test_same_seed_same_frames() -> None:
    frames = [
        [MeterSimulator(KEY, start=MIDSUMMER, seed=seed).next_frame() for _ in range(3)]
        for seed in (7, 7, 8)
    ]
    assert frames[0] == frames[1]
    assert frames[0] != frames[2]


def test_am550_defaults() -> None:
    simulator = MeterSimulator(KEY)
    assert simulator.last_reading is None
    with pytest.raises(RuntimeError, match="not sent a frame"):
        simulator.reading()
    frame = simulator.next_frame()
    assert len(frame) == 105  # like a real AM550 on the IR port
    assert frame[:3] == b"\x7e\xa0\x67"
    assert simulator.system_title.startswith(b"ISKit")
    reading = simulator.reading()
    assert reading.model == "AM550-TD0"
    assert reading.meter_time is not None
    assert abs((reading.meter_time - datetime.now(METER_ZONE)).total_seconds()) < 5
    assert simulator.frames_sent == 1


def test_plain_frames_without_key() -> None:
    simulator = MeterSimulator(None, layout=Layout.P1_POSITIONAL)
    decoder = MeterDecoder(None)
    assert decoder.feed(simulator.next_frame()) == [simulator.last_reading]
    assert simulator.reading().security is SecurityLevel.NONE
    assert simulator.reading().system_title == b""


def test_block_transfer_and_segmentation_options() -> None:
    simulator = MeterSimulator(
        KEY,
        layout=Layout.OBIS_PAIRS,
        authentication_key=AUTH_KEY,
        block_size=122,
        link=LinkLayer.HDLC,
    )
    frame = simulator.next_frame()
    assert frame.count(b"\xe0\x40\x00\x01\x00\x00") == 1  # first block
    decoder = MeterDecoder(KEY, AUTH_KEY)
    assert decoder.feed(frame) == [simulator.last_reading]


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one second"):
        MeterSimulator(KEY, push_interval=0)
    with pytest.raises(ValueError, match="only sent encrypted"):
        MeterSimulator(None, layout=Layout.DSMR_TEXT)
    with pytest.raises(ValueError, match="8 bytes"):
        MeterSimulator(KEY, system_title=b"ISKit")
    with pytest.raises(ValueError, match="timezone-aware"):
        MeterSimulator(KEY, start=datetime(2025, 1, 1))  # noqa: DTZ001 - the point


# --- output ---------------------------------------------------------------------


def read_frames(fd: int, count: int, key: bytes = KEY) -> list[Reading]:
    """Read from a (non-blocking) descriptor until ``count`` readings decode."""
    decoder = MeterDecoder(key)
    readings: list[Reading] = []
    deadline = time.monotonic() + 10
    while len(readings) < count and time.monotonic() < deadline:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        for outcome in decoder.feed(data):
            assert isinstance(outcome, Reading), outcome
            readings.append(outcome)
    return readings


async def test_frames_through_a_virtual_serial_port(tmp_path: Path) -> None:
    link = tmp_path / "dev" / "ttyMETER"
    simulator = MeterSimulator(KEY)
    with virtual_serial_port(str(link)) as (master_fd, slave_path):
        assert link.is_symlink()
        assert link.readlink() == Path(slave_path)
        port = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            # Raw mode: bytes such as 0x0D and 0x7E pass untouched, no echo.
            local_modes = termios.tcgetattr(port)[3]
            assert not local_modes & (termios.ICANON | termios.ECHO)
            sent = await stream_frames(
                simulator, FileSink(master_fd), interval=0.01, count=5
            )
            assert sent == 5
            readings = read_frames(port, 5)
        finally:
            os.close(port)
    assert [reading.invocation_counter for reading in readings] == [
        (simulator.reading().invocation_counter or 0) - 4 + offset
        for offset in range(5)
    ]
    assert readings[-1] == simulator.reading()
    assert not link.exists()


async def test_virtual_serial_port_drops_frames_nobody_reads(tmp_path: Path) -> None:
    """Like a meter's push, a frame is lost when the port's buffer is full."""
    link = tmp_path / "ttyMETER"
    frame = MeterSimulator(KEY).next_frame()
    with virtual_serial_port(str(link)) as (master_fd, _slave_path):
        sink = FileSink(master_fd)
        for _ in range(2000):
            await sink.send(frame)  # returns at once, also when the buffer is full
        assert sink.dropped > 0


def test_virtual_serial_port_replaces_only_links(tmp_path: Path) -> None:
    occupied = tmp_path / "ttyMETER"
    occupied.write_text("not a link", encoding="utf-8")
    with pytest.raises(FileExistsError):
        create_virtual_serial_port(str(occupied))
    assert occupied.read_text(encoding="utf-8") == "not a link"
    stale = tmp_path / "stale"
    stale.symlink_to("/dev/pts/does-not-exist")
    with virtual_serial_port(str(stale)) as (_master_fd, slave_path):
        assert stale.readlink() == Path(slave_path)


async def test_frames_to_tcp_clients(socket_enabled: None) -> None:
    simulator = MeterSimulator(KEY, layout=Layout.WIENER_NETZE_IM350)
    server = TcpFrameServer(0)
    await server.start()
    try:
        assert server.port > 0
        readers = [
            await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)
        ]
        for _ in range(100):
            if server.clients == 2:
                break
            await asyncio.sleep(0.01)
        assert server.clients == 2
        await stream_frames(simulator, server, interval=0.01, count=4)
        for reader, writer in readers:
            decoder = MeterDecoder(KEY)
            readings: list[Reading] = []
            while len(readings) < 4:
                data = await asyncio.wait_for(reader.read(4096), timeout=5)
                assert data
                readings += [
                    outcome
                    for outcome in decoder.feed(data)
                    if isinstance(outcome, Reading)
                ]
            assert readings[-1] == simulator.reading()
            assert readings[0].serial_number == simulator.serial_number
            writer.close()
            await writer.wait_closed()
    finally:
        await server.aclose()
    assert server.clients == 0


async def test_stream_frames_keeps_the_interval() -> None:
    simulator = MeterSimulator(KEY)
    frames: list[float] = []

    class Recorder:
        async def send(self, frame: bytes) -> None:
            assert frame[:2] == b"\x7e\xa0"
            frames.append(time.monotonic())

        async def aclose(self) -> None:
            """Nothing to release."""

    assert await stream_frames(simulator, Recorder(), interval=0.05, count=4) == 4
    assert len(frames) == 4
    assert frames[-1] - frames[0] >= 0.14
    task = asyncio.create_task(stream_frames(simulator, Recorder(), interval=0.01))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(frames) > 5


async def test_tcp_server_drops_a_client_that_does_not_read(
    socket_enabled: None,
) -> None:
    frame = MeterSimulator(KEY, layout=Layout.SELF_DESCRIBING).next_frame()
    server = TcpFrameServer(0, max_backlog=4096)
    await server.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for _ in range(100):
            if server.clients:
                break
            await asyncio.sleep(0.01)
        sent = 0
        # The client never reads: once the socket buffers are full, the
        # server stops queueing frames for it and drops it.
        while server.clients and sent < 100_000:
            await server.send(frame)
            sent += 1
            if sent % 50 == 0:
                await asyncio.sleep(0)
        assert server.clients == 0
        assert sent < 100_000
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    finally:
        await server.aclose()
