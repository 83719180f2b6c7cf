"""A simulated smart meter: plausible readings, pushed as encrypted frames.

:class:`MeterSimulator` models a household with a photovoltaic system: power
is drawn from the grid at night and in the evening and fed in around midday,
so both the import and the export registers move. Every call of
:meth:`MeterSimulator.next_frame` advances the meter clock by the push
interval, integrates the energy registers over it, increments the invocation
counter and returns the frame; :attr:`MeterSimulator.last_reading` is what
that frame carries.

The frames can be written to standard output, a file, a pseudo-terminal that
stands in for a serial port (:func:`create_virtual_serial_port`) or the
clients of a TCP server (:class:`TcpFrameServer`) by :func:`stream_frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import errno
import math
import os
from pathlib import Path
import random
import tty
from typing import IO, TYPE_CHECKING, Final, Protocol

from . import obis
from .encoder import (
    METER_ZONE,
    SC_AUTHENTICATED,
    SC_ENCRYPTED,
    encode_reading,
    transmitted_time,
    usual_link,
)
from .framing import LinkLayer
from .layouts import Layout, scale
from .reading import MeterValue, Reading, SecurityLevel, Unit

if TYPE_CHECKING:
    from collections.abc import Iterator

DEMO_ENCRYPTION_KEY: Final = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
"""Key of the simulated meter when none is chosen (not any real meter's key)."""

DEFAULT_PTY_LINK: Final = "/tmp/dlms-smartmeter/ttyMETER"  # noqa: S108 - a fixed, documented path
"""Stable path of the virtual serial port (a symbolic link to the pty)."""

# Manufacturer ids and model letters of the system titles, per layout.
_TITLE_PREFIXES: Final = {
    Layout.WIENER_NETZE: b"ISKit",
    Layout.WIENER_NETZE_IM350: b"SMSgu",
    Layout.P1_POSITIONAL: b"ISKit",
    Layout.OBIS_FLAT_TRIPLES: b"KFMg",
    Layout.OBIS_TRIPLES: b"KFM",
    Layout.OBIS_PAIRS: b"LGZgs",
    Layout.SELF_DESCRIBING: b"LGZgs",
    Layout.BURGENLAND: b"LGZgr",
    Layout.DSMR_TEXT: b"SAG5",
}

_V = (obis.VOLTAGE_L1, obis.VOLTAGE_L2, obis.VOLTAGE_L3)
_I = (obis.CURRENT_L1, obis.CURRENT_L2, obis.CURRENT_L3)
_ANGLES = (obis.ANGLE_U_I_L1, obis.ANGLE_U_I_L2, obis.ANGLE_U_I_L3)
_WN = (
    obis.ACTIVE_ENERGY_IMPORT,
    obis.ACTIVE_ENERGY_EXPORT,
    obis.REACTIVE_ENERGY_IMPORT,
    obis.REACTIVE_ENERGY_EXPORT,
    obis.ACTIVE_POWER_IMPORT,
    obis.ACTIVE_POWER_EXPORT,
    obis.REACTIVE_POWER_IMPORT,
    obis.REACTIVE_POWER_EXPORT,
)
# The E450 and the Steiermark T210-D-R: totals and both tariffs of the four
# energy registers, each followed by its instantaneous power.
_TARIFF_REGISTERS = tuple(
    code
    for quantity in (1, 2, 3, 4)
    for code in (
        f"1-0:{quantity}.8.0",
        f"1-0:{quantity}.8.1",
        f"1-0:{quantity}.8.2",
        f"1-0:{quantity}.7.0",
    )
)
# What each layout's meters send, in their order.
LAYOUT_VALUES: Final[dict[Layout, tuple[str, ...]]] = {
    Layout.WIENER_NETZE: _WN,
    Layout.WIENER_NETZE_IM350: _WN,
    Layout.P1_POSITIONAL: _WN[:6],
    Layout.OBIS_FLAT_TRIPLES: (
        obis.ACTIVE_ENERGY_IMPORT,
        obis.ACTIVE_ENERGY_EXPORT,
        obis.ACTIVE_POWER_IMPORT,
        obis.ACTIVE_POWER_EXPORT,
        *_V,
        *_I,
        obis.POWER_FACTOR,
    ),
    Layout.OBIS_TRIPLES: (
        *_V,
        *_I,
        obis.ACTIVE_POWER_IMPORT,
        obis.ACTIVE_POWER_EXPORT,
        obis.ACTIVE_ENERGY_IMPORT,
        obis.ACTIVE_ENERGY_EXPORT,
        obis.REACTIVE_ENERGY_IMPORT,
        obis.REACTIVE_ENERGY_EXPORT,
    ),
    Layout.OBIS_PAIRS: _TARIFF_REGISTERS,
    Layout.SELF_DESCRIBING: (
        obis.ACTIVE_POWER_IMPORT,
        obis.ACTIVE_POWER_EXPORT,
        obis.ACTIVE_ENERGY_IMPORT,
        obis.ACTIVE_ENERGY_EXPORT,
        obis.REACTIVE_POWER_IMPORT,
        obis.REACTIVE_POWER_EXPORT,
        obis.REACTIVE_ENERGY_IMPORT,
        obis.REACTIVE_ENERGY_EXPORT,
        *_I,
        *_V,
    ),
    Layout.BURGENLAND: (
        *_V,
        *_I,
        obis.ACTIVE_POWER_IMPORT,
        obis.ACTIVE_POWER_EXPORT,
        obis.ACTIVE_ENERGY_IMPORT,
        obis.ACTIVE_ENERGY_EXPORT,
        *_ANGLES,
    ),
    Layout.DSMR_TEXT: _TARIFF_REGISTERS,
}
"""OBIS codes of the values the simulated meter sends, per layout."""

# Layouts whose meters count whole volts (no scaler on the wire).
_WHOLE_VOLTS: Final = frozenset({Layout.BURGENLAND, Layout.SELF_DESCRIBING})

_PV_PEAK_W: Final = 5200.0
_BASE_LOAD_W: Final = 180.0
_APPLIANCE_W: Final = 2000.0
_APPLIANCE_STARTS_PER_HOUR: Final = 1.5
_PHASE_SHARES: Final = (0.5, 0.3, 0.2)
_DAY_TARIFF_HOURS: Final = range(6, 22)


@dataclass(frozen=True, slots=True)
class _Instant:
    """Grid quantities at one moment (before rounding to what a meter sends)."""

    import_w: float
    export_w: float
    reactive_import_var: float
    reactive_export_var: float
    decivolts: tuple[int, int, int]
    centiamps: tuple[int, int, int]
    power_factor_milli: int
    angles: tuple[int, int, int]


class MeterSimulator:
    """A meter that pushes one encrypted frame per call of :meth:`next_frame`."""

    def __init__(  # noqa: PLR0913 - every property of a simulated meter is a keyword
        self,
        encryption_key: bytes | None = DEMO_ENCRYPTION_KEY,
        *,
        layout: Layout = Layout.WIENER_NETZE,
        authentication_key: bytes | None = None,
        system_title: bytes | None = None,
        serial_number: str | None = None,
        start: datetime | None = None,
        push_interval: int = 1,
        invocation_counter: int | None = None,
        seed: int = 0,
        link: LinkLayer = LinkLayer.AUTO,
        block_size: int | None = None,
        max_information: int | None = None,
    ) -> None:
        """Set up the meter.

        Args:
            encryption_key: The meter's 16-byte key; ``None`` sends plain
                (unciphered) data-notifications.
            layout: The payload layout, i.e. which meter to imitate (default:
                the Wiener Netze AM550).
            authentication_key: With it, frames are authenticated and
                encrypted (security control 0x30) instead of only encrypted.
            system_title: 8 bytes; default: the manufacturer id and model
                letters of the layout's meters plus random bytes
                (``ISKit`` + 3 bytes for the AM550).
            serial_number: Meter number for layouts that carry one; default:
                a random one in the style of the layout's meters.
            start: Meter time of the first frame (aware); default: now,
                whole seconds.
            push_interval: Seconds of meter time between two frames.
            invocation_counter: Counter of the first frame; default: random.
            seed: Seed of every random choice, for reproducible runs.
            link: Link layer; AUTO is the one the layout's meters use.
            block_size: Send general-block-transfer blocks of this size.
            max_information: HDLC/M-Bus segment size (see ``encode_reading``).

        """
        if push_interval < 1:
            raise ValueError("the push interval is at least one second")
        if layout is Layout.DSMR_TEXT and encryption_key is None:
            raise ValueError("DSMR telegrams are only sent encrypted")
        self.layout = layout
        self.encryption_key = encryption_key
        self.authentication_key = authentication_key
        self.push_interval = push_interval
        self.link = usual_link(layout) if link is LinkLayer.AUTO else link
        self.block_size = block_size
        self.max_information = max_information
        self._random = random.Random(seed)  # noqa: S311 - simulated values, not keys
        prefix = _TITLE_PREFIXES[layout]
        self.system_title = system_title or prefix + self._random.randbytes(
            8 - len(prefix)
        )
        if len(self.system_title) != 8:
            raise ValueError("the system title has 8 bytes")
        self.serial_number = (
            serial_number if serial_number is not None else self._serial_number()
        )
        if start is not None and start.utcoffset() is None:
            raise ValueError("the start time must be timezone-aware")
        # Kept in UTC: arithmetic on zoned datetimes ignores DST changes.
        self._time = (start or datetime.now(UTC).replace(microsecond=0)).astimezone(UTC)
        self._counter = (
            invocation_counter
            if invocation_counter is not None
            else self._random.randint(100_000, 5_000_000)
        )
        # Energy registers in Wh/varh: (day tariff, night tariff) per quantity.
        self._energy = {
            quantity: [self._random.uniform(1e5, 4e6) * share for share in (0.7, 0.3)]
            for quantity in (1, 2, 3, 4)
        }
        self._energy[2] = [value / 4 for value in self._energy[2]]
        self._cloud = 1.0
        self._appliance_left = 0.0
        self._frames = 0
        self.last_reading: Reading | None = None
        """The reading of the last frame sent; ``None`` before the first."""

    @property
    def frames_sent(self) -> int:
        """How many pushes the meter has made (frames or bare readings)."""
        return self._frames

    @property
    def security(self) -> SecurityLevel:
        """What the frames' protection decodes as."""
        if self.encryption_key is None:
            return SecurityLevel.NONE
        if self.authentication_key is None:
            return SecurityLevel.ENCRYPTED
        return SecurityLevel.AUTHENTICATED

    def reading(self) -> Reading:
        """The reading of the last frame sent (raises before the first frame)."""
        if self.last_reading is None:
            raise RuntimeError("the simulated meter has not sent a frame yet")
        return self.last_reading

    def next_reading(self) -> Reading:
        """Advance the meter by one push and return what it sends (no frame)."""
        if self._frames:
            self._time += timedelta(seconds=self.push_interval)
            self._counter = (self._counter + 1) & 0xFFFFFFFF
        local = self._time.astimezone(METER_ZONE)
        instant = self._instant(local)
        if self._frames:
            self._integrate(instant, local)
        self._frames += 1
        encrypted = self.encryption_key is not None
        reading = Reading(
            system_title=self.system_title if encrypted else b"",
            invocation_counter=self._counter if encrypted else None,
            security=self.security,
            meter_time=transmitted_time(local, self.layout),
            values=self._values(instant),
            layout=str(self.layout),
            serial_number=self.serial_number,
        )
        self.last_reading = reading
        return reading

    def next_frame(self) -> bytes:
        """Advance the meter by one push and return the frame's wire bytes."""
        reading = self.next_reading()
        security_control = None
        if reading.security is SecurityLevel.ENCRYPTED:
            # KSM West Kaifa meters announce security suite 1.
            suite = 1 if self.layout is Layout.OBIS_TRIPLES else 0
            security_control = SC_ENCRYPTED | suite
        elif reading.security is SecurityLevel.AUTHENTICATED:
            security_control = SC_AUTHENTICATED
        return encode_reading(
            reading,
            encryption_key=self.encryption_key,
            authentication_key=self.authentication_key,
            security_control=security_control,
            link=self.link,
            block_size=self.block_size,
            max_information=self.max_information,
        )

    # --- the household ----------------------------------------------------------

    def _serial_number(self) -> str | None:
        digits = "".join(str(self._random.randint(0, 9)) for _ in range(13))
        return {
            Layout.WIENER_NETZE_IM350: f"SMS{digits}",
            Layout.P1_POSITIONAL: digits,
            Layout.OBIS_FLAT_TRIPLES: digits[:12],
            Layout.OBIS_TRIPLES: f"1KFM{digits[:10]}",
            Layout.SELF_DESCRIBING: digits[:8],
            Layout.BURGENLAND: digits[:8],
        }.get(self.layout)

    def _instant(self, moment: datetime) -> _Instant:
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        rand = self._random
        # Household: base load, breakfast, lunch and the evening peak, plus an
        # appliance (kettle, washing machine) that runs now and then.
        consumption = (
            _BASE_LOAD_W
            + 600 * math.exp(-(((hour - 7.5) / 0.8) ** 2))
            + 500 * math.exp(-(((hour - 12.5) / 0.7) ** 2))
            + 1400 * math.exp(-(((hour - 19.5) / 1.5) ** 2))
            + rand.gauss(0, 15)
        )
        if self._appliance_left <= 0 and rand.random() < (
            _APPLIANCE_STARTS_PER_HOUR * self.push_interval / 3600
        ):
            self._appliance_left = rand.uniform(60, 900)
        if self._appliance_left > 0:
            consumption += _APPLIANCE_W
            self._appliance_left -= self.push_interval
        consumption = max(consumption, 50.0)
        # Photovoltaics from 06:00 to 20:00, peaking at 13:00, with clouds.
        self._cloud = min(1.0, max(0.3, self._cloud + rand.gauss(0, 0.01)))
        daylight = math.sin(math.pi * (hour - 6) / 14) if 6 < hour < 20 else 0.0
        production = _PV_PEAK_W * daylight**2 * self._cloud
        net = consumption - production
        reactive = 0.3 * consumption - 0.1 * production
        apparent = math.hypot(net, reactive)
        power_factor = abs(net) / apparent if apparent else 1.0
        volts = tuple(
            230.0 + 3.0 * math.sin(2 * math.pi * hour / 24 + phase) + rand.gauss(0, 0.3)
            for phase in (0.0, 2.1, 4.2)
        )
        shares = _PHASE_SHARES if net >= 0 else (1 / 3, 1 / 3, 1 / 3)
        amps = tuple(
            abs(net) * share / (volt * max(power_factor, 0.1))
            for share, volt in zip(shares, volts, strict=True)
        )
        angle = round(math.degrees(math.atan2(reactive, net))) % 360
        return _Instant(
            import_w=max(net, 0.0),
            export_w=max(-net, 0.0),
            reactive_import_var=max(reactive, 0.0),
            reactive_export_var=max(-reactive, 0.0),
            decivolts=_triple(round(volt * 10) for volt in volts),
            centiamps=_triple(round(amp * 100) for amp in amps),
            power_factor_milli=round(power_factor * 1000),
            angles=(angle, angle, angle),
        )

    def _integrate(self, instant: _Instant, moment: datetime) -> None:
        hours = self.push_interval / 3600
        tariff = 0 if moment.hour in _DAY_TARIFF_HOURS else 1
        for quantity, power in (
            (1, instant.import_w),
            (2, instant.export_w),
            (3, instant.reactive_import_var),
            (4, instant.reactive_export_var),
        ):
            self._energy[quantity][tariff] += power * hours

    def _values(self, instant: _Instant) -> dict[str, MeterValue]:
        powers = {
            1: instant.import_w,
            2: instant.export_w,
            3: instant.reactive_import_var,
            4: instant.reactive_export_var,
        }
        known: dict[str, MeterValue] = {}
        for quantity in (1, 2, 3, 4):
            energy_unit = Unit.WATT_HOUR if quantity <= 2 else Unit.VAR_HOUR
            power_unit = Unit.WATT if quantity <= 2 else Unit.VAR
            day, night = (math.floor(value) for value in self._energy[quantity])
            known[f"1-0:{quantity}.8.0"] = MeterValue(day + night, energy_unit)
            known[f"1-0:{quantity}.8.1"] = MeterValue(day, energy_unit)
            known[f"1-0:{quantity}.8.2"] = MeterValue(night, energy_unit)
            known[f"1-0:{quantity}.7.0"] = MeterValue(
                round(powers[quantity]), power_unit
            )
        for code, decivolts, centiamps, angle in zip(
            _V, instant.decivolts, instant.centiamps, instant.angles, strict=True
        ):
            volts = (
                round(decivolts / 10)
                if self.layout in _WHOLE_VOLTS
                else scale(decivolts, -1)
            )
            known[code] = MeterValue(volts, Unit.VOLT)
            known[_I[_V.index(code)]] = MeterValue(scale(centiamps, -2), Unit.AMPERE)
            known[_ANGLES[_V.index(code)]] = MeterValue(angle, Unit.DEGREE)
        known[obis.POWER_FACTOR] = MeterValue(
            scale(instant.power_factor_milli, -3), Unit.NONE
        )
        return {code: known[code] for code in LAYOUT_VALUES[self.layout]}


def _triple(values: Iterator[int]) -> tuple[int, int, int]:
    first, second, third = values
    return first, second, third


# --------------------------------------------------------------------------
# Output


def create_virtual_serial_port(link_path: str = DEFAULT_PTY_LINK) -> tuple[int, str]:
    """A pseudo-terminal that stands in for the meter's serial port.

    Returns ``(master_fd, slave_path)``: frames written to ``master_fd`` are
    read from the slave like from a serial port. The slave is put into raw
    mode at once (no echo, no line editing, no CR/LF translation), and a
    symbolic link at ``link_path`` points at it so that configurations can
    use a stable path. An existing link there is replaced; any other file is
    left alone (``FileExistsError``). Writes to ``master_fd`` do not block.
    """
    link = Path(link_path)
    if link.exists() and not link.is_symlink():
        raise FileExistsError(
            errno.EEXIST, "not replacing a file that is no symbolic link", link_path
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    master_fd, slave_fd = os.openpty()
    try:
        tty.setraw(slave_fd)
        slave_path = os.ttyname(slave_fd)
        temporary = link.with_name(f".{link.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(slave_path)
        temporary.replace(link)
        os.set_blocking(master_fd, False)
    except BaseException:
        os.close(master_fd)
        raise
    finally:
        # The pty keeps its settings while the master is open.
        os.close(slave_fd)
    return master_fd, slave_path


def remove_virtual_serial_port(
    master_fd: int, link_path: str = DEFAULT_PTY_LINK
) -> None:
    """Close the pseudo-terminal and remove its link (if it still points at a pty)."""
    with contextlib.suppress(OSError):
        os.close(master_fd)
    link = Path(link_path)
    if link.is_symlink() and str(link.readlink()).startswith("/dev/"):
        link.unlink()


@contextlib.contextmanager
def virtual_serial_port(link_path: str = DEFAULT_PTY_LINK) -> Iterator[tuple[int, str]]:
    """:func:`create_virtual_serial_port` as a context manager that cleans up."""
    master_fd, slave_path = create_virtual_serial_port(link_path)
    try:
        yield master_fd, slave_path
    finally:
        remove_virtual_serial_port(master_fd, link_path)


class FrameSink(Protocol):
    """Where :func:`stream_frames` writes frames."""

    async def send(self, frame: bytes) -> None:
        """Deliver one frame (or drop it if the receiver cannot take it)."""

    async def aclose(self) -> None:
        """Release the destination."""


class FileSink:
    """Frames to a file descriptor: a file, standard output or a pty master.

    A frame that does not fit (a pty whose reader stopped reading) is dropped,
    as a meter's push is lost when nobody listens.
    """

    def __init__(self, fd: int, *, close: bool = False) -> None:
        """Write to ``fd``; close it in :meth:`aclose` if ``close``."""
        self.fd = fd
        self.dropped = 0
        self._close = close

    async def send(self, frame: bytes) -> None:
        """Write the frame; count it as dropped if it does not fit."""
        view = memoryview(frame)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                self.dropped += 1
                return
            view = view[written:]

    async def aclose(self) -> None:
        """Close the descriptor if this sink owns it."""
        if self._close:
            os.close(self.fd)


class StreamSink:
    """Frames to a binary stream such as ``sys.stdout.buffer``.

    A reader that goes away (a closed pipe) ends the stream with
    ``BrokenPipeError``.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        """Write to ``stream``; it stays open (it belongs to the caller)."""
        self._stream = stream

    async def send(self, frame: bytes) -> None:
        """Write and flush the frame."""
        self._stream.write(frame)
        self._stream.flush()

    async def aclose(self) -> None:
        """Flush nothing more: the stream belongs to the caller."""


class TcpFrameServer:
    """A TCP server on 127.0.0.1 that sends every frame to each connected client.

    Readers connect like to a serial-to-network adapter (``socket://`` URL).
    A client that does not keep up (more than ``max_backlog`` bytes pending)
    is disconnected.
    """

    def __init__(self, port: int = 0, *, max_backlog: int = 65536) -> None:
        """Prepare a server; ``port`` 0 picks a free one (see :attr:`port`)."""
        self._requested_port = port
        self._max_backlog = max_backlog
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = port

    @property
    def clients(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(
            self._connected, "127.0.0.1", self._requested_port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._clients.add(writer)
        try:
            # Whatever a client sends is ignored; its end of stream ends it.
            while await reader.read(1024):
                pass
        except OSError:
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def send(self, frame: bytes) -> None:
        """Send the frame to every client."""
        for writer in list(self._clients):
            if writer.is_closing():
                continue
            if writer.transport.get_write_buffer_size() > self._max_backlog:
                # Dropped at once: closing would wait for the backlog to drain.
                self._clients.discard(writer)
                writer.transport.abort()
                continue
            writer.write(frame)

    async def aclose(self) -> None:
        """Disconnect the clients and stop listening."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()
            else:
                writer.close()
        self._clients.clear()
        # Let every connection handler finish, so that no task outlives us.
        if self._handlers:
            await asyncio.wait(set(self._handlers))
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


async def stream_frames(
    simulator: MeterSimulator,
    sink: FrameSink,
    *,
    interval: float = 1.0,
    count: int | None = None,
) -> int:
    """Write a frame every ``interval`` seconds (wall clock) until ``count`` frames.

    Runs until cancelled when ``count`` is ``None``. Returns the number of
    frames written. The interval is independent of the meter's push interval,
    so a test can run a day of meter time in seconds.
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    sent = 0
    while count is None or sent < count:
        await sink.send(simulator.next_frame())
        sent += 1
        if count is not None and sent >= count:
            break
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
    return sent
