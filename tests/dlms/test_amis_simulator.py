"""The simulated AMIS meter: search, acknowledged data, fallback, forbidden bytes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
import itertools
import os
import tty

from custom_components.dlms_smartmeter.dlms import MeterDecoder, Reading
from custom_components.dlms_smartmeter.dlms.amis_simulator import (
    AmisMeterEmulator,
    AmisState,
    serve_amis_pty,
    serve_amis_tcp,
)
from custom_components.dlms_smartmeter.dlms.framing.amis import ACK, SND_NKE

KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
START = datetime(2026, 1, 15, 11, 0, 0, tzinfo=UTC)


def session(
    emulator: AmisMeterEmulator,
    decoder: MeterDecoder,
    steps: int,
    *,
    acknowledge: bool = True,
) -> list[Reading]:
    """Run ``steps`` meter events; the reader's answers reach the meter or not."""
    readings: list[Reading] = []
    for _ in range(steps):
        now = emulator.next_event
        sent = emulator.tick(now)
        readings += [item for item in decoder.feed(sent) if isinstance(item, Reading)]
        replies = decoder.pop_replies()
        if acknowledge:
            emulator.receive(replies, now)
    return readings


def state_of(emulator: AmisMeterEmulator) -> AmisState:
    """The state, read afresh (the type checker narrows attributes)."""
    return emulator.state


def test_acknowledged_session_sends_data_every_interval() -> None:
    emulator = AmisMeterEmulator(KEY, start=START)
    decoder = MeterDecoder(KEY)
    readings = session(emulator, decoder, 6)
    assert len(readings) == 5
    assert emulator.state is AmisState.SENDING
    assert emulator.acknowledgements == 6
    assert emulator.reader_bytes == ACK * 6
    assert emulator.errors == []
    times = [reading.meter_time for reading in readings]
    assert times[0] == START.replace(second=1)
    assert all(
        (later - earlier).total_seconds() == 1  # type: ignore[operator]
        for earlier, later in itertools.pairwise(times)
    )
    energies = [reading.values["1-0:1.8.0"].value for reading in readings]
    assert energies == sorted(energies)


def test_unanswered_search_repeats_once_a_minute() -> None:
    emulator = AmisMeterEmulator(KEY, start=START)
    sent = [emulator.tick(t) for t in (0.0, 30.0, 59.9, 60.0, 120.0)]
    assert sent == [SND_NKE, b"", b"", SND_NKE, SND_NKE]
    assert emulator.state is AmisState.SEARCHING


def test_late_answer_to_a_search_is_not_a_session() -> None:
    emulator = AmisMeterEmulator(KEY, start=START)
    emulator.tick(0.0)
    emulator.receive(ACK, 0.6)
    assert emulator.state is AmisState.SEARCHING


def test_ten_missing_acknowledgements_go_back_to_search_and_recover() -> None:
    emulator = AmisMeterEmulator(KEY, start=START, search_interval=60.0)
    decoder = MeterDecoder(KEY)
    session(emulator, decoder, 3)
    assert emulator.state is AmisState.SENDING
    lost = session(emulator, decoder, 10, acknowledge=False)
    assert len(lost) == 10
    # The tenth telegram goes unanswered too: the meter searches again.
    now = emulator.next_event
    assert emulator.tick(now) == SND_NKE
    assert state_of(emulator) is AmisState.SEARCHING
    emulator.receive(ACK, now)  # the head is back and answers the search
    decoder.pop_replies()
    readings = session(emulator, decoder, 3)
    assert len(readings) == 3
    assert emulator.state is AmisState.SENDING
    assert readings[0].meter_time > lost[-1].meter_time  # type: ignore[operator]


def test_bytes_other_than_e5_are_errors() -> None:
    emulator = AmisMeterEmulator(KEY, start=START)
    emulator.tick(0.0)
    emulator.receive(b"/?!\r\n" + ACK + ACK, 0.1)
    assert len(emulator.errors) == 5
    assert "2F" in emulator.errors[0]
    assert emulator.state is AmisState.SENDING


async def _until(condition: object, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_serves_a_reader_on_a_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_blocking(slave, False)
    emulator = AmisMeterEmulator(
        KEY, start=START, search_interval=0.2, data_interval=0.02, ack_timeout=60
    )
    decoder = MeterDecoder(KEY)
    readings: list[Reading] = []
    loop = asyncio.get_running_loop()

    def _reader() -> None:
        with contextlib.suppress(BlockingIOError):
            data = os.read(slave, 4096)
            readings.extend(
                item for item in decoder.feed(data) if isinstance(item, Reading)
            )
            os.write(slave, decoder.pop_replies())

    loop.add_reader(slave, _reader)
    stopped = asyncio.Event()
    task = loop.create_task(serve_amis_pty(emulator, master, stopped))
    try:
        await _until(lambda: len(readings) >= 3)
    finally:
        stopped.set()
        await task
        loop.remove_reader(slave)
        os.close(master)
        os.close(slave)
    assert emulator.errors == []


async def test_serves_tcp_clients(socket_enabled: None) -> None:
    ports: list[int] = []
    stopped = asyncio.Event()
    server = asyncio.get_running_loop().create_task(
        serve_amis_tcp(
            lambda: AmisMeterEmulator(
                KEY, search_interval=0.2, data_interval=0.02, ack_timeout=60
            ),
            0,
            stopped,
            ports.append,
        )
    )
    await _until(lambda: bool(ports))
    reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
    decoder = MeterDecoder(KEY)
    readings: list[Reading] = []
    while len(readings) < 3:
        data = await asyncio.wait_for(reader.read(4096), 10)
        readings += [i for i in decoder.feed(data) if isinstance(i, Reading)]
        writer.write(decoder.pop_replies())
    writer.close()
    await writer.wait_closed()
    stopped.set()
    await server
