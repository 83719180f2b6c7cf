"""A simulated AMIS meter: the active side of the acknowledged M-Bus session.

Unlike a push meter, an AMIS meter waits for its reader: it sends a search
request every ``search_interval`` seconds until the reader answers ``E5``,
then one data telegram every ``data_interval`` seconds for as long as they
are acknowledged; after ``max_missed`` telegrams in a row without an answer
it goes back to searching. Any byte from the reader other than ``E5`` is
recorded as an error (the specification forbids the reader to send anything
else).

:class:`AmisMeterEmulator` is the state machine alone: the caller passes the
time (seconds, any origin) to every call, so tests drive it without waiting.
:func:`serve_amis` runs it in real time on a pseudo-terminal or for TCP
clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
import os
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .amis import RECORDS, encode_telegram
from .framing.amis import ACK, SND_NKE

if TYPE_CHECKING:
    from collections.abc import Callable

SEARCH_INTERVAL: Final = 60.0
DATA_INTERVAL: Final = 1.0
ACK_TIMEOUT: Final = 0.5
MAX_MISSED: Final = 10


def _meter_zone() -> tzinfo:
    """Austrian time; CET all year on a host without a time-zone database."""
    try:
        return ZoneInfo("Europe/Vienna")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=1))


_ZONE: Final = _meter_zone()


class AmisState(StrEnum):
    """What the simulated meter is doing."""

    SEARCHING = "searching"
    SENDING = "sending"


@dataclass(slots=True)
class AmisProfile:
    """Registers and powers of the simulated household (Wh, varh, W, var)."""

    energy_import: float = 12_345_678.0
    energy_export: float = 2_345_678.0
    reactive_import: float = 1_500_000.0
    reactive_export: float = 3_000_000.0
    power_import: int = 1250
    power_export: int = 0
    reactive_power_import: int = 40
    reactive_power_export: int = 12
    collection_register: int = 0

    def advance(self, seconds: float) -> None:
        """Let the powers run for ``seconds``."""
        hours = seconds / 3600
        self.energy_import += self.power_import * hours
        self.energy_export += self.power_export * hours
        self.reactive_import += self.reactive_power_import * hours
        self.reactive_export += self.reactive_power_export * hours

    def values(self) -> dict[str, int]:
        """Register values as the telegram carries them (whole units)."""
        numbers = (
            self.energy_import,
            self.energy_export,
            self.reactive_import,
            self.reactive_export,
            self.power_import,
            self.power_export,
            self.reactive_power_import,
            self.reactive_power_export,
            self.collection_register,
        )
        return {
            spec.obis: int(number)
            for spec, number in zip(RECORDS.values(), numbers, strict=True)
        }


@dataclass(slots=True)
class AmisMeterEmulator:
    """The meter's side of the session, driven by explicit time."""

    key: bytes = field(repr=False)
    search_interval: float = SEARCH_INTERVAL
    data_interval: float = DATA_INTERVAL
    ack_timeout: float = ACK_TIMEOUT
    max_missed: int = MAX_MISSED
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    """Meter time at time 0."""
    profile: AmisProfile = field(default_factory=AmisProfile)
    state: AmisState = AmisState.SEARCHING
    access_number: int = 0
    missed: int = 0
    """Data telegrams in a row without an acknowledgement."""
    telegrams_sent: int = 0
    searches_sent: int = 0
    acknowledgements: int = 0
    reader_bytes: bytearray = field(default_factory=bytearray)
    errors: list[str] = field(default_factory=list)
    """Every byte from the reader other than ``E5``, described."""
    _next_event: float = 0.0
    _awaiting_since: float | None = None
    _last_time: float = 0.0

    @property
    def next_event(self) -> float:
        """When :meth:`tick` next has something to send."""
        return self._next_event

    def tick(self, now: float) -> bytes:
        """What the meter sends at ``now`` (nothing before :attr:`next_event`)."""
        if now < self._next_event:
            return b""
        if self.state is AmisState.SEARCHING:
            self._awaiting_since = now
            self._next_event = now + self.search_interval
            self.searches_sent += 1
            return SND_NKE
        if self._awaiting_since is not None:
            self.missed += 1
            if self.missed >= self.max_missed:
                self._back_to_search(now)
                return self.tick(now)
        self.profile.advance(now - self._last_time)
        self._last_time = now
        frame = encode_telegram(
            self.key,
            access_number=self.access_number,
            meter_time=(self.start + timedelta(seconds=now)).astimezone(_ZONE),
            values=self.profile.values(),
        )
        self.access_number = (self.access_number + 1) & 0xFF
        self.telegrams_sent += 1
        self._awaiting_since = now
        self._next_event = now + self.data_interval
        return frame

    def receive(self, data: bytes, now: float) -> None:
        """Bytes from the reader at ``now``."""
        self.reader_bytes += data
        for byte in data:
            if bytes([byte]) != ACK:
                self.errors.append(f"reader sent {byte:02X}, only E5 is allowed")
                continue
            self._acknowledged(now)

    def _acknowledged(self, now: float) -> None:
        since = self._awaiting_since
        if since is None:
            return  # a second E5 for the same frame: harmless
        self._awaiting_since = None
        self.acknowledgements += 1
        if self.state is AmisState.SEARCHING:
            if now - since <= self.ack_timeout:
                self.state = AmisState.SENDING
                self.access_number = 0
                self.missed = 0
                self._last_time = now
                self._next_event = now + self.data_interval
            return
        self.missed = 0

    def _back_to_search(self, now: float) -> None:
        self.state = AmisState.SEARCHING
        self._awaiting_since = None
        self.missed = 0
        self._next_event = now


