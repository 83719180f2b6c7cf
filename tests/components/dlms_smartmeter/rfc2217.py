"""A meter behind an RFC 2217 server: a serial line whose settings matter.

A pseudo-terminal ignores baud rate and parity, so it cannot show whether
the integration found the right ones. Over RFC 2217 (Telnet COM-PORT-OPTION)
the client tells the server its line settings; this server sends the
meter's frames only when they match the meter's, and otherwise what a UART
set to the wrong speed or parity would deliver: bytes without a valid frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import IntEnum
import random
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

IAC: Final = 255
SB: Final = 250
SE: Final = 240
WILL: Final = 251
WONT: Final = 252
DO: Final = 253
DONT: Final = 254
BINARY: Final = 0
COM_PORT_OPTION: Final = 44
SERVER_REPLY: Final = 100
"""A server acknowledges a COM-PORT-OPTION command with its code plus 100."""

PARITIES: Final = {1: "N", 2: "O", 3: "E", 4: "M", 5: "S"}
STOP_BITS: Final = {1: "1", 2: "2", 3: "1.5"}


class ComPortCommand(IntEnum):
    """The client's COM-PORT-OPTION commands this server reads (RFC 2217)."""

    SET_BAUDRATE = 1
    SET_DATASIZE = 2
    SET_PARITY = 3
    SET_STOPSIZE = 4


@dataclass(slots=True)
class LineState:
    """The line settings one client asked for."""

    baudrate: int = 0
    datasize: int = 0
    parity: str = ""
    stopsize: str = ""

    def __str__(self) -> str:
        """As people write line settings, e.g. ``9600 8N1``."""
        return f"{self.baudrate} {self.datasize}{self.parity}{self.stopsize}"


@dataclass(slots=True)
class _TelnetReader:
    """Splits the client's Telnet stream into commands (data is dropped)."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """Complete commands as (verb, option, payload); payload only for SB."""
        self.buffer += data
        commands: list[tuple[int, int, bytes]] = []
        while True:
            # Data bytes (a reader's acknowledgements) are not needed.
            start = self.buffer.find(IAC)
            if start < 0:
                self.buffer.clear()
                return commands
            del self.buffer[:start]
            start = 0
            if len(self.buffer) < 2:
                return commands
            verb = self.buffer[start + 1]
            if verb == IAC:
                del self.buffer[: start + 2]
            elif verb in (WILL, WONT, DO, DONT):
                if start + 2 >= len(self.buffer):
                    return commands
                commands.append((verb, self.buffer[start + 2], b""))
                del self.buffer[: start + 3]
            elif verb == SB:
                end = self.buffer.find(bytes((IAC, SE)), start + 2)
                if end < 0:
                    return commands
                body = bytes(self.buffer[start + 2 : end]).replace(
                    bytes((IAC, IAC)), bytes((IAC,))
                )
                commands.append((SB, body[0], body[1:]))
                del self.buffer[: end + 2]
            else:
                del self.buffer[: start + 2]


def _escaped(data: bytes) -> bytes:
    """Serial data inside Telnet: a 0xFF byte is sent twice."""
    return data.replace(bytes((IAC,)), bytes((IAC, IAC)))


class Rfc2217Meter:
    """A simulated meter on a serial line with fixed settings, over RFC 2217.

    Every ``interval`` seconds each connected client whose line settings
    are the meter's gets the next frame; any other client gets as many
    bytes of noise. ``rfc2217://127.0.0.1:<port>`` reaches it.
    """

    def __init__(
        self,
        simulator: MeterSimulator,
        baudrate: int,
        parity: str,
        *,
        interval: float = 0.05,
    ) -> None:
        """Serve ``simulator`` as a meter that sends at ``baudrate`` 8``parity``1."""
        self.simulator = simulator
        self.line = LineState(baudrate, 8, parity, "1")
        self.interval = interval
        self.clients: list[LineState] = []
        """The line settings of every client so far, in order."""
        self._noise = random.Random(17)
        self._server: asyncio.Server | None = None
        self._writers: dict[asyncio.StreamWriter, LineState] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """What the integration opens."""
        return f"rfc2217://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on 127.0.0.1 and start pushing."""
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks.add(asyncio.get_running_loop().create_task(self._push()))

    async def aclose(self) -> None:
        """Stop pushing, drop the clients and stop listening."""
        for task in self._tasks:
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _push(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            frame = b""
            for writer, line in list(self._writers.items()):
                if not line.baudrate:
                    continue  # still negotiating
                if not frame:
                    frame = self.simulator.next_frame()
                data = frame if line == self.line else self._noise.randbytes(len(frame))
                with contextlib.suppress(ConnectionError, RuntimeError):
                    writer.write(_escaped(data))

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        line = LineState()
        telnet = _TelnetReader()
        try:
            while data := await reader.read(1024):
                for verb, option, payload in telnet.feed(data):
                    self._answer(writer, line, verb, option, payload)
        except ConnectionError:
            pass
        finally:
            self._writers.pop(writer, None)
            writer.close()

    def _answer(
        self,
        writer: asyncio.StreamWriter,
        line: LineState,
        verb: int,
        option: int,
        payload: bytes,
    ) -> None:
        known = option in (BINARY, COM_PORT_OPTION)
        if verb == WILL:
            writer.write(bytes((IAC, DO if known else DONT, option)))
        elif verb == DO:
            writer.write(bytes((IAC, WILL if known else WONT, option)))
        elif verb == SB and option == COM_PORT_OPTION and payload:
            command, value = payload[0], payload[1:]
            if command == ComPortCommand.SET_BAUDRATE:
                line.baudrate = int.from_bytes(value, "big")
            elif command == ComPortCommand.SET_DATASIZE:
                line.datasize = value[0]
            elif command == ComPortCommand.SET_PARITY:
                line.parity = PARITIES.get(value[0], "?")
            elif command == ComPortCommand.SET_STOPSIZE:
                line.stopsize = STOP_BITS.get(value[0], "?")
                # The last setting of the client's configuration: from now
                # on it gets what its line settings deliver.
                self.clients.append(line)
                self._writers[writer] = line
            # The server acknowledges every command with the value it set.
            reply = bytes((command + SERVER_REPLY, *value))
            writer.write(
                bytes((IAC, SB, COM_PORT_OPTION)) + _escaped(reply) + bytes((IAC, SE))
            )