# --------------------------------------------------------------------------
# Real time


async def _run(
    emulator: AmisMeterEmulator,
    write: Callable[[bytes], None],
    stopped: asyncio.Event,
) -> None:
    """Send whatever the emulator has to send, at its times, until stopped."""
    loop = asyncio.get_running_loop()
    origin = loop.time()
    while not stopped.is_set():
        data = emulator.tick(loop.time() - origin)
        if data:
            write(data)
        delay = max(0.0, emulator.next_event - (loop.time() - origin))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), delay)


async def serve_amis_pty(
    emulator: AmisMeterEmulator, master_fd: int, stopped: asyncio.Event
) -> None:
    """Play the meter on a pseudo-terminal's master side until ``stopped``."""
    loop = asyncio.get_running_loop()
    origin = loop.time()

    def _readable() -> None:
        try:
            data = os.read(master_fd, 256)
        except OSError:
            return
        emulator.receive(data, loop.time() - origin)

    def _write(data: bytes) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(master_fd, data)

    loop.add_reader(master_fd, _readable)
    try:
        await _run(emulator, _write, stopped)
    finally:
        loop.remove_reader(master_fd)


async def serve_amis_tcp(
    make_emulator: Callable[[], AmisMeterEmulator],
    port: int,
    stopped: asyncio.Event,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Play one meter for every TCP client (a network IR head) until ``stopped``."""
    loop = asyncio.get_running_loop()

    async def _client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        emulator = make_emulator()
        origin = loop.time()
        done = asyncio.Event()

        async def _receive() -> None:
            while data := await reader.read(256):
                emulator.receive(data, loop.time() - origin)
            done.set()

        receiving = loop.create_task(_receive())
        ended = loop.create_task(stopped.wait())
        try:
            runner = loop.create_task(_run(emulator, writer.write, done))
            await asyncio.wait((ended, receiving), return_when=asyncio.FIRST_COMPLETED)
            done.set()
            await runner
        finally:
            for task in (receiving, ended):
                task.cancel()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(_client, "127.0.0.1", port)
    async with server:
        if on_listening is not None:
            on_listening(server.sockets[0].getsockname()[1])
        await stopped.wait()


async def run_amis_meter(
    emulator_factory: Callable[[], AmisMeterEmulator],
    *,
    master_fd: int | None = None,
    tcp_port: int | None = None,
    on_listening: Callable[[int], None] | None = None,
    stopped: asyncio.Event | None = None,
) -> None:
    """Play the meter on a pty master or for TCP clients until ``stopped`` is set."""
    stopped = stopped or asyncio.Event()
    if master_fd is not None:
        await serve_amis_pty(emulator_factory(), master_fd, stopped)
    else:
        await serve_amis_tcp(emulator_factory, tcp_port or 0, stopped, on_listening)
